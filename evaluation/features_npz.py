"""Reading an ``.npz`` of features (``augment embed``): image names or paths, ``embeddings`` (N, D) and,
when asked for, ``flip_embeddings`` (N, D), checked so that any bad file is a one-line
:class:`~augmenter.errors.DatasetFormatError` naming it. Shared by ``eval-lfw`` and ``eval-ijbb``.

Nothing is ever unpickled: a file without the zip signature of an ``.npz`` is refused before numpy
reads it, and an ``.npz`` holding an object array is refused (``allow_pickle=False``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augmenter.errors import DatasetFormatError

FLIPS = "flip_embeddings"
ZIP_MAGIC = b"PK"
NPY_MAGIC = b"\x93NUMPY"
UNREADABLE = "not a readable .npz of features"


@dataclass
class FeatureArrays:
    """The arrays of a features ``.npz``: ``names`` from its ``name_key`` array, row ``i`` of
    ``embeddings`` (and of ``flips``, None unless asked for) is the feature of ``names[i]``."""

    name_key: str
    names: list[str]
    embeddings: np.ndarray
    flips: np.ndarray | None


def _short(err: Exception) -> str:
    return " ".join(f"{err.__class__.__name__}: {err}".split())[:200]


def _signature(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(6)


def _read_arrays(path: Path, name_keys: tuple[str, ...], flip: bool, flip_hint: str) -> dict[str, np.ndarray]:
    signature = _signature(path)
    if signature.startswith(NPY_MAGIC):
        raise DatasetFormatError(path, f"{UNREADABLE}: it is a single .npy array")
    if not signature.startswith(ZIP_MAGIC):
        raise DatasetFormatError(path, f"{UNREADABLE}: no zip signature (corrupt, empty or another format)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            held = set(npz.files)
            name_key = next((k for k in name_keys if k in held), None)
            if name_key is None:
                wanted = " nor ".join(repr(k) for k in name_keys)
                raise DatasetFormatError(path, f"has {'neither' if len(name_keys) > 1 else 'no'} {wanted} array; "
                                               f"it holds {sorted(held)}")
            for key in ("embeddings",) + ((FLIPS,) if flip else ()):
                if key not in held:
                    hint = flip_hint if key == FLIPS else ""
                    raise DatasetFormatError(path, f"has no {key!r} array{hint}; it holds {sorted(held)}")
            keys = (name_key, "embeddings") + ((FLIPS,) if flip else ())
            return {key: npz[key] for key in keys}
    except DatasetFormatError:
        raise
    except ValueError as err:
        if "pickle" in str(err):
            raise DatasetFormatError(path, f"{UNREADABLE}: it holds an object array (pickled data), which is never "
                                           "loaded; save the names as strings and the embeddings as numbers") from None
        raise DatasetFormatError(path, f"{UNREADABLE} ({_short(err)})") from None
    except Exception as err:  # a truncated or corrupt zip, a damaged member
        raise DatasetFormatError(path, f"{UNREADABLE} ({_short(err)})") from None


def _check_shapes(path: Path, name_key: str, names: np.ndarray, embeddings: np.ndarray,
                  flips: np.ndarray | None) -> None:
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise DatasetFormatError(path, f"{name_key!r} must be a 1-D array of strings, got {names.dtype} {names.shape}")
    if embeddings.ndim != 2 or embeddings.shape[0] != len(names) or embeddings.shape[1] == 0 \
            or embeddings.dtype.kind not in "fiu":
        raise DatasetFormatError(path, f"'embeddings' must be a numeric (N, D) array with N = {len(names)} "
                                       f"{name_key}, got {embeddings.dtype} {embeddings.shape}")
    if flips is not None and (flips.shape != embeddings.shape or flips.dtype.kind not in "fiu"):
        raise DatasetFormatError(path, f"'{FLIPS}' {flips.dtype} {flips.shape} does not match "
                                       f"'embeddings' {embeddings.shape}")


def read_features_npz(path: str | os.PathLike, name_keys: tuple[str, ...] = ("paths",), flip: bool = False,
                      flip_hint: str = "") -> FeatureArrays:
    """The arrays of the features ``.npz`` at ``path``: the first of ``name_keys`` it holds (1-D strings),
    ``embeddings`` (numeric, one row of D > 0 per name) and, with ``flip``, ``flip_embeddings`` (numeric,
    the shape of ``embeddings``; ``flip_hint`` is appended to the error when it is missing).

    DatasetFormatError naming the file when it is missing, not an ``.npz`` (garbage, truncated, a pickle,
    an object array), lacks an array or holds one of the wrong shape or type."""
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(path, "features file not found")
    arrays = _read_arrays(path, tuple(name_keys), flip, flip_hint)
    name_key = next(k for k in name_keys if k in arrays)
    names, embeddings, flips = arrays[name_key], arrays["embeddings"], arrays.get(FLIPS)
    _check_shapes(path, name_key, names, embeddings, flips)
    decoded = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names.tolist()]
    return FeatureArrays(name_key, decoded, embeddings, flips)


__all__ = ["FeatureArrays", "read_features_npz"]
