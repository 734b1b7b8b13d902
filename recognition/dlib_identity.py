"""An independent identity judge: dlib's ResNet face descriptor, read from a registry package's own files.

The toolkit's own verifiers are trained on whatever a user has (here: 20 Extended Yale B identities that
only change light), so they are a poor instrument for "is this edit still the same person": one that has
never seen a smile moves far for any smile. dlib's descriptor (a ResNet-34-like net trained by Davis
King on about 3 million faces of 7,485 people, 99.38% on LFW) was trained on none of this project's data,
so it can measure identity kept by an edit without the measure and the edit sharing a training set.

It is optional: ``pip install dlib-bin face_recognition_models`` (the second package is the model files,
about 100 MB, nothing is downloaded at run time). Both are imported lazily; :func:`dlib_available` says
whether they are there. The descriptor and the 5-point landmark model are the packages' files as shipped
(dlib's models are released into the public domain; see the packages' pages for the training data terms).

Example::

    embed = dlib_embedder()              # (B, 3, S, S) in [-1, 1], ArcFace-framed crops
    e = embed(x)                         # (B, 128) L2-normalised float32
    cosine = (e[0] * e[1]).sum()
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

#: Face box dlib's HOG detector finds in ArcFace-framed crops (median over 180 aligned Yale B photos at
#: 128 px), as a share of the crop side: left, top, right, bottom. A fixed box keeps the judge
#: deterministic and blind to whether a detector happens to fire on an edited face.
ALIGNED_FACE_BOX = (16 / 128, 36 / 128, 106 / 128, 126 / 128)
CHIP_SIZE = 150  # dlib's descriptor input, with get_face_chip's default padding of 0.25
MISSING = ("dlib's face descriptor needs `pip install dlib-bin face_recognition_models` "
           "(the model files come inside the second package; nothing is downloaded at run time)")


def _models_dir() -> Path | None:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    # Located without importing the package: its __init__ needs setuptools' pkg_resources.
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def dlib_available() -> bool:
    """True when both dlib and the model files are installed."""
    models = _models_dir()
    return (importlib.util.find_spec("dlib") is not None and models is not None
            and (models / "dlib_face_recognition_resnet_model_v1.dat").is_file())


def dlib_embedder(box: tuple[float, float, float, float] = ALIGNED_FACE_BOX):
    """``embed(x)``: ``(B, 3, S, S)`` or ``(B, 1, S, S)`` in [-1, 1], aligned crops (``augment align``'s
    ArcFace framing) -> ``(B, 128)`` L2-normalised ``torch.float32`` dlib descriptors.

    Each crop gets dlib's 5 landmarks inside ``box`` (shares of the crop side), is re-cropped to dlib's own
    150 px chip and described once (no jitter). Raises ``RuntimeError`` naming the packages when absent.
    """
    if not dlib_available():
        raise RuntimeError(MISSING)
    import dlib

    models = _models_dir()
    shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    describe = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))

    def embed(x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"expected (B, 1|3, S, S) images in [-1, 1], got {tuple(x.shape)}")
        x = x.detach().float().cpu()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        images = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        out = np.empty((len(images), 128), np.float32)
        for i, image in enumerate(images):
            image = np.ascontiguousarray(image)
            h, w = image.shape[:2]
            rect = dlib.rectangle(round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h))
            chip = dlib.get_face_chip(image, shape(image, rect), size=CHIP_SIZE)
            out[i] = np.asarray(describe.compute_face_descriptor(chip), np.float32)
        return torch.nn.functional.normalize(torch.from_numpy(out), dim=1)
    return embed
