"""Loading a trained Q from the toolkit's checkpoint format, or the built-in demo Q."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from augmenter.checkpoint import load_checkpoint, load_weights
from augmenter.errors import CheckpointError
from augmenter.nets.quality import QNet, QNetConfig

DEMO_Q = Path(__file__).resolve().parents[1] / "assets" / "demo_q.pt"
DEMO_NOTICE = ("using the built-in demo Q (trained on simulated ratings of rendered faces, not on human "
               "ratings): fine for trying the toolkit, not for filtering real data; pass --q CKPT")


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as torch understands it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def q_checkpoint_config(net: QNetConfig) -> dict:
    """The part of a Q checkpoint's config that rebuilds the network."""
    return {"net": asdict(net)}


def load_q(path: str | Path | None = None, device: str | torch.device = "cpu") -> tuple[QNet, Path]:
    """A Q network in eval mode from a ``kind="q"`` checkpoint; ``None`` loads the built-in demo Q.

    Returns ``(net, path)``. Raises :class:`CheckpointError` (one line naming the file) for a missing
    file, a checkpoint of another kind or a config that does not describe a Q network.
    """
    path = Path(path) if path is not None else DEMO_Q
    if path == DEMO_Q and not DEMO_Q.is_file():
        raise CheckpointError(DEMO_Q, "the built-in demo Q is missing from this installation; "
                                      "rebuild it with `augment-train-demo-q` or pass --q CKPT")
    ckpt = load_checkpoint(path, kind="q")
    try:
        config = QNetConfig(**ckpt.config["net"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(path, f"config does not describe a Q network ({err})") from None
    net = QNet(config)
    state = ckpt.ema if ckpt.ema else ckpt.model
    load_weights(net, {k: v.float() for k, v in state.items()}, source=path)
    return net.to(resolve_device(str(device)) if isinstance(device, str) else device).eval(), path
