"""IJB-B 1:1 template verification with insightface's default protocol (``eval_ijbc.py``, IJB 1:1), fast.

Protocol (insightface's defaults; this toolkit's switches in brackets):

* image feature ``f = e + e_flip``: the embedding plus the mirror image's embedding, as given (not
  normalised) [``--no-flip``: ``e`` only]; [``--normalize-images``: ``f / ||f||``, which is insightface's
  ``use_norm_score = False``: its default ``True`` keeps the norm]; times the image's detector score from
  ``ijbb_name_5pts_score.txt`` [``--no-detector-score``: not];
* media feature: the mean of ``f`` over the images of one (template, media) (a video's frames, or one
  still image);
* template feature: the sum of its media features, L2-normalised (a zero sum stays zero);
* pair score: cosine similarity, the dot product of the two template features, in -1..1;
* TAR at FAR 1e-6 ... 1e-1 and AUC from sklearn's ROC over all pairs (:mod:`evaluation.tar_far`).

Everything is computed in float64 (insightface pools float32 image features): template features and
scores match a float64 per-template reference to ~1e-15.

How it is fast at IJB-B's size (227,630 images x 512-d, 12,115 templates, 83,238 (template, media),
8,010,270 pairs), in bounded memory:

* pooling (:func:`pool_templates`): one stable sort of the images by (template, media), then chunks of
  whole templates (~2K rows, cache-sized): gather, fuse in float64, sum over the (template, media) runs,
  divide by the run lengths, sum over the template runs (run sums as 0/1 sparse matrix products); never a
  full float64 copy of the image features;
* scoring (:func:`score_pairs`): pairs grouped by first template (a radix argsort), blocks of first
  templates against the union of their second templates with one matrix product per block (<= 64 MiB),
  and a gather of the entries needed; very sparse blocks use a direct row-wise dot product instead;
* TAR at FAR and AUC (:func:`evaluation.tar_far.tar_at_far`) without a full ``roc_curve``.

Example:
    >>> result = run_ijbb(IJBBConfig(meta_dir="IJBB/meta", features="ijbb.npz", out="runs/ijbb"))  # doctest: +SKIP
    >>> result.result["tar_at_far"]["1e-04"]                                                         # doctest: +SKIP
    0.9412
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from augmenter.errors import DatasetFormatError
from evaluation.features_npz import FeatureArrays, read_features_npz
from evaluation.ijbb_meta import FIVE_POINTS, PAIRS, TID_MID, IJBBMeta, match_names, read_meta
from evaluation.tar_far import FAR_TARGETS, TarFar, far_key, tar_at_far
from recognition.metrics import l2_normalise_rows

PROTOCOL = ("insightface eval_ijbc.py default (IJB 1:1 verification): image feature = embedding + flip "
            "embedding, times the detector score; mean over the images of a (template, media); template = "
            "L2-normalised sum of its media; score = cosine; TAR at the ROC point nearest each FAR")
CHUNK_ROWS = 2048
BLOCK_BYTES = 64 << 20
SPARSE_DENSITY = 1 / 64      # below this share of a block's entries, dot products beat one matrix product
GATHER_PAIRS = 4096


@dataclass(frozen=True)
class Switches:
    """The protocol's switches (insightface's defaults: all True but ``normalize_images``)."""

    flip: bool = True
    detector_score: bool = True
    normalize_images: bool = False


def fuse_features(embeddings: np.ndarray, flip_embeddings: np.ndarray | None = None,
                  detector_scores: np.ndarray | None = None, normalize: bool = False) -> np.ndarray:
    """``(n, D)`` float64 image features: ``embeddings (+ flip_embeddings)``, L2-normalised when
    ``normalize`` (zero rows stay zero), times ``detector_scores`` ``(n,)`` when given."""
    if flip_embeddings is not None:
        x = np.add(embeddings, flip_embeddings, dtype=np.float64)   # both cast to float64, then added
    else:
        x = np.asarray(embeddings).astype(np.float64)
    if normalize:
        norms = np.sqrt(np.sum(x ** 2, -1, keepdims=True))
        x /= np.where(norms > 0, norms, 1.0)
    if detector_scores is not None:
        x *= np.asarray(detector_scores, dtype=np.float64)[:, None]
    return x


def _runs(*keys: np.ndarray) -> np.ndarray:
    """Start indices of the runs of equal consecutive ``keys`` tuples."""
    change = np.zeros(len(keys[0]), dtype=bool)
    change[0] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    return np.flatnonzero(change)


def pool_templates(embeddings: np.ndarray, template_index: np.ndarray, medias: np.ndarray, n_templates: int, *,
                   flip_embeddings: np.ndarray | None = None, detector_scores: np.ndarray | None = None,
                   rows: np.ndarray | None = None, normalize_images: bool = False,
                   chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """``(n_templates, D)`` float64 unit template features (the protocol in the module docstring).

    Arguments:
        embeddings: ``(M, D)`` per-image embeddings (any float dtype), ``flip_embeddings`` the same shape.
        template_index: ``(N,)`` int template of each image, in ``0..n_templates-1``; ``medias`` ``(N,)`` ints.
        detector_scores: ``(N,)`` per image; ``rows``: ``(N,)`` row of ``embeddings`` of each image
            (default: image ``i`` is row ``i``). A template without images stays a zero row.
    """
    template_index, medias = np.asarray(template_index), np.asarray(medias)
    n = len(template_index)
    out = np.zeros((n_templates, np.shape(embeddings)[1]), dtype=np.float64)
    if n == 0:
        return out
    order = np.lexsort((medias, template_index))
    t_sorted = template_index[order]
    group_starts = _runs(t_sorted, medias[order])
    template_starts = _runs(t_sorted)
    wanted = np.searchsorted(template_starts, np.arange(0, n, max(1, chunk_rows)))
    cuts = np.r_[np.unique(template_starts[wanted[wanted < len(template_starts)]]), n]
    for a, b in zip(cuts[:-1], cuts[1:]):
        sel = order[a:b]
        feature_rows = sel if rows is None else rows[sel]
        x = fuse_features(embeddings[feature_rows], None if flip_embeddings is None else flip_embeddings[feature_rows],
                          None if detector_scores is None else detector_scores[sel], normalize_images)
        g = group_starts[np.searchsorted(group_starts, a):np.searchsorted(group_starts, b)] - a
        means = _run_sums(x, g)
        means /= np.diff(np.r_[g, b - a])[:, None]
        group_templates = t_sorted[a + g]
        firsts = _runs(group_templates)
        out[group_templates[firsts]] = _run_sums(means, firsts)
    return l2_normalise_rows(out)


def _run_sums(x: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums of the row runs of ``x`` beginning at ``starts`` (``np.add.reduceat(x, starts, axis=0)``, as a
    0/1 sparse matrix product: ~8x faster than reduceat along axis 0)."""
    import scipy.sparse

    n = len(x)
    runs = scipy.sparse.csr_matrix((np.ones(n), np.arange(n), np.r_[starts, n]), shape=(len(starts), n))
    return np.asarray(runs @ x)


def _grouping_order(first: np.ndarray, n_templates: int) -> np.ndarray:
    """A stable argsort of template indices (radix sort for up to 65,535 templates)."""
    if n_templates <= np.iinfo(np.uint16).max:
        return np.argsort(first.astype(np.uint16), kind="stable")
    return np.argsort(first.astype(np.int32), kind="stable")


def score_pairs(templates: np.ndarray, pairs: np.ndarray, block_bytes: int = BLOCK_BYTES) -> np.ndarray:
    """``(P,)`` float64 dot products ``templates[pairs[:, 0]] . templates[pairs[:, 1]]``, pair order.

    ``templates`` ``(T, D)`` float64 (unit rows: cosine scores), ``pairs`` ``(P, 2)`` int indices. Pairs are
    grouped by first template; each block of first templates is multiplied with the union of its second
    templates (one matrix product, at most ``block_bytes`` of result) and the needed entries gathered.
    """
    templates = np.ascontiguousarray(templates, dtype=np.float64)
    pairs = np.asarray(pairs)
    n_t = len(templates)
    scores = np.empty(len(pairs), dtype=np.float64)
    if not len(pairs):
        return scores
    order = _grouping_order(pairs[:, 0], n_t)
    first, second = pairs[order, 0], pairs[order, 1]
    starts = _runs(first)
    firsts = first[starts]
    bounds = np.r_[starts, len(first)]
    rows_per_block = max(1, block_bytes // (8 * max(n_t, 1)))
    column_of = np.full(n_t, -1, dtype=np.int64)
    for j in range(0, len(firsts), rows_per_block):
        p0, p1 = bounds[j], bounds[min(j + rows_per_block, len(firsts))]
        block_rows = firsts[j:j + rows_per_block]
        cols = second[p0:p1]
        used = np.zeros(n_t, dtype=bool)
        used[cols] = True
        columns = np.flatnonzero(used)
        if (p1 - p0) >= SPARSE_DENSITY * len(block_rows) * len(columns):
            column_of[columns] = np.arange(len(columns))
            row_local = np.repeat(np.arange(len(block_rows)), np.diff(bounds[j:j + len(block_rows) + 1]))
            product = templates[block_rows] @ templates[columns].T
            values = product.ravel()[row_local * len(columns) + column_of[cols]]
        else:
            values = np.empty(p1 - p0)
            for q in range(p0, p1, GATHER_PAIRS):
                r = min(q + GATHER_PAIRS, p1)
                values[q - p0:r - p0] = np.einsum("ij,ij->i", templates[first[q:r]], templates[second[q:r]])
        scores[order[p0:p1]] = values
    return scores


def _feature_keys(arrays: FeatureArrays) -> np.ndarray:
    if arrays.name_key == "names":
        return np.array(arrays.names, dtype=str)
    return np.array([Path(p.replace("\\", "/")).name for p in arrays.names], dtype=str)


def _finite_rows(x: np.ndarray, chunk: int = 32768) -> np.ndarray:
    return np.concatenate([np.isfinite(x[i:i + chunk]).all(axis=1) for i in range(0, len(x), chunk)] or
                          [np.zeros(0, dtype=bool)])


def load_features(path: str | os.PathLike, names: np.ndarray, flip: bool = True
                  ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``(embeddings, flip_embeddings or None, rows)`` from an ``.npz`` (``names`` or ``paths``, matched by
    file name; ``embeddings`` (M, D); ``flip_embeddings`` needed when ``flip``); ``rows[i]`` is the row of
    image ``names[i]``. DatasetFormatError naming an image without a (finite) feature, and the count."""
    path = Path(path)
    arrays = read_features_npz(path, ("names", "paths"), flip,
                               flip_hint=" (embed with --flip, or pass --no-flip)")
    keys, embeddings, flips = _feature_keys(arrays), arrays.embeddings, arrays.flips
    rows = match_names(keys, names, path, what="feature")
    finite = _finite_rows(embeddings) & (_finite_rows(flips) if flips is not None else True)
    bad = ~finite[rows]
    if bad.any():
        lacking = np.unique(names[bad])
        raise DatasetFormatError(path, f"{len(lacking)} image(s) of {TID_MID} have no feature (NaN or inf row), "
                                       f"e.g. {str(names[bad][0])!r}")
    return embeddings, flips, rows


def embed_images(checkpoint: str | os.PathLike, image_dir: str | os.PathLike, names: np.ndarray,
                 landmarks: np.ndarray, batch_size: int = 128, workers: int = 2, device: str = "auto",
                 flip: bool = True, progress: Callable[[int, int], None] | None = None
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """``(embeddings, flip_embeddings)`` ``(N, D)`` float32 of ``image_dir/names[i]`` aligned from
    ``landmarks[i]`` (5, 2) to the ArcFace template (see :class:`AlignedCrops`): the backbone's raw outputs
    (not normalised, as in insightface's IJB evaluation) of the crop and, with ``flip``, of its mirror image
    (else None; both None for no names). DatasetFormatError naming an unreadable image and how many there are."""
    from torch.utils.data import DataLoader

    from augmenter.checkpoint import load_checkpoint
    from augmenter.errors import CheckpointError
    from augmenter.nets.backbones import backbone_from_checkpoint
    from augmenter.image_dataset import collate_faces
    from augmenter.device import resolve_device
    from recognition.embedding import embed_loader

    ckpt = load_checkpoint(checkpoint)
    if ckpt.kind != "verifier":
        raise CheckpointError(checkpoint, f"is a {ckpt.kind!r} checkpoint; IJB-B needs a verifier checkpoint")
    dev = resolve_device(device)
    backbone, size = backbone_from_checkpoint(ckpt)
    backbone = backbone.to(dev).eval()
    loader = DataLoader(AlignedCrops(image_dir, names, landmarks, size), batch_size=batch_size,
                        num_workers=workers, collate_fn=collate_faces)
    plain, mirrored, failures = embed_loader(backbone, loader, len(names), dev, normalise=False,
                                             with_mirror=flip, progress=progress)
    if failures:
        raise DatasetFormatError(image_dir, f"{len(failures)} image(s) could not be read, e.g. {failures[0][1]}")
    return plain, mirrored


class AlignedCrops:
    """Item ``i``: ``(i, (3, S, S) uint8 RGB tensor, "")``, or ``(i, empty, "<path>: <reason>")`` for an
    unreadable file: ``image_dir/names[i]`` warped (similarity transform, bilinear, black border) so that its
    five ``landmarks[i]`` land on insightface's IJB template: the 96x112 template with ``src[:, 0] += 8``,
    which is the 112x112 ArcFace template (:data:`augmenter.align.ARCFACE_TEMPLATE_112`), scaled by S / 112.

    The shared decode and failure core (:func:`augmenter.image_dataset.image_item`) with its own crop: an
    alignment on the landmarks instead of a resize. It composes that core rather than subclassing
    :class:`augmenter.image_dataset.ImageDataset` so that importing this module stays free of torch."""

    def __init__(self, image_dir, names, landmarks, size: int):
        from augmenter.align import canonical_template

        self.image_dir, self.names, self.landmarks, self.size = Path(image_dir), list(names), landmarks, size
        self.template = canonical_template(size)

    def __len__(self) -> int:
        return len(self.names)

    def crop(self, i: int, image: np.ndarray) -> np.ndarray:
        """The ``(S, S, 3)`` crop of item ``i`` from its decoded image, aligned on ``landmarks[i]``."""
        from augmenter.align import align_with_landmarks

        return align_with_landmarks(image, self.landmarks[i], self.size, self.template)

    def __getitem__(self, i: int):
        from augmenter.image_dataset import image_item

        return image_item(i, self.image_dir / self.names[i], lambda image: self.crop(i, image))


@dataclass
class IJBBConfig:
    """What ``eval-ijbb`` runs: features from an ``.npz`` or from a checkpoint and the loose crops."""

    meta_dir: str | os.PathLike
    out: str | os.PathLike
    features: str | os.PathLike | None = None
    checkpoint: str | os.PathLike | None = None
    image_dir: str | os.PathLike | None = None
    switches: Switches = field(default_factory=Switches)
    save_scores: bool = False
    batch_size: int = 128
    workers: int = 2
    device: str = "auto"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Features from an ``.npz`` or from a checkpoint with the loose crops, never both (``eval-ijbb``
        prints the message as a usage error)."""
        if (self.features is None) == (self.checkpoint is None):
            raise ValueError("give either --features or --checkpoint (with --image-dir)")
        if self.checkpoint is not None and self.image_dir is None:
            raise ValueError("--checkpoint needs --image-dir (the loose crops)")
        if self.features is not None and self.image_dir is not None:
            raise ValueError("--image-dir goes with --checkpoint, not --features")


@dataclass
class IJBBResult:
    """The JSON result (``result``), the scores and labels (pair-file order) and the files written."""

    result: dict
    scores: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    written: list[Path] = field(default_factory=list)
    roc: TarFar | None = field(default=None, repr=False)

    def summary(self) -> str:
        """One line: TAR at each FAR, AUC, counts and where the outputs are."""
        r = self.result
        tars = ", ".join(f"{k} {v:.4f}" for k, v in r["tar_at_far"].items())
        return (f"IJB-B 1:1: TAR@FAR {tars}; AUC {r['auc']:.4f} ({r['n_pairs']} pairs, {r['n_templates']} "
                f"templates, {r['n_images']} images) -> {self.written[0] if self.written else ''}")


def _features_for(config: IJBBConfig, meta: IJBBMeta, log: Callable[[str], None], progress):
    flip = config.switches.flip
    if config.features is not None:
        return load_features(config.features, meta.names, flip=flip)
    unique, first, rows = np.unique(meta.names, return_index=True, return_inverse=True)
    log(f"embedding {len(unique)} images from {config.image_dir}")
    plain, mirrored = embed_images(config.checkpoint, config.image_dir, unique, meta.landmarks[first],
                                   config.batch_size, config.workers, config.device, flip=flip, progress=progress)
    return plain, mirrored, rows.astype(np.int64)


def evaluate(config: IJBBConfig, log: Callable[[str], None] = lambda m: None,
             progress: Callable[[int, int], None] | None = None) -> IJBBResult:
    """Read, embed (``progress(done, total)`` images) or load, pool, score, read off TAR at FAR; no files
    written (see :func:`run_ijbb`)."""
    config.validate()  # again: the fields may have changed since the config was made
    sw = config.switches
    need_points = config.checkpoint is not None or sw.detector_score
    if need_points and not (Path(config.meta_dir) / FIVE_POINTS).is_file() and Path(config.meta_dir).is_dir():
        why = "aligning images from a checkpoint" if config.checkpoint is not None else \
            "the detector scores (or pass --no-detector-score)"
        raise DatasetFormatError(Path(config.meta_dir) / FIVE_POINTS, f"file not found; it is needed for {why}")
    timings = {}
    t = time.perf_counter()
    meta = read_meta(config.meta_dir, five_points=need_points)
    timings["read_meta"] = time.perf_counter() - t
    t = time.perf_counter()
    embeddings, flips, rows = _features_for(config, meta, log, progress)
    timings["features"] = time.perf_counter() - t
    t = time.perf_counter()
    templates = pool_templates(embeddings, meta.template_index, meta.medias, meta.n_templates,
                               flip_embeddings=flips if sw.flip else None,
                               detector_scores=meta.detector_scores if sw.detector_score else None,
                               rows=rows, normalize_images=sw.normalize_images)
    timings["pooling"] = time.perf_counter() - t
    del embeddings, flips
    t = time.perf_counter()
    scores = score_pairs(templates, meta.pairs)
    timings["scoring"] = time.perf_counter() - t
    t = time.perf_counter()
    try:
        roc = tar_at_far(meta.labels, scores)
    except ValueError as err:
        raise DatasetFormatError(meta.meta_dir / PAIRS, str(err)) from None
    timings["tar_far"] = time.perf_counter() - t
    result = {
        "protocol": PROTOCOL,
        "tar_at_far": roc.tar_by_key(),
        "auc": roc.auc,
        "n_pairs": len(scores), "n_genuine": roc.n_genuine, "n_impostor": roc.n_impostor,
        "n_templates": meta.n_templates, "n_images": meta.n_images, "n_media": meta.n_media,
        "switches": asdict(sw),
        "inputs": {"meta_dir": str(config.meta_dir),
                   **({"features": str(config.features)} if config.features is not None else
                      {"checkpoint": str(config.checkpoint), "image_dir": str(config.image_dir)})},
        "timings_s": timings,
    }
    return IJBBResult(result, scores, meta.labels, roc=roc)


def ijbb_markdown(result: dict) -> str:
    """The ``ijbb.md`` summary: TAR at each FAR, AUC, counts, switches and stage timings."""
    from evaluation.outputs import fmt

    lines = ["# IJB-B 1:1 verification", "", f"Protocol: {result['protocol']}.", "",
             "| FAR | TAR |", "|---|---|"]
    lines += [f"| {k} | {fmt(v)} |" for k, v in result["tar_at_far"].items()]
    lines += ["", f"AUC: {fmt(result['auc'], 6)}", "",
              f"{result['n_pairs']} pairs ({result['n_genuine']} genuine, {result['n_impostor']} impostor), "
              f"{result['n_templates']} templates, {result['n_images']} images, {result['n_media']} (template, media).",
              "", "Switches: " + ", ".join(f"{k} {'on' if v else 'off'}" for k, v in result["switches"].items()),
              "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in result["timings_s"].items()]
    return "\n".join(lines) + "\n"


def run_ijbb(config: IJBBConfig, log: Callable[[str], None] = lambda m: None,
             progress: Callable[[int, int], None] | None = None) -> IJBBResult:
    """:func:`evaluate`, then write ``ijbb.json``, ``ijbb.md``, ``ijbb_roc.png`` and, with ``save_scores``,
    ``ijbb_scores.npy`` (float64, pair-file order) and ``ijbb_labels.npy`` (int8) into ``config.out``."""
    from augmenter.atomic import atomic_path
    from evaluation.outputs import write_result
    from evaluation.plots import plot_roc

    done = evaluate(config, log, progress)
    t = time.perf_counter()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    roc = done.roc
    plot_roc(out / "ijbb_roc.png", {"IJB-B 1:1": (roc.fpr, roc.tpr)}, title="IJB-B 1:1 verification",
             marks=FAR_TARGETS)
    written = [out / "ijbb_roc.png"]
    if config.save_scores:
        for name, array in (("ijbb_scores.npy", done.scores), ("ijbb_labels.npy", done.labels)):
            with atomic_path(out / name) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, array)
            written.append(out / name)
    done.result["timings_s"]["write"] = time.perf_counter() - t
    done.written = write_result(out, "ijbb", done.result, ijbb_markdown(done.result)) + written
    return done


__all__ = ["PROTOCOL", "Switches", "fuse_features", "pool_templates", "score_pairs", "load_features",
           "embed_images", "AlignedCrops", "IJBBConfig", "IJBBResult", "evaluate", "run_ijbb", "ijbb_markdown",
           "far_key"]
