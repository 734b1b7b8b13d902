"""The default generator's trainer: pair augmentation, time budget, held-out evaluations in the log,
resuming, the cached renderer priors, and the training-curve figure."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from augmenter.checkpoint import load_checkpoint
from augmenter.nets.fields import FieldGenerator
from pipelines.default_generator import run as run_module
from pipelines.default_generator.curve import draw_curve, eval_rows
from pipelines.default_generator.teacher import ExpressionTeacher
from pipelines.default_generator.train import GeneratorTrainConfig, augment_pair, train_generator

NAMES_E = ["neutral", "happy"]
NAMES_L = ["front", "left"]


def test_augment_pair_mirrors_face_and_light_together_and_exposes_both_alike():
    rng = np.random.default_rng(0)
    src = torch.full((64, 3, 8, 8), -0.5)
    src[..., :4] = 0.5  # left half bright: a mirrored row has its bright half on the right
    tgt = src * 0.5
    direction = torch.tensor([[0.6, 0.0, 0.8]]).repeat(64, 1)
    s, t, d = augment_pair(src, tgt, direction, rng)
    flipped = s[:, 0, 0, 0] < s[:, 0, 0, -1]
    assert 10 < int(flipped.sum()) < 54
    assert torch.allclose(d[flipped, 0], torch.tensor(-0.6)) and torch.allclose(d[~flipped, 0], torch.tensor(0.6))
    assert torch.equal(d[:, 1:], direction[:, 1:])
    assert bool(((t[:, 0, 0, 0] < t[:, 0, 0, -1]) == flipped).all())  # target mirrored with its source
    # one exposure per row, the same for source and target (no clipping at these levels)
    gain_s = ((s + 1) / 2) / ((src.flip(3).where(flipped[:, None, None, None], src) + 1) / 2)
    gain_t = ((t + 1) / 2) / ((tgt.flip(3).where(flipped[:, None, None, None], tgt) + 1) / 2)
    assert torch.allclose(gain_s, gain_t, atol=1e-5)
    per_row = gain_s.flatten(1)
    assert torch.allclose(per_row, per_row[:, :1].expand_as(per_row), atol=1e-5)
    assert 0.7 - 1e-5 <= float(per_row.min()) and float(per_row.max()) <= 1.3 + 1e-5
    assert float(per_row[:, 0].std()) > 0.05


class _TinyQ(nn.Module):
    def __init__(self):
        super().__init__()
        self.config = SimpleNamespace(image_size=32)
        self.conv = nn.Conv2d(3, 1, 3, padding=1)

    def forward(self, x):
        return self.conv(x).mean((1, 2, 3)) + 6.0


def test_augment_pair_never_saturates_a_pixel_the_photos_did_not():
    rng = np.random.default_rng(1)
    src = torch.linspace(-1, 0.9, 64)[:, None, None, None].expand(64, 3, 4, 4).clone()  # peaks up to 0.95
    tgt = src - 0.2
    s, t, _ = augment_pair(src, tgt, torch.tensor([[0.0, 0.0, 1.0]]).repeat(64, 1), rng)
    assert float(torch.maximum(s, t).max()) <= 1.0 + 1e-6
    ratio = (t + 1) / (tgt + 1)  # one exposure per row all the way up: nothing was clipped
    assert torch.allclose(ratio.amax((1, 2, 3)), ratio.amin((1, 2, 3)), atol=1e-4)
    assert float(ratio[1:32].amax()) > 1.1  # dark pairs still get brighter exposures


def _inputs(n_light: int = 12, n_fer: int = 8, size: int = 64):
    rng = np.random.default_rng(1)
    light = {"images": rng.integers(0, 255, (n_light, size, size), dtype=np.uint8),
             "subject": np.array(["a", "b"] * (n_light // 2)),
             "direction": np.tile(np.array([[0.0, 0.0, 1.0], [-0.5, 0.0, 0.866]], np.float32), (n_light // 2, 1))}
    fer = {"images": rng.integers(0, 255, (n_fer, size, size), dtype=np.uint8),
           "labels": np.array([0, 1] * (n_fer // 2), np.int64)}
    normals = np.zeros((3, 64, 64), np.float32)
    normals[2] = 1
    priors = {"prior_flow": np.zeros((2, 2, 64, 64), np.float32), "normals": normals}
    return light, fer, priors


def _train(tmp_path, cfg, evaluate=None):
    light, fer, priors = _inputs()
    torch.manual_seed(0)
    return train_generator(cfg, tmp_path / "gen", light, fer, priors, NAMES_L,
                           np.array([[0, 0, 1], [-0.5, 0, 0.866]], np.float32), NAMES_E,
                           ExpressionTeacher(2, width=4).eval(), _TinyQ(), log=lambda *_: None, evaluate=evaluate)


def test_training_logs_held_out_evaluations_of_a_cpu_ema_copy_and_resumes(tmp_path):
    seen = []

    def evaluate(g):
        seen.append((type(g), g.training, next(g.parameters()).device.type))
        return {"relit_ssim": 0.5 + len(seen) / 10, "input_ssim": 0.4, "relit_psnr": 20.0, "input_psnr": 15.0,
                "pairs": 3}

    cfg = GeneratorTrainConfig(steps=4, batch=2, width=4, eval_every=2, save_every=100, expression=True)
    last = _train(tmp_path, cfg, evaluate)
    assert seen == [(FieldGenerator, False, "cpu")] * 2
    assert load_checkpoint(last).step == 4
    rows = eval_rows(tmp_path / "gen" / "log.jsonl")
    assert [r["step"] for r in rows] == [2, 4] and [r["relit_ssim"] for r in rows] == pytest.approx([0.6, 0.7])
    cfg.steps = 6
    assert load_checkpoint(_train(tmp_path, cfg, evaluate)).step == 6
    assert [r["step"] for r in eval_rows(tmp_path / "gen" / "log.jsonl")] == [2, 4, 6]
    assert json.loads((tmp_path / "gen" / "config.json").read_text())["eval_every"] == 2
    out = draw_curve(eval_rows(tmp_path / "gen" / "log.jsonl"), tmp_path / "curve.png")
    assert out.stat().st_size > 1000


def test_a_time_budget_stops_training_before_the_step_count(tmp_path):
    cfg = GeneratorTrainConfig(steps=1000, batch=2, width=4, minutes=1e-6, save_every=100)
    assert load_checkpoint(_train(tmp_path, cfg)).step <= 1


def test_a_curve_needs_evaluations(tmp_path):
    (tmp_path / "log.jsonl").write_text(json.dumps({"step": 50, "seconds": 1.0, "light_l1": 0.1}) + "\n")
    with pytest.raises(ValueError, match="eval_every"):
        draw_curve(eval_rows(tmp_path / "log.jsonl"), tmp_path / "curve.png")


def test_renderer_priors_are_cached_per_amplitudes(tmp_path, monkeypatch):
    calls = []

    def fake_priors(recipe, log=print):
        calls.append(dict(recipe.amplitudes))
        return {"prior_flow": np.full((2, 2, 4, 4), recipe.amplitudes["happy"], np.float32),
                "normals": np.zeros((3, 4, 4), np.float32)}

    monkeypatch.setattr(run_module, "renderer_priors", fake_priors)
    recipe = run_module.GeneratorRecipe(amplitudes={"happy": 2.0})
    first = run_module.cached_priors(recipe, tmp_path / "priors.npz")
    again = run_module.cached_priors(recipe, tmp_path / "priors.npz")
    assert len(calls) == 1 and np.array_equal(first["prior_flow"], again["prior_flow"])
    assert set(again) == {"prior_flow", "normals"}
    recipe.amplitudes = {"happy": 3.0}
    assert float(run_module.cached_priors(recipe, tmp_path / "priors.npz")["prior_flow"].max()) == 3.0
    assert len(calls) == 2
    recipe.mouthless = ()
    run_module.cached_priors(recipe, tmp_path / "priors.npz")
    assert len(calls) == 2  # the mouthless set is applied after the cache: no new render


def test_mouthless_is_applied_to_a_cache_made_before_it(tmp_path, monkeypatch):
    def fake_priors(recipe, log=print):
        return {"prior_flow": np.zeros((7, 2, 4, 4), np.float32), "prior_mouth": np.ones((7, 2, 8, 8), np.float32),
                "normals": np.zeros((3, 4, 4), np.float32)}

    monkeypatch.setattr(run_module, "renderer_priors", fake_priors)
    run_module.cached_priors(run_module.GeneratorRecipe(mouthless=()), tmp_path / "priors.npz")
    monkeypatch.setattr(run_module, "renderer_priors", lambda *a, **k: pytest.fail("the cache must serve"))
    mouth = run_module.cached_priors(run_module.GeneratorRecipe(), tmp_path / "priors.npz")["prior_mouth"]
    happy = run_module.EXPRESSIONS.index("happy")
    assert not mouth[happy].any() and np.delete(mouth, happy, 0).all()


def test_mouthless_expressions_get_no_pasted_mouth(monkeypatch):
    import augmenter.sample.flows as flows

    monkeypatch.setattr(flows, "mean_expression_flow", lambda e, size, n, amplitude: np.ones((2, size, size), np.float32))
    monkeypatch.setattr(flows, "mean_expression_mouth", lambda e, size, amplitude: np.full((2, size, size), 0.5, np.float32))
    monkeypatch.setattr(flows, "mean_face_mask", lambda size: np.ones((size, size), np.float32))
    monkeypatch.setattr(flows, "mean_normal_map", lambda size: np.zeros((3, size, size), np.float32))
    recipe = run_module.GeneratorRecipe(mouthless=("happy", "sad"))
    mouth = run_module.renderer_priors(recipe, work_size=4, log=lambda *_: None)["prior_mouth"]
    kept = [i for i, e in enumerate(run_module.EXPRESSIONS) if e not in ("happy", "sad")]
    assert mouth.shape == (len(run_module.EXPRESSIONS), 2, 8, 8)
    assert not mouth[run_module.EXPRESSIONS.index("happy")].any() and not mouth[run_module.EXPRESSIONS.index("sad")].any()
    assert (mouth[kept] == 0.5).all()
    assert "no pasted mouth for happy, sad" in run_module.provenance(recipe)


def test_provenance_names_the_recipes_amplitudes():
    note = run_module.provenance(run_module.GeneratorRecipe(amplitudes={"happy": 2.6, "surprise": 1.6}))
    assert "happy x2.6" in note and "surprise x1.6" in note and "research use only" in note


@pytest.mark.parametrize("shading_prior", [True, False])
def test_lighting_only_training_moves_only_the_lighting_branch(tmp_path, shading_prior):
    cfg = GeneratorTrainConfig(steps=3, batch=2, width=4, save_every=100, shading_prior=shading_prior, lr=1e-2)
    state = load_checkpoint(_train(tmp_path, cfg)).model["generator"]
    assert ("normals" in state) == shading_prior
    assert float(state["lighting.head.weight"].abs().sum()) > 0
    assert float(state["expression.head.weight"].abs().sum()) == 0  # untouched: zero-initialised
    log = [json.loads(line) for line in (tmp_path / "gen" / "log.jsonl").read_text().splitlines()] \
        if (tmp_path / "gen" / "log.jsonl").is_file() else []
    assert all("ce" not in row for row in log)
