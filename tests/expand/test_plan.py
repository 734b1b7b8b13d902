"""Pure parts of ``augment expand``: targets, seeds, chunks, shards, output layout, journal, keep rule."""
from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from augmenter.attributes import LIGHTING, MULTIPIE_EXPRESSIONS
from augmenter.datasets.record import FaceRecord
from augmenter.errors import DatasetFormatError
from augmenter.expand.engine import keep_decisions
from augmenter.expand.journal import ChunkJournal
from augmenter.expand.layout import (REJECTED, check_distinct_names, rejected_path, source_key, variant_labels,
                                     variant_path)
from augmenter.expand.plan import Target, candidate_targets, chunks_of_shard, parse_shard, plan_source

LIGHTS = list(LIGHTING)
EXPRS = list(MULTIPIE_EXPRESSIONS)


def _plan(record: FaceRecord, key: str = "a/b.png", per_image: int = 4, mode: str = "both", seed: int = 0,
          source: int = 0):
    return plan_source(record, key, source, per_image, mode, LIGHTS, EXPRS, seed)


# --- 1. targets never repeat the source's own attribute ------------------------------------------

def test_targets_exclude_the_sources_own_attributes():
    lit = FaceRecord(path=Path("/d/x.png"), dataset="multipie", lighting="flash07", expression="neutral")
    for mode in ("lighting", "both"):
        targets = candidate_targets(lit, mode, LIGHTS, EXPRS)
        assert targets and all(t.lighting != "flash07" for t in targets)
        assert {t.lighting for t in targets} == set(LIGHTS) - {"flash07"}
        variants = _plan(lit, per_image=100, mode=mode)
        assert all(v.target.lighting != "flash07" for v in variants)

    # mode lighting: only lighting targets, each lighting but the source's once
    only_light = candidate_targets(lit, "lighting", LIGHTS, EXPRS)
    assert all(t.expression is None and t.lighting for t in only_light)
    assert len(only_light) == len(LIGHTS) - 1
    assert all(t.tag.startswith("L-") and "_E-" not in t.tag for t in only_light)

    # mode both: joint targets, every (lighting, expression) pair but the source's own ones
    joint = candidate_targets(lit, "both", LIGHTS, EXPRS)
    assert all(t.lighting and t.expression for t in joint)
    assert len(joint) == (len(LIGHTS) - 1) * (len(EXPRS) - 1) == len(set(joint))
    assert all(t.expression != "neutral" for t in joint)

    # a FER "happy" face is never given Multi-PIE's "smile" (emotion <-> expression mapping)
    happy = FaceRecord(path=Path("/d/happy/1.jpg"), dataset="fer2013", expression="happy")
    exprs = candidate_targets(happy, "expression", LIGHTS, EXPRS)
    assert "smile" not in {t.expression for t in exprs}
    assert {t.expression for t in exprs} == set(EXPRS) - {"smile"}
    assert all(t.lighting is None for t in exprs)
    assert all(v.target.expression != "smile" for v in _plan(happy, per_image=100, mode="expression"))
    assert all(v.target.expression != "smile" for v in _plan(happy, per_image=1000, mode="both"))

    # an unlabelled source may get any target
    plain = FaceRecord(path=Path("/d/y.png"), dataset="casia", identity="7")
    assert len(candidate_targets(plain, "both", LIGHTS, EXPRS)) == len(LIGHTS) * len(EXPRS)

    with pytest.raises(ValueError, match="unknown mode"):
        candidate_targets(plain, "colour", LIGHTS, EXPRS)


# --- 2. distinct variants, pure function of (seed, key), prefix property --------------------------

def test_plan_is_a_pure_function_of_seed_and_key():
    record = FaceRecord(path=Path("/d/x.png"), dataset="sample", lighting="ambient", expression="smile")
    variants = _plan(record, per_image=8)
    assert len(variants) == 8
    assert [v.index for v in variants] == list(range(8))
    assert len({v.target for v in variants}) == 8, "the variants of one source must be distinct"
    assert len({v.seed for v in variants}) == 8
    assert all(0 <= v.seed < 2 ** 63 for v in variants)

    # same inputs -> same plan; the source index and the path on disk do not matter, only the key
    again = _plan(FaceRecord(path=Path("/elsewhere/x.png"), dataset="sample", lighting="ambient",
                             expression="smile"), per_image=8, source=41)
    assert [(v.target, v.seed) for v in again] == [(v.target, v.seed) for v in variants]

    # another seed or another key -> another plan (95 candidates: equal by chance has tiny odds)
    assert [v.target for v in _plan(record, per_image=8, seed=1)] != [v.target for v in variants]
    assert [v.target for v in _plan(record, key="a/c.png", per_image=8)] != [v.target for v in variants]
    assert [v.seed for v in _plan(record, per_image=8, seed=1)] != [v.seed for v in variants]

    # prefix property: variant v is unchanged when per_image grows
    for small, big in ((1, 2), (2, 5), (5, 50)):
        a, b = _plan(record, per_image=small), _plan(record, per_image=big)
        assert [(v.target, v.seed, v.index) for v in a] == [(v.target, v.seed, v.index) for v in b[:small]]

    # per_image above the number of candidates: every candidate once
    every = _plan(record, per_image=10_000, mode="lighting")
    assert len(every) == len(LIGHTS) - 1 and len({v.target for v in every}) == len(every)


# --- 3. chunks, shards, --shard parsing ------------------------------------------------------------

@pytest.mark.parametrize("n_sources,batch", [(0, 3), (1, 4), (10, 3), (12, 4), (17, 2)])
@pytest.mark.parametrize("shards", [1, 2, 3, 5])
def test_shards_cover_every_chunk_exactly_once(n_sources, batch, shards):
    everything = chunks_of_shard(n_sources, batch)
    assert [s for c in everything for s in c] == list(range(n_sources))
    assert all(1 <= len(c) <= batch for c in everything)
    parts = [chunks_of_shard(n_sources, batch, i, shards) for i in range(shards)]
    union = sorted((c for p in parts for c in p), key=lambda c: c.start)
    assert union == everything  # each chunk in exactly one shard
    for i, part in enumerate(parts):  # shard i takes chunks i, i + N, ...
        assert [c.start // batch for c in part] == list(range(i, len(everything), shards))


def test_chunks_of_shard_rejects_a_shard_out_of_range():
    with pytest.raises(ValueError, match="shard 3"):
        chunks_of_shard(10, 2, 3, 3)
    with pytest.raises(ValueError):
        chunks_of_shard(10, 2, -1, 3)


def test_parse_shard():
    assert parse_shard("1/4") == (1, 4)
    assert parse_shard("0/1") == (0, 1)
    assert parse_shard(" 2 / 3 ") == (2, 3)
    for bad in ("4/4", "a/b", "-1/2", "5/2", "1/0", "1", "1/2/3", "", "0/-1"):
        with pytest.raises(ValueError) as err:
            parse_shard(bad)
        assert repr(bad) in str(err.value) and "--shard" in str(err.value)
    with pytest.raises(ValueError, match="0 <= i < N"):
        parse_shard("4/4")
    with pytest.raises(ValueError, match="is not i/N"):
        parse_shard("a/b")


# --- 4. output layout --------------------------------------------------------------------------------

def test_layout_per_dataset(tmp_path):
    smile_light = Target("flash07", "smile")
    casia = FaceRecord(path=tmp_path / "0000045" / "001.jpg", dataset="casia", identity="0000045")
    assert variant_path("casia", casia, "0000045/001.jpg", smile_light) == "0000045/001_L-flash07_E-smile.jpg"
    assert variant_path("casia", casia, "0000045/001.jpg", Target("flash07")) == "0000045/001_L-flash07.jpg"
    assert variant_labels("casia", casia, smile_light) == ("flash07", "smile")

    # FER class folders: the variant goes to the class folder of its new expression, FER's name for it
    fer = FaceRecord(path=tmp_path / "train" / "angry" / "Training_1000.jpg", dataset="fer2013",
                     expression="anger", split="train")
    key = "train/angry/Training_1000.jpg"
    # <split>/<new class>/<source class>_<stem>_<tag>, JPEG because the source is one
    smile = variant_path("fer2013", fer, key, Target(expression="smile"))
    assert smile == "train/happy/angry_Training_1000_E-smile.jpg", smile
    assert variant_labels("fer2013", fer, Target(expression="smile")) == ("unknown", "happy")
    # a lighting-only variant stays in the source's class folder
    assert variant_path("fer2013", fer, key, Target(lighting="flash01")) == "train/angry/Training_1000_L-flash01.jpg"
    # squint has no emotion: its own name, as a folder
    squint = variant_path("fer2013", fer, key, Target(expression="squint"))
    assert squint == "train/squint/angry_Training_1000_E-squint.jpg", squint
    assert variant_path("fer2013", fer, key, Target("flash01", "neutral")) == \
        "train/neutral/angry_Training_1000_L-flash01_E-neutral.jpg"
    # a PNG source gives a PNG variant
    fer_png = FaceRecord(path=tmp_path / "test" / "sad" / "x.png", dataset="fer2013", expression="sad", split="test")
    assert variant_path("fer2013", fer_png, "test/sad/x.png", Target(expression="smile")) == "test/happy/sad_x_E-smile.png"
    # FER file names repeat across class folders: two sources of one name never share a variant path
    other = FaceRecord(path=tmp_path / "train" / "sad" / "Training_1000.jpg", dataset="fer2013", expression="sad")
    assert variant_path("fer2013", other, "train/sad/Training_1000.jpg", Target(expression="smile")) == \
        "train/happy/sad_Training_1000_E-smile.jpg" != smile

    # generic class folders take the expression name itself
    cls = FaceRecord(path=tmp_path / "neutral" / "a.png", dataset="class-folder", expression="neutral")
    generic = variant_path("class-folder", cls, "neutral/a.png", Target(expression="smile"))
    assert generic == "smile/neutral_a_E-smile.png", generic
    # with a split level above the class folders, as FER's
    assert variant_path("class-folder", cls, "train/neutral/a.png", Target("flash01", "smile")) == \
        "train/smile/neutral_a_L-flash01_E-smile.png"

    # others: beside the source, PNG unless the source is a JPEG
    mp = FaceRecord(path=tmp_path / "s" / "x.pgm", dataset="yaleb", lighting="flash07")
    assert variant_path("yaleb", mp, "yaleB01/yaleB01_P00A+000E+00.pgm", Target("flash02")) == \
        "yaleB01/yaleB01_P00A+000E+00_L-flash02.png"
    assert variant_path("yaleb", mp, "top.pgm", Target("flash02")) == "top_L-flash02.png"

    # rejected variants live under the hidden .rejected/ (dataset readers skip hidden folders)
    assert REJECTED == ".rejected"
    for path in ("0000045/001_L-flash07_E-smile.jpg", "train/happy/x.png"):
        assert rejected_path(path) == f"{REJECTED}/{path}"
        assert PurePosixPath(rejected_path(path)).parts == (".rejected", *PurePosixPath(path).parts)


@pytest.mark.parametrize("dataset", ["casia", "folder", "fer2013", "class-folder", "multipie", "affectnet", "sample"])
def test_a_source_outside_the_root_never_escapes_out(tmp_path, dataset):
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "elsewhere" / "deep" / "face.jpg"
    record = FaceRecord(path=outside, dataset=dataset, identity="7" if dataset in ("casia", "folder") else "unknown",
                        expression="anger")
    key = source_key(record, root)
    assert PurePosixPath(key).is_absolute()  # outside the root: the key is the absolute path
    inside = FaceRecord(path=root / "7" / "a.jpg", dataset=dataset)
    assert source_key(inside, root) == "7/a.jpg"
    for target in (Target("flash01"), Target(expression="smile"), Target("flash01", "squint")):
        for path in (variant_path(dataset, record, key, target), rejected_path(variant_path(dataset, record, key, target))):
            p = PurePosixPath(path)
            assert not p.is_absolute() and not Path(path).is_absolute(), path
            assert ".." not in p.parts, path
            assert str(tmp_path) not in path
    # two external sources with the same name in different folders do not collide
    other = FaceRecord(path=tmp_path / "other" / "face.jpg", dataset=dataset, identity=record.identity,
                       expression="anger")
    if dataset not in ("casia", "folder"):
        assert variant_path(dataset, record, key, Target("flash01")) != \
            variant_path(dataset, other, source_key(other, root), Target("flash01"))


def test_sources_sharing_a_stem_and_an_output_format_are_refused():
    # a.png and a.bmp both give a_<tag>.png, a.jpg and a.jpeg both a_<tag>.jpg: refused, naming both
    for first, second in (("alice/a.png", "alice/a.bmp"), ("alice/a.jpg", "alice/a.jpeg"),
                          ("alice/a.JPG", "alice/a.jpg"), ("x/y/a.pgm", "x/y/a.png")):
        with pytest.raises(DatasetFormatError) as err:
            check_distinct_names(["alice/0.png", first, "bob/a.bmp", second])
        assert first in str(err.value) and second in str(err.value), str(err.value)
        assert "'a'" in str(err.value) and "\n" not in str(err.value)
    # different output formats, different folders or different stems do not collide
    check_distinct_names(["alice/a.jpg", "alice/a.png"])
    check_distinct_names(["alice/a.png", "bob/a.bmp", "alice/b.bmp", "a.png", "alice/a.b.png"])
    check_distinct_names([])
    # ... and indeed give distinct variant paths
    target = Target("flash01")
    paths = {variant_path("folder", FaceRecord(path=Path("/r") / key, dataset="folder", identity="alice"), key, target)
             for key in ("alice/a.jpg", "alice/a.png")}
    assert paths == {"alice/a_L-flash01.jpg", "alice/a_L-flash01.png"}


def test_the_key_of_a_symlinked_file_is_its_path_under_the_root(tmp_path):
    store = tmp_path / "store" / "blob.jpg"
    store.parent.mkdir()
    store.write_bytes(b"x")
    root = tmp_path / "root"
    (root / "0000045").mkdir(parents=True)
    (root / "0000045" / "001.jpg").symlink_to(store)
    record = FaceRecord(path=root / "0000045" / "001.jpg", dataset="casia", identity="0000045")
    assert source_key(record, root) == "0000045/001.jpg"
    # a symlinked identity folder, and a root reached through a symlink, keep the paths as seen under the root
    (tmp_path / "store" / "0000099").mkdir()
    (root / "0000099").symlink_to(tmp_path / "store" / "0000099", target_is_directory=True)
    linked = FaceRecord(path=root / "0000099" / "002.jpg", dataset="casia", identity="0000099")
    assert source_key(linked, root) == "0000099/002.jpg"
    alias = tmp_path / "alias"
    alias.symlink_to(root, target_is_directory=True)
    assert source_key(FaceRecord(path=alias / "0000045" / "001.jpg", dataset="casia"), alias) == "0000045/001.jpg"


# --- 5. journal ----------------------------------------------------------------------------------

def test_journal_drops_a_torn_last_line_and_truncates_it(tmp_path):
    journal = ChunkJournal(tmp_path / ".expand" / "parts" / "all" / "journal.jsonl")
    assert journal.read() == {}
    journal.append({"chunk": 0, "rows": [{"q_score": 0.5}], "skips": []})
    journal.append({"chunk": 3, "rows": [], "skips": [["unreadable image", "x.jpg: corrupt"]]})
    good = journal.path.read_bytes()
    assert good.count(b"\n") == 2
    with open(journal.path, "ab") as f:  # a kill in the middle of the next append
        f.write(b'{"chunk":1,"rows":[{"q_sc')
    entries = journal.read()
    assert sorted(entries) == [0, 3]
    assert entries[0]["rows"] == [{"q_score": 0.5}]
    assert entries[3]["skips"] == [["unreadable image", "x.jpg: corrupt"]]
    assert journal.path.read_bytes() == good  # cut back to the last complete line

    journal.append({"chunk": 1, "rows": [], "skips": []})
    assert sorted(journal.read()) == [0, 1, 3]
    lines = journal.path.read_text().splitlines()
    assert [json.loads(line)["chunk"] for line in lines] == [0, 3, 1]

    # a complete JSON object without its newline is torn too (the newline is the commit)
    with open(journal.path, "ab") as f:
        f.write(b'{"chunk":2,"rows":[],"skips":[]}')
    assert sorted(journal.read()) == [0, 1, 3]
    assert journal.path.read_bytes().endswith(b"\n") and journal.path.read_bytes().count(b"\n") == 3

    # text that is not JSON on a complete line ends the readable part there too
    with open(journal.path, "ab") as f:
        f.write(b"garbage\n")
    assert sorted(journal.read()) == [0, 1, 3]
    assert journal.path.read_bytes().count(b"\n") == 3


def test_journal_cuts_off_a_line_that_is_not_text(tmp_path):
    journal = ChunkJournal(tmp_path / "journal.jsonl")
    journal.append({"chunk": 0, "rows": [], "skips": []})
    good = journal.path.read_bytes()
    # NUL-filled after a crash, bytes that are not UTF-8, JSON that is no chunk entry: each ends the readable part
    for bad in (b"\x00" * 16, b'\xff\xfe{"chunk":1}', b'{"chunk":1,"rows":["\xe9"]}', b"[1, 2]", b'{"rows": []}',
                b'{"chunk": "one"}', b'{"chunk": null}', b"42"):
        with open(journal.path, "ab") as f:
            f.write(bad + b"\n" + b'{"chunk":2,"rows":[],"skips":[]}\n')
        assert sorted(journal.read()) == [0], bad
        assert journal.path.read_bytes() == good, bad


# --- 6. keep rule ------------------------------------------------------------------------------------

def test_keep_decisions_threshold():
    q = np.array([0.1, 0.6, 0.59999, np.nan, 1.0, np.inf * 0])
    kept = keep_decisions(q, [0, 0, 1, 1, 2, 2], q_min=0.6, keep_best=None)
    assert kept.dtype == bool
    assert kept.tolist() == [False, True, False, False, True, False]
    assert keep_decisions(q, [0] * 6, q_min=0.0, keep_best=None).tolist() == [True, True, True, False, True, False]


def test_keep_decisions_keep_best():
    sources = [0, 0, 0, 1, 1, 1, 2, 2, 3]
    q = np.array([0.3, 0.9, 0.5, 0.7, 0.7, 0.7, np.nan, 0.2, np.nan])
    one = keep_decisions(q, sources, q_min=0.99, keep_best=1)  # q_min is not used with keep_best
    assert one.tolist() == [False, True, False, True, False, False, False, True, False]
    two = keep_decisions(q, sources, q_min=0.0, keep_best=2)
    # ties broken by variant order; a NaN is never kept even when a source has fewer scored than N
    assert two.tolist() == [False, True, True, True, True, False, False, True, False]
    many = keep_decisions(q, sources, q_min=0.0, keep_best=10)
    assert many.tolist() == np.isfinite(q).tolist()
    # exactly min(N, finite variants) kept per source
    for n in (1, 2, 3):
        kept = keep_decisions(q, sources, 0.5, n)
        for s in set(sources):
            rows = [i for i, src in enumerate(sources) if src == s]
            assert kept[rows].sum() == min(n, int(np.isfinite(q[rows]).sum()))
    # sources need not be contiguous
    assert keep_decisions(np.array([0.5, 0.4, 0.6, 0.1]), [0, 1, 0, 1], 0.0, 1).tolist() == [False, True, True, False]
