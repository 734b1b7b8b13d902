"""insightface's ``lfw.bin``: the LFW View 2 pairs and their aligned images in one pickle, read safely.

Format: a pickle (often written by Python 2, hence ``encoding="bytes"``) of ``(bins, issame_list)``:
``bins`` 12,000 encoded images (JPEG or PNG bytes), pair ``i`` being images ``2i`` and ``2i + 1``;
``issame_list`` 6,000 booleans. The folds are those of insightface's and facenet's ``KFold(10)`` without
shuffling: ten consecutive blocks (600 pairs each in ``lfw.bin``).

The file is read by an unpickler that refuses every global (no class, function or ``__reduce__`` can be
loaded, so nothing in the file is executed), then checked to be exactly a pair of lists of bytes and of
bools; anything else raises :class:`DatasetFormatError`. Images are not decoded here.

Example:
    >>> data = read_lfw_bin("faces_emore/lfw.bin")         # doctest: +SKIP
    >>> len(data.images), data.same.shape, data.folds[:2]   # doctest: +SKIP
    (12000, (6000,), array([0, 0]))
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augmenter.errors import DatasetFormatError

N_FOLDS = 10


class _Refused(pickle.UnpicklingError):
    """A pickle that asks for something other than plain data."""


class _RefusingUnpickler(pickle.Unpickler):
    """An unpickler for plain data only: any global (hence any class, function or reduce) is refused."""

    def find_class(self, module, name):
        module = module.decode("ascii", "replace") if isinstance(module, bytes) else module
        name = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        raise _Refused(f"refers to {module}.{name}; only bytes and booleans are accepted")

    def persistent_load(self, pid):
        raise _Refused("holds a persistent reference; only bytes and booleans are accepted")


@dataclass
class LfwBin:
    """The content of an ``lfw.bin``: ``images`` 2P encoded images (pair ``i`` = ``2i``, ``2i + 1``),
    ``same`` (P,) bool, ``folds`` (P,) int in 0..9."""

    path: Path
    images: list[bytes]
    same: np.ndarray
    folds: np.ndarray

    @property
    def n_pairs(self) -> int:
        return len(self.same)


def kfold_blocks(n_pairs: int, n_folds: int = N_FOLDS) -> np.ndarray:
    """``(n_pairs,)`` fold ids of ``KFold(n_folds, shuffle=False)``: consecutive blocks, the first
    ``n_pairs % n_folds`` one pair larger."""
    sizes = np.full(n_folds, n_pairs // n_folds)
    sizes[: n_pairs % n_folds] += 1
    return np.repeat(np.arange(n_folds), sizes)


def _check_content(path: Path, obj) -> tuple[list[bytes], list[bool]]:
    if not isinstance(obj, (tuple, list)) or len(obj) != 2:
        raise DatasetFormatError(path, f"holds a {type(obj).__name__}, expected a pair (images, issame)")
    bins, issame = obj
    if not isinstance(bins, (list, tuple)) or not isinstance(issame, (list, tuple)):
        raise DatasetFormatError(path, f"holds ({type(bins).__name__}, {type(issame).__name__}), "
                                       "expected (list of image bytes, list of booleans)")
    for i, b in enumerate(bins):
        if not isinstance(b, (bytes, bytearray)):
            raise DatasetFormatError(path, f"image {i} is a {type(b).__name__}, expected encoded image bytes")
    for i, s in enumerate(issame):
        if not isinstance(s, bool):
            raise DatasetFormatError(path, f"issame[{i}] is a {type(s).__name__}, expected a boolean")
    if len(bins) != 2 * len(issame):
        raise DatasetFormatError(path, f"{len(bins)} images for {len(issame)} pairs, expected {2 * len(issame)}")
    if len(issame) < N_FOLDS:
        raise DatasetFormatError(path, f"{len(issame)} pairs, fewer than the {N_FOLDS} folds")
    return [bytes(b) for b in bins], list(issame)


def read_lfw_bin(path: str | os.PathLike) -> LfwBin:
    """Read and check an ``lfw.bin`` without executing anything in it (see the module docstring).

    Raises:
        DatasetFormatError: missing or unreadable file, not a pickle, a pickle with any global (class,
            function, reduce, numpy object), or not ``(list of bytes, list of bool)`` of lengths 2P and P.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            obj = _RefusingUnpickler(f, encoding="bytes").load()
    except FileNotFoundError:
        raise DatasetFormatError(path, "lfw.bin not found") from None
    except OSError as err:
        raise DatasetFormatError(path, f"unreadable ({err.__class__.__name__})") from None
    except _Refused as err:
        raise DatasetFormatError(path, f"refused: {err}") from None
    except Exception as err:  # truncated or not a pickle: EOFError, ValueError, KeyError, ...
        reason = " ".join(f"{err.__class__.__name__}: {err}".split())[:200]
        raise DatasetFormatError(path, f"not an lfw.bin pickle ({reason})") from None
    images, issame = _check_content(path, obj)
    same = np.array(issame, dtype=bool)
    return LfwBin(path, images, same, kfold_blocks(len(same)))
