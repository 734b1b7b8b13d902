"""Training and measurement data of the default generator, as arrays.

* :func:`yaleb_light_series`: every Extended Yale B subject's light series *registered*: one similarity
  transform per subject (from the median five points of its near-frontal-lit photos, as ``augment align``
  found them) warps all its photos onto the alignment template, so two photos of one subject differ by
  light only. Aligning each photo on its own would shift the crop with the detector's jitter under
  harsh light and blur the paired loss.
* :func:`class_folder_arrays`: aligned crops of ``root/<class>/`` (FER-2013 as ``augment align`` writes
  it) as grey uint8 arrays with class indices.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from augmenter.align import canonical_template, similarity_transform
from augmenter.io import decode_image

_YALEB_NAME = re.compile(r"(yaleB\d\d)_P00A([+-]\d{3})E([+-]\d\d)\.pgm$")
_NEAR_FRONTAL = 35


@dataclass
class LightSeries:
    """``images`` ``(N, S, S)`` uint8 grey, ``subject`` ``(N,)`` str, ``azimuth``/``elevation`` ``(N,)`` degrees."""

    images: np.ndarray
    subject: np.ndarray
    azimuth: np.ndarray
    elevation: np.ndarray

    def take(self, keep: np.ndarray) -> "LightSeries":
        return LightSeries(self.images[keep], self.subject[keep], self.azimuth[keep], self.elevation[keep])


def _landmarks(csv_path: Path) -> dict[str, np.ndarray]:
    out = {}
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            if row["found"] == "True":
                out[row["path"]] = np.array([[float(row[f"lx{i}"]), float(row[f"ly{i}"])] for i in range(5)])
    return out


def yaleb_light_series(yaleb_root: str | Path, landmarks_csv: str | Path, size: int = 128) -> LightSeries:
    """Registered crops of every ``yaleBNN/yaleBNN_P00A±AAAE±EE.pgm`` (ambient shots left out).

    ``landmarks_csv`` is the ``landmarks.csv`` of ``augment align`` run on ``yaleb_root``; a subject
    without a near-frontal-lit detection is left out.
    """
    root = Path(yaleb_root)
    found = _landmarks(Path(landmarks_csv))
    by_subject: dict[str, list[tuple[Path, int, int]]] = {}
    for path in sorted(root.glob("yaleB*/*.pgm")):
        m = _YALEB_NAME.match(path.name)
        if m:
            by_subject.setdefault(m.group(1), []).append((path, int(m.group(2)), int(m.group(3))))
    images, subjects, azimuths, elevations = [], [], [], []
    template = canonical_template(size)
    for subject, files in sorted(by_subject.items()):
        points = [found[f"{subject}/{p.name}"] for p, a, e in files
                  if f"{subject}/{p.name}" in found and abs(a) <= _NEAR_FRONTAL and abs(e) <= _NEAR_FRONTAL]
        if not points:
            continue
        transform = similarity_transform(np.median(points, axis=0), template)
        for path, azimuth, elevation in files:
            grey = decode_image(path, mode="L")
            images.append(cv2.warpAffine(grey, transform, (size, size), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_CONSTANT, borderValue=0))
            subjects.append(subject)
            azimuths.append(azimuth)
            elevations.append(elevation)
    return LightSeries(np.stack(images), np.array(subjects), np.array(azimuths, np.float32),
                       np.array(elevations, np.float32))


def class_folder_arrays(root: str | Path, classes: tuple[str, ...], size: int = 128,
                        folder_names: dict[str, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(N, size, size)`` uint8 grey crops and ``(N,)`` int64 class indices of ``root/<class>/*``.

    ``folder_names`` maps a class to its folder when they differ (FER-2013's ``angry`` for ``anger``).
    """
    images, labels = [], []
    for index, name in enumerate(classes):
        folder = Path(root) / (folder_names or {}).get(name, name)
        for path in sorted(folder.glob("*")):
            if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
                continue
            grey = decode_image(path, mode="L")
            if grey.shape != (size, size):
                grey = cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA)
            images.append(grey)
            labels.append(index)
    return np.stack(images), np.array(labels, np.int64)


def grey_to_model(images: np.ndarray) -> torch.Tensor:
    """``(N, S, S)`` uint8 grey -> ``(N, 3, S, S)`` float in [-1, 1] (the grey copied to three channels)."""
    return torch.from_numpy(images)[:, None].float().div(127.5).sub(1).expand(-1, 3, -1, -1)
