"""Training the field generator: lighting from Yale B's paired light series, expression from FER-2013.

Lighting is supervised: a registered photo of a training subject under one light is relit towards
another light of the series, and the loss is the L1 distance to the real photo under that light
(plus a small penalty on the gain's gradient so shading stays smooth where the photos are noisy).
Pairs are augmented the way physics allows (:func:`augment_pair`): mirrored together with the light's
azimuth, and scaled by one common exposure, so 20 subjects under one camera teach shading that does
not depend on which side a face was lit from or how bright the photo is.

Expression has no pairs in real data, so the warp starts from the renderer's exact flows
(:mod:`augmenter.sample.flows`) and the branch learns what real faces need on top: a residual flow, a
little new content and where to put it. Its loss asks a frozen expression teacher
(:mod:`pipelines.default_generator.teacher`, FER-2013 train) for the target class, the frozen default
Q for a natural face (the paper's quality loss, as a hinge at Q's 0.6 line), and keeps the change
small (residual flow, blend mask and content smoothness). A neutral target on a neutral face must
leave it alone.
"""
from __future__ import annotations

import json
import math
import copy
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from augmenter.checkpoint import load_checkpoint, save_checkpoint
from augmenter.nets.fields import FieldGenerator, FieldsConfig
from pipelines.default_generator.data import grey_to_model
from pipelines.default_generator.teacher import to_teacher_input


@dataclass
class GeneratorTrainConfig:
    steps: int = 1000
    batch: int = 16
    lr: float = 1e-3
    image_size: int = 128
    width: int = 24
    q_weight: float = 1.0
    class_weight: float = 0.5
    mask_weight: float = 3.0
    flow_weight: float = 100.0
    smooth_weight: float = 5.0
    save_every: int = 250
    seed: int = 0
    device: str = "cpu"
    minutes: float = 0.0  # stop after this much training time as well (0: steps only)
    eval_every: int = 0  # steps between held-out evaluations (0: none)
    shading_prior: bool = True  # the quotient-image lighting prior (augmenter.nets.fields)
    shading_sees_face: bool = True
    shading_offset: bool = True  # False: gain only (measured in docs/generator.md: cleaner on other cameras, weaker on Yale B)
    residual_log_gain: float = 1.0  # bound of the learned log-gain residual around the prior
    offset_bound: float = 0.5  # bound of the additive offset (augmenter.nets.fields.FieldsConfig)
    offset_on_albedo: bool = False  # the offset scaled by the source's own detail (augmenter.nets.fields.albedo_detail)
    expression: bool = False  # also train the expression residual (the shipped model resets it at export)


def _tv(t: torch.Tensor) -> torch.Tensor:
    return (t[..., 1:, :] - t[..., :-1, :]).abs().mean() + (t[..., :, 1:] - t[..., :, :-1]).abs().mean()


def lighting_loss(g: FieldGenerator, src: torch.Tensor, tgt: torch.Tensor, direction: torch.Tensor,
                  smooth_weight: float) -> tuple[torch.Tensor, dict]:
    """L1 to the real photo under the target light, + smoothness of the log-gain."""
    gain, _ = g.shading_fields(src, direction)
    out = g.relight(src, direction)
    l1 = (out - tgt).abs().mean()
    return l1 + smooth_weight * 0.01 * _tv(gain), {"light_l1": l1.item(), "input_l1": float((src - tgt).abs().mean())}


def augment_pair(src: torch.Tensor, tgt: torch.Tensor, direction: torch.Tensor, rng: np.random.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A lighting pair ``(B, 3, S, S)`` in [-1, 1] with its target ``direction`` ``(B, 3)``: half the rows
    mirrored together with the light (``x`` negated), each row scaled by one exposure in [0.7, 1.3] in
    [0, 1] space (source and target alike, as a camera's exposure scales both), capped so no pixel of
    the pair saturates: a clipped target would teach the generator that blowing a face out is right
    (a first version without the cap did, on FER faces; see the README)."""
    flip = torch.from_numpy(rng.random(len(src)) < 0.5)
    src = torch.where(flip[:, None, None, None], src.flip(3), src)
    tgt = torch.where(flip[:, None, None, None], tgt.flip(3), tgt)
    direction = torch.where(flip[:, None], direction * torch.tensor([-1.0, 1.0, 1.0]), direction)
    peak = ((torch.maximum(src, tgt).flatten(1).amax(1) + 1) / 2).clamp_min(1e-3)
    gain = torch.minimum(torch.from_numpy(rng.uniform(0.7, 1.3, len(src))).float(), 1 / peak)[:, None, None, None]
    expose = lambda t: (((t + 1) / 2) * gain).clamp(0, 1) * 2 - 1  # noqa: E731
    return expose(src), expose(tgt), direction


def expression_loss(g: FieldGenerator, x: torch.Tensor, label: torch.Tensor, target: torch.Tensor, teacher,
                    q_net, cfg: GeneratorTrainConfig, n_expression: int, neutral: int) -> tuple[torch.Tensor, dict]:
    """Teacher cross-entropy for ``target`` + Q hinge + small-change penalties."""
    c_e = F.one_hot(target, n_expression).float()
    flow, content, mask = g.expression_fields(x, c_e)
    prior = torch.einsum("be,ecxy->bcxy", c_e, g.prior_flow)
    out = g.express(x, c_e)
    logits = teacher(to_teacher_input(out))
    ce = F.cross_entropy(logits, target)
    q = q_net(F.interpolate(out, size=(q_net.config.image_size,) * 2, mode="bilinear", align_corners=False)) / 10
    q_hinge = F.relu(0.6 - q).mean()
    keep = (target == neutral) & (label == neutral)
    keep_l1 = (out - x).abs().mean((1, 2, 3))[keep].mean() if keep.any() else out.sum() * 0
    loss = (cfg.class_weight * ce + cfg.q_weight * q_hinge + cfg.mask_weight * mask.mean()
            + cfg.flow_weight * ((flow - prior) ** 2).mean() + cfg.smooth_weight * 0.01 * (_tv(flow) + _tv(content))
            + keep_l1)
    hit = (logits.argmax(1) == target).float().mean()
    return loss, {"ce": ce.item(), "teacher_hit": hit.item(), "q": q.mean().item(), "mask": mask.mean().item(),
                  "keep_l1": keep_l1.item()}


def train_generator(cfg: GeneratorTrainConfig, out: Path, light: dict, fer: dict, priors: dict,
                    lighting_names: list[str], lighting_dirs: np.ndarray, expression_names: list[str], teacher=None,
                    q_net=None, log=print, evaluate: Callable[[FieldGenerator], dict] | None = None) -> Path:
    """Train and save ``out/last.pt`` (resumed when present); returns its path.

    Stops at ``cfg.steps`` or after ``cfg.minutes`` of training, whichever comes first. Every
    ``cfg.eval_every`` steps ``evaluate`` gets a CPU copy of the EMA generator and its figures are
    logged to ``out/log.jsonl`` with the step and the training seconds (the training curve).

    ``light``: ``images`` (N, S, S) uint8, ``subject`` (N,), ``direction`` (N, 3) of the training subjects.
    ``fer``: ``images`` (M, S, S) uint8 and ``labels`` (M,) indices into ``expression_names``.
    ``priors``: arrays for the generator's buffers of those names (``prior_flow`` required; ``prior_mouth``,
    ``face_mask`` and ``normals`` optional), as :func:`pipelines.default_generator.run.renderer_priors`
    makes them. ``teacher`` and ``q_net`` (frozen) are only used with ``cfg.expression``; without it, only
    the lighting branch trains: the shipped model's
    expressions are the renderer's priors alone (:func:`pipelines.default_generator.run.export`).
    """
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gcfg, g, ema = _new_generators(cfg, priors, lighting_dirs, len(lighting_names), len(expression_names))
    device = torch.device(cfg.device)
    g, ema = g.to(device), ema.to(device)
    if cfg.expression:
        teacher, q_net = teacher.to(device), q_net.to(device)
        for p in list(teacher.parameters()) + list(q_net.parameters()):
            p.requires_grad_(False)
    opt = torch.optim.Adam(g.parameters(), cfg.lr, betas=(0.5, 0.99))
    last = out / "last.pt"
    step = _resume(last, g, ema, opt, device, log)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))

    subjects = light["subject"]
    by_subject = {s: np.flatnonzero(subjects == s) for s in np.unique(subjects)}
    frontal = light["direction"][:, 2] > math.cos(math.radians(40))  # within 40 degrees of the camera axis
    neutral = expression_names.index("neutral")

    def save() -> None:
        _save(last, g, ema, opt, step, gcfg, cfg, lighting_names, expression_names)

    start, history = time.time(), []
    try:
        while step < cfg.steps and not (cfg.minutes and time.time() - start > 60 * cfg.minutes):
            src, tgt, direction = _lighting_pairs(light, frontal, by_subject, cfg.batch, rng)
            l_loss, l_stats = lighting_loss(g, src.to(device), tgt.to(device), direction.to(device), cfg.smooth_weight)
            loss, e_stats = l_loss, {}
            if cfg.expression:
                x, label, target = _expression_batch(fer, len(expression_names), cfg.batch, rng)
                e_loss, e_stats = expression_loss(g, x.to(device), label.to(device), target.to(device), teacher, q_net,
                                                  cfg, len(expression_names), neutral)
                loss = loss + e_loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            _update_ema(ema, g)
            history.append({**l_stats, **e_stats})
            if step % 50 == 0:
                mean = {k: round(float(np.mean([h[k] for h in history])), 4) for k in history[0]}
                history = []
                _log_line(out, {"step": step, "seconds": round(time.time() - start, 1), **mean}, log)
            if evaluate is not None and cfg.eval_every and step % cfg.eval_every == 0:
                figures = evaluate(copy.deepcopy(ema).cpu().eval())
                _log_line(out, {"step": step, "seconds": round(time.time() - start, 1), "eval": figures}, log)
            if step % cfg.save_every == 0:
                save()
    finally:
        save()
    return last


def _new_generators(cfg: GeneratorTrainConfig, priors: dict, lighting_dirs: np.ndarray, n_lighting: int,
                    n_expression: int) -> tuple[FieldsConfig, FieldGenerator, FieldGenerator]:
    """``(config, generator, its EMA copy)``: a fresh generator with the light directions ``(L, 3)`` and
    the renderer's ``priors`` loaded into its buffers, and an identical EMA twin."""
    gcfg = FieldsConfig(n_lighting=n_lighting, n_expression=n_expression, width=cfg.width,
                        shading_prior=cfg.shading_prior, shading_sees_face=cfg.shading_sees_face,
                        shading_offset=cfg.shading_offset, residual_log_gain=cfg.residual_log_gain,
                        offset_bound=cfg.offset_bound, offset_on_albedo=cfg.offset_on_albedo)
    g = FieldGenerator(gcfg)
    buffers = dict(g.named_buffers())
    with torch.no_grad():
        g.directions.copy_(torch.from_numpy(lighting_dirs).float())
        for name, value in priors.items():
            if name in buffers:  # the normals only exist with the shading prior
                buffers[name].copy_(torch.from_numpy(np.asarray(value)).float())
    ema = FieldGenerator(gcfg)
    ema.load_state_dict(g.state_dict())
    return gcfg, g, ema


def _resume(last: Path, g: FieldGenerator, ema: FieldGenerator, opt: torch.optim.Optimizer, device: torch.device,
            log) -> int:
    """Load the generator, EMA and optimizer state of ``last`` when it exists; returns the step to go on from."""
    if not last.is_file():
        return 0
    ckpt = load_checkpoint(last, map_location=device)
    g.load_state_dict(ckpt.model["generator"])
    ema.load_state_dict(ckpt.ema["generator"])
    opt.load_state_dict(ckpt.optimizer["generator"])
    log(f"resumed at step {ckpt.step}")
    return ckpt.step


def _save(last: Path, g: FieldGenerator, ema: FieldGenerator, opt: torch.optim.Optimizer, step: int,
          gcfg: FieldsConfig, cfg: GeneratorTrainConfig, lighting_names: list[str], expression_names: list[str]
          ) -> None:
    """Write the training state to the ``fields`` checkpoint ``last``."""
    save_checkpoint(last, kind="fields", model={"generator": g.state_dict()}, ema={"generator": ema.state_dict()},
                    optimizer={"generator": opt.state_dict()}, step=step,
                    config={"generator": asdict(gcfg), "image_size": cfg.image_size, "train": asdict(cfg)},
                    vocabularies={"lighting": lighting_names, "expression": expression_names})


def _log_line(out: Path, line: dict, log) -> None:
    """Append ``line`` to ``out/log.jsonl`` and log it."""
    with open(out / "log.jsonl", "a") as f:
        f.write(json.dumps(line) + "\n")
    log(json.dumps(line))


def _lighting_pairs(light: dict, frontal: np.ndarray, by_subject: dict, batch: int, rng: np.random.Generator
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``batch`` augmented pairs (:func:`augment_pair`) of one subject's photos: the source mostly
    near-frontal-lit (``frontal``, as users' photos are), the target under any light of the series."""
    subjects = light["subject"]
    src_idx, tgt_idx = [], []
    for _ in range(batch):
        pool = np.flatnonzero(frontal) if rng.random() < 0.6 else np.arange(len(subjects))
        i = int(rng.choice(pool))
        src_idx.append(i)
        tgt_idx.append(int(rng.choice(by_subject[subjects[i]])))
    return augment_pair(grey_to_model(light["images"][src_idx]), grey_to_model(light["images"][tgt_idx]),
                        torch.from_numpy(light["direction"][tgt_idx]).float(), rng)


def _expression_batch(fer: dict, n_expression: int, batch: int, rng: np.random.Generator
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(faces, labels, targets)``: ``batch`` FER faces in [-1, 1] (all mirrored or none), their labels
    and a target class each, drawn uniformly (a third of neutral faces kept neutral)."""
    idx = rng.integers(0, len(fer["labels"]), batch)
    x = grey_to_model(fer["images"][idx])
    if rng.random() < 0.5:
        x = x.flip(3)
    target = torch.from_numpy(rng.integers(0, n_expression, batch))
    return x, torch.from_numpy(fer["labels"][idx]), target


@torch.no_grad()
def _update_ema(ema: FieldGenerator, g: FieldGenerator) -> None:
    """Move the EMA generator's weights 1% of the way towards the trained one's."""
    for pe, p in zip(ema.parameters(), g.parameters()):
        pe.lerp_(p, 0.01)
