"""The README's main job on built-in data.

Until the renderer (issue #3) and ``augment expand`` (issue #6) land, the most useful verb that exists
is ``augment align``: the demo aligns real photos that ship inside scikit-image (a face, the same face
rotated and mirrored, and a photo with no face) so a new user sees detection, five-point alignment,
the explicit "no face" result and the landmarks CSV.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_demo_photos(folder: Path) -> list[Path]:
    """Write the demo's source photos under ``folder`` and return their paths.

    ``people/astronaut.jpg`` (512x512, one face), ``people/astronaut_tilted.png`` (mirrored and
    rotated by 25 degrees, so alignment has to undo an in-plane rotation) and ``objects/coffee.jpg``
    (no face).
    """
    import cv2
    from skimage import data

    from augmenter.io import write_image_atomic

    astronaut = data.astronaut()
    h, w = astronaut.shape[:2]
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0)
    tilted = cv2.warpAffine(np.ascontiguousarray(astronaut[:, ::-1]), rotation, (w, h), borderMode=cv2.BORDER_REFLECT)
    photos = {
        folder / "people" / "astronaut.jpg": astronaut,
        folder / "people" / "astronaut_tilted.png": tilted,
        folder / "objects" / "coffee.jpg": data.coffee(),
    }
    for path, image in photos.items():
        write_image_atomic(path, image)
    return list(photos)


def run_alignment_demo(out: Path, device: str = "cpu"):
    """Write the demo photos to ``out/photos`` and align them into ``out/aligned``; return the summary."""
    from augmenter.align import AlignConfig, align_tree

    photos = out / "photos"
    write_demo_photos(photos)
    return align_tree(photos, out / "aligned", AlignConfig(image_size=112, device=device))
