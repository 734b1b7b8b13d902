"""The toolkit in three calls: relight a face, change its expression, score how natural it looks.

Images are aligned face crops (``augment align``'s output, or any crop framed the same way), given as

* a uint8 array ``(H, W, 3)`` (one face) or ``(N, H, W, 3)`` (a batch), RGB, values 0..255, square; grey
  faces as ``(H, W)`` / ``(N, H, W)`` are accepted and come back grey; or
* a float tensor ``(B, 3, S, S)`` with values in [-1, 1].

Outputs have the input's kind and shape: the default generator applies its fields at the input's own
size (32 px or more), so a 112 px crop gets 112 px variants with its own hair, skin and eyes.

Example:
    >>> from augmenter.api import FaceAugmenter
    >>> faces = FaceAugmenter.load("fields")                  # built-in field generator and default Q, offline
    >>> face = np.zeros((112, 112, 3), np.uint8)               # an aligned crop, RGB
    >>> faces.relight(face, "az-070_el+00").shape             # light from the subject's right, at head height
    (112, 112, 3)
    >>> faces.change_expression(face, "happy").dtype
    dtype('uint8')
    >>> float(faces.score(face)) <= 1.0                        # q_score: predicted mean human rating / 10
    True
    >>> variant = faces.relight(face, "az+050_el+00")
    >>> float(faces.score(variant, sources=face)) <= 1.0       # ... less the tear check's penalty against the source
    True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from augmenter.gan.models import Translator, load_translator
from augmenter.tensors import resize_square, to_model_input, to_uint8_images
from augmenter.nets.quality import QEnsemble, QNet
from augmenter.quality.model import load_q, q_scores_of
from augmenter.quality.tear_check import judged_and_why, load_tear_check, source_margin
from augmenter.device import resolve_device


def _to_model(images, device) -> tuple[torch.Tensor, dict]:
    """Images in any accepted form -> ``(B, 3, S, S)`` float in [-1, 1], and how to give them back."""
    if isinstance(images, torch.Tensor):
        if images.ndim != 4 or images.shape[1] != 3 or not images.is_floating_point():
            raise ValueError(f"a tensor must be (B, 3, S, S) float in [-1, 1], not {tuple(images.shape)} {images.dtype}")
        return images.to(device), {"kind": "tensor"}
    array = np.asarray(images)
    if array.dtype != np.uint8:
        raise ValueError(f"an array must be uint8 (0..255), not {array.dtype}")
    colour_single = array.ndim == 3 and array.shape[-1] == 3 and array.shape[0] == array.shape[1]
    single, grey = array.ndim == 2 or colour_single, array.ndim == 2 or (array.ndim == 3 and not colour_single)
    batch = array[None] if single else array
    if grey:
        batch = np.repeat(batch[..., None], 3, axis=-1)
    if batch.ndim != 4 or batch.shape[-1] != 3 or batch.shape[1] != batch.shape[2]:
        raise ValueError(f"expected square faces (H, W, 3), (N, H, W, 3), (H, W) or (N, H, W), not {array.shape}")
    x = to_model_input(torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2), device)
    return x, {"kind": "array", "single": single, "grey": grey}


def _from_model(x: torch.Tensor, how: dict):
    if how["kind"] == "tensor":
        return x
    pixels = to_uint8_images(x)
    if how["grey"]:
        pixels = pixels[..., 0]
    return pixels[0] if how["single"] else pixels


@dataclass
class FaceAugmenter:
    """A generator and a Q, ready to call. Build it with :meth:`load`."""

    translator: Translator
    q_net: QNet | QEnsemble
    device: torch.device
    tear_check: torch.nn.Module | None = None

    @classmethod
    def load(cls, generator: str | None = None, q: str | None = None, device: str = "cpu",
             relight_style: str | None = None, tear_check: str | None = None) -> "FaceAugmenter":
        """``generator``: ``None``/``"fields"`` (the built-in field generator), ``"demo"`` (the demo LEGAN) or a
        checkpoint path; ``q``: ``None`` (the default Q), ``"demo"`` or a path; ``relight_style``: ``"photo"`` (the
        photo's texture shaded by a key light and a soft fill, its exposure kept; the built-in generator's own),
        ``"photo-deep"`` (the same, deeper shadows) or ``"lab"`` (Yale B's fixed-exposure dark-room look) for a field
        generator, ``None`` for the checkpoint's own; ``tear_check``: ``None``
        (the built-in one, used by :meth:`score` when given the sources), ``"none"`` or a path. Nothing is
        downloaded."""
        dev = resolve_device(device)
        q_net, _ = load_q(q, dev)
        check, _ = load_tear_check(tear_check, dev)
        return cls(load_translator(generator, dev, relight_style=relight_style), q_net, dev, check)

    @property
    def lightings(self) -> list[str]:
        """The generator's light names, e.g. ``"az-070_el+00"`` (azimuth, elevation in degrees, Yale B's convention:
        positive azimuth lights the subject's right side, the image's left)."""
        return list(self.translator.lighting)

    @property
    def expressions(self) -> list[str]:
        return list(self.translator.expression)

    @torch.inference_mode()
    def relight(self, images, lighting: str):
        """``images`` under the light ``lighting`` (one of :attr:`lightings`), same kind and shape."""
        x, how = _to_model(images, self.device)
        return _from_model(self._translate(x, lighting=lighting), how)

    @torch.inference_mode()
    def change_expression(self, images, expression: str):
        """``images`` with ``expression`` (one of :attr:`expressions`; Multi-PIE names such as ``smile`` work too)."""
        x, how = _to_model(images, self.device)
        return _from_model(self._translate(x, expression=expression), how)

    @torch.inference_mode()
    def score(self, images, sources=None) -> np.ndarray:
        """q_score of each face: Q's predicted mean human naturalness rating / 10, ``(N,)`` float in [0.1, 1]
        (a 0-d array for one face). Typical aligned real photos score about 0.6 or more.

        ``sources``: the photos the faces were made from, in the same form (any size): each face then loses up
        to 0.2 where the tear check finds it torn against its source, and up to 0.2 more for each of its rules
        (detail lost, grain or a pattern the photo does not have, colour added to a grey face or a colour the photo
        does not have, light brought out of the photo's black, new light without the photo's texture), and scores
        at most its source's q_score plus 0.05 (:mod:`augmenter.quality.tear_check`; :meth:`why` says which of
        these moved each score)."""
        return self._judged(images, sources)[0]

    @torch.inference_mode()
    def why(self, images, sources) -> list[str]:
        """What the tear check did to each face's q_score against its source, in words: ``""`` where Q's own
        score stands, else e.g. ``"Q 0.69; light from black -0.20"`` (a str for one face). Same arguments as
        :meth:`score` with ``sources``; all ``""`` without a tear check.

        Example:
            >>> faces.why(faces.relight(photo, "az+050_el+00"), sources=photo)  # doctest: +SKIP
            ''
        """
        return self._judged(images, sources)[1]

    def _judged(self, images, sources):
        x, how = _to_model(images, self.device)
        q = q_scores_of(self.q_net, x).astype(np.float32)
        why = [""] * len(q)
        if sources is not None and self.tear_check is not None:
            s, _ = _to_model(sources, self.device)
            if len(s) != len(x):
                raise ValueError(f"{len(s)} source(s) for {len(x)} face(s)")
            source_q = q_scores_of(self.q_net, s) if source_margin(self.tear_check) is not None else None
            q, why = judged_and_why(q, self.tear_check, s, x, source_q=source_q)
            q = q.astype(np.float32)
        return (q[0], why[0]) if how.get("single") else (q, why)

    def _translate(self, x: torch.Tensor, **target) -> torch.Tensor:
        t = self.translator
        if t.arch != "fields" and x.shape[-1] != t.image_size:
            y = t.translate(resize_square(x, t.image_size), **target)
            return resize_square(y, x.shape[-1])
        return t.translate(x, **target)
