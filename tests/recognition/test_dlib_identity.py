"""dlib's independent identity judge: a clear message when absent; on real aligned faces (the shared
Extended Yale B stand-in) the same person under two lights is closer than two people."""
import numpy as np
import pytest
import torch

from recognition import dlib_identity
from recognition.dlib_identity import dlib_available, dlib_embedder


def test_missing_packages_are_named(monkeypatch):
    monkeypatch.setattr(dlib_identity, "dlib_available", lambda: False)
    with pytest.raises(RuntimeError, match="pip install dlib-bin face_recognition_models"):
        dlib_embedder()


@pytest.mark.shared_data
@pytest.mark.skipif(not dlib_available(), reason="dlib-bin / face_recognition_models not installed")
def test_same_person_closer_than_two_people_on_aligned_yale_b(shared_data):
    from PIL import Image

    from augmenter.align import FaceAligner

    files = [shared_data / "yaleb" / s / f"{s}_P00A{a}E+00.pgm" for s in ("yaleB01", "yaleB02") for a in ("+000", "+010")]
    aligner = FaceAligner(image_size=128)
    crops = [aligner.align_image(np.repeat(np.asarray(Image.open(f))[:, :, None], 3, 2)).crop for f in files]
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    e = dlib_embedder()(x)
    assert e.shape == (4, 128) and e.dtype == torch.float32
    assert torch.allclose(e.norm(dim=1), torch.ones(4), atol=1e-5)
    cos = e @ e.T
    same = min(cos[0, 1], cos[2, 3])
    different = max(cos[0, 2], cos[0, 3], cos[1, 2], cos[1, 3])
    assert same > different
    grey = dlib_embedder()(x.mean(1, keepdim=True))  # one channel in, replicated
    assert torch.allclose(grey, e, atol=0.05)
