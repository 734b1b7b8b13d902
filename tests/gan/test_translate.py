"""Loading generators (configs, vocabularies) and ``augment translate``: names, collisions, skips, errors."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from augmenter.checkpoint import load_checkpoint, save_checkpoint
from augmenter.cli import main
from augmenter.errors import CheckpointError
from augmenter.gan.models import DEMO_LEGAN, FIELDS_GENERATOR, load_translator
from augmenter.io import write_image_atomic
from augmenter.nets.legan import LeganConfig, LeganGenerator
from augmenter.nets.stargan import StarGanConfig, StarGanGenerator
from tests.fs_traps import add_traps

LIGHTING = ["ambient", "flash01"]
EXPRESSION = ["neutral", "smile"]


def _probe() -> torch.Tensor:
    return torch.linspace(-1, 1, 2 * 3 * 64 * 64).reshape(2, 3, 64, 64)


def _save_generator(path: Path, kind: str, generator: torch.nn.Module, generator_config: dict, *,
                    vocabularies: dict | None = None, image_size: int = 16) -> Path:
    if vocabularies is None:
        vocabularies = {"lighting": LIGHTING, "expression": EXPRESSION}
    return save_checkpoint(path, kind=kind, model={"generator": generator.state_dict()},
                           config={"arch": kind, "image_size": image_size, "generator": generator_config},
                           vocabularies=vocabularies)


# --------------------------------------------------------------------------- loading


# Outputs of the shipped demo LEGAN on _probe(), recorded before load_translator was changed.
DEMO_REFERENCE = {
    ("flash05", None): (0.039323870092630386, 0.6167555451393127, -0.6176348328590393, 1.0),
    (None, "smile"): (0.024380967020988464, 0.6155040264129639, -0.38974934816360474, 0.9859369993209839),
    ("ambient", "scream"): (0.013125047087669373, 0.6029715538024902, -0.42179131507873535, 0.6468045711517334),
}


def _summary(y: torch.Tensor) -> tuple[float, ...]:
    return float(y.mean()), float(y.std()), float(y[0, 1, 10, 20]), float(y[1, 2, 40, 50])


def test_demo_legan_still_loads_and_gives_the_same_outputs():
    translator = load_translator("demo")
    assert translator.generator.config == LeganConfig(n_lighting=19, n_expression=6, width=24, depth=3,
                                                      mask_channels=16)
    for (lighting, expression), expected in DEMO_REFERENCE.items():
        assert _summary(translator.translate(_probe(), lighting, expression)) == pytest.approx(expected, abs=1e-5)


def test_old_checkpoint_with_width_only_loads_with_default_depth(tmp_path):
    demo = load_checkpoint(DEMO_LEGAN)
    old_config = {k: demo.config["generator"][k] for k in ("n_lighting", "n_expression", "width")}
    path = save_checkpoint(tmp_path / "old.pt", kind="legan", model=demo.model,
                           config={**demo.config, "generator": old_config}, vocabularies=demo.vocabularies)
    y = load_translator(path).translate(_probe(), "flash05")
    assert _summary(y) == pytest.approx(DEMO_REFERENCE[("flash05", None)], abs=1e-5)


@pytest.mark.parametrize("kind, generator", [
    ("legan", LeganGenerator(LeganConfig(n_lighting=2, n_expression=2, width=4, depth=2, mask_channels=3))),
    ("stargan", StarGanGenerator(StarGanConfig(n_lighting=2, n_expression=2, width=4, res_blocks=1))),
])
def test_generator_is_rebuilt_from_its_whole_saved_config(tmp_path, kind, generator):
    from dataclasses import asdict

    torch.manual_seed(0)
    with torch.no_grad():
        for p in generator.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # not the identity start: outputs tell configs apart
    path = _save_generator(tmp_path / "g.pt", kind, generator, asdict(generator.config))
    translator = load_translator(path)
    assert translator.generator.config == generator.config
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        expected = generator.eval()(x, torch.tensor([[0.0, 1.0]]), torch.zeros(1, 2))
    torch.testing.assert_close(translator.translate(x, lighting="flash01"), expected)


def test_unknown_generator_config_field_is_a_checkpoint_error(tmp_path):
    generator = LeganGenerator(LeganConfig(n_lighting=2, n_expression=2, width=4))
    config = {"n_lighting": 2, "n_expression": 2, "width": 4, "wings": 2}
    with pytest.raises(CheckpointError, match="wings") as err:
        load_translator(_save_generator(tmp_path / "g.pt", "legan", generator, config))
    assert err.value.path == tmp_path / "g.pt"


@pytest.mark.parametrize("vocabularies, missing", [
    (None, "lighting and expression"),
    ({"lighting": LIGHTING}, "expression"),
    ({"expression": EXPRESSION}, "lighting"),
])
def test_missing_vocabularies_are_a_checkpoint_error(tmp_path, vocabularies, missing):
    generator = LeganGenerator(LeganConfig(n_lighting=2, n_expression=2, width=4))
    path = tmp_path / "g.pt"
    save_checkpoint(path, kind="legan", model={"generator": generator.state_dict()},
                    config={"arch": "legan", "image_size": 16,
                            "generator": {"n_lighting": 2, "n_expression": 2, "width": 4}},
                    vocabularies=vocabularies)
    with pytest.raises(CheckpointError) as err:
        load_translator(path)
    assert err.value.path == path and f"no {missing} vocabulary" in str(err.value)


def test_vocabulary_size_must_match_the_generator(tmp_path):
    generator = LeganGenerator(LeganConfig(n_lighting=2, n_expression=2, width=4))
    path = _save_generator(tmp_path / "g.pt", "legan", generator, {"n_lighting": 2, "n_expression": 2, "width": 4},
                           vocabularies={"lighting": ["ambient", "flash01", "flash02"], "expression": EXPRESSION})
    with pytest.raises(CheckpointError, match="3 lighting names for 2 generator inputs"):
        load_translator(path)


# --------------------------------------------------------------------------- augment translate


def _face(path: Path, value: int = 120) -> Path:
    write_image_atomic(path, np.full((64, 64, 3), value, np.uint8))
    return path


def _translate(*args: str):
    return CliRunner().invoke(main, ["translate", *map(str, args), "--device", "cpu"])


def _written(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def _wrote(output: str) -> int:
    return int(re.search(r"wrote (\d+) image", output).group(1))


@pytest.mark.parametrize("option, name, vocabulary", [("--expression", "happyish", "surprise"),
                                                       ("--lighting", "flash99", "az+060_el-20")])
def test_unknown_target_name_is_a_one_line_error_naming_the_checkpoint(tmp_path, option, name, vocabulary):
    result = _translate(_face(tmp_path / "a.png"), option, name, "--out", tmp_path / "out")
    assert result.exit_code == 1
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "Traceback" not in result.output
    assert str(FIELDS_GENERATOR) in error[0] and name in error[0] and vocabulary in error[0]
    assert not (tmp_path / "out").exists()


def test_same_names_in_different_folders_do_not_overwrite(tmp_path):
    a, b = _face(tmp_path / "in" / "a" / "face.png", 10), _face(tmp_path / "in" / "b" / "face.png", 200)
    out = tmp_path / "out"
    result = _translate(a, b, "--lighting", "az-025_el+00", "--out", out)
    assert result.exit_code == 0, result.output
    assert _written(out) == ["a/face__L-az-025_el+00.png", "b/face__L-az-025_el+00.png"]
    assert _wrote(result.output) == 2


def test_a_folder_is_mirrored_and_suffix_twins_keep_their_suffix(tmp_path):
    src = tmp_path / "faces"
    _face(src / "alice" / "face.jpg")
    _face(src / "alice" / "face.png")
    _face(src / "bob" / "face.png")
    _face(src / "top.png")
    out = tmp_path / "out"
    result = _translate(src, "--expression", "smile", "--out", out)
    assert result.exit_code == 0, result.output
    assert _written(out) == ["alice/face.jpg__E-smile.png", "alice/face.png__E-smile.png",
                             "bob/face__E-smile.png", "top__E-smile.png"]
    assert _wrote(result.output) == 4


def test_two_input_folders_with_the_same_files_do_not_overwrite(tmp_path):
    _face(tmp_path / "x" / "faces" / "p" / "face.png", 10)
    _face(tmp_path / "y" / "faces" / "p" / "face.png", 200)
    _face(tmp_path / "y" / "faces" / "q.png")
    out = tmp_path / "out"
    result = _translate(tmp_path / "x" / "faces", tmp_path / "y" / "faces", "--lighting", "az+000_el+00", "--out", out)
    assert result.exit_code == 0, result.output
    written = _written(out)
    assert len(written) == 3 == _wrote(result.output)
    assert "q__L-az+000_el+00.png" in written


def test_every_target_of_every_input_is_a_file_on_disk(tmp_path):
    _face(tmp_path / "in" / "face.jpg")
    _face(tmp_path / "in" / "face.png")
    out = tmp_path / "out"
    result = _translate(tmp_path / "in" / "face.jpg", tmp_path / "in" / "face.png", "--out", out)
    assert result.exit_code == 0, result.output
    assert _wrote(result.output) == len(_written(out)) == 2 * (16 + 7)  # the default field generator's lights and expressions


def test_traps_under_an_input_folder_are_counted_skips(tmp_path):
    src = tmp_path / "in"
    _face(src / "a.png")
    expected = add_traps(src / "sub")
    (src / "corrupt.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    result = _translate(src, "--lighting", "az-025_el+00", "--out", out)
    assert result.exit_code == 0, result.output
    assert _written(out) == ["a__L-az-025_el+00.png"]
    assert "wrote 1 image(s) for 1 of 6 input(s)" in result.output
    assert "skipped 5:" in result.output
    for reason, n in {**expected, "unreadable image": 1}.items():
        assert f"{n} {reason}" in result.output


def test_a_rerun_into_a_folder_inside_the_input_does_not_translate_its_own_outputs(tmp_path):
    src = tmp_path / "faces"
    _face(src / "alice" / "face.png")
    out = src / "translated"
    for _ in range(2):
        result = _translate(src, "--expression", "smile", "--out", out)
        assert result.exit_code == 0, result.output
        assert _wrote(result.output) == 1
    assert _written(out) == ["alice/face__E-smile.png"]
