"""One trainer for LEGAN and the StarGAN baseline, each with or without Q, unpaired or paired.

Per step (``n_critic`` discriminator updates per generator update, WGAN-GP):

- D: ``E[D(fake)] - E[D(real)] + w_gp * GP + w_cls * CE(D_cls(real), source labels)``;
- G: ``-E[D(fake)] + w_cls * CE(D_cls(fake), targets) + w_cycle * |G(fake, source) - x|_1
  + w_id * (1 - cos(E(x), E(fake))) + w_q * (Qloss(fake) + Qloss(G(fake, source)))
  + w_paired * |fake - true image under the targets|_1``.

Labels are class indices with -1 for "not labelled"; such an attribute's losses are masked out and its
target is "keep" (an all-zero vector): StarGAN's mask-vector training on datasets that label one
attribute each (Yale B lighting, FER-2013 expression). Targets are drawn uniformly over the
vocabulary; each attribute is instead kept as it is with probability ``keep_probability`` so the
generator also learns single-attribute edits. Half of the kept attributes (``blank_keep``) are shown to
G as the all-zero "keep" vector rather than the source class: translation, the grids, evaluation and
``augment expand`` ask for "keep" that way (a photo's own lighting is usually unknown), so G must learn
it even on data that labels everything; the losses still ask for the source class.

Default weights and why: adversarial 1, gradient penalty 10, classification 1 and cycle 10 are
StarGAN's published values (the paper builds LEGAN on them); identity 1 puts ``1 - cos`` (in [0, 2])
on the scale of the classification term; quality 1 likewise (the Q loss is in [0, 1]); paired 0 for
paper-faithful runs (the demo model uses 10, the cycle weight, since both are pixel L1 terms).

The tear check in the quality loss (``tear_check``): its seam network and its bound (an output earns nothing
above its source's rating + the margin) train the generator; its hand rules (softer than the photo, colour on a
grey photo, light from black, new light without texture; :mod:`augmenter.quality.source_rules`) only judge, as
in ``augment expand``, unless ``rules_in_loss``. Why: a threshold rule in the loss is learned up to its threshold.
A 128 px generator trained with the rules in its loss painted vertical streaks over Yale B's shadowed sides that
hold "texture in new light" just above where it starts charging (64.7% of its outputs passed); trained without
them, its light damage (ghost frames from the black padding, glows, a brown cast on grey photos) is what the rules
exist to turn away, and what passes (46.7% and 13.0% over two seeds) are near-copies (docs/quality.md, "Rules judge,
they do not train").

Determinism and resuming: the batch, the targets and the gradient-penalty mixing of step ``t`` come
from a generator seeded by ``(seed, t)``, so a run resumed from ``last.pt`` continues exactly as an
uninterrupted one. Outputs in ``out``: ``config.json``, ``losses.csv`` (every ``log_every`` steps),
``evals.csv`` (held-out figures every ``eval_every`` steps when an attribute classifier is given),
``samples/step_XXXXXX.png`` grids, ``last.pt`` (weights, EMA generator, optimizers, schedulers, step).
"""
from __future__ import annotations

import contextlib
import copy
import csv
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from augmenter.atomic import atomic_path
from augmenter.datasets.record import EVAL_SPLITS
from augmenter.datasets.spec import read_specs, split_held_out
from augmenter.gan.bank import build_bank, vocabularies_of
from augmenter.tensors import resize_square, to_model_input
from augmenter.gan.models import ARCHS, build_discriminator, build_generator, generator_config, one_hot
from augmenter.losses import (gradient_penalty, identity_loss, l1_loss, masked_cross_entropy, quality_loss, tear_loss,
                              wgan_critic_loss, wgan_generator_loss)
from augmenter.device import resolve_device
from augmenter.quality.tear_check import check_penalty, source_margin
from augmenter.skips import SkipReport
from augmenter.training_run import TrainingRun

_RESUMABLE_CHANGES = {"steps", "minutes", "workers", "device", "log_every", "grid_every", "eval_every",
                      "checkpoint_every", "attr"}


@dataclass
class LossWeights:
    adversarial: float = 1.0
    gradient_penalty: float = 10.0
    classification: float = 1.0
    cycle: float = 10.0
    identity: float = 1.0
    quality: float = 1.0
    paired: float = 0.0


@dataclass
class GanTrainConfig:
    """Everything a GAN run depends on; saved as ``config.json`` and in every checkpoint."""

    data: list[str]
    out: str
    arch: str = "legan"
    image_size: int = 64
    g_width: int = 24
    d_width: int = 32
    steps: int = 20_000
    minutes: float | None = None
    batch_size: int = 16
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 1
    decay_start: float = 0.5
    ema_decay: float = 0.999
    keep_probability: float = 1 / 3
    blank_keep: float = 0.5
    weights: LossWeights = field(default_factory=LossWeights)
    q: str | None = None
    tear_check: str | None = None   # with q: the quality loss also charges torn outputs (augmenter.quality.tear_check)
    rules_in_loss: bool = False     # with tear_check: its hand rules charge in the loss too (why not: docstring)
    identity_net: str | None = None
    attr: str | None = None
    holdout: float = 0.2
    seed: int = 0
    log_every: int = 25
    grid_every: int = 500
    eval_every: int = 500
    checkpoint_every: int = 250
    device: str = "auto"
    workers: int = 2
    amp: bool = True  # bfloat16 autocast on CUDA (no effect on the CPU)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:  # the message build_generator gives (train-legan --arch is a click.Choice)
            raise ValueError(f"unknown architecture {self.arch!r}; expected one of {', '.join(ARCHS)}")


@dataclass
class GanTrainResult:
    steps_done: int
    wall_s: float
    out: Path
    last_eval: dict
    skips: SkipReport
    notes: list[str]

    def describe(self) -> str:
        lines = [f"{self.steps_done} step(s), {self.wall_s / 60:.1f} min; checkpoint {self.out / 'last.pt'}"]
        if self.last_eval:
            lines.append("held-out: " + ", ".join(f"{k} {v:.3f}" for k, v in self.last_eval.items()
                                                   if isinstance(v, float)))
        lines += self.notes
        if self.skips.total:
            lines.append(self.skips.summary())
        return "\n".join(lines)


class _CsvLog:
    def __init__(self, path: Path, columns: list[str]):
        self.path, self.columns = path, columns

    def truncate_after(self, step: int) -> None:
        """Drop rows logged after ``step`` (a run killed between checkpoints redoes those steps)."""
        if not self.path.exists():
            return
        with open(self.path, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, self.columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    def write(self, row: dict) -> None:
        new = not self.path.exists()
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, self.columns, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def sample_targets(source: torch.Tensor, n: int, keep_probability: float, gen: torch.Generator,
                   blank_keep: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ``(target, condition)`` per row; -1 means "not labelled" / "keep".

    ``target`` (what the losses ask for): uniform over ``n`` classes, the source with ``keep_probability``,
    -1 where the source is -1. ``condition`` (what G is told): the target, except that a kept row becomes -1
    (the all-zero "keep" vector) with probability ``blank_keep``.
    """
    unlabelled = torch.full_like(source, -1)
    target = torch.randint(n, source.shape, generator=gen)
    keep = torch.rand(source.shape, generator=gen) < keep_probability
    blank = keep & (torch.rand(source.shape, generator=gen) < blank_keep)
    target = torch.where(source >= 0, torch.where(keep, source, target), unlabelled)
    return target, torch.where(blank, unlabelled, target)


def _read_data(config: GanTrainConfig, log: Callable[[str], None]):
    """``(training bank, held-out bank or None, lighting names, expression names, skips)``."""
    records, skips = read_specs(config.data)
    # A dataset's own validation/test split is never trained on (held out with the held-out identities),
    # so a LEGAN trained here can synthesize for a classifier evaluated on that split without leakage.
    train_records, held_records = split_held_out([r for r in records if r.split not in EVAL_SPLITS], config.holdout)
    held_records += [r for r in records if r.split in EVAL_SPLITS]
    lighting_names, expression_names = vocabularies_of(records)
    n_l, n_e = len(lighting_names), len(expression_names)
    if not n_l or not n_e:
        raise ValueError("the data must label lighting in some images and expression in some images "
                         f"(found lighting {lighting_names or 'none'}, expression {expression_names or 'none'})")
    log(f"data: {len(train_records)} training and {len(held_records)} held-out images; "
        f"{n_l} lighting and {n_e} expression classes")
    bank = build_bank(train_records, config.image_size, lighting_names, expression_names, workers=config.workers)
    skips.merge(bank.skips)
    held = build_bank(held_records, config.image_size, lighting_names, expression_names,
                      workers=config.workers) if held_records else None
    return bank, held, lighting_names, expression_names, skips


@dataclass
class GanNets:
    """The networks, optimizers and schedulers of a run, and the frozen networks its losses use."""

    G: torch.nn.Module
    D: torch.nn.Module
    G_ema: torch.nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    sched_g: torch.optim.lr_scheduler.LRScheduler
    sched_d: torch.optim.lr_scheduler.LRScheduler
    embedder: torch.nn.Module | None = None
    q_net: torch.nn.Module | None = None
    tear_check: torch.nn.Module | None = None
    rules_in_loss: bool = False

    def states(self) -> dict:
        """The states a checkpoint holds, by checkpoint field and name (the keys of existing checkpoints)."""
        return dict(model={"generator": self.G, "discriminator": self.D}, ema={"generator": self.G_ema},
                    optimizer={"generator": self.opt_g, "discriminator": self.opt_d},
                    scheduler={"generator": self.sched_g, "discriminator": self.sched_d})


def _build_nets(config: GanTrainConfig, n_l: int, n_e: int, device: torch.device, notes: list[str],
                log: Callable[[str], None]) -> GanNets:
    G = build_generator(config.arch, n_l, n_e, config.g_width).to(device)
    D = build_discriminator(config.image_size, n_l, n_e, config.d_width).to(device)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), config.lr_g, betas=(config.beta1, config.beta2))
    opt_d = torch.optim.Adam(D.parameters(), config.lr_d, betas=(config.beta1, config.beta2))
    decay_from = int(config.steps * config.decay_start)

    def lr_factor(step: int) -> float:  # constant, then linear decay to 0 over the last part
        return 1.0 if step < decay_from else max(0.0, (config.steps - step) / max(1, config.steps - decay_from))

    nets = GanNets(G, D, G_ema, opt_g, opt_d, torch.optim.lr_scheduler.LambdaLR(opt_g, lr_factor),
                   torch.optim.lr_scheduler.LambdaLR(opt_d, lr_factor))
    if config.weights.identity > 0:
        from augmenter.identity import load_identity_net

        nets.embedder = load_identity_net(config.identity_net)
        if nets.embedder is None:
            notes.append("identity loss off: no --identity-net given")
            log(notes[-1])
        else:
            nets.embedder = nets.embedder.to(device)
    if config.q and config.weights.quality > 0:
        from augmenter.quality.model import load_q

        nets.q_net, _ = load_q(config.q, device)
        nets.q_net.requires_grad_(False)
        if config.tear_check:
            from augmenter.quality.tear_check import load_tear_check

            nets.tear_check, _ = load_tear_check(None if config.tear_check == "default" else config.tear_check, device)
            if nets.tear_check is not None:
                nets.tear_check.requires_grad_(False)
            nets.rules_in_loss = config.rules_in_loss
    return nets


@dataclass
class GanBatch:
    """One step's batch: images, source labels, targets (class indices, -1 = keep / not labelled), the
    conditions G is given and the source classes as one-hot vectors, the gradient-penalty mixing."""

    rows: torch.Tensor
    x: torch.Tensor
    src_l: torch.Tensor
    src_e: torch.Tensor
    tgt_l: torch.Tensor
    tgt_e: torch.Tensor
    c_l: torch.Tensor
    c_e: torch.Tensor
    s_l: torch.Tensor
    s_e: torch.Tensor
    mix: torch.Tensor


def draw_batch(bank, config: GanTrainConfig, step: int, device: torch.device) -> GanBatch:
    """Step ``step``'s batch, targets and mixing, from a generator seeded by ``(seed, step)``."""
    n_l, n_e = len(bank.lighting_names), len(bank.expression_names)
    gen = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
    rows = bank.draw(config.batch_size, gen)
    x = to_model_input(bank.images[rows], device)
    src_l, src_e = bank.lighting[rows], bank.expression[rows]
    tgt_l, cond_l = sample_targets(src_l, n_l, config.keep_probability, gen, config.blank_keep)
    tgt_e, cond_e = sample_targets(src_e, n_e, config.keep_probability, gen, config.blank_keep)
    mix = torch.rand(config.batch_size, 1, 1, 1, generator=gen).to(device)
    c_l, c_e = one_hot(cond_l, n_l).to(device), one_hot(cond_e, n_e).to(device)
    s_l, s_e = one_hot(src_l, n_l).to(device), one_hot(src_e, n_e).to(device)
    src_l, src_e, tgt_l, tgt_e = (t.to(device) for t in (src_l, src_e, tgt_l, tgt_e))
    return GanBatch(rows, x, src_l, src_e, tgt_l, tgt_e, c_l, c_e, s_l, s_e, mix)


def discriminator_step(nets: GanNets, batch: GanBatch, w: LossWeights,
                       autocast=contextlib.nullcontext()) -> tuple[torch.Tensor, dict[str, float]]:
    """D's loss on ``batch`` (adversarial, gradient penalty, classification of real images) and its terms."""
    with autocast:
        real_score, real_l, real_e = nets.D(batch.x)
        with torch.no_grad():
            fake = nets.G(batch.x, batch.c_l, batch.c_e)
        fake_score = nets.D(fake)[0]
        points = (batch.mix * batch.x + (1 - batch.mix) * fake.float()).requires_grad_(True)
        d_adv = wgan_critic_loss(real_score.float(), fake_score.float())
        d_gp = gradient_penalty(nets.D(points)[0].float(), points)
        d_cls = (masked_cross_entropy(real_l.float(), batch.src_l)
                 + masked_cross_entropy(real_e.float(), batch.src_e))
        d_loss = w.adversarial * d_adv + w.gradient_penalty * d_gp + w.classification * d_cls
    return d_loss, {"d_adv": d_adv.item(), "d_gp": d_gp.item(), "d_cls": d_cls.item()}


def generator_step(nets: GanNets, batch: GanBatch, w: LossWeights, bank=None,
                   autocast=contextlib.nullcontext()) -> tuple[torch.Tensor, dict[str, float]]:
    """G's loss on ``batch`` (adversarial, classification, cycle; identity, quality and paired when on)
    and its terms; ``bank`` finds the paired true images (``w.paired > 0``)."""
    with autocast:
        fake = nets.G(batch.x, batch.c_l, batch.c_e)
        score, fake_l, fake_e = nets.D(fake)
        g_adv = wgan_generator_loss(score)
        g_cls = masked_cross_entropy(fake_l, batch.tgt_l) + masked_cross_entropy(fake_e, batch.tgt_e)
        rebuilt = nets.G(fake, batch.s_l, batch.s_e)
        g_cycle = l1_loss(rebuilt, batch.x)
        g_loss = w.adversarial * g_adv + w.classification * g_cls + w.cycle * g_cycle
        stats = {"g_adv": g_adv.item(), "g_cls": g_cls.item(), "g_cycle": g_cycle.item()}
        if nets.embedder is not None:
            g_id = identity_loss(nets.embedder(batch.x), nets.embedder(fake))
            g_loss = g_loss + w.identity * g_id
            stats["g_identity"] = g_id.item()
        if nets.q_net is not None:
            ceiling = _rating_ceiling(nets.q_net, nets.tear_check, batch.x)
            g_q = _q_loss(nets.q_net, fake, ceiling) + _q_loss(nets.q_net, rebuilt, ceiling)
            if nets.tear_check is not None:
                g_tear = (_tear_loss(nets.tear_check, batch.x, fake, nets.rules_in_loss)
                          + _tear_loss(nets.tear_check, batch.x, rebuilt, nets.rules_in_loss))
                g_q = g_q + g_tear
                stats["g_tear"] = g_tear.item()
            g_loss = g_loss + w.quality * g_q
            stats["g_quality"] = g_q.item()
        if w.paired > 0:
            pairs = bank.paired_rows(batch.rows, batch.tgt_l.cpu(), batch.tgt_e.cpu())
            has = (pairs >= 0).float().to(batch.x.device)
            truth = to_model_input(bank.images[pairs.clamp(min=0)], batch.x.device)
            g_paired = l1_loss(fake, truth, has)
            g_loss = g_loss + w.paired * g_paired
            stats["g_paired"] = g_paired.item()
    return g_loss, stats


def _q_loss(q_net: torch.nn.Module, images: torch.Tensor, ceiling: torch.Tensor | None = None) -> torch.Tensor:
    return quality_loss(q_net(resize_square(images, q_net.config.image_size)), ceiling=ceiling)


def _rating_ceiling(q_net: torch.nn.Module, check, sources: torch.Tensor) -> torch.Tensor | None:
    """Q's rating of each source plus the check's margin (ratings), or ``None`` without a bounded check: the most
    an output of that source earns in the quality loss, as the check scores it."""
    margin = source_margin(check)
    if margin is None:
        return None
    with torch.no_grad():
        return q_net(resize_square(sources, q_net.config.image_size)) + 10 * margin


def _tear_loss(check: torch.nn.Module, sources: torch.Tensor, images: torch.Tensor, rules: bool) -> torch.Tensor:
    return tear_loss(check_penalty(check, sources, images, rules))


def _update(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for p_ema, p in zip(ema.parameters(), model.parameters()):
        p_ema.lerp_(p, 1 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers()):
        b_ema.copy_(b)


def train_step(nets: GanNets, batch: GanBatch, bank, config: GanTrainConfig, step: int,
               autocast=contextlib.nullcontext()) -> dict[str, float]:
    """One D update, then (every ``n_critic`` steps) one G update and its EMA; returns the logged terms."""
    d_loss, stats = discriminator_step(nets, batch, config.weights, autocast)
    _update(nets.opt_d, d_loss)
    if step % config.n_critic == 0:
        g_loss, g_stats = generator_step(nets, batch, config.weights, bank, autocast)
        stats.update(g_stats)
        _update(nets.opt_g, g_loss)
        # EMA with the usual warm-up, so short CPU runs are not judged on a lagging average
        update_ema(nets.G_ema, nets.G, min(config.ema_decay, (1 + step) / (10 + step)))
    nets.sched_g.step()
    nets.sched_d.step()
    return stats


class _Outputs:
    """``losses.csv``, ``evals.csv`` (with an attribute classifier and held-out images) and sample grids."""

    def __init__(self, config: GanTrainConfig, out: Path, bank, held, q_net, device: torch.device, step: int):
        from augmenter.gan.evaluate import EvalSet

        self.config, self.out, self.q_net, self.bank = config, out, q_net, bank
        self.losses = _CsvLog(out / "losses.csv", ["step", "minutes", "lr", "d_adv", "d_gp", "d_cls", "g_adv",
                                                   "g_cls", "g_cycle", "g_identity", "g_quality", "g_paired"])
        self.eval_set = self.attr = self.evals = None
        if config.attr and held is not None:
            from augmenter.classify.model import load_attribute_classifier

            self.attr = load_attribute_classifier(config.attr, device)
            self.eval_set = EvalSet.build(held, bank, max_inputs=24, seed=config.seed)
            self.evals = _CsvLog(out / "evals.csv", ["step", "minutes", *EvalSet.COLUMNS])
        for table in (self.losses, *([self.evals] if self.eval_set is not None else [])):
            table.truncate_after(step)
        self.grid_inputs = (held if held is not None and len(held) else bank).images[:6]
        self.last_eval: dict = {}

    def after_step(self, step: int, minutes: float, lr: float, stats: dict, G_ema: torch.nn.Module) -> None:
        from augmenter.gan.evaluate import evaluate_generator
        from augmenter.gan.grid import sample_grid

        config = self.config
        if step % config.log_every == 0:
            self.losses.write({"step": step, "minutes": minutes, "lr": lr, **stats})
        if step % config.grid_every == 0 or step == config.steps:
            sample_grid(G_ema, self.grid_inputs, self.bank.lighting_names, self.bank.expression_names,
                        self.out / "samples" / f"step_{step:06d}.png")
        if self.eval_set is not None and (step % config.eval_every == 0 or step == config.steps):
            self.last_eval = evaluate_generator(G_ema, self.eval_set, self.attr, q_net=self.q_net)
            self.evals.write({"step": step, "minutes": minutes, **self.last_eval})


def train_gan(config: GanTrainConfig, progress: Callable[[dict], None] | None = None,
              log: Callable[[str], None] = print) -> GanTrainResult:
    """Train or resume a LEGAN / StarGAN run; ``progress`` gets the step's losses after every step."""
    start = time.perf_counter()
    out = Path(config.out)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    notes: list[str] = []
    bank, held, lighting_names, expression_names, skips = _read_data(config, log)
    nets = _build_nets(config, len(lighting_names), len(expression_names), device, notes, log)
    run = TrainingRun(out, kind=config.arch, train_config=asdict(config), resumable=_RESUMABLE_CHANGES,
                      checkpoint_config={"arch": config.arch, "image_size": config.image_size,
                                         "generator": generator_config(nets.G),
                                         "discriminator": asdict(nets.D.config), "train": asdict(config)},
                      vocabularies={"lighting": lighting_names, "expression": expression_names},
                      extra=lambda: {"wall_s": run.elapsed()}, skips=skips, started=start)
    run.register(**nets.states())
    ckpt = run.resume(device)
    if ckpt is not None:
        run.started -= float(ckpt.extra.get("wall_s", 0.0))
        log(f"resumed from {run.last_path} at step {run.step}")
    run.write_config()
    outputs = _Outputs(config, out, bank, held, nets.q_net, device, run.step)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" and config.amp
                else contextlib.nullcontext())
    with run.interruptible() as stop:  # Ctrl-C takes effect between steps
        while run.step < config.steps:
            if stop.requested:
                raise KeyboardInterrupt
            if config.minutes is not None and run.elapsed() > 60 * config.minutes:
                notes.append(f"stopped at the {config.minutes:g}-minute budget")
                break
            stats = train_step(nets, draw_batch(bank, config, run.step, device), bank, config, run.step, autocast)
            run.step += 1
            outputs.after_step(run.step, run.elapsed() / 60, nets.sched_g.get_last_lr()[0], stats, nets.G_ema)
            if run.step % config.checkpoint_every == 0:
                run.save_last()
            if progress:  # last, so an exception it raises leaves a finished step behind
                progress({"step": run.step, **stats})
    run.save_last()
    return GanTrainResult(run.step, run.elapsed(), out, outputs.last_eval, skips, notes)
