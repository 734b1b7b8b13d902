"""IJB-B 1:1 (:mod:`evaluation.ijbb`, :mod:`evaluation.ijbb_meta`): a hand-computed golden case, random sets
against a plain loop written here, the switches, pooling / scoring internals, the meta readers' errors and
the checkpoint mode."""
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_curve

from augmenter.errors import DatasetFormatError
from evaluation import ijbb
from evaluation.ijbb import IJBBConfig, Switches, evaluate, pool_templates, score_pairs
from evaluation.ijbb_meta import read_meta, read_pairs, read_tid_mid
from evaluation.tar_far import FAR_TARGETS

# name, tid, mid, embedding, flip embedding, detector score
GOLDEN = [
    ("a.jpg", 1, 10, [1.0, 0.0], [1.0, 0.0], 0.5),
    ("b.jpg", 1, 11, [0.0, 1.0], [0.0, 1.0], 1.0),
    ("c.jpg", 1, 11, [0.0, 1.0], [1.0, 1.0], 0.5),
    ("d.jpg", 2, 20, [0.6, 0.8], [0.6, 0.8], 1.0),
    ("e.jpg", 3, 30, [1.0, 0.0], [1.0, 0.0], 1.0),
    ("f.jpg", 3, 31, [0.0, -1.0], [0.0, -1.0], 1.0),
    ("g.jpg", 4, 40, [-1.0, 0.0], [-1.0, 0.0], 0.8),
]
GOLDEN_PAIRS = [(1, 2, 1), (1, 3, 0), (2, 3, 0), (3, 4, 1), (1, 4, 0), (4, 2, 0)]


def write_case(folder: Path, images, pairs, *, five_points=True, features=True, shuffle_features=False,
               dtype=np.float32) -> Path:
    """Meta files (and ``feats.npz``) for ``images`` [(name, tid, mid, emb, flip, score)] and ``pairs``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ijbb_face_tid_mid.txt").write_text("".join(f"{n} {t} {m}\n" for n, t, m, *_ in images))
    (folder / "ijbb_template_pair_label.txt").write_text("".join(f"{a} {b} {c}\n" for a, b, c in pairs))
    if five_points:
        lines = [f"{n} " + " ".join(f"{v:.1f}" for v in range(10 + i, 20 + i)) + f" {s!r}\n"
                 for i, (n, _, _, _, _, s) in enumerate(images)]
        (folder / "ijbb_name_5pts_score.txt").write_text("".join(lines))
    if features:
        order = np.arange(len(images))[::-1] if shuffle_features else np.arange(len(images))
        np.savez(folder / "feats.npz", paths=np.array([f"/data/crops/{images[i][0]}" for i in order]),
                 embeddings=np.array([images[i][3] for i in order], dtype=dtype),
                 flip_embeddings=np.array([images[i][4] for i in order], dtype=dtype))
    return folder


def loop_scores(images, pairs, flip=True, detector=True, normalize=False) -> np.ndarray:
    """The protocol written as plainly as possible: dicts and Python loops, float64."""
    feature = {}
    for name, _, _, emb, flp, score in images:
        f = np.array(emb, dtype=np.float32).astype(np.float64)
        if flip:
            f = f + np.array(flp, dtype=np.float32).astype(np.float64)
        if normalize:
            f = f / np.linalg.norm(f)
        if detector:
            f = f * score
        feature[name] = f
    template = {}
    for tid in sorted({t for _, t, *_ in images}):
        media = defaultdict(list)
        for name, t, m, *_ in images:
            if t == tid:
                media[m].append(feature[name])
        total = sum(np.mean(media[m], axis=0) for m in sorted(media))
        template[tid] = total / np.linalg.norm(total)
    return np.array([template[a] @ template[b] for a, b, _ in pairs])


def sklearn_tar(labels, scores):
    fpr, tpr, _ = roc_curve(labels, scores)
    fpr, tpr = np.flipud(fpr), np.flipud(tpr)
    return {x: tpr[min(zip(abs(fpr - x), range(len(fpr))))[1]] for x in FAR_TARGETS}


def run(folder: Path, **switches):
    return evaluate(IJBBConfig(meta_dir=folder, out=folder / "out", features=folder / "feats.npz",
                               switches=Switches(**switches)))


def test_golden_case_computed_by_hand(tmp_path):
    folder = write_case(tmp_path, GOLDEN, GOLDEN_PAIRS, shuffle_features=True, dtype=np.float64)
    # template 1: media 10 = [2, 0] * 0.5 = [1, 0]; media 11 = mean([0, 2] * 1.0, [1, 2] * 0.5) = [0.25, 1.5]
    t1 = np.array([1.25, 1.5]) / np.sqrt(1.25 ** 2 + 1.5 ** 2)
    t2 = np.array([0.6, 0.8])                           # [1.2, 1.6] normalised
    t3 = np.array([1.0, -1.0]) / np.sqrt(2)             # [2, 0] + [0, -2]
    t4 = np.array([-1.0, 0.0])
    want = [t1 @ t2, t1 @ t3, t2 @ t3, t3 @ t4, t1 @ t4, t4 @ t2]
    assert want[0] == pytest.approx((1.25 * 0.6 + 1.5 * 0.8) / np.sqrt(3.8125), abs=1e-15)
    result = run(folder)
    np.testing.assert_allclose(result.scores, want, rtol=0, atol=1e-14)
    meta = read_meta(folder)
    templates = pool_templates(np.array([g[3] for g in GOLDEN]), meta.template_index, meta.medias, 4,
                               flip_embeddings=np.array([g[4] for g in GOLDEN]),
                               detector_scores=meta.detector_scores)
    np.testing.assert_allclose(templates, [t1, t2, t3, t4], rtol=0, atol=1e-15)
    r = result.result
    assert (r["n_pairs"], r["n_genuine"], r["n_impostor"], r["n_templates"], r["n_images"], r["n_media"]) == \
        (6, 2, 4, 4, 7, 6)
    assert r["switches"] == {"flip": True, "detector_score": True, "normalize_images": False}
    assert set(r["tar_at_far"]) == {"1e-06", "1e-05", "1e-04", "1e-03", "1e-02", "1e-01"}
    assert r["protocol"].startswith("insightface eval_ijbc.py default")


def test_golden_case_switches(tmp_path):
    folder = write_case(tmp_path, GOLDEN, GOLDEN_PAIRS, dtype=np.float64)
    # no flip: template 1 = [0.5, 0] + mean([0, 1], [0, 0.5]) = [0.5, 0.75]
    t1 = np.array([0.5, 0.75]) / np.linalg.norm([0.5, 0.75])
    assert run(folder, flip=False).scores[0] == pytest.approx(t1 @ [0.6, 0.8], abs=1e-15)
    # no detector score: template 1 = [2, 0] + mean([0, 2], [1, 2]) = [2.5, 2]
    t1 = np.array([2.5, 2.0]) / np.linalg.norm([2.5, 2.0])
    assert run(folder, detector_score=False).scores[0] == pytest.approx(t1 @ [0.6, 0.8], abs=1e-15)
    # normalised images: template 1 = [1, 0] * 0.5 + mean([0, 1], [1, 2] / sqrt(5) * 0.5)
    t1 = np.array([0.5, 0.0]) + (np.array([0.0, 1.0]) + np.array([1.0, 2.0]) / np.sqrt(5) * 0.5) / 2
    t1 /= np.linalg.norm(t1)
    assert run(folder, normalize_images=True).scores[0] == pytest.approx(t1 @ [0.6, 0.8], abs=1e-15)


def random_images(rng, n_templates=40, dim=8):
    images, k = [], 0
    centre = rng.standard_normal((n_templates // 2, dim))
    for tid in range(1, n_templates + 1):
        for _ in range(int(rng.integers(1, 9))):
            k += 1
            emb = centre[tid % len(centre)] + rng.standard_normal(dim)
            images.append((f"{k}.jpg", 100 + tid, int(rng.integers(1, 4)) + 10 * tid, emb.astype(np.float32).tolist(),
                           (emb + 0.3 * rng.standard_normal(dim)).astype(np.float32).tolist(),
                           float(rng.uniform(0.5, 1.0))))
    order = rng.permutation(len(images))
    images = [images[i] for i in order]
    tids = np.arange(101, 101 + n_templates)
    first, second = rng.choice(tids, 600), rng.choice(tids, 600)
    pairs = [(int(a), int(b), int((a - 101) % len(centre) == (b - 101) % len(centre))) for a, b in zip(first, second)]
    return images, pairs


@pytest.mark.parametrize("switches", [{}, {"flip": False}, {"detector_score": False}, {"normalize_images": True},
                                      {"flip": False, "detector_score": False, "normalize_images": True}])
def test_random_sets_match_a_plain_loop(tmp_path, switches):
    rng = np.random.default_rng(len(switches) + 7 * ("flip" in switches))
    images, pairs = random_images(rng)
    folder = write_case(tmp_path, images, pairs, shuffle_features=True)
    result = run(folder, **switches)
    want = loop_scores(images, pairs, flip=switches.get("flip", True), detector=switches.get("detector_score", True),
                       normalize=switches.get("normalize_images", False))
    np.testing.assert_allclose(result.scores, want, rtol=0, atol=1e-12)
    labels = np.array([p[2] for p in pairs])
    tar = sklearn_tar(labels, want)
    assert result.result["tar_at_far"] == {f"{x:.0e}": tar[x] for x in FAR_TARGETS}
    np.testing.assert_array_equal(result.labels, labels)


def test_pooling_is_independent_of_chunking_and_scoring_of_the_block_path(monkeypatch):
    rng = np.random.default_rng(3)
    n, n_t = 500, 60
    tmpl = rng.integers(0, n_t - 1, n)          # the last template has no image: a zero row
    media = rng.integers(0, 4, n)
    emb, flips, det = rng.standard_normal((n, 16)), rng.standard_normal((n, 16)), rng.uniform(0.5, 1, n)
    rows = rng.permutation(n)
    base = pool_templates(emb, tmpl, media, n_t, flip_embeddings=flips, detector_scores=det, rows=rows)
    for chunk in (1, 7, 100_000):
        again = pool_templates(emb, tmpl, media, n_t, flip_embeddings=flips, detector_scores=det, rows=rows,
                               chunk_rows=chunk)
        np.testing.assert_allclose(again, base, rtol=0, atol=1e-15)
    assert not base[-1].any()
    np.testing.assert_allclose(np.linalg.norm(base[:-1], axis=1), 1.0, atol=1e-15)
    pairs = rng.integers(0, n_t, (3000, 2))
    want = np.einsum("ij,ij->i", base[pairs[:, 0]], base[pairs[:, 1]])
    for block_bytes in (1, 8 * n_t * 5, 1 << 26):            # one first template a block ... all in one
        np.testing.assert_allclose(score_pairs(base, pairs, block_bytes=block_bytes), want, rtol=0, atol=1e-15)
    monkeypatch.setattr(ijbb, "SPARSE_DENSITY", 2.0)        # every block takes the row-wise dot products
    np.testing.assert_allclose(score_pairs(base, pairs), want, rtol=0, atol=1e-15)
    assert score_pairs(base, np.zeros((0, 2), dtype=np.int64)).shape == (0,)


TID_MID, PAIRS, FIVE = "ijbb_face_tid_mid.txt", "ijbb_template_pair_label.txt", "ijbb_name_5pts_score.txt"


@pytest.mark.parametrize("file, text, message", [
    (TID_MID, "a.jpg 1 10\nb.jpg 1\n", f"{TID_MID}: line 2: expected 3 fields"),
    (TID_MID, "a.jpg 1 10\n\nb.jpg x 11\n", f"{TID_MID}: line 3: tid is not a valid integer"),
    (TID_MID, "a.jpg 1 10\nb.jpg 1 11 7\n", f"{TID_MID}: line 2: expected 3 fields"),
    (PAIRS, "1 2 1\n1 3 2\n", f"{PAIRS}: line 2: label is not a valid label"),
    (PAIRS, "1 2 1\n\n\n1 3\n", f"{PAIRS}: line 4: expected 3 fields"),
    (PAIRS, "1 2 1\n1 3.5 0\n", f"{PAIRS}: line 2: tid2 is not a valid integer"),
    (PAIRS, "", f"{PAIRS}: no pairs"),
    (FIVE, "a.jpg 1 2 3 4 5 6 7 8 9 10 0.9\nb.jpg 1 2 3\n", f"{FIVE}: line 2: expected 12 fields"),
    (FIVE, "a.jpg 1 2 3 4 5 6 7 8 9 10 0.9\nb.jpg 1 2 3 4 5 6 7 8 9 ten 0.9\n",
     f"{FIVE}: line 2: y5 is not a valid number"),
    (FIVE, "a.jpg 1 2 3 4 5 6 7 8 9 10 0.9\nb.jpg 1 2 3 4 5 6 7 8 9 10 nan\n",
     f"{FIVE}: line 2: score is not a valid number"),
])
def test_malformed_lines_name_the_file_and_line(tmp_path, file, text, message):
    images = [("a.jpg", 1, 10, [1.0, 0.0], [1.0, 0.0], 0.5), ("b.jpg", 2, 20, [0.0, 1.0], [0.0, 1.0], 0.9),
              ("c.jpg", 3, 30, [1.0, 1.0], [1.0, 1.0], 0.9)]
    folder = write_case(tmp_path, images, [(1, 2, 1), (1, 3, 0)])
    (folder / file).write_text(text)
    with pytest.raises(DatasetFormatError, match=message.replace(".", r"\.")):
        read_meta(folder)


def test_cross_file_errors_name_the_id_or_image_and_count(tmp_path):
    folder = write_case(tmp_path / "ids", GOLDEN, GOLDEN_PAIRS + [(1, 99, 0), (98, 2, 0), (99, 3, 0)])
    with pytest.raises(DatasetFormatError, match=r"ijbb_template_pair_label\.txt: 2 template id\(s\) of the "
                       r"pairs have no image in ijbb_face_tid_mid\.txt, e\.g\. 98 \(first in pair 7: 1 99\)"):
        read_meta(folder)
    folder = write_case(tmp_path / "feats", GOLDEN, GOLDEN_PAIRS)
    np.savez(folder / "feats.npz", names=np.array(["a.jpg", "b.jpg", "d.jpg", "e.jpg", "f.jpg"]),
             embeddings=np.ones((5, 2), np.float32), flip_embeddings=np.ones((5, 2), np.float32))
    with pytest.raises(DatasetFormatError, match=r"feats\.npz: 2 image\(s\) of ijbb_face_tid_mid\.txt have no feature, "
                                                 r"e\.g\. 'c\.jpg'"):
        run(folder)
    emb = np.ones((7, 2), np.float32)
    emb[3] = np.nan
    np.savez(folder / "feats.npz", names=np.array([g[0] for g in GOLDEN]), embeddings=emb, flip_embeddings=emb)
    with pytest.raises(DatasetFormatError, match=r"1 image\(s\) .* no feature \(NaN or inf row\), e\.g\. 'd\.jpg'"):
        run(folder)
    np.savez(folder / "feats.npz", names=np.array([g[0] for g in GOLDEN]), embeddings=np.ones((7, 2), np.float32))
    with pytest.raises(DatasetFormatError, match="no 'flip_embeddings'"):
        run(folder)
    assert run(folder, flip=False).scores.shape == (6,)
    (folder / "ijbb_name_5pts_score.txt").write_text("bad\n")        # not read without detector scores
    assert run(folder, flip=False, detector_score=False).scores.shape == (6,)
    write_case(folder, GOLDEN, GOLDEN_PAIRS, features=False)
    lines = (folder / "ijbb_name_5pts_score.txt").read_text().splitlines()
    (folder / "ijbb_name_5pts_score.txt").write_text("\n".join(lines[:2] + lines[4:]) + "\n")
    with pytest.raises(DatasetFormatError, match=r"2 image\(s\) of ijbb_face_tid_mid\.txt have no 5-point line, "
                                                 r"e\.g\. 'c\.jpg'"):
        read_meta(folder)
    (folder / "ijbb_name_5pts_score.txt").unlink()
    with pytest.raises(DatasetFormatError, match="ijbb_name_5pts_score.txt: file not found; .*--no-detector-score"):
        run(folder, flip=False)
    assert run(folder, flip=False, detector_score=False).scores.shape == (6,)


def test_readers_return_arrays_in_file_order(tmp_path):
    (tmp_path / "t.txt").write_text("1.jpg 1 69544\n\n2.jpg 1 69544\n10.jpg 7 3\n")
    names, tids, mids = read_tid_mid(tmp_path / "t.txt")
    assert names.tolist() == ["1.jpg", "2.jpg", "10.jpg"]
    assert tids.tolist() == [1, 1, 7] and mids.tolist() == [69544, 69544, 3]
    (tmp_path / "p.txt").write_text("1 11065 1\n7 1 0\n")
    t1, t2, labels = read_pairs(tmp_path / "p.txt")
    assert t1.tolist() == [1, 7] and t2.tolist() == [11065, 1] and labels.dtype == np.int8 and labels.tolist() == [1, 0]


def test_checkpoint_mode_aligns_embeds_and_flips(tmp_path):
    from augmenter.align import align_with_landmarks, canonical_template
    from augmenter.checkpoint import save_checkpoint
    from augmenter.io import decode_image
    from augmenter.nets.backbones import backbone_config, build_backbone
    from augmenter.tensors import to_model_input
    from tests.recognition.fixtures import pattern, write_png

    torch.manual_seed(0)
    net = build_backbone("mobilefacenet", embedding_size=16, image_size=32)
    ckpt = tmp_path / "best.pt"
    save_checkpoint(ckpt, kind="verifier", model={"backbone": net.state_dict(), "head": {}},
                    config={"backbone": backbone_config("mobilefacenet", 16, 32)}, vocabularies={"identity": ["a"]})
    kinds = ["red", "green", "blue", "checker", "vstripes", "hstripes"]
    images = []
    rng = np.random.default_rng(5)
    for i, kind in enumerate(kinds):
        write_png(tmp_path / "crops" / f"{i + 1}.jpg", pattern(kind, 64, i))
        images.append((f"{i + 1}.jpg", 1 + i // 2, 10 + i // 2 + (i % 2), None, None, float(rng.uniform(0.5, 1))))
    pairs = [(1, 2, 0), (1, 3, 1), (2, 3, 0)]
    folder = write_case(tmp_path / "meta", images, pairs, features=False)
    landmarks = rng.uniform(12, 50, (len(images), 5, 2))
    landmarks[:, :, 0] = np.sort(landmarks[:, :, 0], axis=1)      # not degenerate
    (folder / "ijbb_name_5pts_score.txt").write_text("".join(
        f"{n} " + " ".join(f"{v:.3f}" for v in landmarks[i].ravel()) + f" {s!r}\n"
        for i, (n, *_, s) in enumerate(images)))
    landmarks = np.round(landmarks, 3)
    result = evaluate(IJBBConfig(meta_dir=folder, out=tmp_path / "out", checkpoint=ckpt, image_dir=tmp_path / "crops",
                                 workers=0, device="cpu", batch_size=4))
    net.eval()
    rows = []
    with torch.inference_mode():
        for i, (name, tid, mid, _, _, score) in enumerate(images):
            image = decode_image(tmp_path / "crops" / name)
            crop = align_with_landmarks(image, landmarks[i], 32, canonical_template(32))
            x = to_model_input(torch.from_numpy(crop).permute(2, 0, 1)[None])
            rows.append((name, tid, mid, net(x)[0].tolist(), net(x.flip(3))[0].tolist(), score))
    np.testing.assert_allclose(result.scores, loop_scores(rows, pairs), rtol=0, atol=1e-5)
    assert result.result["inputs"]["checkpoint"] == str(ckpt)
    seen = []
    plain = evaluate(IJBBConfig(meta_dir=folder, out=tmp_path / "out", checkpoint=ckpt, image_dir=tmp_path / "crops",
                                workers=0, device="cpu", batch_size=4, switches=Switches(flip=False)),
                     progress=lambda done, total: seen.append((done, total)))
    np.testing.assert_allclose(plain.scores, loop_scores(rows, pairs, flip=False), rtol=0, atol=1e-5)
    assert seen[-1] == (6, 6)
    (tmp_path / "crops" / "4.jpg").write_text("not an image")
    with pytest.raises(DatasetFormatError, match=r"crops: 1 image\(s\) could not be read, e\.g\. .*4\.jpg"):
        evaluate(IJBBConfig(meta_dir=folder, out=tmp_path / "out", checkpoint=ckpt, image_dir=tmp_path / "crops",
                            workers=0, device="cpu"))
