"""``eval-lfw`` without the command line: pairs and features in, :class:`~evaluation.lfw.LfwResult` and
``lfw.json`` / ``lfw.md`` / ``lfw_roc.png`` out.

Pairs come from an LFW ``pairs.txt`` (or a ``first,second,same,fold`` CSV) or from an insightface
``lfw.bin``; features from an ``.npz`` of ``augment embed`` or from a verifier checkpoint, each distinct
image embedded once (mirror images too with ``flip``). Matching an ``.npz`` to the pairs:

* pair lists with ``lfw_root``: by the path relative to ``lfw_root`` (``Aaron_Peirsol/Aaron_Peirsol_0001.jpg``);
  an ``.npz`` path is taken relative to ``lfw_root`` when it lies under it (absolute, or relative to the
  current folder), else as written;
* pair lists without ``lfw_root``: by the last two path components (``name/name_0001.jpg``);
* ``lfw.bin``: image ``i`` of the file is the ``.npz`` path ``"i"`` (``"0"`` to ``"11999"``).

Two ``.npz`` paths with the same key are an error. A pair whose image is missing, unreadable or has no
finite feature is an error naming the first such image, or, with ``allow_missing``, is dropped (counted in
``skipped_pairs``; the folds stay those of the file).

Example:
    >>> result = run_lfw(pairs="lfw/pairs.txt", lfw_root="lfw/images",             # doctest: +SKIP
    ...                  checkpoint="runs/v1/best.pt", flip=True)
    >>> write_lfw_outputs("runs/v1/lfw", result)                                    # doctest: +SKIP
    >>> print(result.summary())                                                      # doctest: +SKIP
    LFW: 99.12% ± 0.35 (10 folds), VAL@FAR=1e-3 97.50% ± 1.20 (FAR 0.00100), AUC 0.9990, EER 1.10%
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from augmenter.errors import DatasetFormatError, ImageDecodeError
from evaluation.features_npz import read_features_npz
from evaluation.lfw import LfwResult, lfw_from_features, pair_features
from evaluation.lfw_bin import LfwBin, read_lfw_bin

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class PairSet:
    """Pairs over distinct images: ``images`` each image once (a file path, or ``lfw.bin[i]``), ``keys``
    what matches it to an ``.npz`` path, ``first`` / ``second`` (P,) indices into ``images``, ``same``
    (P,) bool, ``folds`` (P,) int; ``source`` the pair list or ``lfw.bin``."""

    source: Path
    images: list[str]
    keys: list[str]
    first: np.ndarray
    second: np.ndarray
    same: np.ndarray
    folds: np.ndarray


def feature_key(path: str | os.PathLike, lfw_root: str | os.PathLike | None) -> str:
    """The key matching a pair image to an ``.npz`` path (see the module docstring)."""
    text = os.fspath(path).replace("\\", "/")
    if lfw_root is None:
        return "/".join(PurePosixPath(text).parts[-2:])
    full = Path(os.path.abspath(text))
    try:
        return full.relative_to(os.path.abspath(lfw_root)).as_posix()
    except ValueError:
        return full.as_posix() if os.path.isabs(text) else PurePosixPath(text).as_posix()


def pairs_from_list(pairs: str | os.PathLike, lfw_root: str | os.PathLike | None = None) -> PairSet:
    """The pairs of an LFW ``pairs.txt`` or pair CSV (:func:`augmenter.datasets.pairs.read_pairs`), images
    under ``lfw_root`` (or relative paths when it is None), in file order."""
    from augmenter.datasets.pairs import read_pairs

    pair_list = read_pairs(pairs, lfw_root if lfw_root is not None else Path(""))
    index: dict[str, int] = {}
    first, second = [], []
    for p in pair_list:
        for path, out in ((p.first, first), (p.second, second)):
            out.append(index.setdefault(str(path), len(index)))
    images = list(index)
    return PairSet(Path(pairs), images, [feature_key(i, lfw_root) for i in images], np.array(first, np.int64),
                   np.array(second, np.int64), np.array([p.same for p in pair_list], bool),
                   np.array([p.fold for p in pair_list], np.int64))


def pairs_from_bin(data: LfwBin) -> PairSet:
    """The pairs of an ``lfw.bin``: pair ``i`` = images ``2i`` and ``2i + 1``, keys ``"0"``, ``"1"``, ..."""
    n = len(data.images)
    return PairSet(data.path, [f"{data.path}[{i}]" for i in range(n)], [str(i) for i in range(n)],
                   np.arange(0, n, 2), np.arange(1, n, 2), data.same.copy(), data.folds.copy())


def read_features(path: str | os.PathLike, flip: bool = False) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """``(paths, embeddings (N, D), flip_embeddings (N, D) or None)`` of an ``.npz`` (``flip_embeddings``
    read, and required, only with ``flip``); one-line :class:`DatasetFormatError` naming the file else
    (:func:`evaluation.features_npz.read_features_npz`)."""
    arrays = read_features_npz(path, ("paths",), flip, flip_hint=" (needed by --flip: embed with --flip)")
    return arrays.names, arrays.embeddings, arrays.flips


def features_for_pairs(path: str | os.PathLike, pairs: PairSet, lfw_root: str | os.PathLike | None = None,
                       flip: bool = False, by_index: bool = False) -> tuple[np.ndarray, list[str | None]]:
    """Features (I, D) of the ``I`` images of ``pairs`` from an ``.npz`` (:func:`pair_features`; NaN rows
    for images without one) and, per image, why it has none (None when it has one). ``by_index``: the
    ``.npz`` paths are ``lfw.bin`` indices, matched as written."""
    names, embeddings, flips = read_features(path, flip)
    rows: dict[str, int] = {}
    for row, name in enumerate(names):
        key = name.strip() if by_index else feature_key(name, lfw_root)
        if rows.setdefault(key, row) != row:
            raise DatasetFormatError(path, f"two features for {key!r} (rows {rows[key]} and {row})")
    wanted = np.array([rows.get(k, -1) for k in pairs.keys])
    found = wanted >= 0
    features = np.full((len(pairs.keys), embeddings.shape[1]), np.nan,
                       dtype=np.result_type(embeddings.dtype, np.float32))
    if found.any():
        features[found] = pair_features(embeddings[wanted[found]], None if flips is None else flips[wanted[found]])
    finite = np.isfinite(features).all(1)
    problems = [None if ok else ("no feature" if not hit else "NaN feature") for ok, hit in zip(finite, found)]
    return features, problems


def _load_backbone(checkpoint: str | os.PathLike, device: str):
    from augmenter.checkpoint import load_checkpoint
    from augmenter.nets.backbones import backbone_from_checkpoint
    from augmenter.device import resolve_device

    dev = resolve_device(device)
    backbone, size = backbone_from_checkpoint(load_checkpoint(checkpoint, kind="verifier"))
    return backbone.to(dev), size, dev


def embed_images(paths: list[str], checkpoint: str | os.PathLike, flip: bool = False, batch_size: int = 128,
                 workers: int = 2, device: str = "auto") -> tuple[np.ndarray, list[str]]:
    """Features (N, D) of image files with a verifier checkpoint's backbone: unit embeddings, or with
    ``flip`` embedding + mirror-image embedding renormalised (:func:`pair_features`, the same as an
    ``augment embed --flip`` ``.npz`` gives); NaN rows for unreadable files, whose messages are returned."""
    from recognition.embedding import embed_batches

    backbone, size, dev = _load_backbone(checkpoint, device)
    embeddings, errors = embed_batches(backbone, paths, size, dev, batch_size=batch_size, workers=workers)
    if embeddings.shape[1] == 0:  # nothing readable
        return np.full((len(paths), 1), np.nan, np.float32), errors
    flips = None
    if flip:  # a second pass, so that the features are exactly those of an ``augment embed --flip`` .npz
        flips, _ = embed_batches(backbone, paths, size, dev, batch_size=batch_size, workers=workers, mirror_only=True)
    return pair_features(embeddings, flips), errors


def _reason(errors: list[str], name: str, default: str) -> str:
    for err in errors:
        if err.startswith(f"{name}: "):
            return err[len(name) + 2:]
    return default


def _missing_note(pairs: PairSet, bad_images: int, bad_pairs: int, what: str) -> str:
    return (f"{bad_images} of the {len(pairs.images)} images of {pairs.source.name} {what} ({bad_pairs} of "
            f"{len(pairs.same)} pairs); --allow-missing skips those pairs")


def score_pairs(pairs: PairSet, features: np.ndarray, problems: list[str | None], *, allow_missing: bool = False,
                flip: bool = False, inputs: dict | None = None, error=None) -> LfwResult:
    """The protocol on ``pairs`` with ``features`` (I, D). Pairs with an image whose ``problems`` entry is
    set are dropped with ``allow_missing``; otherwise ``error(first bad image index, bad images, bad
    pairs)`` is raised (by default a :class:`DatasetFormatError` naming the pair list)."""
    bad_image = np.array([p is not None for p in problems], bool)
    bad_pair = bad_image[pairs.first] | bad_image[pairs.second]
    if bad_pair.any() and not allow_missing:
        first_bad = int(np.flatnonzero(bad_image)[0])
        if error is None:
            raise DatasetFormatError(pairs.source, f"{pairs.images[first_bad]}: {problems[first_bad]}; "
                                                   + _missing_note(pairs, int(bad_image.sum()), int(bad_pair.sum()),
                                                                   "are unusable"))
        raise error(first_bad, int(bad_image.sum()), int(bad_pair.sum()))
    keep = ~bad_pair
    if not keep.any():
        raise DatasetFormatError(pairs.source, "no pair left to score")
    try:
        return lfw_from_features(features, pairs.first[keep], pairs.second[keep], pairs.same[keep],
                                 pairs.folds[keep], flip=flip, skipped_pairs=int(bad_pair.sum()), inputs=inputs)
    except ValueError as err:  # fewer than 2 folds, or a fold without same or different pairs
        raise DatasetFormatError(pairs.source, f"cannot run the 10-fold protocol: {err}") from None


def run_lfw(*, pairs: str | os.PathLike | None = None, lfw_root: str | os.PathLike | None = None,
            bin_path: str | os.PathLike | None = None, features: str | os.PathLike | None = None,
            checkpoint: str | os.PathLike | None = None, flip: bool = False, allow_missing: bool = False,
            batch_size: int = 128, workers: int = 2, device: str = "auto") -> LfwResult:
    """The LFW protocol from one pair source (``pairs`` [+ ``lfw_root``] or ``bin_path``) and one feature
    source (``features`` .npz or ``checkpoint``; with ``pairs`` the checkpoint needs ``lfw_root``).

    Raises:
        ValueError: not exactly one pair source and one feature source.
        DatasetFormatError, ImageDecodeError, CheckpointError: one line naming the bad file.
    """
    if (pairs is None) == (bin_path is None):
        raise ValueError("give exactly one of pairs (pairs.txt) and bin_path (lfw.bin)")
    if (features is None) == (checkpoint is None):
        raise ValueError("give exactly one of features (.npz) and checkpoint")
    if bin_path is not None and lfw_root is not None:
        raise ValueError("lfw_root applies to a pair list, not to lfw.bin")
    if pairs is not None and checkpoint is not None and lfw_root is None:
        raise ValueError("embedding the images of a pair list needs lfw_root")
    inputs = {"pairs": pairs, "lfw_root": lfw_root, "bin": bin_path, "features": features, "checkpoint": checkpoint}
    inputs = {k: os.fspath(v) for k, v in inputs.items() if v is not None}
    common = dict(allow_missing=allow_missing, flip=flip, inputs=inputs)

    data = read_lfw_bin(bin_path) if bin_path is not None else None
    pair_set = pairs_from_bin(data) if data is not None else pairs_from_list(pairs, lfw_root)
    if features is not None:
        feats, problems = features_for_pairs(features, pair_set, lfw_root, flip, by_index=data is not None)

        def error(i, n_images, n_pairs):
            return DatasetFormatError(features, f"{problems[i]} for {pair_set.keys[i]!r}; "
                                                + _missing_note(pair_set, n_images, n_pairs, "have no usable feature"))

        return score_pairs(pair_set, feats, problems, error=error, **common)
    if data is not None:
        return _run_bin_model(data, pair_set, checkpoint, batch_size, workers, device, common)
    return _run_list_model(pair_set, lfw_root, checkpoint, batch_size, workers, device, common)


def _run_list_model(pair_set: PairSet, lfw_root, checkpoint, batch_size, workers, device, common) -> LfwResult:
    root = Path(lfw_root)
    if not root.is_dir():
        raise DatasetFormatError(root, "LFW image folder not found")
    problems: list[str | None] = [None if Path(p).is_file() else "no such file" for p in pair_set.images]

    def error(i, n_images, n_pairs):
        return ImageDecodeError(pair_set.images[i], f"{problems[i]}; "
                                + _missing_note(pair_set, n_images, n_pairs, "are missing or unreadable"))

    missing = np.array([p is not None for p in problems], bool)
    if missing.any() and not common["allow_missing"]:  # before the embedding, which may take a while
        raise error(int(np.flatnonzero(missing)[0]), int(missing.sum()),
                    int((missing[pair_set.first] | missing[pair_set.second]).sum()))
    present = [i for i, p in enumerate(problems) if p is None]
    feats, errors = embed_images([pair_set.images[i] for i in present], checkpoint, common["flip"], batch_size,
                                 workers, device)
    features = np.full((len(pair_set.images), feats.shape[1]), np.nan, np.float32)
    features[present] = feats
    for i in present:
        if not np.isfinite(features[i]).all():
            problems[i] = _reason(errors, pair_set.images[i], "unreadable image")
    return score_pairs(pair_set, features, problems, error=error, **common)


def _run_bin_model(data: LfwBin, pair_set: PairSet, checkpoint, batch_size, workers, device, common) -> LfwResult:
    with tempfile.TemporaryDirectory(prefix="lfw_bin_") as tmp:
        files = []
        for i, blob in enumerate(data.images):
            suffix = ".png" if blob.startswith(PNG_SIGNATURE) else ".jpg"   # the decoder goes by the content anyway
            files.append(os.path.join(tmp, f"{i:05d}{suffix}"))
            with open(files[-1], "wb") as f:
                f.write(blob)
        features, errors = embed_images(files, checkpoint, common["flip"], batch_size, workers, device)
    problems = [None if np.isfinite(row).all() else _reason(errors, files[i], "cannot be decoded")
                for i, row in enumerate(features)]

    def error(i, n_images, n_pairs):
        return DatasetFormatError(data.path, f"image {i}: {problems[i]}; "
                                             + _missing_note(pair_set, n_images, n_pairs, "cannot be decoded"))

    return score_pairs(pair_set, features, problems, error=error, **common)


def write_lfw_outputs(out_dir: str | os.PathLike, result: LfwResult) -> list[Path]:
    """``OUT/lfw.json``, ``OUT/lfw.md`` and ``OUT/lfw_roc.png`` (each written atomically); their paths."""
    from evaluation.outputs import write_result
    from evaluation.plots import plot_roc

    written = write_result(out_dir, "lfw", result.to_dict(), result.markdown())
    roc = Path(out_dir) / "lfw_roc.png"
    plot_roc(roc, {f"AUC {result.auc:.4f}, EER {100 * result.eer:.2f}%": (result.fpr, result.tpr)},
             title=f"LFW View 2: {100 * result.accuracy_mean:.2f}% ± {100 * result.accuracy_std:.2f}",
             marks=[1e-3])
    return written + [roc]
