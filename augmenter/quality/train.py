"""Training Q on rated images: seeded, resumable, validated every epoch, best checkpoint by SROCC.

Outputs under ``config.out``:

- ``config.json``: the full :class:`QTrainConfig`, written before training starts;
- ``splits.csv``: the ratings table with the train/val/test split used (when the data had no split);
- ``last.pt``: the latest state (weights, optimizer, scheduler, step, epoch, position in the epoch and
  the epoch's running loss), saved every ``checkpoint_every`` steps, at the end of every epoch and
  when interrupted;
- ``best.pt``: the weights with the best validation SROCC so far, ``best.json`` its metrics;
- ``log.jsonl``: one line per epoch (train loss: the mean batch loss over the whole epoch, even when
  it was resumed in its middle; validation metrics, wall time).

Rerunning the same command resumes from ``last.pt``: the epoch's shuffling and flips come from
generators seeded by ``(seed, epoch)``, so a resumed run sees exactly the batches an uninterrupted
run would. Changing anything but ``epochs``, ``workers``, ``device`` or ``checkpoint_every`` while a
``last.pt`` exists is refused.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from augmenter.attributes import EXPRESSIONS, LIGHTING
from augmenter.checkpoint import load_checkpoint
from augmenter.errors import CheckpointError
from augmenter.jsonsafe import json_safe
from augmenter.losses import rating_margin_loss, within_group_rank_loss
from augmenter.nets.quality import QNet, QNetConfig
from augmenter.quality.images import FaceImages, collate_faces
from augmenter.tensors import to_model_input
from augmenter.quality.metrics import quality_metrics
from augmenter.quality.model import q_checkpoint_config
from augmenter.device import resolve_device
from augmenter.quality.ratings import assign_splits, read_ratings, write_ratings
from augmenter.quality.score import predict_ratings
from augmenter.skips import SkipReport
from augmenter.training_run import TrainingRun

_RESUMABLE_CHANGES = {"epochs", "workers", "device", "checkpoint_every"}


@dataclass
class QTrainConfig:
    """Everything a Q training run depends on (saved as ``config.json`` and inside checkpoints).

    ``data`` is a ratings CSV/TSV or a folder holding ``ratings.csv``. Without ``val``, the data's own
    ``split`` column is used, or a seeded split stratified by source and rating is made and saved.
    Defaults train the CPU-size Q (64 px, base width 16); the paper's Q is ``image_size=128,
    base_width=64``.
    """

    data: str
    out: str
    val: str | None = None
    image_size: int = 64
    base_width: int = 16
    hidden: int = 256
    epochs: int = 20
    batch_size: int = 64
    lr: float = 3e-4
    weight_decay: float = 1e-4
    margin_scale: float = 1.0
    flip: bool = True
    seed: int = 0
    workers: int = 2
    device: str = "auto"
    checkpoint_every: int = 200
    init: str | None = None  # a Q checkpoint whose weights start a new run (fine-tuning; same network layout)
    pair_weight: float = 0.0  # > 0: add within_group_rank_loss over the table's ``group`` column (below)
    columns: dict = field(default_factory=dict)  # read_ratings column options, e.g. {"path_col": "file"}

    @property
    def net(self) -> QNetConfig:
        return QNetConfig(image_size=self.image_size, base_width=self.base_width, hidden=self.hidden)


@dataclass
class QTrainResult:
    best_metrics: dict
    best_epoch: int
    epochs_run: int
    wall_s: float
    out: Path
    skips: SkipReport

    def describe(self) -> str:
        m = self.best_metrics
        lines = [f"best epoch {self.best_epoch}: val SROCC {m.get('srocc', float('nan')):.4f}, "
                 f"PLCC {m.get('plcc', float('nan')):.4f}, RMSE {m.get('rmse', float('nan')):.3f} "
                 f"({self.epochs_run} epoch(s) run in {self.wall_s:.0f} s); checkpoint {self.out / 'best.pt'}"]
        if self.skips.total:
            lines.append(self.skips.summary())
        return "\n".join(lines)


def _tables(config: QTrainConfig, out: Path) -> tuple[pd.DataFrame, pd.DataFrame, SkipReport]:
    listing = read_ratings(config.data, **config.columns)
    skips = listing.skips
    table = listing.table
    if config.val is not None:
        val = read_ratings(config.val, **config.columns)
        skips.merge(val.skips)
        return table.reset_index(drop=True), val.table.reset_index(drop=True), skips
    if (table["split"] == "unknown").all():
        table = assign_splits(table, seed=config.seed)
        write_ratings(table, out / "splits.csv")
    train, val = table[table["split"] == "train"], table[table["split"] == "val"]
    if not len(train) or not len(val):
        raise ValueError(f"{listing.file}: needs rows in both the train and val splits "
                         f"(has {len(train)} train, {len(val)} val)")
    return train.reset_index(drop=True), val.reset_index(drop=True), skips


def group_ids(table: pd.DataFrame) -> torch.Tensor:
    """``(N,)`` int64: equal ids for rows of one ``group`` (a row without one is a group of its own)."""
    if "group" not in table.columns:
        return torch.arange(len(table))
    # any non-empty value names a group: a table whose group names all look like numbers is read as numbers
    keys = [f"g:{g}" if pd.notna(g) and str(g) != "" else f"row:{i}" for i, g in enumerate(table["group"])]
    return torch.from_numpy(pd.factorize(pd.Series(keys))[0].astype(np.int64))


def grouped_order(groups: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A permutation of the rows in which each group's rows are adjacent (in table order), groups in a
    random order drawn from ``generator``."""
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    rank = torch.empty(n_groups, dtype=torch.int64)
    rank[torch.randperm(n_groups, generator=generator)] = torch.arange(n_groups)
    return torch.from_numpy(np.argsort(rank[groups].numpy(), kind="stable"))


def _epoch_loader(config: QTrainConfig, dataset: FaceImages, epoch: int, batch: int, device: torch.device,
                  groups: torch.Tensor | None = None) -> tuple[DataLoader, torch.Tensor]:
    """The epoch's batches from batch ``batch`` on, and its flips (both seeded by ``(seed, epoch)``); with
    ``groups``, each group's rows adjacent."""
    n = len(dataset)
    shuffle = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    order = torch.randperm(n, generator=shuffle) if groups is None else grouped_order(groups, shuffle)
    flips = torch.rand(n, generator=torch.Generator().manual_seed(config.seed * 100_019 + epoch)) < 0.5
    loader = DataLoader(dataset, batch_size=config.batch_size, sampler=order[batch * config.batch_size:].tolist(),
                        num_workers=config.workers, collate_fn=collate_faces,
                        pin_memory=device.type == "cuda", persistent_workers=False)
    return loader, flips


def _validate(net: QNet, val: pd.DataFrame, config: QTrainConfig, run: TrainingRun) -> dict:
    net.eval()
    predicted, failed = predict_ratings(net, val["path"].tolist(), batch_size=config.batch_size * 2,
                                        workers=config.workers)
    for message in failed:
        run.note_failure(message)
    ok = ~np.isnan(predicted)
    return quality_metrics(predicted[ok], val["mean"].to_numpy()[ok], val["std"].to_numpy()[ok])


def _init_from(net: QNet, config: QTrainConfig, device: torch.device) -> None:
    """Start a new run from the weights of the Q checkpoint ``config.init`` (same network layout)."""
    start_from = load_checkpoint(config.init, kind="q", map_location=device)
    if "members" in start_from.config:
        raise CheckpointError(config.init, "is an ensemble of Qs: --init takes one of its members' checkpoints")
    if QNetConfig(**start_from.config["net"]) != config.net:
        raise CheckpointError(config.init, f"is a Q of another layout ({start_from.config['net']}) than this run's "
                                           f"({asdict(config.net)}): --init needs the same image size and widths")
    net.load_state_dict(start_from.model)


def train_q(config: QTrainConfig, progress: Callable[[dict], None] | None = None) -> QTrainResult:
    """Train (or resume training) Q; ``progress`` gets a dict after every step (epoch, step, loss)."""
    start = time.perf_counter()
    # loss_sum / loss_batches: the epoch's running loss, in every checkpoint so that an epoch resumed in its
    # middle logs the loss of all its batches, not only of those after the resume
    state = {"epoch": 0, "batch": 0, "step": 0, "best_srocc": -math.inf, "best_epoch": -1, "best_metrics": {},
             "loss_sum": 0.0, "loss_batches": 0}
    run = TrainingRun(config.out, kind="q", train_config=asdict(config), resumable=_RESUMABLE_CHANGES,
                      checkpoint_config={**q_checkpoint_config(config.net), "train": asdict(config)},
                      vocabularies={"lighting": list(LIGHTING), "expression": list(EXPRESSIONS)},
                      progress=state, started=start)
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    train, val, run.skips = _tables(config, run.out)

    net = QNet(config.net).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.epochs * steps_per_epoch))
    run.register(model=net, optimizer=optimizer, scheduler=scheduler)
    if run.resume(device) is None and config.init is not None:
        _init_from(net, config, device)
    run.write_config()

    dataset = FaceImages(train["path"].tolist(), config.image_size)
    means = torch.tensor(train["mean"].to_numpy(np.float32))
    stds = torch.tensor(train["std"].to_numpy(np.float32))
    groups = group_ids(train) if config.pair_weight > 0 else None
    epochs_run = 0
    with run.interruptible() as stop:  # Ctrl-C takes effect between batches
        while state["epoch"] < config.epochs:
            epoch = state["epoch"]
            loader, flips = _epoch_loader(config, dataset, epoch, state["batch"], device, groups)
            net.train()
            last_loss = float("nan")
            for indices, images, failures in loader:
                if stop.requested:
                    raise KeyboardInterrupt
                for _, message in failures:
                    run.note_failure(message)
                if len(indices):
                    x = to_model_input(images, device)
                    if config.flip:
                        flip = flips[indices].to(device)
                        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
                    pred, mean = net(x), means[indices].to(device)
                    loss = rating_margin_loss(pred, mean, stds[indices].to(device), config.margin_scale)
                    if groups is not None:
                        loss = loss + config.pair_weight * within_group_rank_loss(pred, mean, groups[indices].to(device))
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    last_loss = loss.detach().item()
                    state["loss_sum"] += last_loss
                    state["loss_batches"] += 1
                scheduler.step()
                state["batch"] += 1
                state["step"] += 1
                if progress:
                    progress({"epoch": epoch, "step": state["step"], "loss": last_loss})
                if state["step"] % config.checkpoint_every == 0:
                    run.save_last()
            metrics = _validate(net, val, config, run)
            train_loss = state["loss_sum"] / state["loss_batches"] if state["loss_batches"] else None
            state.update(epoch=epoch + 1, batch=0, loss_sum=0.0, loss_batches=0)
            if metrics["srocc"] > state["best_srocc"]:
                state.update(best_srocc=float(metrics["srocc"]), best_epoch=epoch, best_metrics=json_safe(metrics))
                run.save_best({"epoch": epoch, **json_safe(metrics)})
            run.save_last()
            epochs_run += 1
            run.log({"epoch": epoch, "train_loss": train_loss, "wall_s": round(time.perf_counter() - start, 2),
                     **json_safe(metrics)})
    return QTrainResult(state["best_metrics"], state["best_epoch"], epochs_run, time.perf_counter() - start, run.out,
                        run.skips)
