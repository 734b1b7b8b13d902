"""TrainingRun: registered states saved and restored, best/last/log/config files, Ctrl-C saves, failures."""
import json
import os
import signal

import pytest
import torch

from augmenter.checkpoint import load_checkpoint
from augmenter.errors import CheckpointError
from augmenter.training_run import TrainingRun

TRAIN = {"lr": 0.1, "epochs": 2}


def _parts(seed):
    torch.manual_seed(seed)
    g, d = torch.nn.Linear(3, 2), torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4))
    ema = torch.nn.Linear(3, 2)
    opt_g, opt_d = torch.optim.Adam(g.parameters(), 0.1), torch.optim.SGD(d.parameters(), 0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt_g, 1, gamma=0.5)
    return g, d, ema, opt_g, opt_d, sched


def _run(out, parts, train=TRAIN, **kw):
    g, d, ema, opt_g, opt_d, sched = parts
    run = TrainingRun(out, kind="toy", train_config=dict(train), resumable={"epochs"},
                      checkpoint_config={"net": {"width": 3}, "train": dict(train)},
                      vocabularies={"lighting": ["ambient"]}, progress={"epoch": 0, "step": 0, "seen": []}, **kw)
    run.register(model={"generator": g, "discriminator": d}, ema={"generator": ema},
                 optimizer={"generator": opt_g, "discriminator": opt_d}, scheduler=sched)
    return run


def _train(parts, steps=3):
    g, d, ema, opt_g, opt_d, sched = parts
    for _ in range(steps):
        x = torch.randn(5, 3)
        loss = d(g(x)).pow(2).mean()
        opt_g.zero_grad()
        opt_d.zero_grad()
        loss.backward()
        opt_g.step()
        opt_d.step()
        sched.step()
        ema.load_state_dict(g.state_dict())


def _states(parts):
    return [p.state_dict() for p in parts]


def _equal(a, b):
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


def test_resume_restores_every_registered_state_and_the_progress(tmp_path):
    parts = _parts(0)
    run = _run(tmp_path, parts)
    assert run.resume() is None  # a fresh run
    run.write_config()
    _train(parts)
    run.progress.update(epoch=1, step=3, seen=["a"])
    run.save_last()

    ckpt = load_checkpoint(tmp_path / "last.pt", kind="toy")  # weights_only=True
    assert set(ckpt.model) == {"generator", "discriminator"} and set(ckpt.ema) == {"generator"}
    assert set(ckpt.optimizer) == {"generator", "discriminator"} and "last_epoch" in ckpt.scheduler
    assert ckpt.step == 3 and ckpt.config["net"] == {"width": 3} and ckpt.vocabularies == {"lighting": ["ambient"]}
    assert ckpt.extra == {"progress": {"epoch": 1, "step": 3, "seen": ["a"]}}
    assert json.loads((tmp_path / "config.json").read_text()) == TRAIN

    fresh = _parts(1)
    assert not _equal(_states(fresh), _states(parts))
    again = _run(tmp_path, fresh, train={**TRAIN, "epochs": 5})  # a resumable change
    assert again.resume() is not None
    assert _equal(_states(fresh), _states(parts))
    assert again.progress == {"epoch": 1, "step": 3, "seen": ["a"]} and again.step == 3
    # and training goes on identically from there
    torch.manual_seed(7)
    _train(parts, 2)
    torch.manual_seed(7)
    _train(fresh, 2)
    assert _equal(_states(fresh), _states(parts))


def test_resume_refuses_changed_settings_and_runs_the_check(tmp_path):
    run = _run(tmp_path, _parts(0))
    run.save_last()
    with pytest.raises(CheckpointError, match=r"was trained with other settings \(lr\)"):
        _run(tmp_path, _parts(0), train={**TRAIN, "lr": 0.2}).resume()

    def refuse(ckpt):
        raise CheckpointError(ckpt.path, "other data")

    with pytest.raises(CheckpointError, match="other data"):
        _run(tmp_path, _parts(0)).resume(check=refuse)


def test_a_missing_state_is_one_line_naming_it(tmp_path):
    _run(tmp_path, _parts(0)).save_last()
    run = _run(tmp_path, _parts(0))
    run.register(ema={"generator": torch.nn.Linear(3, 2), "other": torch.nn.Linear(3, 2)})
    with pytest.raises(CheckpointError, match="has no ema state for 'other'"):
        run.resume()
    with pytest.raises(TypeError, match="unknown checkpoint slot"):
        run.register(weights=torch.nn.Linear(1, 1))


def test_best_last_and_log_files(tmp_path):
    run = _run(tmp_path, _parts(0))
    run.progress["step"] = 4
    run.save_best({"epoch": 0, "acc": 0.5})
    run.save_last()
    run.log({"epoch": 0, "loss": 1.5})
    run.log({"epoch": 1, "loss": None})
    assert load_checkpoint(tmp_path / "best.pt", kind="toy").step == 4
    assert load_checkpoint(tmp_path / "last.pt", kind="toy").step == 4
    assert json.loads((tmp_path / "best.json").read_text()) == {"epoch": 0, "acc": 0.5}
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert lines == [{"epoch": 0, "loss": 1.5}, {"epoch": 1, "loss": None}]
    (tmp_path / "best.json").unlink()
    run.save_best(None)  # best.pt only
    assert not (tmp_path / "best.json").exists()


def test_custom_extra_replaces_the_progress(tmp_path):
    run = _run(tmp_path, _parts(0), extra=lambda: {"wall_s": 1.5})
    run.step = 6
    run.save_last()
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt.extra == {"wall_s": 1.5} and ckpt.step == 6
    again = _run(tmp_path, _parts(0), extra=lambda: {})
    again.resume()
    assert again.step == 6


def test_interrupt_saves_last(tmp_path):
    run = _run(tmp_path, _parts(0))
    with pytest.raises(KeyboardInterrupt):
        with run.interruptible():
            run.step = 2
            raise KeyboardInterrupt
    assert load_checkpoint(tmp_path / "last.pt").step == 2


def test_ctrl_c_is_deferred_to_the_loop_then_saved(tmp_path):
    run = _run(tmp_path, _parts(0))
    done = []
    with pytest.raises(KeyboardInterrupt):
        with run.interruptible() as stop:
            for step in range(5):
                if stop.requested:
                    raise KeyboardInterrupt
                done.append(step)
                run.step = step + 1
                if step == 1:
                    os.kill(os.getpid(), signal.SIGINT)  # the step finishes; the loop stops before the next
    assert done == [0, 1] and load_checkpoint(tmp_path / "last.pt").step == 2


def test_failures_are_counted_once(tmp_path):
    run = _run(tmp_path, _parts(0))
    for message in ("a.png: truncated", "b.png: not an image", "a.png: truncated"):
        run.note_failure(message)
    assert run.skips.counts["unreadable image"] == 2


def test_a_non_writer_writes_nothing(tmp_path):
    out = tmp_path / "run"
    run = _run(out, _parts(0), writer=False)
    run.write_config()
    run.save_last()
    run.save_best({"epoch": 0})
    run.log({"epoch": 0})
    assert not out.exists()
