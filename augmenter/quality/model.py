"""Loading a trained Q from the toolkit's checkpoint format, or the built-in demo Q."""
from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import torch

from augmenter.checkpoint import load_checkpoint, load_weights
from augmenter.errors import CheckpointError, DeviceError
from augmenter.nets.quality import QNet, QNetConfig

DEMO_Q = Path(__file__).resolve().parents[1] / "assets" / "demo_q.pt"
DEFAULT_Q = Path(__file__).resolve().parents[1] / "assets" / "default_q.pt"
DEFAULT_NOTICE = ("using the built-in default Q (aligned FER-2013 and Extended Yale B photos with synthetic failures, "
                  "fine-tuned on 150 human-rated faces of Lago et al. 2022; research use only); pass --q CKPT for "
                  "your own, --q demo for the rendered-face demo Q")
DEMO_NOTICE = ("using the built-in demo Q (trained on simulated ratings of rendered faces, not on human "
               "ratings): fine for trying the toolkit, not for filtering real data; pass --q CKPT")


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


def q_checkpoint_config(net: QNetConfig) -> dict:
    """The part of a Q checkpoint's config that rebuilds the network."""
    return {"net": asdict(net)}


def q_path_of(path: str | Path | None) -> Path:
    """The checkpoint a ``--q`` value names: ``None`` -> the built-in default Q, ``"demo"`` -> the demo Q."""
    if path is None:
        return DEFAULT_Q
    return DEMO_Q if str(path) == "demo" else Path(path)


def q_notice(path: Path) -> str | None:
    """The one-line notice to print when ``path`` is a built-in Q (what it was trained on), else None."""
    return {DEFAULT_Q: DEFAULT_NOTICE, DEMO_Q: DEMO_NOTICE}.get(Path(path))


def load_q(path: str | Path | None = None, device: str | torch.device = "cpu") -> tuple[QNet, Path]:
    """A Q network in eval mode from a ``kind="q"`` checkpoint; ``None`` loads the built-in default Q and
    ``"demo"`` the built-in demo Q (see :func:`q_path_of`). Nothing is downloaded.

    Returns ``(net, path)``. Raises :class:`CheckpointError` (one line naming the file) for a missing
    file, a checkpoint of another kind or a config that does not describe a Q network.

    Example:
        >>> net, path = load_q()                      # doctest: +SKIP
        >>> q_score(net(to_model_input(faces)))       # (B,) in [0.1, 1]; 0.6 = typical real photo  # doctest: +SKIP
    """
    path = q_path_of(path)
    rebuild = {DEFAULT_Q: "augment-train-default-q", DEMO_Q: "augment-train-demo-q"}
    if path in rebuild and not path.is_file():
        raise CheckpointError(path, f"the built-in Q is missing from this installation; rebuild it with "
                                    f"`{rebuild[path]}` or pass --q CKPT")
    ckpt = load_checkpoint(path, kind="q")
    try:
        config = QNetConfig(**ckpt.config["net"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(path, f"config does not describe a Q network ({err})") from None
    net = QNet(config)
    state = ckpt.ema if ckpt.ema else ckpt.model
    load_weights(net, {k: v.float() for k, v in state.items()}, source=path)
    return net.to(resolve_device(str(device)) if isinstance(device, str) else device).eval(), path
