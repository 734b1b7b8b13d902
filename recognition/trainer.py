"""The training loop shared by ``train-verifier`` and ``train-expression``: backbone + head on labelled
samples, seeded, resumable to the step, DistributedDataParallel under ``torchrun``.

Per epoch ``e`` the draw order is a function of ``(seed, e)`` only: a permutation of the samples, or,
when sampling weights are given (synthetic ratio, class-balanced sampler), ``len(samples)`` draws with
replacement from them. Augmentation is seeded per ``(seed, e, sample)``. A run killed or interrupted
(Ctrl-C saves at the next step) resumes from ``last.pt`` at the exact batch where it stopped, so its
losses match an uninterrupted run's (tested on the CPU).

LR: linear warm-up over the first ``warmup`` share of the steps, then cosine decay to 0. Optimizers:
``sgd`` (momentum 0.9, the ArcFace/CosFace recipe, lr 0.1) or ``adamw`` (lr 1e-3, small CPU runs).
Under ``torchrun`` each rank takes every ``world``-th batch of the epoch's order, gradients are
averaged by DDP (gloo on the CPU, NCCL on GPUs) and rank 0 validates and writes the checkpoints.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from augmenter.errors import FileError
from augmenter.tensors import to_model_input
from augmenter.device import resolve_device, torchrun_env
from augmenter.skips import SkipReport
from augmenter.training_run import TrainingRun
from recognition.data import FaceSamples, Sample, collate_samples

RESUMABLE = {"workers", "device", "checkpoint_every"}  # settings that do not change the result
OPTIMIZERS = ("sgd", "adamw")


def check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    """``ValueError("unknown <what> 'x'; expected one of a, b")`` unless ``value`` is one of ``choices``: the
    check of a config field that the command line offers as a ``click.Choice``."""
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(choices)}")


@dataclass
class TrainSetup:
    """What the loop needs besides the networks (built by the verifier / expression front ends)."""

    kind: str                                 # checkpoint kind: "verifier" or "expression"
    out: Path
    config: dict                              # the front end's full config (saved everywhere)
    backbone_config: dict
    samples: list[Sample]
    vocabularies: dict[str, list[str]]
    epochs: int
    batch_size: int
    lr: float
    optimizer: str = "sgd"
    weight_decay: float = 5e-4
    warmup: float = 0.05
    image_size: int = 112
    shift: int = 0
    seed: int = 0
    workers: int = 2
    device: str = "auto"
    checkpoint_every: int = 200
    sample_weights: np.ndarray | None = None
    loss_weights: torch.Tensor | None = None  # per-class cross-entropy weights
    select: str = "accuracy"                  # validation figure that picks best.pt (higher is better)
    epoch_size: int | None = None             # draws per epoch (default: len(samples)); equal budgets across sets
    skips: SkipReport = field(default_factory=SkipReport)


@dataclass
class TrainResult:
    out: Path
    epochs_done: int
    steps: int
    best: dict
    last: dict
    wall_s: float
    skips: SkipReport
    images_per_s: float

    def describe(self) -> str:
        fmt = lambda d: ", ".join(f"{k} {v:.4f}" for k, v in d.items() if isinstance(v, float))  # noqa: E731
        lines = [f"{self.epochs_done} epoch(s), {self.steps} step(s) in {self.wall_s / 60:.1f} min "
                 f"({self.images_per_s:.0f} training images/s); checkpoints in {self.out}"]
        if self.best:
            lines.append(f"best (epoch {self.best.get('epoch')}): {fmt(self.best)}")
        if self.skips.total:
            lines.append(self.skips.summary())
        return "\n".join(lines)


def distributed() -> tuple[int, int]:
    """``(rank, world size)``, initialising the process group when launched by ``torchrun``."""
    if torchrun_env()[1] == 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size()


def epoch_order(n: int, epoch: int, seed: int, weights: np.ndarray | None, size: int | None = None) -> np.ndarray:
    """The sample indices of epoch ``epoch`` (see the module docstring): ``size`` draws (default ``n``),
    without replacement while they last (successive permutations) unless ``weights`` are given."""
    rng = np.random.default_rng((seed, 7919, epoch))
    size = n if size is None else size
    if weights is None:
        rounds = [rng.permutation(n) for _ in range(-(-size // n))]
        return np.concatenate(rounds)[:size]
    return rng.choice(n, size=size, replace=True, p=weights)


def epoch_batches(order: np.ndarray, batch_size: int, world: int = 1) -> list[np.ndarray]:
    """The epoch's batches: ``batch_size`` consecutive draws each; a last batch of one image joins the
    one before (BatchNorm cannot train on one image); with ``world`` processes the list is padded by
    repeating its first batches so every rank runs the same number of steps (or DDP's all-reduce waits
    forever)."""
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2:] = [np.concatenate(batches[-2:])]
    if world > 1:
        batches += batches[:(-len(batches)) % world]
    return batches


def lr_factor(step: int, total: int, warmup: float) -> float:
    warm = max(1, int(total * warmup))
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))


class Classifier(nn.Module):
    """Backbone + head as one module (one DDP wrapper, one optimizer)."""

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.backbone(x), labels)


def check_run_folder(out: str | os.PathLike) -> Path:
    """``out`` as a Path once it is known that the run can write there: an existing folder, or a path whose
    nearest existing parent is a folder, writable either way. Nothing is created (an error found later
    leaves no empty run folder). FileError naming the path otherwise, so that a bad ``--out`` stops the
    run before the data is read."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileError(out, "is a file, not a folder: choose a folder for the run (it is created if missing)")
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        raise FileError(out, f"cannot be created: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise FileError(out, f"cannot write in {existing} (permission denied or read-only): choose another folder")
    return out


def training_device(device: str, world: int) -> torch.device:
    """The device this process trains on: :func:`resolve_device`, and under ``torchrun`` (``world`` > 1) on
    CUDA the GPU of its ``LOCAL_RANK`` (DeviceError, one line, when the machine has no such GPU)."""
    resolved = resolve_device(device)
    if resolved.type == "cuda" and world > 1:
        return resolve_device(f"cuda:{torchrun_env()[2] or 0}")
    return resolved


def _build_optimizer(model: nn.Module, setup: TrainSetup) -> torch.optim.Optimizer:
    """SGD (momentum 0.9) or AdamW; weight decay on the weights, none on biases and norm parameters."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": setup.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    check_choice("optimizer", setup.optimizer, OPTIMIZERS)
    if setup.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=setup.lr, momentum=0.9)
    return torch.optim.AdamW(groups, lr=setup.lr)


@dataclass
class _Loop:
    """What one epoch of :func:`train_loop` works with."""

    setup: TrainSetup
    run: TrainingRun
    trainable: nn.Module
    optimizer: torch.optim.Optimizer
    dataset: FaceSamples
    device: torch.device
    rank: int
    world: int
    steps_per_epoch: int
    total_steps: int
    progress: Callable[[dict], None] | None


def _train_epoch(loop: _Loop, epoch: int, stop) -> None:
    """The rest of epoch ``epoch`` from ``progress["position"]``; counters right after each update."""
    setup, state, device = loop.setup, loop.run.progress, loop.device
    loop.dataset.epoch = epoch
    order = epoch_order(len(setup.samples), epoch, setup.seed, setup.sample_weights, setup.epoch_size or len(setup.samples))
    mine = epoch_batches(order, setup.batch_size, loop.world)[loop.rank::loop.world][state["position"]:]
    loader = DataLoader(loop.dataset, batch_sampler=[b.tolist() for b in mine], num_workers=setup.workers,
                        collate_fn=collate_samples, pin_memory=device.type == "cuda")
    loss_weights = setup.loss_weights.to(device) if setup.loss_weights is not None else None
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext())
    loop.trainable.train()
    tick = time.perf_counter()
    for _, images, labels, errors in loader:
        for message in errors:
            loop.run.note_failure(message)
        if len(labels) >= 2:  # BatchNorm needs two images (a lone survivor of a bad batch waits)
            for group in loop.optimizer.param_groups:
                group["lr"] = setup.lr * lr_factor(state["step"], loop.total_steps, setup.warmup)
            x, y = to_model_input(images, device), labels.to(device)
            with autocast:
                logits = loop.trainable(x, y)
            loss = nn.functional.cross_entropy(logits.float(), y, weight=loss_weights)
            loop.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            loop.optimizer.step()
            state["images"] += len(labels) * loop.world
        # counters right after the update, so that a checkpoint saved from here on (an interrupt
        # raised by the progress callback included) matches the weights
        state["step"] += 1
        state["position"] += 1
        if state["step"] % setup.checkpoint_every == 0:
            loop.run.save_last()
        if loop.progress and len(labels) >= 2:
            loop.progress({"epoch": epoch, "step": state["step"] - 1, "loss": loss.item(),
                           "steps_per_epoch": loop.steps_per_epoch})
        if stop.requested:
            raise KeyboardInterrupt
    state["train_s"] += time.perf_counter() - tick


def train_loop(setup: TrainSetup, model: Classifier, validate: Callable[[Classifier], dict] | None,
               progress: Callable[[dict], None] | None = None, log: Callable[[str], None] = print) -> TrainResult:
    """Train (or resume) ``model`` on ``setup``; ``validate(model)`` (rank 0, eval mode) returns figures
    including ``setup.select`` after every epoch, and picks ``best.pt``."""
    start = time.perf_counter()
    if len(setup.samples) < 2:
        raise ValueError(f"{len(setup.samples)} training image(s): nothing to train on (two or more needed)")
    rank, world = distributed()
    device = training_device(setup.device, world)
    torch.manual_seed(setup.seed)
    state = {"epoch": 0, "position": 0, "step": 0, "best": {}, "history": [], "images": 0, "train_s": 0.0}
    run = TrainingRun(setup.out, kind=setup.kind, train_config=setup.config, resumable=RESUMABLE,
                      checkpoint_config={"backbone": setup.backbone_config, "train": setup.config},
                      vocabularies=setup.vocabularies, progress=state, skips=setup.skips, writer=rank == 0,
                      started=start)
    model = model.to(device)
    optimizer = _build_optimizer(model, setup)
    steps_per_epoch = len(epoch_batches(np.arange(setup.epoch_size or len(setup.samples)), setup.batch_size,
                                        world)) // world
    run.register(model={"backbone": model.backbone, "head": model.head}, optimizer=optimizer)
    if run.resume(device) is not None:
        log(f"resumed from {run.last_path} at epoch {state['epoch']}, step {state['step']}")
    run.write_config()

    trainable = model
    if world > 1:
        trainable = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    dataset = FaceSamples(setup.samples, setup.image_size, train=True, shift=setup.shift, seed=setup.seed)
    loop = _Loop(setup, run, trainable, optimizer, dataset, device, rank, world, steps_per_epoch,
                 steps_per_epoch * setup.epochs, progress)
    last_metrics: dict = {}
    with run.interruptible() as stop:
        while state["epoch"] < setup.epochs:
            epoch = state["epoch"]
            _train_epoch(loop, epoch, stop)
            state["epoch"], state["position"] = epoch + 1, 0
            metrics = {"epoch": epoch}
            if rank == 0 and validate is not None:
                model.eval()
                metrics.update(validate(model))
                if metrics.get(setup.select, -math.inf) > state["best"].get(setup.select, -math.inf):
                    state["best"] = metrics
                    run.save_best(metrics)
            last_metrics = metrics
            state["history"].append({k: v for k, v in metrics.items() if not isinstance(v, list)})
            run.save_last()
            run.log({**metrics, "step": state["step"], "wall_s": round(time.perf_counter() - start, 2)})
            if world > 1:
                torch.distributed.barrier()
    if validate is None:
        run.save_best(None)  # without validation the last weights are the ones to use
    rate = state["images"] / state["train_s"] if state["train_s"] else 0.0
    return TrainResult(setup.out, state["epoch"], state["step"], state["best"], last_metrics,
                       time.perf_counter() - start, setup.skips, rate)
