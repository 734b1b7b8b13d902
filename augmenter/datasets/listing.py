"""What every dataset reader returns: the records, what was skipped, and where they came from."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from augmenter.datasets.record import FaceRecord
from augmenter.skips import SkipReport


@dataclass
class DatasetListing:
    """The usable images of one dataset, in a deterministic order, and the skips counted on the way.

    Attributes:
        records: one :class:`FaceRecord` per usable image, sorted (by path unless the reader says).
        skips: malformed or excluded items, counted by reason with examples.
        dataset: the reader name the records carry (``"casia"``, ``"sample"``...).
        root: absolute path of the folder (or file) that was read.

    Example:
        >>> listing = DatasetListing([], SkipReport(), "casia", Path("/data/casia"))
        >>> len(listing), listing.skips.total
        (0, 0)
    """

    records: list[FaceRecord]
    skips: SkipReport
    dataset: str
    root: Path

    def __len__(self) -> int:
        return len(self.records)
