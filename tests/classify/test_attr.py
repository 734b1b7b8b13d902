"""The attribute classifier: network, masked loss, metrics, training end to end on a tiny sample, resume, CLI."""
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from augmenter.attributes import lighting_neighbours
from augmenter.checkpoint import load_checkpoint, save_checkpoint
from augmenter.classify.model import (
    load_attribute_classifier,
    predict_attributes,
    verification_metrics,
)
from augmenter.classify.train_attr import (
    AttrTrainConfig,
    attribute_loss,
    default_vocabularies,
    random_translate,
    train_attribute_classifier,
)
from augmenter.cli_attr import train_attr_command
from augmenter.datasets.record import FaceRecord
from augmenter.gan_eval.metrics import within_one_accuracy
from augmenter.metrics import roc_auc
from augmenter.datasets.spec import read_specs, split_held_out
from augmenter.errors import CheckpointError
from augmenter.nets.attribute import AttributeNet, AttributeNetConfig
from augmenter.sample.tree import SampleConfig, render_sample

HOLDOUT, SEED = 0.34, 0  # with 3 sample identities this holds out exactly one (checked in the fixture)
TINY = {"width": 8, "embedding": 16}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: these tiny models gain nothing from two, and on a busy 2-core machine two
    threads spin against other jobs (the overfit test took 39 s with 2 threads, 4 s with 1)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("attr") / "sample"
    render_sample(root, SampleConfig(identities=3, size=64, expressions=("neutral", "smile"),
                                     lighting=("ambient", "flash01", "flash13")))
    records, _ = read_specs([f"sample:{root}"])
    train, held = split_held_out(records, HOLDOUT, SEED)
    assert len(records) == 18 and {r.identity for r in held} == {"001"}
    assert {r.identity for r in train} == {"002", "003"}
    return root


def _config(sample: Path, out: Path, **changes) -> AttrTrainConfig:
    settings = dict(data=[f"sample:{sample}"], out=str(out), holdout=HOLDOUT, seed=SEED, epochs=2, batch_size=8,
                    workers=0, device="cpu", **TINY)
    settings.update(changes)
    return AttrTrainConfig(**settings)


# --------------------------------------------------------------------------------------------- #
# network and loss


@pytest.mark.parametrize("size", [64, 128])
def test_shapes(size):
    net = AttributeNet(AttributeNetConfig(image_size=size, n_identity=5)).eval()
    out = net(torch.zeros(3, 3, size, size))
    assert out["embedding"].shape == (3, 128)
    assert out["lighting"].shape == (3, 19) and out["expression"].shape == (3, 6) and out["identity"].shape == (3, 5)
    assert torch.allclose(net.embed(torch.randn(3, 3, size, size)).norm(dim=1), torch.ones(3), atol=1e-5)
    assert "identity" not in AttributeNet(AttributeNetConfig(**TINY)).eval()(torch.zeros(1, 3, size, size))
    assert sum(p.numel() for p in net.parameters()) < 1_200_000


def test_masked_loss_all_unlabelled_is_zero_with_finite_grads():
    net = AttributeNet(AttributeNetConfig(n_identity=4, **TINY))
    out = net(torch.randn(4, 3, 64, 64))
    none = torch.full((4,), -1)
    loss, parts = attribute_loss(out, none, none, none, identity_weight=0.5)
    assert loss.item() == 0.0 and all(v.item() == 0.0 for v in parts.values())
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
    # partly labelled: only the labelled rows count
    out = net(torch.randn(4, 3, 64, 64))
    lighting = torch.tensor([2, -1, 5, -1])
    loss, parts = attribute_loss(out, lighting, none, torch.tensor([0, 1, -1, -1]), identity_weight=0.5)
    expected = torch.nn.functional.cross_entropy(out["lighting"][[0, 2]], lighting[[0, 2]])
    assert parts["lighting"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss.item() == pytest.approx(expected.item() + 0.5 * parts["identity"].item(), rel=1e-5)


def _synthetic(n_per_class=8, size=32, seed=0):
    """Lighting = which side is bright (left, right, top); expression = a dark 'mouth' bar or none."""
    rng = np.random.default_rng(seed)
    images, lighting, expression = [], [], []
    ramp = np.linspace(-1, 1, size)
    for light in range(3):
        for k in range(n_per_class):
            gradient = {0: -ramp[None, :], 1: ramp[None, :], 2: -ramp[:, None]}[light]
            image = 0.5 * np.broadcast_to(gradient, (size, size)) + rng.normal(0, 0.1, (size, size))
            expr = k % 2
            if expr:
                image[size * 3 // 4:size * 3 // 4 + 3, size // 4:size * 3 // 4] = -1
            images.append(np.repeat(image[None], 3, 0))
            lighting.append(light)
            expression.append(expr)
    return (torch.tensor(np.stack(images), dtype=torch.float32).clamp(-1, 1), torch.tensor(lighting),
            torch.tensor(expression))


def test_tiny_model_overfits_a_labelled_batch():
    torch.manual_seed(0)
    x, lighting, expression = _synthetic()
    net = AttributeNet(AttributeNetConfig(image_size=32, n_lighting=3, n_expression=2, **TINY))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    none = torch.full_like(lighting, -1)
    for _ in range(30):
        loss, _ = attribute_loss(net(x), lighting, expression, none)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    out = predict_attributes(net, x)
    assert (out["lighting"] == lighting).all() and (out["expression"] == expression).all()
    assert net.training  # predict_attributes restores the mode


def test_random_translate_shifts_without_wrapping():
    x = torch.zeros(2, 3, 8, 8)
    x[:, :, :, :4] = 1.0  # bright left half
    moved = random_translate(x, torch.tensor([[0, 2], [0, -2]]))
    assert moved[0, 0, 0].tolist() == [1, 1, 1, 1, 1, 1, 0, 0]  # right by 2, left edge replicated
    assert moved[1, 0, 0].tolist() == [1, 1, 0, 0, 0, 0, 0, 0]  # left by 2, right edge replicated (dark)


# --------------------------------------------------------------------------------------------- #
# metrics and vocabularies


def test_lighting_neighbours_and_within_one():
    assert lighting_neighbours("ambient") == frozenset()
    assert lighting_neighbours("flash01") == {"flash02"}
    assert lighting_neighbours("flash07") == {"flash06", "flash08"}
    assert lighting_neighbours("flash16") == {"flash15", "flash17"}
    assert within_one_accuracy(["flash06", "flash07", "flash09", "ambient", "flash02"],
                               ["flash07", "flash07", "flash07", "ambient", "ambient"]) == pytest.approx(3 / 5)
    assert math.isnan(within_one_accuracy([], []))


def test_verification_metrics():
    e = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    m = verification_metrics(e, ["a", "a", "b", "b"])
    assert m["auc"] == 1.0 and m["pairs_same"] == 2 and m["pairs_diff"] == 4
    assert m["cos_same"] > 0.9 and m["cos_diff"] < 0.2
    assert verification_metrics(e, ["a"] * 4)["auc"] is None
    sampled = verification_metrics(torch.randn(300, 8), [str(i % 10) for i in range(300)], max_pairs=1000)
    assert sampled["pairs_same"] + sampled["pairs_diff"] == 1000 and 0.3 < sampled["auc"] < 0.7
    assert roc_auc(np.array([0.5, 0.5]), np.array([True, False])) == 0.5


def test_default_vocabularies_follow_attribute_order():
    records = [FaceRecord(Path("x"), "fer2013", expression=e) for e in ("sad", "happy", "neutral", "anger")]
    records += [FaceRecord(Path("y"), "sample", lighting=l, expression="smile") for l in ("flash13", "ambient")]
    lighting, expression = default_vocabularies(records)
    assert lighting == ["ambient", "flash13"]
    assert expression == ["neutral", "smile", "happy", "sad", "anger"]


# --------------------------------------------------------------------------------------------- #
# training end to end


def test_train_load_predict_resume(sample, tmp_path):
    out = tmp_path / "run"
    result = train_attribute_classifier(_config(sample, out))
    assert result.epochs_run == 2 and result.best_epoch in (0, 1)
    assert result.vocabularies == {"lighting": ["ambient", "flash01", "flash13"], "expression": ["neutral", "smile"],
                                   "identity": ["sample/002", "sample/003"]}
    m = result.best_metrics
    assert m["n_val"] == 6 and m["val_identities"] == 1 and 0 <= m["lighting_acc"] <= m["lighting_within_one"] <= 1
    assert m["cos_same"] is not None and m["auc"] is None  # one held-out identity: no different pairs
    assert "lighting accuracy" in result.describe()
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [0, 1] and "expression_acc" in log[0]
    assert json.loads((out / "config.json").read_text())["holdout"] == HOLDOUT

    ckpt = load_checkpoint(out / "best.pt", kind="attr")
    assert set(ckpt.config) == {"net", "train"} and ckpt.config["net"]["n_identity"] == 2
    net, vocab = load_attribute_classifier(out / "best.pt")
    assert vocab == result.vocabularies and not net.training
    images = np.random.default_rng(0).integers(0, 256, (5, 128, 128, 3), dtype=np.uint8)  # NHWC, resized to 64
    pred = predict_attributes(net, images, batch_size=2)
    assert pred["embedding"].shape == (5, 16) and pred["lighting"].shape == (5,)
    assert all(n in vocab["lighting"] for n in pred["lighting_names"])
    assert all(n in vocab["expression"] for n in pred["expression_names"])
    assert torch.allclose(pred["embedding"].norm(dim=1), torch.ones(5), atol=1e-5)
    grey = predict_attributes(net, torch.zeros(2, 64, 64, dtype=torch.uint8))
    assert grey["lighting_prob"].shape == (2, 3)

    save_checkpoint(tmp_path / "q.pt", kind="q", model=net.state_dict(), config={})
    with pytest.raises(CheckpointError, match="expected 'attr'"):
        load_attribute_classifier(tmp_path / "q.pt")

    resumed = train_attribute_classifier(_config(sample, out, epochs=3))
    assert resumed.epochs_run == 1
    assert [json.loads(line)["epoch"] for line in (out / "log.jsonl").read_text().splitlines()] == [0, 1, 2]
    assert load_checkpoint(out / "last.pt", kind="attr").extra["progress"]["epoch"] == 3
    assert train_attribute_classifier(_config(sample, out, epochs=3)).epochs_run == 0
    with pytest.raises(CheckpointError, match="lr"):
        train_attribute_classifier(_config(sample, out, epochs=4, lr=1e-3))


def test_unreadable_image_is_counted_not_fatal(sample, tmp_path):
    root = tmp_path / "sample"
    shutil.copytree(sample, root)
    broken = sorted(root.rglob("002_*.png"))[0]
    broken.write_bytes(b"not a png")
    result = train_attribute_classifier(_config(root, tmp_path / "run", epochs=1))
    assert result.skips.counts["unreadable image"] == 1 and str(broken) in result.skips.summary()


def test_no_held_out_identity_is_a_clear_error(sample, tmp_path):
    with pytest.raises(ValueError, match="held-out"):
        train_attribute_classifier(_config(sample, tmp_path / "run", holdout=0.2, seed=0))


def test_cli(sample, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    result = runner.invoke(train_attr_command, ["--data", f"sample:{sample}", "--out", str(out), "--epochs", "1",
                                                "--holdout", str(HOLDOUT), "--workers", "0", "--device", "cpu",
                                                "--batch-size", "8"])
    assert result.exit_code == 0, result.output
    assert "lighting accuracy" in result.output and (out / "best.pt").is_file()
    bad = runner.invoke(train_attr_command, ["--data", "nosuch:/x", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 1 and "unknown dataset" in bad.output
