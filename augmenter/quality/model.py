"""Loading a trained Q from the toolkit's checkpoint format, or the built-in demo Q.

A Q checkpoint holds one network (``config["net"]``) or an ensemble (``config["members"]``: one network
config per member, weights under ``members.<i>.``; :func:`combine_q` writes one), loaded as
:class:`~augmenter.nets.quality.QEnsemble`, whose rating is the members' mean.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from augmenter.checkpoint import load_checkpoint, load_weights
from augmenter.device import resolve_device
from augmenter.errors import CheckpointError
from augmenter.nets.quality import QEnsemble, QNet, QNetConfig, q_score
from augmenter.tensors import resize_square

DEMO_Q = Path(__file__).resolve().parents[1] / "assets" / "demo_q.pt"
DEFAULT_Q = Path(__file__).resolve().parents[1] / "assets" / "default_q.pt"
DEFAULT_NOTICE = ("using the built-in default Q (FER-2013 and Extended Yale B photos, aligned and as shipped, with synthetic failures, "
                  "fine-tuned on 150 human-rated faces of Lago et al. 2022; research use only); pass --q CKPT for "
                  "your own, --q demo for the rendered-face demo Q")
DEMO_NOTICE = ("using the built-in demo Q (trained on simulated ratings of rendered faces, not on human "
               "ratings): fine for trying the toolkit, not for filtering real data; pass --q CKPT")


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


def load_q(path: str | Path | None = None, device: str | torch.device = "cpu") -> tuple[QNet | QEnsemble, Path]:
    """A Q network (or ensemble) in eval mode from a ``kind="q"`` checkpoint; ``None`` loads the built-in default Q and
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
    net = _q_from_checkpoint(load_checkpoint(path, kind="q"), path)
    return net.to(resolve_device(str(device)) if isinstance(device, str) else device).eval(), path


def _q_from_checkpoint(ckpt, path: Path) -> QNet | QEnsemble:
    """The network a loaded ``kind="q"`` checkpoint describes, with its weights (EMA when saved), float32."""
    try:
        if "members" in ckpt.config:
            net = QEnsemble([QNet(QNetConfig(**member)) for member in ckpt.config["members"]])
        else:
            net = QNet(QNetConfig(**ckpt.config["net"]))
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(path, f"config does not describe a Q network ({err})") from None
    state = ckpt.ema if ckpt.ema else ckpt.model
    load_weights(net, {k: v.float() for k, v in state.items()}, source=path)
    return net


def combine_q(paths: list[str | Path], out: str | Path, note: str = "") -> Path:
    """Write one checkpoint holding the Q networks of ``paths`` as an ensemble (their mean rating judges).

    Each member's weights are its EMA when it has one (float16, as the built-in assets); ensembles nest
    flat (an ensemble among ``paths`` contributes its members). ``note`` becomes the checkpoint's
    provenance, followed by every member's own. Raises :class:`CheckpointError` naming a file that is not
    a Q, and ``ValueError`` for members of different input sizes.

    Example:
        >>> combine_q(["round8.pt", "round11.pt"], "q_pair.pt", "rounds 8 and 11")   # doctest: +SKIP
        >>> load_q("q_pair.pt")[0](faces)            # (B,) mean of the two ratings   # doctest: +SKIP
    """
    from augmenter.checkpoint import save_checkpoint

    members, provenance = [], [note] if note else []
    for path in paths:
        ckpt = load_checkpoint(path, kind="q")
        net = _q_from_checkpoint(ckpt, Path(path))
        members += list(net.members) if isinstance(net, QEnsemble) else [net]
        provenance.append(f"{Path(path).name}: {(ckpt.extra or {}).get('provenance', 'no provenance recorded')}")
    ensemble = QEnsemble(members)  # every member of one input size, or ValueError
    configs = [asdict(member.config) for member in members]
    return save_checkpoint(out, kind="q", model={k: v.half() for k, v in ensemble.state_dict().items()},
                           config={"net": configs[0], "members": configs}, extra={"provenance": " | ".join(provenance)})


@torch.inference_mode()
def q_scores_of(net: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    """Q's q_score of each image: ``(B, 3, H, W)`` in [-1, 1], any size (resized to Q's input) -> ``(B,)`` float64 in
    [0.1, 1]. Q runs in float32 even on GPU: bfloat16 would round a rating of 7.5 to steps of 0.03."""
    return q_score(net(resize_square(images.float(), net.config.image_size)).float()).double().cpu().numpy()
