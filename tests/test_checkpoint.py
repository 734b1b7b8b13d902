"""Checkpoint format: round trips, atomic saves, weights_only refusals, clear errors."""
from __future__ import annotations

import dataclasses
import json
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from augmenter import __version__
from augmenter.attributes import EXPRESSIONS, LIGHTING
from augmenter.checkpoint import (
    FORMAT_VERSION,
    Checkpoint,
    load_checkpoint,
    load_state_dict_file,
    load_weights,
    save_checkpoint,
    save_config_json,
    to_plain,
)
from augmenter.errors import CheckpointError

MARKER_CALLS: list[str] = []


def _payload_ran(marker: str) -> None:
    """What a malicious pickle would call on load: leaves evidence that it ran."""
    MARKER_CALLS.append(marker)
    Path(marker).write_text("pwned")


class _Malicious:
    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (_payload_ran, (self.marker,))


def _tiny(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))


def _step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor) -> None:
    opt.zero_grad()
    model(x).pow(2).sum().backward()
    opt.step()


def test_round_trip_weights_ema_optimizer_scheduler(tmp_path):
    model = _tiny(0)
    ema = _tiny(1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    _step(model, opt, x)
    sched.step()
    config = {"lr": 1e-2, "size": [128, 128], "data": {"root": "/data", "flip": True, "limit": None}}
    path = save_checkpoint(
        tmp_path / "q.pt",
        kind="q",
        model=model.state_dict(),
        ema=ema.state_dict(),
        optimizer=opt.state_dict(),
        scheduler=sched.state_dict(),
        step=42,
        config=config,
        vocabularies={"lighting": LIGHTING, "expression": EXPRESSIONS},
        extra={"best_val": 0.25, "hist": torch.arange(3)},
    )
    assert path == tmp_path / "q.pt"

    ckpt = load_checkpoint(path, kind="q")
    assert isinstance(ckpt, Checkpoint)
    assert (ckpt.kind, ckpt.step, ckpt.path) == ("q", 42, path)
    assert ckpt.config == config
    assert ckpt.vocabularies == {"lighting": list(LIGHTING), "expression": list(EXPRESSIONS)}
    assert ckpt.toolkit_version == __version__ and ckpt.format_version == FORMAT_VERSION
    assert ckpt.torch_version == torch.__version__
    assert ckpt.extra["best_val"] == 0.25 and torch.equal(ckpt.extra["hist"], torch.arange(3))

    restored, restored_ema = _tiny(7), _tiny(8)
    load_weights(restored, ckpt.model, source=path)
    load_weights(restored_ema, ckpt.ema, source=path)
    for a, b in zip(restored.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(restored_ema.state_dict().values(), ema.state_dict().values()):
        assert torch.equal(a, b)

    restored_opt = torch.optim.Adam(restored.parameters(), lr=1.0)
    restored_opt.load_state_dict(ckpt.optimizer)
    restored_sched = torch.optim.lr_scheduler.StepLR(restored_opt, step_size=1, gamma=0.5)
    restored_sched.load_state_dict(ckpt.scheduler)
    assert restored_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 5e-3

    # the restored optimizer continues exactly like the original one
    for _ in range(2):
        _step(model, opt, x)
        _step(restored, restored_opt, x)
        sched.step()
        restored_sched.step()
    for a, b in zip(model.parameters(), restored.parameters()):
        assert torch.equal(a, b)
    assert restored_sched.get_last_lr() == sched.get_last_lr()


def test_named_state_dicts(tmp_path):
    g, d = _tiny(0), _tiny(1)
    opts = {"generator": torch.optim.Adam(g.parameters()).state_dict(), "discriminator": torch.optim.SGD(d.parameters(), lr=0.1).state_dict()}
    save_checkpoint(tmp_path / "legan.pt", kind="legan", model={"generator": g.state_dict(), "discriminator": d.state_dict()},
                    optimizer=opts, config={})
    ckpt = load_checkpoint(tmp_path / "legan.pt", kind="legan")
    assert set(ckpt.model) == {"generator", "discriminator"}
    net = _tiny(5)
    load_weights(net, ckpt.model["discriminator"], source="legan.pt[discriminator]")
    assert torch.equal(net[0].weight, d[0].weight)
    assert ckpt.optimizer["discriminator"]["param_groups"][0]["lr"] == 0.1
    assert ckpt.ema is None and ckpt.scheduler is None and ckpt.vocabularies is None


def test_atomic_save_leaves_no_temp_and_overwrites(tmp_path):
    path = tmp_path / "runs" / "a.pt"  # parent folder created
    save_checkpoint(path, kind="q", model=_tiny(0).state_dict(), step=1, config={})
    save_checkpoint(path, kind="q", model=_tiny(1).state_dict(), step=2, config={})
    assert [p.name for p in path.parent.iterdir()] == ["a.pt"]
    ckpt = load_checkpoint(path)
    assert ckpt.step == 2 and torch.equal(ckpt.model["0.weight"], _tiny(1)[0].weight.detach())


def test_failed_save_keeps_the_old_checkpoint(tmp_path):
    path = tmp_path / "a.pt"
    save_checkpoint(path, kind="q", model=_tiny(0).state_dict(), step=1, config={})
    before = path.read_bytes()

    class Boom(Exception):
        pass

    original = torch.save

    def exploding_save(obj, f, *a, **k):
        Path(f).write_bytes(b"partial bytes")
        raise Boom

    torch.save = exploding_save
    try:
        with pytest.raises(Boom):
            save_checkpoint(path, kind="q", model=_tiny(1).state_dict(), step=2, config={})
    finally:
        torch.save = original
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]


def test_pickled_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "payload_ran"
    evil = tmp_path / "evil.pt"
    torch.save({"kind": "q", "format_version": 1, "model": {"w": torch.zeros(1)}, "extra": _Malicious(marker)}, evil)
    MARKER_CALLS.clear()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(evil)
    msg = str(err.value)
    assert "refused: contains pickled code or objects outside weights_only's allow-list" in msg
    assert "_payload_ran" in msg and str(evil) in msg and "\n" not in msg
    with pytest.raises(CheckpointError, match="refused"):
        load_state_dict_file(evil)
    assert not marker.exists() and MARKER_CALLS == []


def test_not_ours_wrong_kind_newer_format(tmp_path):
    plain = tmp_path / "plain.pt"
    torch.save(_tiny(0).state_dict(), plain)
    with pytest.raises(CheckpointError, match=r"not a legan-augmenter checkpoint \(no 'kind' field\); to load foreign weights use load_state_dict_file"):
        load_checkpoint(plain)

    q = save_checkpoint(tmp_path / "g.pt", kind="legan", model=_tiny(0).state_dict(), config={})
    with pytest.raises(CheckpointError, match="is a 'legan' checkpoint, expected 'q'"):
        load_checkpoint(q, kind="q")

    newer = tmp_path / "newer.pt"
    torch.save({"kind": "q", "format_version": FORMAT_VERSION + 1, "model": {}, "toolkit_version": "9.0"}, newer)
    with pytest.raises(CheckpointError, match=f"format_version {FORMAT_VERSION + 1} is newer"):
        load_checkpoint(newer)


def test_missing_truncated_and_garbage_files(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    good = save_checkpoint(tmp_path / "good.pt", kind="q", model=_tiny(0).state_dict(), config={})
    data = good.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated/corrupt") as err:
        load_checkpoint(cut)
    assert str(cut) in str(err.value) and "\n" not in str(err.value)
    for name, content in [("text.pt", b"hello world\n"), ("empty.pt", b""), ("noise.pt", bytes(range(256)) * 8)]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError, match="not a torch file") as err:
            load_checkpoint(tmp_path / name)
        assert "\n" not in str(err.value)


def test_load_weights_names_shape_mismatch_and_keys(tmp_path):
    src = nn.Sequential(OrderedDict(conv1=nn.Conv2d(3, 64, 4), fc=nn.Linear(4, 2)))
    dst = nn.Sequential(OrderedDict(conv1=nn.Conv2d(3, 32, 4), fc=nn.Linear(4, 2)))
    with pytest.raises(CheckpointError) as err:
        load_weights(dst, src.state_dict(), source=tmp_path / "w.pt")
    msg = str(err.value)
    assert "conv1.weight: checkpoint (64, 3, 4, 4) vs model (32, 3, 4, 4)" in msg
    assert "conv1.bias: checkpoint (64) vs model (32)" in msg
    assert "2 shape mismatch(es)" in msg and msg.startswith(str(tmp_path / "w.pt"))

    sd = src.state_dict()
    sd.pop("fc.bias")
    sd["extra.weight"] = torch.zeros(1)
    other = nn.Sequential(OrderedDict(conv1=nn.Conv2d(3, 64, 4), fc=nn.Linear(4, 2)))
    with pytest.raises(CheckpointError, match=r"1 missing key\(s\): fc.bias; 1 unexpected key\(s\): extra.weight"):
        load_weights(other, sd, source="w.pt")
    result = load_weights(other, sd, source="w.pt", strict=False)
    assert result.missing_keys == ["fc.bias"] and result.unexpected_keys == ["extra.weight"]
    assert torch.equal(other.conv1.weight, src.conv1.weight)


@dataclasses.dataclass
class _Cfg:
    root: Path = Path("/data/casia")
    size: tuple = (128, 128)
    tags: frozenset = frozenset({"b", "a"})


def test_config_must_be_plain_json(tmp_path):
    bad = {"train": {"lr": 1e-3, "out_dir": Path("/runs")}}
    with pytest.raises(TypeError, match=r"config\['train'\]\['out_dir'\] is a pathlib\.\w*Path.*to_plain"):
        save_checkpoint(tmp_path / "a.pt", kind="q", model={}, config=bad)
    with pytest.raises(TypeError, match=r"config\['model'\]"):
        save_checkpoint(tmp_path / "a.pt", kind="q", model={}, config={"model": _Cfg()})
    with pytest.raises(TypeError, match=r"config\['size'\]"):
        save_checkpoint(tmp_path / "a.pt", kind="q", model={}, config={"size": (1, 2)})
    assert not (tmp_path / "a.pt").exists()

    plain = to_plain({"model": _Cfg(), "train": {"out_dir": Path("/runs")}})
    assert plain == {"model": {"root": "/data/casia", "size": [128, 128], "tags": ["a", "b"]}, "train": {"out_dir": "/runs"}}
    save_checkpoint(tmp_path / "a.pt", kind="q", model={}, config=plain)
    assert load_checkpoint(tmp_path / "a.pt").config == plain
    with pytest.raises(TypeError, match=r"config\['fn'\]"):
        to_plain({"fn": print})

    json_path = save_config_json(tmp_path / "cfg" / "config.json", plain)
    assert json.loads(json_path.read_text()) == plain
    with pytest.raises(TypeError, match=r"config\['x'\]"):
        save_config_json(tmp_path / "bad.json", {"x": object()})


def test_unloadable_payload_rejected_at_save(tmp_path):
    with pytest.raises(TypeError, match=r"extra\['obj'\]"):
        save_checkpoint(tmp_path / "a.pt", kind="q", model={}, config={}, extra={"obj": _Cfg()})
    assert not (tmp_path / "a.pt").exists()


def test_load_state_dict_file_unwraps_and_strips_module_prefix(tmp_path):
    net = _tiny(3)
    wrapped = {"epoch": 12, "arch": "LightCNN_29Layers_v2",
               "state_dict": OrderedDict(("module." + k, v) for k, v in net.state_dict().items())}
    torch.save(wrapped, tmp_path / "lightcnn.pth.tar")
    sd = load_state_dict_file(tmp_path / "lightcnn.pth.tar")
    assert list(sd) == list(net.state_dict())
    fresh = _tiny(9)
    load_weights(fresh, sd, source=tmp_path / "lightcnn.pth.tar")
    assert torch.equal(fresh[2].weight, net[2].weight)

    torch.save({"model": {"state_dict": net.state_dict()}}, tmp_path / "nested.pt")
    assert list(load_state_dict_file(tmp_path / "nested.pt")) == list(net.state_dict())
    torch.save(net.state_dict(), tmp_path / "bare.pt")
    assert list(load_state_dict_file(tmp_path / "bare.pt")) == list(net.state_dict())
    ours = save_checkpoint(tmp_path / "ours.pt", kind="verifier", model=net.state_dict(), config={})
    assert list(load_state_dict_file(ours)) == list(net.state_dict())

    torch.save({"epoch": 3, "acc": 0.9}, tmp_path / "nothing.pt")
    with pytest.raises(CheckpointError, match="no state_dict found"):
        load_state_dict_file(tmp_path / "nothing.pt")
    with pytest.raises(CheckpointError, match="weight file not found; pretrained weights are never downloaded"):
        load_state_dict_file(tmp_path / "20180402-114759-vggface2.pt")


def test_check_resumable_accepts_a_setting_the_checkpoint_predates_only_when_it_is_off():
    from augmenter.checkpoint import check_resumable
    from augmenter.errors import CheckpointError

    saved = {"lr": 0.1, "epochs": 3}
    check_resumable(saved, {"lr": 0.1, "epochs": 5, "pair_weight": 0.0, "init": None}, {"epochs"}, "last.pt")
    with pytest.raises(CheckpointError, match="pair_weight"):
        check_resumable(saved, {"lr": 0.1, "epochs": 3, "pair_weight": 1.0}, set(), "last.pt")
    with pytest.raises(CheckpointError, match="lr"):
        check_resumable(saved, {"lr": 0.2, "epochs": 3}, set(), "last.pt")
