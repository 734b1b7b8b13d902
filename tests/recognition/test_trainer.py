"""The shared training loop: draw order, LR schedule, seeding and exact resume."""
import os
import signal

import numpy as np
import pytest
import torch

from augmenter.checkpoint import load_checkpoint
from augmenter.errors import DeviceError
from recognition.train_expression import ExpressionConfig, train_expression
from recognition.trainer import distributed, epoch_order, lr_factor, training_device
from tests.recognition.fixtures import make_class_folders, seed_holding_out_every_class


def test_epoch_order_is_a_function_of_seed_and_epoch():
    a = epoch_order(20, 0, 7, None)
    assert sorted(a.tolist()) == list(range(20))  # a permutation
    assert np.array_equal(a, epoch_order(20, 0, 7, None))
    assert not np.array_equal(a, epoch_order(20, 1, 7, None))
    assert not np.array_equal(a, epoch_order(20, 0, 8, None))


def test_epoch_size_sets_the_number_of_draws():
    short = epoch_order(20, 0, 7, None, 8)
    assert len(short) == 8 and len(set(short.tolist())) == 8
    assert np.array_equal(short, epoch_order(20, 0, 7, None)[:8])
    long = epoch_order(20, 0, 7, None, 50)
    assert len(long) == 50
    assert sorted(long[:20].tolist()) == list(range(20)) and sorted(long[20:40].tolist()) == list(range(20))
    assert len(epoch_order(6, 0, 0, np.full(6, 1 / 6), 11)) == 11


def test_weighted_order_draws_only_weighted_samples():
    weights = np.array([0.0, 0.5, 0.0, 0.25, 0.25, 0.0])
    orders = [epoch_order(6, e, 0, weights) for e in range(20)]
    assert all(len(o) == 6 for o in orders)
    drawn = set(np.concatenate(orders).tolist())
    assert drawn == {1, 3, 4}
    assert np.array_equal(orders[3], epoch_order(6, 3, 0, weights))
    assert any(not np.array_equal(orders[0], o) for o in orders[1:])


def test_lr_warms_up_then_decays_to_zero():
    total, warmup = 100, 0.1  # 10 warm-up steps
    factors = [lr_factor(s, total, warmup) for s in range(total)]
    assert factors[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert factors[10] == pytest.approx(1.0)
    assert factors[55] == pytest.approx(0.5)  # half-way through the cosine
    assert all(b <= a + 1e-12 for a, b in zip(factors[10:], factors[11:]))
    assert factors[-1] < 1e-3 and lr_factor(total, total, warmup) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(0, 10, 0.0) == 1.0  # no warm-up


def test_single_process_without_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed() == (0, 1)


def test_each_torchrun_rank_takes_its_gpu_and_a_missing_one_is_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert training_device("auto", world=2) == torch.device("cuda", 1)
    assert training_device("cuda", world=1) == torch.device("cuda")
    assert training_device("cpu", world=2) == torch.device("cpu")
    monkeypatch.setenv("LOCAL_RANK", "3")
    with pytest.raises(DeviceError, match=r"^--device cuda:3: there are 2 CUDA devices"):
        training_device("cuda", world=4)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    root = make_class_folders(tmp_path_factory.mktemp("resume") / "faces", {"happy": 8, "sad": 8, "neutral": 8})
    return root, seed_holding_out_every_class(f"class-folder:{root}", 0.25, minimum=1)


def _config(faces, out, **changes):
    root, seed = faces
    settings = dict(backbone="small_resnet", width=8, embedding_size=16, image_size=32, epochs=2, batch_size=4,
                    lr=3e-3, holdout=0.25, seed=seed, workers=0, device="cpu")
    return ExpressionConfig(data=[f"class-folder:{root}"], out=str(out), **{**settings, **changes})


def _backbone(out):
    return load_checkpoint(out / "last.pt").model["backbone"]


def _recorder(losses, interrupt_at=None, how=None):
    def progress(s):
        losses[s["step"]] = s["loss"]
        if s["step"] == interrupt_at:
            if how == "signal":
                os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C: the loop stops after this step and saves
            else:
                raise KeyboardInterrupt
    return progress


def _interrupted_then_resumed(faces, tmp_path, how):
    reference = {}
    full = train_expression(_config(faces, tmp_path / "a"), progress=_recorder(reference), log=lambda m: None)
    per_epoch = full.steps // 2
    assert full.epochs_done == 2 and full.steps == len(reference) >= 4
    stop = per_epoch + 1  # second batch of the second epoch
    resumed, lines = {}, []
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        train_expression(_config(faces, tmp_path / "b"), progress=_recorder(resumed, stop, how), log=lambda m: None)
    torch.manual_seed(123)  # the resumed run takes everything from last.pt
    again = train_expression(_config(faces, tmp_path / "b"), progress=_recorder(resumed), log=lines.append)
    assert any("resumed from" in line for line in lines)
    assert again.steps == full.steps and again.epochs_done == 2
    return reference, resumed, _backbone(tmp_path / "a"), _backbone(tmp_path / "b")


def test_ctrl_c_then_rerun_matches_an_uninterrupted_run(faces, tmp_path):
    reference, resumed, a, b = _interrupted_then_resumed(faces, tmp_path, "signal")
    assert sorted(resumed) == sorted(reference)
    assert [resumed[k] for k in sorted(reference)] == pytest.approx([reference[k] for k in sorted(reference)], abs=1e-6)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name].float(), b[name].float(), atol=1e-6), name


def test_interrupt_raised_in_the_progress_callback_resumes_exactly(faces, tmp_path):
    reference, resumed, a, b = _interrupted_then_resumed(faces, tmp_path, "raise")
    for name in a:
        assert torch.allclose(a[name].float(), b[name].float(), atol=1e-6), name


def test_same_config_and_seed_give_the_same_weights(faces, tmp_path):
    torch.manual_seed(1)
    train_expression(_config(faces, tmp_path / "one", epochs=1), log=lambda m: None)
    torch.manual_seed(2)  # unrelated global RNG state before the second run
    train_expression(_config(faces, tmp_path / "two", epochs=1), log=lambda m: None)
    a, b = _backbone(tmp_path / "one"), _backbone(tmp_path / "two")
    for name in a:
        assert torch.equal(a[name], b[name]), name
