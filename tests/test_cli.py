"""The click entry points: every verb is a real command, errors are one line."""
import numpy as np
import pytest
import skimage.data
from click.testing import CliRunner

from augmenter.cli import main
from augmenter.io import write_image_atomic
from evaluation.cli import eval_ijbb, eval_lfw
from pipelines.cli import rebalance_affectnet
from tests.fs_traps import TRAP_REASONS, add_traps


@pytest.mark.parametrize("command", [eval_lfw, eval_ijbb, rebalance_affectnet])
def test_console_scripts_reject_unknown_options(command):
    result = CliRunner().invoke(command, ["--anything", "1"])
    assert result.exit_code == 2 and "No such option" in result.output


def test_help_lists_every_verb():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for verb in ("align", "sample", "expand", "merge", "embed", "train-q", "train-legan", "score", "translate", "eval-gan"):
        assert verb in result.output


def test_every_console_script_is_also_a_verb_of_augment():
    """The console scripts stay as aliases; a user finds every one of them in ``augment --help``."""
    import tomllib
    from importlib import import_module
    from pathlib import Path

    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    verbs = set(main.commands.values())
    missing = []
    for name, target in scripts.items():
        module, attr = target.split(":")
        if name != "augment" and getattr(import_module(module), attr) not in verbs:
            missing.append(name)
    assert not missing, f"console scripts without an augment verb: {missing}"


def test_align_missing_source_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(main, ["align", str(tmp_path / "nowhere"), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "nowhere" in result.output


def test_align_command_aligns_a_tree(tmp_path):
    write_image_atomic(tmp_path / "src" / "a" / "face.jpg", skimage.data.astronaut())
    result = CliRunner().invoke(main, ["align", str(tmp_path / "src"), str(tmp_path / "dst"), "--size", "128"])
    assert result.exit_code == 0, result.output
    assert "1 aligned" in result.output
    assert (tmp_path / "dst" / "a" / "face.jpg").is_file() and (tmp_path / "dst" / "landmarks.csv").is_file()


def test_align_command_summary_accounts_for_every_entry(tmp_path):
    write_image_atomic(tmp_path / "src" / "blank.png", np.full((64, 64, 3), 90, np.uint8))
    add_traps(tmp_path / "src" / "sub")
    result = CliRunner().invoke(main, ["align", str(tmp_path / "src"), str(tmp_path / "dst"), "--size", "128"])
    assert result.exit_code == 0, result.output
    assert "5 image(s): 0 aligned, 1 without a face, 4 skipped" in result.output
    for reason in TRAP_REASONS:
        assert f"1 x {reason}, e.g. {tmp_path / 'src' / 'sub'}" in result.output


@pytest.mark.parametrize("flags, expected", [([], False), (["--rules-in-loss"], True)])
def test_train_legan_passes_the_rules_choice_to_the_trainer(monkeypatch, tmp_path, flags, expected):
    import augmenter.gan.train as gan_train

    seen = {}

    def fake_train(config, progress=None, log=print):
        seen["config"] = config
        return gan_train.GanTrainResult(0, 0.0, tmp_path, {}, gan_train.SkipReport(), [])

    monkeypatch.setattr(gan_train, "train_gan", fake_train)
    result = CliRunner().invoke(main, ["train-legan", "--data", "sample:x", "--out", str(tmp_path / "run"), "--q",
                                       "demo", "--tear-check", "default", *flags])
    assert result.exit_code == 0, result.output
    assert seen["config"].tear_check == "default" and seen["config"].rules_in_loss is expected
