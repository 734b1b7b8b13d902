"""The torch device a ``--device`` string names, checked before any work starts (foundation: imports no feature)."""
from __future__ import annotations

import os
import re

import torch

from augmenter.errors import DeviceError

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"
_DEVICE_PATTERN = re.compile(r"(cpu|cuda|mps)(?::(\d+))?")


def resolve_device(device: str = "auto") -> torch.device:
    """The torch device a ``--device`` string names: ``"auto"`` -> CUDA when available, else CPU;
    ``"cpu"``, ``"cuda"``, ``"cuda:N"`` (and ``"mps"``) as written, case and spaces aside.

    Raises :class:`DeviceError` (one line) for a string that names no device (``"gpu"``, ``"cuda:x"``),
    for CUDA on a machine without it, and for ``cuda:N`` past the last GPU, so that no torch error
    surfaces later in the run."""
    text = str(device).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    match = _DEVICE_PATTERN.fullmatch(text)
    if match is None:
        raise DeviceError(f"--device {str(device).strip()}: not a device; use --device {DEVICE_CHOICES}")
    kind, index = match.group(1), match.group(2)
    if kind == "cpu" and index is not None:
        raise DeviceError(f"--device {text}: not a device; use --device {DEVICE_CHOICES}")
    if kind == "cuda":
        _check_cuda(text, None if index is None else int(index))
    if kind == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"--device {text}: MPS is not available on this machine; use --device cpu or auto")
    return torch.device(text)


def _check_cuda(text: str, index: int | None) -> None:
    if not torch.cuda.is_available():
        raise DeviceError(f"--device {text}: CUDA is not available; use --device cpu or auto (this machine has "
                          f"no GPU, or torch was built without CUDA)")
    count = torch.cuda.device_count()
    if index is not None and index >= count:
        names = ", ".join(f"cuda:{i}" for i in range(count))
        raise DeviceError(f"--device {text}: there {'is' if count == 1 else 'are'} {count} CUDA device"
                          f"{'' if count == 1 else 's'} ({names}); use one of them, cuda, or auto")


def torchrun_env() -> tuple[int, int, int | None]:
    """``(rank, world size, local rank)`` as ``torchrun`` sets them (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``);
    ``(0, 1, None)`` in a process it did not launch. The one place the launcher's environment is read."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = os.environ.get("LOCAL_RANK")
    return (int(os.environ.get("RANK", "0")) if world > 1 else 0, world, None if local is None else int(local))
