"""A Q ensemble: the mean of its members' ratings, one checkpoint, loaded like any Q."""
import pytest
import torch
from click.testing import CliRunner

from augmenter.checkpoint import load_checkpoint, save_checkpoint
from augmenter.cli import main
from augmenter.errors import CheckpointError
from augmenter.nets.quality import QEnsemble, QNet, QNetConfig
from augmenter.quality.model import combine_q, load_q
from augmenter.quality.train import QTrainConfig, _init_from


def _q(path, seed, size=32, note="member"):
    torch.manual_seed(seed)
    net = QNet(QNetConfig(image_size=size, base_width=4, hidden=8))
    net.head[-1].bias.data += 2.0 * seed  # members that clearly disagree
    save_checkpoint(path, kind="q", model=net.state_dict(), config={"net": {"image_size": size, "base_width": 4,
                    "hidden": 8, "negative_slope": 0.01}}, extra={"provenance": note})
    return load_q(path)[0]


def test_ensemble_rates_the_mean_of_its_members(tmp_path):
    a, b = _q(tmp_path / "a.pt", 0, note="first"), _q(tmp_path / "b.pt", 1, note="second")
    out = combine_q([tmp_path / "a.pt", tmp_path / "b.pt"], tmp_path / "ab.pt", "pair")
    ensemble, _ = load_q(out)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        expected = (a(x) + b(x)) / 2
        got = ensemble(x)
    assert isinstance(ensemble, QEnsemble) and len(ensemble.members) == 2
    # members are stored in float16 like the built-in assets: equal to that precision, not bit for bit
    assert torch.allclose(got, expected, atol=2e-2) and not torch.allclose(a(x), b(x), atol=2e-2)
    assert ensemble.config.image_size == 32
    assert load_checkpoint(out, kind="q").extra["provenance"] == "pair | a.pt: first | b.pt: second"


def test_ensembles_nest_flat(tmp_path):
    for i, name in enumerate("abc"):
        _q(tmp_path / f"{name}.pt", i)
    combine_q([tmp_path / "a.pt", tmp_path / "b.pt"], tmp_path / "ab.pt")
    combine_q([tmp_path / "ab.pt", tmp_path / "c.pt"], tmp_path / "abc.pt")
    ensemble, _ = load_q(tmp_path / "abc.pt")
    assert len(ensemble.members) == 3 and all(isinstance(m, QNet) for m in ensemble.members)


def test_members_of_other_sizes_are_refused(tmp_path):
    _q(tmp_path / "a.pt", 0, size=32)
    _q(tmp_path / "b.pt", 1, size=64)
    with pytest.raises(ValueError, match="same input size"):
        combine_q([tmp_path / "a.pt", tmp_path / "b.pt"], tmp_path / "ab.pt")
    assert not (tmp_path / "ab.pt").exists()


def test_fine_tuning_from_an_ensemble_is_a_one_line_error(tmp_path):
    _q(tmp_path / "a.pt", 0)
    _q(tmp_path / "b.pt", 1)
    combine_q([tmp_path / "a.pt", tmp_path / "b.pt"], tmp_path / "ab.pt")
    config = QTrainConfig(data="x", out=str(tmp_path / "run"), image_size=32, base_width=4, hidden=8,
                          init=str(tmp_path / "ab.pt"))
    with pytest.raises(CheckpointError, match="ensemble"):
        _init_from(QNet(config.net), config, torch.device("cpu"))


def test_combine_q_command(tmp_path):
    _q(tmp_path / "a.pt", 0)
    _q(tmp_path / "b.pt", 1)
    runner = CliRunner()
    ok = runner.invoke(main, ["combine-q", "--q", str(tmp_path / "a.pt"), "--q", str(tmp_path / "b.pt"),
                              "--out", str(tmp_path / "ab.pt")])
    assert ok.exit_code == 0, ok.output
    assert "mean of 2" in ok.output and len(load_q(tmp_path / "ab.pt")[0].members) == 2
    one = runner.invoke(main, ["combine-q", "--q", str(tmp_path / "a.pt"), "--out", str(tmp_path / "x.pt")])
    assert one.exit_code != 0 and "two or more" in one.output
    mixed = runner.invoke(main, ["combine-q", "--q", str(tmp_path / "a.pt"), "--q", "demo",
                                 "--out", str(tmp_path / "y.pt")])
    assert mixed.exit_code != 0 and "same input size" in mixed.output and len(mixed.output.strip().splitlines()) == 1
