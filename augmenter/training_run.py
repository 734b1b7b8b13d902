"""One training run's folder and checkpoints, shared by every trainer (the role of stargan-v2's
CheckpointIO and timm's CheckpointSaver).

A :class:`TrainingRun` owns, under ``out``:

- ``config.json``: the training config (:meth:`TrainingRun.write_config`);
- ``last.pt``: every registered state (weights, EMA, optimizers, schedulers), the step, the full config
  and the trainer's progress counters, written by :func:`~augmenter.checkpoint.save_checkpoint` and
  read back with ``torch.load(weights_only=True)``; :meth:`TrainingRun.resume` reloads it after
  :func:`~augmenter.checkpoint.check_resumable` has accepted the settings;
- ``best.pt`` and ``best.json`` (:meth:`TrainingRun.save_best`);
- ``log.jsonl``, one JSON object a line (:meth:`TrainingRun.log`).

It also saves ``last.pt`` when a Ctrl-C stops the run (:meth:`TrainingRun.interruptible`) and counts
unreadable files once each (:meth:`TrainingRun.note_failure`).

A trainer registers its named state objects once; saving and resuming then cover all of them:

Example:
    >>> run = TrainingRun(out, kind="q", train_config=asdict(cfg), resumable={"epochs"},
    ...                   checkpoint_config={"net": ..., "train": asdict(cfg)},
    ...                   progress={"epoch": 0, "step": 0})                         # doctest: +SKIP
    >>> run.register(model=net, optimizer=opt, scheduler=sched)                     # doctest: +SKIP
    >>> run.resume(device)            # None on a fresh run                         # doctest: +SKIP
    >>> run.write_config()                                                          # doctest: +SKIP
    >>> with run.interruptible() as stop:  # Ctrl-C: saves last.pt, then raises     # doctest: +SKIP
    ...     ...

``model``, ``ema``, ``optimizer`` and ``scheduler`` each take one object with ``state_dict`` /
``load_state_dict``, or a dict of named ones (``{"generator": G, "discriminator": D}``); the
checkpoint holds the same shape (one state_dict, or a dict of them under the same names).
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from torch import nn

from augmenter.atomic import write_text_atomic
from augmenter.checkpoint import (Checkpoint, check_resumable, load_checkpoint, load_weights, save_checkpoint,
                                  save_config_json)
from augmenter.errors import CheckpointError
from augmenter.interrupt import deferred_interrupt
from augmenter.skips import SkipReport

SLOTS = ("model", "ema", "optimizer", "scheduler")
"""The checkpoint fields registered states go to, in the order they are restored."""

UNREADABLE = "unreadable image"


class TrainingRun:
    """A run folder with its checkpoints and logs (see the module docstring).

    Args:
        out: the run folder (created here when ``writer``).
        kind: the checkpoint kind (``"q"``, ``"attr"``, ``"legan"``, ``"verifier"``...).
        train_config: the plain training config: written as ``config.json`` and compared on resume
            with the checkpoint's ``config["train"]``.
        resumable: settings of ``train_config`` that may change between a run and its resume.
        checkpoint_config: the ``config`` stored in every checkpoint (holding ``"train"``).
        vocabularies: stored in every checkpoint.
        progress: the trainer's counters (``"step"`` at least), kept by reference: saved under
            ``extra["progress"]`` and restored by :meth:`resume`.
        extra: when given, what the checkpoints store as ``extra`` instead of ``{"progress": ...}``
            (then only ``progress["step"]`` is restored, from the checkpoint's step).
        skips: where :meth:`note_failure` counts unreadable files.
        writer: whether this process writes files (rank 0 of a distributed run); others only resume.
        started: the run's start time (``time.perf_counter()``), default now.
    """

    def __init__(self, out: str | os.PathLike, *, kind: str, train_config: dict, checkpoint_config: dict,
                 resumable: Iterable[str] = (), vocabularies: Mapping[str, Any] | None = None,
                 progress: dict | None = None, extra: Callable[[], dict] | None = None,
                 skips: SkipReport | None = None, writer: bool = True, started: float | None = None):
        self.out = Path(out)
        self.kind = kind
        self.train_config = train_config
        self.checkpoint_config = checkpoint_config
        self.resumable = set(resumable)
        self.vocabularies = vocabularies
        self.progress = progress if progress is not None else {"step": 0}
        self.progress.setdefault("step", 0)
        self.extra = extra
        self.skips = skips if skips is not None else SkipReport()
        self.writer = writer
        self.started = time.perf_counter() if started is None else started
        self._states: dict[str, Any] = {}
        self._seen_failures: set[str] = set()
        if writer:
            self.out.mkdir(parents=True, exist_ok=True)

    # ----------------------------------------------------------------------------------------- #
    # paths, counters

    @property
    def last_path(self) -> Path:
        return self.out / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.out / "best.pt"

    @property
    def step(self) -> int:
        return self.progress["step"]

    @step.setter
    def step(self, value: int) -> None:
        self.progress["step"] = value

    def elapsed(self) -> float:
        """Seconds since ``started``."""
        return time.perf_counter() - self.started

    # ----------------------------------------------------------------------------------------- #
    # states

    def register(self, **slots: Any) -> None:
        """Name the states to save and restore: ``model=`` (required before saving), ``ema=``,
        ``optimizer=``, ``scheduler=``; each one object or a dict of named objects."""
        for slot, value in slots.items():
            if slot not in SLOTS:
                raise TypeError(f"unknown checkpoint slot {slot!r}; expected one of {', '.join(SLOTS)}")
            if value is not None:
                self._states[slot] = dict(value) if isinstance(value, Mapping) else value

    def state_dicts(self) -> dict[str, Any]:
        """``{slot: state_dict or {name: state_dict}}`` of every registered state."""
        if "model" not in self._states:
            raise RuntimeError("register(model=...) before saving a checkpoint")
        out = {}
        for slot, value in self._states.items():
            out[slot] = ({name: obj.state_dict() for name, obj in value.items()} if isinstance(value, dict)
                         else value.state_dict())
        return out

    def restore(self, ckpt: Checkpoint) -> None:
        """Load every registered state from ``ckpt`` (modules through
        :func:`~augmenter.checkpoint.load_weights`, naming what does not fit)."""
        for slot in SLOTS:
            if slot not in self._states:
                continue
            value, saved = self._states[slot], getattr(ckpt, slot)
            if isinstance(value, dict):
                for name, obj in value.items():
                    if not isinstance(saved, Mapping) or name not in saved:
                        raise CheckpointError(ckpt.path, f"has no {slot} state for {name!r}")
                    _load(obj, saved[name], ckpt.path)
            else:
                if saved is None:
                    raise CheckpointError(ckpt.path, f"has no {slot} state")
                _load(value, saved, ckpt.path)

    # ----------------------------------------------------------------------------------------- #
    # files

    def resume(self, map_location: Any = "cpu", check: Callable[[Checkpoint], None] | None = None) -> Checkpoint | None:
        """Continue from ``last.pt`` when there is one: refuse changed settings
        (:func:`~augmenter.checkpoint.check_resumable`), run ``check(ckpt)``, restore every registered
        state and the progress counters. Returns the checkpoint, or ``None`` for a fresh run."""
        last = self.last_path
        if not last.exists():
            return None
        ckpt = load_checkpoint(last, kind=self.kind, map_location=map_location)
        check_resumable(ckpt.config.get("train", {}), self.train_config, self.resumable, last)
        if check is not None:
            check(ckpt)
        self.restore(ckpt)
        self.step = ckpt.step
        if self.extra is None:
            self.progress.update(ckpt.extra["progress"])
        return ckpt

    def write_config(self) -> None:
        if self.writer:
            save_config_json(self.out / "config.json", self.train_config)

    def save(self, path: str | os.PathLike) -> None:
        """A checkpoint of every registered state at ``path`` (only by the writer)."""
        if not self.writer:
            return
        save_checkpoint(path, kind=self.kind, **self.state_dicts(), step=self.step, config=self.checkpoint_config,
                        vocabularies=self.vocabularies,
                        extra=self.extra() if self.extra is not None else {"progress": self.progress})

    def save_last(self) -> None:
        self.save(self.last_path)

    def save_best(self, record: dict | None) -> None:
        """``best.pt``, and ``best.json`` holding ``record`` (none when ``record`` is None)."""
        self.save(self.best_path)
        if self.writer and record is not None:
            write_text_atomic(self.out / "best.json", json.dumps(record, indent=2) + "\n")

    def log(self, record: dict) -> None:
        """Append ``record`` as one line of ``log.jsonl``."""
        if self.writer:
            with open(self.out / "log.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def note_failure(self, message: str, reason: str = UNREADABLE) -> None:
        """Count a failing file in ``skips``, once per message (not once per epoch)."""
        if message not in self._seen_failures:
            self._seen_failures.add(message)
            self.skips.add(reason, message)

    @contextmanager
    def interruptible(self):
        """``with run.interruptible() as stop:``: Ctrl-C only sets ``stop.requested`` (the loop checks it
        between steps and raises ``KeyboardInterrupt``); a ``KeyboardInterrupt`` leaving the block
        saves ``last.pt`` first."""
        try:
            with deferred_interrupt() as stop:
                yield stop
        except KeyboardInterrupt:
            self.save_last()
            raise


def _load(obj: Any, state: Any, source: Path) -> None:
    if isinstance(obj, nn.Module):
        load_weights(obj, state, source=source)
    else:
        obj.load_state_dict(state)
