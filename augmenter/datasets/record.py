"""The one record type every dataset reader yields."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

UNKNOWN = "unknown"
"""Value of an attribute that a dataset does not label."""

SPLITS = ("train", "val", "test")
"""The split names a record can carry besides ``UNKNOWN``: readers map a dataset's own names onto these
(FER-2013's ``validation`` / ``PublicTest`` folders, AffectNet's ``validation.csv`` -> ``"val"``), so
consumers compare with these names only."""

EVAL_SPLITS = ("val", "test")
"""Record splits that no trainer or synthesizer in the toolkit learns from (a dataset's own evaluation data)."""


@dataclass
class FaceRecord:
    """One face image and what its dataset says about it.

    Attributes:
        path: absolute path of the image file.
        dataset: reader name, e.g. ``"casia"``, ``"affectnet"``, ``"multipie"``, ``"yaleb"``.
        identity: subject id as a string (``UNKNOWN`` when the dataset has none), prefixed by
            nothing: ids are unique within one dataset only.
        lighting: a name from ``augmenter.attributes.LIGHTING`` or ``UNKNOWN``.
        expression: a name from ``augmenter.attributes.EXPRESSIONS`` or ``UNKNOWN``.
        split: one of :data:`SPLITS` (``"train"``, ``"val"``, ``"test"``) or ``UNKNOWN``.
        bbox: face box ``(x, y, w, h)`` in pixels of the original image, when the dataset gives one.
        landmarks: ``(N, 2)`` float32 array of ``(x, y)`` in pixels of the original image, when given
            (68 for AffectNet, 5 for aligned sets).
        extra: the dataset's raw labels kept as strings (e.g. ``{"azimuth": "-35", "elevation": "20"}``,
            ``{"emotion_code": "5"}``), so nothing the source said is lost by the mapping.

    Example:
        >>> r = FaceRecord(path=Path("/data/casia/0000045/001.jpg"), dataset="casia", identity="0000045")
        >>> r.lighting
        'unknown'
    """

    path: Path
    dataset: str
    identity: str = UNKNOWN
    lighting: str = UNKNOWN
    expression: str = UNKNOWN
    split: str = UNKNOWN
    bbox: tuple[float, float, float, float] | None = None
    landmarks: np.ndarray | None = None
    extra: dict[str, str] = field(default_factory=dict)
