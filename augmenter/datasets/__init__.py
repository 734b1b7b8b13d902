"""Dataset readers: every supported format listed as :class:`FaceRecord` s, with skips counted.

Example:
    >>> from augmenter.datasets import read_dataset
    >>> listing = read_dataset("casia", "/data/CASIA-WebFace")            # doctest: +SKIP
    >>> print(listing.skips.summary())                                    # doctest: +SKIP
"""
from augmenter.datasets.listing import DatasetListing
from augmenter.datasets.record import UNKNOWN, FaceRecord
from augmenter.datasets.registry import DATASETS, read_dataset
from augmenter.skips import SkipReport

__all__ = ["DATASETS", "DatasetListing", "FaceRecord", "SkipReport", "UNKNOWN", "read_dataset"]
