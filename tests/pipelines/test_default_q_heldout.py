"""The held-out lists the gaming test reads, written without training Q."""
import json
from dataclasses import replace

import pytest

import pipelines.default_q.heldout as heldout
from pipelines.default_q.run import DefaultQRecipe


def _aligned(folder, paths):
    folder.mkdir(parents=True)
    (folder / "landmarks.csv").write_text("out_path\n" + "\n".join(paths) + "\n")
    return folder


def test_heldout_lists_name_validation_crops_and_the_held_out_subjects_only(tmp_path, monkeypatch):
    work = tmp_path / "work"
    raw = work / "raw" / "fer_val" / "happy"
    raw.mkdir(parents=True)
    (raw / "PublicTest_1.jpg").write_bytes(b"x")
    yale = [f"yaleB0{s}/yaleB0{s}_P00A+000E+00.pgm" for s in (1, 2, 3)] + ["yaleB03/yaleB03_P00_Ambient.pgm"]
    folders = {"fer_val": _aligned(work / "aligned" / "fer_val", ["happy/PublicTest_1.jpg", ""]),
               "yaleb": _aligned(work / "aligned" / "yaleb", yale)}
    monkeypatch.setattr(heldout, "align_sources", lambda recipe, w, log: folders)
    out = heldout.write_heldout(work, replace(DefaultQRecipe(), yaleb_train_subjects=2), log=lambda m: None)
    held = json.loads(out.read_text())["heldout_real"]
    assert held["fer_val"] == [str(folders["fer_val"] / "happy" / "PublicTest_1.jpg")]  # a failed crop ("") is left out
    assert held["yaleb_heldout"] == [str(folders["yaleb"] / yale[2])]  # subject 3 only, its ambient shot left out
    assert held["fer_val_unaligned"] == [str(raw / "PublicTest_1.jpg")]
    with pytest.raises(FileExistsError, match="results.json"):
        heldout.write_heldout(work, log=lambda m: None)
