"""Detection retries on brightness-normalised copies: dark faces are found, crops keep their real light."""
from __future__ import annotations

import numpy as np
import pytest
import skimage.data

from augmenter.align import RETRY_NORMALISATIONS, FaceAligner, gamma_and_clahe, gamma_to_mid_grey


@pytest.fixture(scope="module")
def astronaut():
    return skimage.data.astronaut()


def test_gamma_maps_the_mean_to_mid_grey_and_keeps_shape():
    dark = np.full((8, 8, 3), 30, np.uint8)
    dark[:4] = 10
    out = gamma_to_mid_grey(dark)
    assert out.shape == dark.shape and out.dtype == np.uint8
    assert abs(out.astype(float).mean() - 127.5) < 20
    assert (out[:4] < out[4:]).all()                        # order of brightness kept
    grey = np.full((4, 4, 3), 128, np.uint8)
    assert np.abs(gamma_to_mid_grey(grey).astype(int) - 128).max() <= 1
    assert gamma_and_clahe(dark).shape == dark.shape


def test_a_face_in_deep_shadow_is_found_on_a_retry_and_cropped_from_the_original(astronaut):
    dark = (astronaut.astype(np.float32) * 0.05).astype(np.uint8)      # values 0..12
    assert not FaceAligner(image_size=64, retry=()).align_image(dark).found
    result = FaceAligner(image_size=64).align_image(dark)
    bright = FaceAligner(image_size=64).align_image(astronaut)
    assert result.found and result.detected_on in RETRY_NORMALISATIONS
    assert bright.detected_on == "original"
    # the landmarks land on the same face as in the well-lit photo ...
    assert np.abs(result.landmarks - bright.landmarks).max() < 6
    # ... and the crop is warped from the dark original, not from the brightened copy
    assert result.crop.max() <= 13


def test_retries_do_not_touch_faces_found_at_once(astronaut):
    plain = FaceAligner(image_size=64, retry=()).align_image(astronaut)
    default = FaceAligner(image_size=64).align_image(astronaut)
    assert np.array_equal(plain.crop, default.crop) and default.detected_on == "original"


def test_an_unknown_retry_name_is_refused():
    with pytest.raises(ValueError, match="unknown retry normalisation 'clahe'"):
        FaceAligner(retry=("clahe",))


def test_a_device_this_machine_lacks_is_a_one_line_error(monkeypatch):
    import torch

    from augmenter.errors import DeviceError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="CUDA is not available"):
        FaceAligner(device="cuda")


def test_align_tree_counts_recovered_faces_and_records_the_setting(astronaut, tmp_path):
    from augmenter.align_tree import AlignConfig, align_tree
    from augmenter.errors import DatasetFormatError
    from augmenter.io import write_image_atomic

    src = tmp_path / "src"
    write_image_atomic(src / "dark.png", (astronaut.astype(np.float32) * 0.05).astype(np.uint8))
    write_image_atomic(src / "lit.png", astronaut)
    summary = align_tree(src, tmp_path / "on", AlignConfig(image_size=64))
    assert (summary.aligned, summary.recovered, summary.no_face) == (2, 1, 0)
    assert "1 of the aligned found only on a brightness-normalised retry" in summary.describe()
    off = align_tree(src, tmp_path / "off", AlignConfig(image_size=64, retry=False))
    assert (off.aligned, off.recovered, off.no_face) == (1, 0, 1)
    with pytest.raises(DatasetFormatError, match="other settings .*retry"):
        align_tree(src, tmp_path / "on", AlignConfig(image_size=64, retry=False))
