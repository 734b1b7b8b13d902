"""Re-saving the field generator with new emotion priors touches those priors and nothing else."""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from augmenter.checkpoint import load_checkpoint, save_checkpoint
from augmenter.nets.fields import FieldGenerator, FieldsConfig
from pipelines.default_generator import emotion_recipes

EXPRESSIONS = ["neutral", "happy", "surprise", "disgust", "fear", "anger", "sad"]


def _fake_priors(recipes, work_size, flow_identities=8):
    return {e: (np.full((2, work_size, work_size), 0.01 * (i + 1), np.float32),
                np.full((2, 2 * work_size, 2 * work_size), 0.1 * (i + 1), np.float32))
            for i, e in enumerate(recipes)}


def _asset(tmp_path):
    config = FieldsConfig(n_lighting=1, n_expression=len(EXPRESSIONS), width=8, work_size=16)
    g = FieldGenerator(config)
    with torch.no_grad():
        g.prior_flow.copy_(torch.randn(g.prior_flow.shape, generator=torch.Generator().manual_seed(0)))
    state = {k: v.half() if v.is_floating_point() else v for k, v in g.state_dict().items()}
    note = "field generator: expression = the renderer's flows (happy x2.6; learned residual reset); research use only"
    return save_checkpoint(tmp_path / "fields.pt", kind="fields", model={"generator": state}, step=7,
                           config={"generator": dataclasses.asdict(config), "image_size": 64},
                           vocabularies={"lighting": ["az+000_el+00"], "expression": EXPRESSIONS},
                           extra={"provenance": note})


def test_refresh_rewrites_the_changed_priors_only(tmp_path, monkeypatch):
    monkeypatch.setattr(emotion_recipes, "emotion_priors", _fake_priors)
    path = _asset(tmp_path)
    before = load_checkpoint(path)
    emotion_recipes.refresh(path)
    after = load_checkpoint(path)
    old, new = before.model["generator"], after.model["generator"]
    assert set(old) == set(new) and after.step == 7 and after.config == before.config
    for k in old:
        if k not in ("prior_flow", "prior_mouth"):
            assert torch.equal(old[k], new[k]), k
    assert new["prior_flow"].dtype == torch.float16
    changed = [EXPRESSIONS.index(e) for e in emotion_recipes.CHANGED]
    for k in range(len(EXPRESSIONS)):
        if k in changed:
            assert not torch.equal(old["prior_flow"][k], new["prior_flow"][k])
            assert torch.all(new["prior_mouth"][k] > 0)
        else:
            assert torch.equal(old["prior_flow"][k], new["prior_flow"][k])
            assert torch.equal(old["prior_mouth"][k], new["prior_mouth"][k])
    note = after.extra["provenance"]
    assert "facial actions" in note and note.endswith("research use only")
    emotion_recipes.refresh(path)  # a second refresh names the change once
    assert load_checkpoint(path).extra["provenance"].count("facial actions") == 1


def test_with_priors_changes_a_copy(tmp_path, monkeypatch):
    from augmenter.gan.models import load_translator

    path = _asset(tmp_path)
    translator = load_translator(path)
    aug = type("Aug", (), {})()
    aug.translator = translator
    priors = _fake_priors(["sad"], 16)
    copy = emotion_recipes.with_priors(aug, priors)
    k = EXPRESSIONS.index("sad")
    assert torch.allclose(copy.translator.generator.prior_flow[k], torch.full((2, 16, 16), 0.01))
    assert not torch.allclose(translator.generator.prior_flow[k], torch.full((2, 16, 16), 0.01))


def test_judged_counts_calls_and_mean_probability_per_target():
    """A fake judge whose logits favour class 1 on bright faces and class 0 on dark ones."""
    vocabulary = ["neutral", "sad"]

    class Backbone(torch.nn.Module):
        def forward(self, x):
            return x.mean((1, 2, 3))[:, None]

    class Head(torch.nn.Module):
        def forward(self, f):
            return torch.cat([-4 * f, 4 * f], 1)

    judge = (Backbone(), Head(), 16, vocabulary)
    grey = np.concatenate([np.full((3, 32, 32), 250, np.uint8), np.full((1, 32, 32), 5, np.uint8)])
    out = emotion_recipes.judged({"fake": judge}, grey, ["sad", "neutral"], batch=3)
    assert out["sad"]["fake"]["called"] == 0.75 and out["neutral"]["fake"]["called"] == 0.25
    assert abs(out["sad"]["fake"]["p_target"] + out["neutral"]["fake"]["p_target"] - 1.0) < 1e-6
    assert 0.7 < out["sad"]["fake"]["p_target"] <= 0.75
