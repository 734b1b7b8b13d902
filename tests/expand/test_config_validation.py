"""ExpandConfig refuses bad settings itself (library callers included), with the message ``augment expand``
prints; settings a run saved in run.json still load."""
import json

import pytest
from click.testing import CliRunner

from augmenter.cli_expand import expand_command
from augmenter.expand.config import ExpandConfig

BASE = dict(dataset="sample", out="out")


@pytest.mark.parametrize("changes, message", [
    (dict(dataset="celeba"), "unknown dataset 'celeba'; expected one of casia"),
    (dict(mode="pose"), "unknown mode 'pose'; expected one of lighting, expression, both"),
    (dict(per_image=0), "--per-image, --batch-size and --keep-best must be at least 1"),
    (dict(batch_size=0), "--per-image, --batch-size and --keep-best must be at least 1"),
    (dict(keep_best=0), "--per-image, --batch-size and --keep-best must be at least 1"),
    (dict(image_size=16), "--size must be at least 32 px, not 16"),
    (dict(shard=2, shards=2), "--shard '2/2': need 0 <= i < N"),
    (dict(shard=0, shards=0), "--shard '0/0': need 0 <= i < N"),
    (dict(shard=-1, shards=2), "--shard '-1/2': need 0 <= i < N"),
])
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(ValueError) as err:
        ExpandConfig(**{**BASE, **changes})
    assert str(err.value) == message or str(err.value).startswith(message)


@pytest.mark.parametrize("changes", [dict(), dict(mode="lighting", keep_best=1, per_image=1, batch_size=1),
                                     dict(image_size=32, shard=2, shards=3), dict(dataset="manifest", mode="expression")])
def test_good_settings_pass(changes):
    ExpandConfig(**{**BASE, **changes})


def test_saved_settings_round_trip():
    """What run.json holds (identity(), JSON) rebuilds the config, runtime fields added back, older files
    without the newer fields included."""
    config = ExpandConfig(dataset="yaleb", root="r", out="o", per_image=3, mode="lighting", keep_best=2, image_size=112)
    saved = json.loads(json.dumps(config.identity()))
    assert ExpandConfig.from_dict({**saved, "out": "o"}) == config
    older = {k: v for k, v in saved.items() if k not in ("include_eval_splits", "report_sources", "image_size")}
    assert ExpandConfig.from_dict({**older, "out": "o", "shards": 4}).shards == 4


@pytest.mark.parametrize("args, message", [
    (["--per-image", "0"], "--per-image, --batch-size and --keep-best must be at least 1"),
    (["--keep-best", "0"], "--per-image, --batch-size and --keep-best must be at least 1"),
    (["--size", "8"], "--size must be at least 32 px, not 8"),
])
def test_the_command_prints_the_config_message(tmp_path, args, message):
    result = CliRunner().invoke(expand_command, ["--dataset", "sample", "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 1 and f"Error: {message}" in result.output, result.output
    assert not (tmp_path / "out").exists()
