"""IJB-B 1:1 evaluation speed: this toolkit's implementation against a plain per-template loop of the same
protocol in the shape of insightface's ``eval_ijbc.py``, on IJB-B-sized synthetic data, measured in one run.

Data (built in memory; ``--scale 1.0`` is IJB-B's size, smaller scales shrink every count in proportion):
227,630 images in 12,115 templates of 1..375 images (log-normal, median ~11), ~83K (template, media)
groups; 1,845 gallery templates (one per subject) and 10,270 probe templates; one genuine pair per probe
(10,270) and 8,000,000 impostor (gallery, probe) pairs of different subjects (drawn with replacement when
the scale leaves fewer distinct ones); 512-d float32 embeddings + flip embeddings around a per-subject
centre with media and image noise, so genuine pairs score higher; detector scores uniform in [0.5, 1].

Stages timed for both, each implementation in its own forked process (its peak RSS is that process's
``ru_maxrss``, the inherited inputs included):

* pooling: image fusion (embedding + flip, times detector score, float64) and template pooling; ours
  includes mapping template ids to indices; the reference is insightface's ``image2template_feature`` loop
  (``np.where`` per template and per media, mean, sum, sklearn ``normalize``);
* scoring: ours includes mapping the pairs' template ids to indices; the reference gathers the two template
  features of 100,000 pairs at a time and sums their elementwise product;
* TAR@FAR + AUC: ours :func:`evaluation.tar_far.tar_at_far`; the reference sklearn ``roc_curve`` (default
  ``drop_intermediate``), flipped, nearest-point read-off with ties to the larger tpr, ``auc``;
* read (reported apart, not in the total; ``--no-read`` skips it): the meta files written to a temporary
  folder, read by :func:`evaluation.ijbb_meta.read_meta` (validation and cross-checks included) against
  insightface's ``pd.read_csv(sep=' ').values`` and a split loop over the 5-point file.

Checks: the maximum absolute difference of the scores and that the TAR values are identical. Timings are
single measurements (no repeats); nothing is asserted about time.

Usage: .venv/bin/python benchmarks/ijbb_bench.py [--scale 1.0] [--seed 0] [--dim 512] [--no-read]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse  # noqa: F401  (imported before any timing: the two implementations use them)
import sklearn.metrics  # noqa: F401
import sklearn.preprocessing  # noqa: F401

from evaluation.ijbb import pool_templates, score_pairs
from evaluation.ijbb_meta import FIVE_POINTS, PAIRS, TID_MID, pair_template_indices, read_meta
from evaluation.tar_far import FAR_TARGETS, far_key, tar_at_far

IJBB = dict(images=227_630, templates=12_115, gallery=1_845, impostors=8_000_000, media=83_238)
MAX_TEMPLATE_IMAGES = 375


# ----------------------------------------------------------------------------------------------- data

def template_sizes(rng, n_templates: int, n_images: int) -> np.ndarray:
    """Log-normal sizes (median 11, mean = n_images / n_templates), clipped to 1..375, summing to n_images."""
    mean = n_images / n_templates
    sigma = np.sqrt(max(2 * np.log(max(mean, 11.0) / 11.0), 0.01))
    sizes = np.clip(np.round(rng.lognormal(np.log(11.0), sigma, n_templates)), 1, MAX_TEMPLATE_IMAGES)
    sizes = np.clip(np.round(sizes * n_images / sizes.sum()), 1, MAX_TEMPLATE_IMAGES).astype(np.int64)
    while sizes.sum() != n_images:
        diff = n_images - sizes.sum()
        room = np.flatnonzero(sizes < MAX_TEMPLATE_IMAGES) if diff > 0 else np.flatnonzero(sizes > 1)
        pick = rng.choice(room, size=min(abs(diff), len(room)), replace=False)
        sizes[pick] += np.sign(diff)
    return sizes


def make_data(scale: float, seed: int, dim: int) -> dict:
    """IJB-B-shaped synthetic meta (template/media ids, pairs) and features (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_templates = max(4, round(IJBB["templates"] * scale))
    n_images = max(n_templates, round(IJBB["images"] * scale))
    n_gallery = min(max(2, round(IJBB["gallery"] * scale)), n_templates - 2)
    n_probe = n_templates - n_gallery
    n_impostor = max(1, round(IJBB["impostors"] * scale))
    sizes = template_sizes(rng, n_templates, n_images)
    template_ids = np.sort(rng.choice(np.arange(1, 3 * n_templates + 1), n_templates, replace=False))
    subject = np.r_[np.arange(n_gallery), rng.integers(0, n_gallery, n_probe)]   # per template
    image_template = np.repeat(np.arange(n_templates), sizes)
    media_per_template = np.maximum(1, np.round(sizes * IJBB["media"] / IJBB["images"])).astype(np.int64)
    media_offset = np.r_[0, np.cumsum(media_per_template)[:-1]]
    local_media = (rng.random(n_images) * media_per_template[image_template]).astype(np.int64)
    image_media = media_offset[image_template] + local_media
    # features: subject centre + template noise (of a random strength: capture conditions shared by a
    # template, which pooling does not average out) + media noise + image noise; a flip close to it
    centres = rng.standard_normal((n_gallery, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    template_noise = rng.standard_normal((n_templates, dim)) * (rng.uniform(0.5, 2.5, n_templates)[:, None]
                                                                / np.sqrt(dim))
    n_media_all = int(media_per_template.sum())
    media_noise = rng.standard_normal((n_media_all, dim)) * (1.1 / np.sqrt(dim))
    embeddings = np.empty((n_images, dim), dtype=np.float32)
    flips = np.empty((n_images, dim), dtype=np.float32)
    for a in range(0, n_images, 16384):
        b = min(a + 16384, n_images)
        e = centres[subject[image_template[a:b]]] + template_noise[image_template[a:b]] \
            + media_noise[image_media[a:b]] \
            + rng.standard_normal((b - a, dim)) * (1.3 / np.sqrt(dim))
        e /= np.linalg.norm(e, axis=1, keepdims=True)
        f = e + rng.standard_normal((b - a, dim)) * (0.4 / np.sqrt(dim))
        embeddings[a:b] = e
        flips[a:b] = f / np.linalg.norm(f, axis=1, keepdims=True)
    # pairs: genuine (gallery of the probe's subject, probe), impostors (gallery, probe) of other subjects
    probes = np.arange(n_gallery, n_templates)
    genuine = np.stack([subject[probes], probes], 1)
    possible = n_gallery * n_probe
    with_replacement = n_impostor * 1.05 + 100 > possible * 0.5
    flat = rng.integers(0, possible, int(n_impostor * 1.05) + 100) if with_replacement else \
        rng.choice(possible, int(n_impostor * 1.05) + 100, replace=False)
    imp = np.stack([flat // n_probe, n_gallery + flat % n_probe], 1)
    imp = imp[subject[imp[:, 1]] != imp[:, 0]]
    while len(imp) < n_impostor:    # top up (with replacement) in the rare case of too few
        extra = np.stack([rng.integers(0, n_gallery, n_impostor), rng.integers(n_gallery, n_templates, n_impostor)], 1)
        imp = np.r_[imp, extra[subject[extra[:, 1]] != extra[:, 0]]]
    pairs = np.r_[genuine, imp[:n_impostor]]
    labels = np.r_[np.ones(len(genuine), np.int8), np.zeros(n_impostor, np.int8)]
    perm = rng.permutation(len(pairs))
    pairs, labels = pairs[perm], labels[perm]
    image_perm = rng.permutation(n_images)      # meta order need not be sorted by template
    return dict(
        names=np.array([f"{i + 1}.jpg" for i in range(n_images)]),
        templates=template_ids[image_template][image_perm], medias=(image_media + 1000)[image_perm],
        embeddings=embeddings[image_perm], flips=flips[image_perm],
        scores=rng.uniform(0.5, 1.0, n_images),
        landmarks=rng.uniform(20, 90, (n_images, 5, 2)),
        tid1=template_ids[pairs[:, 0]], tid2=template_ids[pairs[:, 1]], labels=labels,
        n_media=int(np.unique(np.stack([image_template, image_media], 1), axis=0).shape[0]),
        with_replacement=bool(with_replacement),
    )


# ------------------------------------------------------------------------------ the two implementations

def ours(d: dict) -> tuple[dict, np.ndarray, dict, float]:
    timings = {}
    t = time.perf_counter()
    template_ids, template_index = np.unique(d["templates"], return_inverse=True)
    pooled = pool_templates(d["embeddings"], template_index, d["medias"], len(template_ids),
                            flip_embeddings=d["flips"], detector_scores=d["scores"])
    timings["pooling"] = time.perf_counter() - t
    t = time.perf_counter()
    pairs = pair_template_indices(template_ids, d["tid1"], d["tid2"], Path(PAIRS))
    scores = score_pairs(pooled, pairs)
    timings["scoring"] = time.perf_counter() - t
    t = time.perf_counter()
    roc = tar_at_far(d["labels"], scores)
    timings["tar_far"] = time.perf_counter() - t
    return timings, scores, roc.tar, roc.auc


def reference_image2template_feature(img_feats, templates, medias):
    """insightface's loop: per template, per media the mean of its images, summed, then normalised."""
    unique_templates = np.unique(templates)
    template_feats = np.zeros((len(unique_templates), img_feats.shape[1]))
    for count, tid in enumerate(unique_templates):
        (in_template,) = np.where(templates == tid)
        feats, media = img_feats[in_template], medias[in_template]
        unique_media, counts = np.unique(media, return_counts=True)
        media_feats = []
        for m, ct in zip(unique_media, counts):
            (in_media,) = np.where(media == m)
            media_feats.append(feats[in_media] if ct == 1 else np.mean(feats[in_media], axis=0, keepdims=True))
        template_feats[count] = np.sum(np.array(media_feats), axis=0)
    return sklearn.preprocessing.normalize(template_feats), unique_templates


def reference_verification(template_feats, unique_templates, p1, p2, batch: int = 100_000):
    template2id = np.zeros((max(unique_templates) + 1, 1), dtype=int)
    for count, tid in enumerate(unique_templates):
        template2id[tid] = count
    score = np.zeros((len(p1),))
    for a in range(0, len(p1), batch):
        s = np.arange(a, min(a + batch, len(p1)))
        feat1 = template_feats[template2id[p1[s]]]
        feat2 = template_feats[template2id[p2[s]]]
        score[s] = np.sum(feat1 * feat2, -1).flatten()
    return score


def reference_tar_far(labels, scores):
    from sklearn.metrics import auc, roc_curve

    fpr, tpr, _ = roc_curve(labels, scores)
    area = auc(fpr, tpr)
    fpr, tpr = np.flipud(fpr), np.flipud(tpr)
    tar = {}
    for x in FAR_TARGETS:
        _, i = min(zip(abs(fpr - x), range(len(fpr))))
        tar[x] = float(tpr[i])
    return tar, area


def reference(d: dict) -> tuple[dict, np.ndarray, dict, float]:
    timings = {}
    t = time.perf_counter()
    img_input_feats = (d["embeddings"].astype(np.float64) + d["flips"]) * d["scores"][:, np.newaxis]
    template_feats, unique_templates = reference_image2template_feature(img_input_feats, d["templates"], d["medias"])
    del img_input_feats
    timings["pooling"] = time.perf_counter() - t
    t = time.perf_counter()
    scores = reference_verification(template_feats, unique_templates, d["tid1"], d["tid2"])
    timings["scoring"] = time.perf_counter() - t
    t = time.perf_counter()
    tar, area = reference_tar_far(d["labels"], scores)
    timings["tar_far"] = time.perf_counter() - t
    return timings, scores, tar, area


# ------------------------------------------------------------------------------------------- reading

def write_meta(d: dict, folder: Path) -> None:
    import pandas as pd

    pd.DataFrame({"n": d["names"], "t": d["templates"], "m": d["medias"]}).to_csv(
        folder / TID_MID, sep=" ", header=False, index=False)
    pd.DataFrame({"a": d["tid1"], "b": d["tid2"], "l": d["labels"]}).to_csv(
        folder / PAIRS, sep=" ", header=False, index=False)
    points = pd.DataFrame(np.c_[d["landmarks"].reshape(-1, 10), d["scores"]].round(4))
    points.insert(0, "n", d["names"])
    points.to_csv(folder / FIVE_POINTS, sep=" ", header=False, index=False)


def read_ours(folder: Path) -> float:
    t = time.perf_counter()
    read_meta(folder, five_points=True)
    return time.perf_counter() - t


def read_reference(folder: Path) -> float:
    import pandas as pd

    t = time.perf_counter()
    meta = pd.read_csv(folder / TID_MID, sep=" ", header=None).values
    templates, medias = meta[:, 1].astype(int), meta[:, 2].astype(int)
    pairs = pd.read_csv(folder / PAIRS, sep=" ", header=None).values
    p1, p2, label = pairs[:, 0].astype(int), pairs[:, 1].astype(int), pairs[:, 2].astype(int)
    with open(folder / FIVE_POINTS) as f:
        lines = f.readlines()
    faceness = []
    for line in lines:
        fields = line.strip().split(" ")
        np.array([float(x) for x in fields[1:-1]], dtype=np.float32).reshape((5, 2))
        faceness.append(fields[-1])
    np.array(faceness).astype(np.float32)
    del templates, medias, p1, p2, label
    return time.perf_counter() - t


# ------------------------------------------------------------------------------------------- harness

def _rss_mib() -> float:
    """The current resident set size (what a forked child starts with)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(fn, args, out_path, conn) -> None:
    result = fn(*args)
    if isinstance(result, tuple):
        timings, scores, tar, area = result
        np.save(out_path, scores)
        conn.send((timings, tar, area, _maxrss_mib()))
    else:
        conn.send((result, _maxrss_mib()))
    conn.close()


def in_child(fn, *args, out_path: str = ""):
    """Run ``fn(*args)`` in a forked process (it inherits the data); returns what it sends back."""
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn, args, out_path, send))
    proc.start()
    send.close()
    try:
        message = receive.recv()
    except EOFError:
        proc.join()
        raise RuntimeError(f"{fn.__name__} died (exit code {proc.exitcode})") from None
    proc.join()
    return message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = IJB-B's size.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--no-read", action="store_true", help="Skip writing and reading the meta files.")
    args = parser.parse_args()

    t = time.perf_counter()
    d = make_data(args.scale, args.seed, args.dim)
    build_s = time.perf_counter() - t
    inputs_mib = _rss_mib()
    n_templates = len(np.unique(d["templates"]))
    print(f"scale {args.scale}: {len(d['names'])} images, {n_templates} templates, {d['n_media']} (template, media), "
          f"{len(d['labels'])} pairs ({int(d['labels'].sum())} genuine), {args.dim}-d + flip; built in {build_s:.1f} s"
          + ("; impostor pairs drawn with replacement" if d["with_replacement"] else ""))
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, {os.cpu_count()} cpus; "
          f"RSS with the inputs built (each forked run starts from it): {inputs_mib:.0f} MiB")

    with tempfile.TemporaryDirectory() as tmp:
        ours_t, ours_tar, ours_auc, ours_rss = in_child(ours, d, out_path=f"{tmp}/ours.npy")
        ref_t, ref_tar, ref_auc, ref_rss = in_child(reference, d, out_path=f"{tmp}/ref.npy")
        ours_scores, ref_scores = np.load(f"{tmp}/ours.npy"), np.load(f"{tmp}/ref.npy")
        read = None
        if not args.no_read:
            folder = Path(tmp) / "meta"
            folder.mkdir()
            write_meta(d, folder)
            read = (in_child(read_ours, folder)[0], in_child(read_reference, folder)[0])

    print()
    print("| stage | reference loop (s) | ours (s) | speed-up |")
    print("|---|---|---|---|")
    for stage, label in (("pooling", "pooling (fusion + templates)"), ("scoring", "pair scoring"),
                         ("tar_far", "TAR@FAR + AUC")):
        print(f"| {label} | {ref_t[stage]:.3f} | {ours_t[stage]:.3f} | {ref_t[stage] / ours_t[stage]:.1f}x |")
    total_ref, total_ours = sum(ref_t.values()), sum(ours_t.values())
    print(f"| total | {total_ref:.3f} | {total_ours:.3f} | {total_ref / total_ours:.1f}x |")
    print(f"| peak RSS (inputs included) | {ref_rss:.0f} MiB | {ours_rss:.0f} MiB | |")
    if read is not None:
        print(f"| read meta (apart from the total) | {read[1]:.3f} | {read[0]:.3f} | {read[1] / read[0]:.1f}x |")
    print()
    diff = float(np.max(np.abs(ours_scores - ref_scores)))
    identical = all(ours_tar[x] == ref_tar[x] for x in FAR_TARGETS)
    print(f"scores: max |ours - reference| = {diff:.3g}; TAR@FAR identical: {identical}; "
          f"AUC {ours_auc:.12f} vs {ref_auc:.12f} (diff {abs(ours_auc - ref_auc):.2g})")
    print("TAR@FAR: " + ", ".join(f"{far_key(x)} {ours_tar[x]:.4f}" for x in FAR_TARGETS))
    if not identical:
        print("TAR@FAR reference: " + ", ".join(f"{far_key(x)} {ref_tar[x]:.4f}" for x in FAR_TARGETS))


if __name__ == "__main__":
    main()
