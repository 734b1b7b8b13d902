"""``train-q`` resumed in the middle of an epoch logs the same epoch loss as an uninterrupted run."""
import json

import pytest

from augmenter.quality.train import train_q
from tests.quality.test_q_pipeline import _config, _fixture


def _losses(out):
    return [json.loads(line)["train_loss"] for line in (out / "log.jsonl").read_text().splitlines()]


class Crash(Exception):
    """A run killed without the chance to save (only the periodic checkpoints survive)."""


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    base = tmp_path_factory.mktemp("q_resume")
    root = _fixture(base / "data")
    train_q(_config(root, base / "full"))
    return root, _losses(base / "full")


@pytest.mark.parametrize("stop, at_call", [(KeyboardInterrupt, 7),  # Ctrl-C mid-epoch 1: saved where it stopped
                                           (Crash, 7)])             # killed mid-epoch 1: resumes from step 6
def test_a_mid_epoch_resume_logs_the_whole_epoch_loss(uninterrupted, tmp_path, stop, at_call):
    root, expected = uninterrupted
    calls = []

    def interrupt(state):
        calls.append(state)
        if len(calls) == at_call:
            raise stop

    with pytest.raises(stop):
        train_q(_config(root, tmp_path / "cut"), progress=interrupt)
    per_epoch = sum(c["epoch"] == 0 for c in calls)
    assert calls[-1]["epoch"] == 1 and 0 < calls[-1]["step"] - per_epoch < per_epoch  # inside epoch 1
    train_q(_config(root, tmp_path / "cut"))
    assert len(expected) == 3 and all(loss is not None for loss in expected)
    assert _losses(tmp_path / "cut") == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_init_starts_from_a_checkpoint_and_refuses_another_layout(tmp_path):
    import pytest
    import torch

    from augmenter.checkpoint import load_checkpoint
    from augmenter.errors import CheckpointError
    from augmenter.quality.train import train_q

    root = _fixture(tmp_path / "data")
    train_q(_config(root, tmp_path / "first", epochs=1))
    start = load_checkpoint(tmp_path / "first" / "last.pt", kind="q").model
    train_q(_config(root, tmp_path / "tuned", epochs=1, lr=1e-9, init=str(tmp_path / "first" / "last.pt")))
    tuned = load_checkpoint(tmp_path / "tuned" / "last.pt", kind="q").model
    assert all(torch.allclose(start[k], tuned[k], atol=1e-5) for k in start)   # lr ~ 0: still the init weights
    with pytest.raises(CheckpointError, match="another layout"):
        train_q(_config(root, tmp_path / "other", base_width=8, init=str(tmp_path / "first" / "last.pt")))
