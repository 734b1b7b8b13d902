"""IJBBConfig refuses options that do not go together, with the message eval-ijbb prints (a usage error)."""
import pytest
from click.testing import CliRunner

from evaluation.cli_ijbb import eval_ijbb
from evaluation.ijbb import IJBBConfig

EITHER = "give either --features or --checkpoint (with --image-dir)"


@pytest.mark.parametrize("changes, message", [
    (dict(), EITHER),
    (dict(features="f.npz", checkpoint="c.pt", image_dir="crops"), EITHER),
    (dict(checkpoint="c.pt"), "--checkpoint needs --image-dir (the loose crops)"),
    (dict(features="f.npz", image_dir="crops"), "--image-dir goes with --checkpoint, not --features"),
])
def test_bad_settings_are_refused(changes, message, tmp_path):
    with pytest.raises(ValueError) as err:
        IJBBConfig(meta_dir="meta", out="out", **changes)
    assert str(err.value) == message
    args = [a for k, v in changes.items() for a in (f"--{k.replace('_', '-')}", str(tmp_path / v))]
    result = CliRunner().invoke(eval_ijbb, ["--meta-dir", str(tmp_path), "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 2 and message in result.output, result.output


def test_a_config_changed_after_it_was_made_is_checked_again():
    from evaluation.ijbb import evaluate

    config = IJBBConfig(meta_dir="meta", out="out", features="f.npz")
    config.features = None
    with pytest.raises(ValueError, match="give either --features"):
        evaluate(config)


@pytest.mark.parametrize("changes", [dict(features="f.npz"), dict(checkpoint="c.pt", image_dir="crops")])
def test_good_settings_pass(changes):
    IJBBConfig(meta_dir="meta", out="out", **changes)
