"""``eval-lfw`` end to end: pairs.txt + .npz features, pairs.txt + a verifier checkpoint, lfw.bin with
either; path matching, --flip, missing images and features, and the outputs."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from augmenter.checkpoint import save_checkpoint
from augmenter.datasets.pairs import read_pairs, write_pairs
from augmenter.errors import DatasetFormatError, ImageDecodeError
from augmenter.nets.backbones import backbone_config, build_backbone
from evaluation.cli_lfw import eval_lfw
from evaluation.lfw import evaluate_lfw, pair_features
from evaluation.lfw_run import embed_images, features_for_pairs, pairs_from_list, run_lfw
from recognition.embed import embed_inputs
from tests.recognition.fixtures import IDENTITY_LOOKS, pattern

NAMES = ["Ann_Alpha", "Bob_Beta", "Cid_Gamma", "Dee_Delta"]
LOOKS = dict(zip(NAMES, IDENTITY_LOOKS.values()))
KEYS = [f"{n}/{n}_{k:04d}.jpg" for n in NAMES for k in (1, 2, 3)]
RESULT_KEYS = {"accuracy_mean", "accuracy_std", "val_at_far_1e-3", "val_std", "far_mean", "auc", "eer", "n_pairs",
               "skipped_pairs", "per_fold_accuracy", "per_fold_threshold", "protocol", "flip"}


@pytest.fixture(scope="module")
def lfw(tmp_path_factory):
    """A 12-image LFW tree (4 people x 3 JPEGs) and a ``10 2`` pairs.txt (10 folds of 2 same + 2 different)."""
    root = tmp_path_factory.mktemp("lfw") / "images"
    for c, name in enumerate(NAMES):
        for k in (1, 2, 3):
            path = root / name / f"{name}_{k:04d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pattern(LOOKS[name], 32, 100 * c + k)).save(path, format="JPEG", quality=95)
    folds = []
    for f in range(10):
        a, b = NAMES[f % 4], NAMES[(f + 1) % 4]
        same = [(a, 1 + f % 3, 1 + (f + 1) % 3), (b, 1 + (f + 2) % 3, 1 + f % 3)]
        diff = [(a, 1 + f % 3, b, 1 + (f + 1) % 3), (NAMES[(f + 2) % 4], 1 + f % 3, a, 1 + (f + 2) % 3)]
        folds.append((same, diff))
    pairs = write_pairs(root.parent / "pairs.txt", folds)
    return root, pairs


def synthetic_embeddings(seed: int = 0, dim: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Per key of :data:`KEYS`: an identity direction plus noise (float32), and a "mirror" embedding."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, dim))
    emb = np.repeat(centres, 3, axis=0) + rng.normal(scale=0.8, size=(12, dim))
    flips = emb + rng.normal(scale=0.5, size=(12, dim))
    unit = lambda x: (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    return unit(emb), unit(flips)


def write_npz(path, paths, embeddings, **more):
    np.savez(path, paths=np.array([str(p) for p in paths]), embeddings=embeddings, **more)
    return path


def expected(pairs_path, features_by_key: dict, **kwargs):
    """The protocol computed here from the pair list and a key -> feature dict."""
    pair_list = read_pairs(pairs_path, ".")
    key = lambda p: "/".join(p.parts[-2:])  # noqa: E731
    a = np.stack([features_by_key[key(p.first)] for p in pair_list])
    b = np.stack([features_by_key[key(p.second)] for p in pair_list])
    return evaluate_lfw(np.sum((a - b) ** 2, 1), [p.same for p in pair_list], [p.fold for p in pair_list], **kwargs)


def figures(d: dict) -> dict:
    """The numbers of a result dict, per-fold lists spread out (so that pytest.approx compares them)."""
    flat = {}
    for k in sorted(RESULT_KEYS - {"protocol"}):
        if isinstance(d[k], list):
            flat.update({f"{k}[{i}]": v for i, v in enumerate(d[k])})
        else:
            flat[k] = d[k]
    return flat


def invoke(args):
    return CliRunner().invoke(eval_lfw, [str(a) for a in args])


# --------------------------------------------------------------------------- features

def test_pairs_and_features_end_to_end(lfw, tmp_path):
    root, pairs = lfw
    emb, _ = synthetic_embeddings()
    order = np.random.default_rng(1).permutation(12)   # the .npz order does not matter
    npz = write_npz(tmp_path / "f.npz", [KEYS[i] for i in order], emb[order])
    want = expected(pairs, dict(zip(KEYS, emb)))
    assert 0.5 < want.accuracy_mean < 1.0 and want.n_pairs == 40

    result = run_lfw(pairs=pairs, features=npz)
    assert figures(result.to_dict()) == figures(want.to_dict())
    assert result.skipped_pairs == 0 and result.inputs == {"pairs": str(pairs), "features": str(npz)}

    out = tmp_path / "out"
    run = invoke(["--pairs", pairs, "--features", npz, "--lfw-root", root, "--out", out, "--json"])
    assert run.exit_code == 0, run.output
    printed = json.loads(run.stdout)
    assert RESULT_KEYS <= set(printed) and printed == json.loads((out / "lfw.json").read_text())
    assert printed["accuracy_mean"] == pytest.approx(want.accuracy_mean) and printed["n_pairs"] == 40
    assert printed["per_fold_threshold"] == pytest.approx(want.per_fold_threshold)
    assert printed["protocol"].startswith("LFW View 2, 10 folds in file order")
    assert (out / "lfw_roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| accuracy |" in (out / "lfw.md").read_text()

    run = invoke(["--pairs", pairs, "--features", npz])
    assert run.exit_code == 0, run.output
    assert run.stdout.count("\n") == 1 and run.stdout.startswith(f"LFW: {100 * want.accuracy_mean:.2f}% ± ")
    assert "(10 folds), VAL@FAR=1e-3 " in run.stdout and ", AUC " in run.stdout and ", EER " in run.stdout


def test_npz_paths_are_matched_relative_to_the_root_or_by_their_last_two_parts(lfw, tmp_path, monkeypatch):
    root, pairs = lfw
    emb, _ = synthetic_embeddings()
    want = figures(expected(pairs, dict(zip(KEYS, emb))).to_dict())
    absolute = write_npz(tmp_path / "abs.npz", [root / k for k in KEYS], emb)
    assert figures(run_lfw(pairs=pairs, lfw_root=root, features=absolute).to_dict()) == want
    assert figures(run_lfw(pairs=pairs, features=absolute).to_dict()) == want   # last two components
    monkeypatch.chdir(root.parent)                                              # relative to the current folder
    from_cwd = write_npz(tmp_path / "cwd.npz", [f"images/{k}" for k in KEYS], emb)
    assert figures(run_lfw(pairs=pairs, lfw_root="images", features=from_cwd).to_dict()) == want
    elsewhere = write_npz(tmp_path / "else.npz", [tmp_path / "other" / k for k in KEYS], emb)
    with pytest.raises(DatasetFormatError, match="no feature for '.*Ann_Alpha_0001.jpg'; 12 of the 12 images"):
        run_lfw(pairs=pairs, lfw_root=root, features=elsewhere)


def test_flip_adds_the_mirror_embedding_then_normalises(lfw, tmp_path):
    root, pairs = lfw
    emb, flips = synthetic_embeddings()
    npz = write_npz(tmp_path / "f.npz", KEYS, emb, flip_embeddings=flips)
    plain = run_lfw(pairs=pairs, features=npz)
    flipped = run_lfw(pairs=pairs, features=npz, flip=True)
    summed = (emb + flips) / np.linalg.norm(emb + flips, axis=1, keepdims=True)
    assert figures(flipped.to_dict()) == figures(expected(pairs, dict(zip(KEYS, summed)), flip=True).to_dict())
    assert figures(plain.to_dict()) == figures(expected(pairs, dict(zip(KEYS, emb))).to_dict())
    assert flipped.flip and not plain.flip and flipped.auc != plain.auc
    features, problems = features_for_pairs(npz, pairs_from_list(pairs), flip=True)
    keys = pairs_from_list(pairs).keys
    assert problems == [None] * 12 and np.allclose(features, summed[[KEYS.index(k) for k in keys]], atol=1e-6)
    no_flips = write_npz(tmp_path / "noflip.npz", KEYS, emb)
    run = invoke(["--pairs", pairs, "--features", no_flips, "--flip"])
    assert run.exit_code == 1 and "noflip.npz: has no 'flip_embeddings' array" in run.output


def test_missing_and_bad_features(lfw, tmp_path):
    root, pairs = lfw
    emb, _ = synthetic_embeddings()
    pair_set = pairs_from_list(pairs)
    uses = lambda key: int(sum(pair_set.keys[a] == key or pair_set.keys[b] == key  # noqa: E731
                               for a, b in zip(pair_set.first, pair_set.second)))
    gone = "Bob_Beta/Bob_Beta_0002.jpg"
    partial = write_npz(tmp_path / "partial.npz", [k for k in KEYS if k != gone], emb[[k != gone for k in KEYS]])
    run = invoke(["--pairs", pairs, "--features", partial])
    assert run.exit_code == 1 and run.output.count("\n") == 1
    assert f"partial.npz: no feature for '{gone}'; 1 of the 12 images of pairs.txt have no usable feature " \
           f"({uses(gone)} of 40 pairs); --allow-missing skips those pairs" in run.output
    run = invoke(["--pairs", pairs, "--features", partial, "--allow-missing", "--json"])
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["skipped_pairs"] == uses(gone) > 0
    assert json.loads(run.stdout)["n_pairs"] == 40 - uses(gone)

    nan = emb.copy()
    nan[KEYS.index(gone)] = np.nan
    with pytest.raises(DatasetFormatError, match=f"NaN feature for '{gone}'"):
        run_lfw(pairs=pairs, features=write_npz(tmp_path / "nan.npz", KEYS, nan))
    assert run_lfw(pairs=pairs, features=tmp_path / "nan.npz", allow_missing=True).skipped_pairs == uses(gone)

    with pytest.raises(DatasetFormatError, match=r"two features for 'Ann_Alpha/Ann_Alpha_0001.jpg' \(rows 0 and 12\)"):
        run_lfw(pairs=pairs, features=write_npz(tmp_path / "dup.npz", KEYS + [root / KEYS[0]], np.r_[emb, emb[:1]]))
    np.savez(tmp_path / "nokey.npz", paths=np.array(KEYS), vectors=emb)
    with pytest.raises(DatasetFormatError, match="nokey.npz: has no 'embeddings' array"):
        run_lfw(pairs=pairs, features=tmp_path / "nokey.npz")
    with pytest.raises(DatasetFormatError, match=r"'embeddings' must be a numeric \(N, D\) array with N = 12"):
        run_lfw(pairs=pairs, features=write_npz(tmp_path / "shape.npz", KEYS, emb[:11]))
    np.savez(tmp_path / "objects.npz", paths=np.array(KEYS, dtype=object), embeddings=emb)
    with pytest.raises(DatasetFormatError, match="objects.npz: not a readable .npz"):
        run_lfw(pairs=pairs, features=tmp_path / "objects.npz")
    with pytest.raises(DatasetFormatError, match="features file not found"):
        run_lfw(pairs=pairs, features=tmp_path / "none.npz")


def test_usage_errors(lfw, tmp_path):
    root, pairs = lfw
    for args, message in [
        (["--features", "f.npz"], "exactly one of --pairs and --bin"),
        (["--pairs", pairs, "--bin", "lfw.bin", "--features", "f.npz"], "exactly one of --pairs and --bin"),
        (["--pairs", pairs], "exactly one of --checkpoint and --features"),
        (["--pairs", pairs, "--checkpoint", "c.pt"], "needs --lfw-root"),
        (["--bin", "lfw.bin", "--lfw-root", root, "--features", "f.npz"], "--lfw-root applies to --pairs"),
    ]:
        run = invoke(args)
        assert run.exit_code == 2 and message in run.output, run.output


# --------------------------------------------------------------------------- lfw.bin

def write_bin(path, pairs, root, corrupt: int | None = None):
    pair_list = read_pairs(pairs, root)
    bins = [p.read_bytes() for pair in pair_list for p in (pair.first, pair.second)]
    if corrupt is not None:
        bins[corrupt] = b"not an image"
    with open(path, "wb") as f:
        pickle.dump((bins, [p.same for p in pair_list]), f, protocol=4)
    return path


def test_bin_with_features_named_by_index(lfw, tmp_path):
    root, pairs = lfw
    emb, _ = synthetic_embeddings()
    pair_set = pairs_from_list(pairs)
    order = np.stack([pair_set.first, pair_set.second], 1).ravel()   # image 2i, 2i + 1 of pair i
    by_key = dict(zip(KEYS, emb))
    npz = write_npz(tmp_path / "bin.npz", [str(i) for i in range(80)],
                    np.stack([by_key[pair_set.keys[i]] for i in order]))
    lfw_bin = write_bin(tmp_path / "lfw.bin", pairs, root)
    run = invoke(["--bin", lfw_bin, "--features", npz, "--json"])
    assert run.exit_code == 0, run.output
    assert figures(json.loads(run.stdout)) == pytest.approx(figures(expected(pairs, by_key).to_dict()))


# --------------------------------------------------------------------------- a verifier checkpoint

@pytest.fixture(scope="module")
def verifier(tmp_path_factory):
    """A tiny randomly initialised verifier checkpoint (as in tests/recognition/test_embed.py)."""
    torch.manual_seed(0)
    net = build_backbone("mobilefacenet", embedding_size=16, image_size=32)
    path = tmp_path_factory.mktemp("verifier") / "best.pt"
    save_checkpoint(path, kind="verifier", model={"backbone": net.state_dict(), "head": {}},
                    config={"backbone": backbone_config("mobilefacenet", 16, 32)},
                    vocabularies={"identity": ["a", "b"]})
    return path


CPU = ["--workers", "0", "--device", "cpu"]


def test_checkpoint_embeds_each_image_once_like_augment_embed(lfw, tmp_path, verifier):
    root, pairs = lfw
    pair_set = pairs_from_list(pairs, root)
    assert len(pair_set.images) == 12 and len(pair_set.same) == 40
    features, errors = embed_images(pair_set.images, verifier, flip=True, workers=0, device="cpu")
    assert errors == [] and features.shape == (12, 16)
    embed_inputs([root], verifier, tmp_path / "emb.npz", flip=True, workers=0, device="cpu")
    from_npz, problems = features_for_pairs(tmp_path / "emb.npz", pair_set, root, flip=True)
    assert problems == [None] * 12 and np.allclose(features, from_npz, atol=1e-5)
    data = np.load(tmp_path / "emb.npz")
    flipped = pair_features(data["embeddings"], data["flip_embeddings"])
    assert not np.allclose(pair_features(data["embeddings"]), flipped)

    out = tmp_path / "out"
    run = invoke(["--pairs", pairs, "--lfw-root", root, "--checkpoint", verifier, "--flip", "--out", out, "--json",
                  *CPU])
    assert run.exit_code == 0, run.output
    model = json.loads(run.stdout)
    assert RESULT_KEYS <= set(model) and model["flip"] is True and model["n_pairs"] == 40
    assert (out / "lfw_roc.png").is_file() and (out / "lfw.md").is_file()
    from_features = run_lfw(pairs=pairs, lfw_root=root, features=tmp_path / "emb.npz", flip=True).to_dict()
    assert figures(model) == pytest.approx(figures(from_features), abs=1e-9)

    lfw_bin = write_bin(tmp_path / "lfw.bin", pairs, root)
    run = invoke(["--bin", lfw_bin, "--checkpoint", verifier, "--flip", "--json", *CPU])
    assert run.exit_code == 0, run.output
    assert figures(json.loads(run.stdout)) == pytest.approx(figures(model), abs=1e-6)


def test_missing_and_unreadable_images_with_a_checkpoint(lfw, tmp_path, verifier):
    root, pairs = lfw
    q = save_checkpoint(tmp_path / "q.pt", kind="q", model={"w": torch.zeros(2)}, config={})
    run = invoke(["--pairs", pairs, "--lfw-root", root, "--checkpoint", q, *CPU])
    assert run.exit_code == 1 and "q.pt: is a 'q' checkpoint, expected 'verifier'" in run.output

    copy = tmp_path / "copy"
    for key in KEYS:
        if key != "Cid_Gamma/Cid_Gamma_0003.jpg":
            (copy / key).parent.mkdir(parents=True, exist_ok=True)
            (copy / key).write_bytes((root / key).read_bytes())
    (copy / "Dee_Delta" / "Dee_Delta_0001.jpg").write_bytes(b"broken")
    pair_set = pairs_from_list(pairs, copy)
    uses = lambda *names: int(sum(any(n in pair_set.images[a] or n in pair_set.images[b] for n in names)  # noqa: E731
                                  for a, b in zip(pair_set.first, pair_set.second)))
    with pytest.raises(ImageDecodeError, match=r"Cid_Gamma_0003.jpg: no such file; 1 of the 12 images of pairs.txt"):
        run_lfw(pairs=pairs, lfw_root=copy, checkpoint=verifier, workers=0, device="cpu")
    skipped = uses("Cid_Gamma_0003", "Dee_Delta_0001")
    assert skipped > uses("Cid_Gamma_0003") > 0   # the unreadable image's pairs are skipped too
    run = invoke(["--pairs", pairs, "--lfw-root", copy, "--checkpoint", verifier, "--allow-missing", *CPU])
    assert run.exit_code == 0, run.output
    assert run.stdout.strip().endswith(f", {skipped} pair(s) skipped")

    lfw_bin = write_bin(tmp_path / "lfw.bin", pairs, root, corrupt=5)
    run = invoke(["--bin", lfw_bin, "--checkpoint", verifier, *CPU])
    assert run.exit_code == 1 and "lfw.bin: image 5: " in run.output and "(1 of 40 pairs)" in run.output
    run = invoke(["--bin", lfw_bin, "--checkpoint", verifier, "--allow-missing", "--json", *CPU])
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["skipped_pairs"] == 1


class _Payload:
    """Unpickling it would create the file named in ``marker`` (so a test can tell if anything unpickled)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _ones(n=12, dtype=np.float32):
    return np.ones((n, 4), dtype)


BAD_FEATURES = {
    "garbage": lambda p: p.write_bytes(b"this is not a zip file at all\x00\x01\x02" * 10),
    "empty": lambda p: p.write_bytes(b""),
    "truncated": lambda p: (np.savez(p, paths=np.array(KEYS), embeddings=_ones(), flip_embeddings=_ones()),
                            p.write_bytes(p.read_bytes()[:200])),
    "pickle": lambda p: p.write_bytes(pickle.dumps(_Payload(p.parent / "UNPICKLED"))),
    "object_embeddings": lambda p: np.savez(p, paths=np.array(KEYS), embeddings=np.array([[1, 2]] * 12, dtype=object),
                                            flip_embeddings=_ones()),
    "paths_0d": lambda p: np.savez(p, paths=np.array("a.jpg"), embeddings=_ones(), flip_embeddings=_ones()),
    "paths_numeric": lambda p: np.savez(p, paths=np.arange(12), embeddings=_ones(), flip_embeddings=_ones()),
    "embeddings_strings": lambda p: np.savez(p, paths=np.array(KEYS), embeddings=np.full((12, 4), "x"),
                                             flip_embeddings=_ones()),
    "embeddings_zero_width": lambda p: np.savez(p, paths=np.array(KEYS), embeddings=np.ones((12, 0), np.float32),
                                                flip_embeddings=np.ones((12, 0), np.float32)),
    "flips_strings": lambda p: np.savez(p, paths=np.array(KEYS), embeddings=_ones(),
                                        flip_embeddings=np.full((12, 4), "x")),
}


@pytest.mark.parametrize("case", sorted(BAD_FEATURES))
def test_bad_features_file_is_a_one_line_error_naming_it(lfw, tmp_path, case):
    _, pairs = lfw
    bad = tmp_path / "bad.npz"
    BAD_FEATURES[case](bad)
    run = invoke(["--pairs", pairs, "--features", bad, "--flip"])
    assert run.exit_code == 1, run.output
    assert run.output.startswith(f"Error: {bad}: ") and run.output.count("\n") == 1, run.output
    assert not (tmp_path / "UNPICKLED").exists()
