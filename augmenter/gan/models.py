"""Building LEGAN / StarGAN networks from a config, and loading a trained generator for translation."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from augmenter.checkpoint import load_checkpoint, load_weights
from augmenter.errors import CheckpointError
from augmenter.nets.legan import LeganConfig, LeganGenerator
from augmenter.nets.stargan import Discriminator, DiscriminatorConfig, StarGanConfig, StarGanGenerator

ARCHS = ("legan", "stargan")
DEMO_LEGAN = Path(__file__).resolve().parents[1] / "assets" / "demo_legan.pt"


def build_generator(arch: str, n_lighting: int, n_expression: int, width: int) -> nn.Module:
    if arch == "legan":
        return LeganGenerator(LeganConfig(n_lighting=n_lighting, n_expression=n_expression, width=width))
    if arch == "stargan":
        return StarGanGenerator(StarGanConfig(n_lighting=n_lighting, n_expression=n_expression, width=width))
    raise ValueError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHS)}")


def build_discriminator(image_size: int, n_lighting: int, n_expression: int, width: int) -> Discriminator:
    return Discriminator(DiscriminatorConfig(image_size, n_lighting, n_expression, width))


def generator_config(generator: nn.Module) -> dict:
    return asdict(generator.config)


def one_hot(labels: torch.Tensor, n: int) -> torch.Tensor:
    """``(B,)`` indices with -1 for "keep" -> ``(B, n)`` float one-hot rows (all zero for -1)."""
    out = torch.zeros(len(labels), n, device=labels.device)
    known = labels >= 0
    out[known] = F.one_hot(labels[known], n).float()
    return out


@dataclass
class Translator:
    """A trained generator with its vocabularies: ``translate`` maps images to named targets."""

    generator: nn.Module
    image_size: int
    lighting: list[str]
    expression: list[str]
    arch: str
    path: Path

    @torch.inference_mode()
    def translate(self, images: torch.Tensor, lighting: str | None = None, expression: str | None = None) -> torch.Tensor:
        """``(B, 3, S, S)`` in [-1, 1] (S = the model's size) -> translated, ``None`` keeps an attribute."""
        device = next(self.generator.parameters()).device
        b = len(images)
        tl = torch.full((b,), self.index("lighting", lighting), device=device)
        te = torch.full((b,), self.index("expression", expression), device=device)
        return self.generator(images.to(device), one_hot(tl, len(self.lighting)), one_hot(te, len(self.expression)))

    def index(self, kind: str, name: str | None) -> int:
        if name is None:
            return -1
        names = self.lighting if kind == "lighting" else self.expression
        if name not in names:
            raise ValueError(f"unknown {kind} {name!r} for {self.path.name}; expected one of {', '.join(names)}")
        return names.index(name)


def load_translator(path: str | Path | None = None, device: str | torch.device = "cpu", use_ema: bool = True) -> Translator:
    """A generator from a ``legan``/``stargan`` checkpoint (EMA weights by default); ``None`` = the demo LEGAN."""
    path = Path(path) if path is not None else DEMO_LEGAN
    if path == DEMO_LEGAN and not path.is_file():
        raise CheckpointError(path, "the built-in demo LEGAN is missing from this installation; "
                                    "rebuild it with `augment-train-demo-legan` or pass --legan CKPT")
    ckpt = load_checkpoint(path)
    if ckpt.kind not in ARCHS:
        raise CheckpointError(path, f"is a {ckpt.kind!r} checkpoint, expected one of {', '.join(ARCHS)}")
    try:
        cfg = ckpt.config["generator"]
        generator = build_generator(ckpt.kind, cfg["n_lighting"], cfg["n_expression"], cfg["width"])
        vocab = ckpt.vocabularies
        image_size = int(ckpt.config["image_size"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(path, f"config does not describe a generator ({err})") from None
    state = (ckpt.ema or {}).get("generator") if use_ema else None
    state = state or ckpt.model["generator"]
    load_weights(generator, {k: v.float() for k, v in state.items()}, source=path)
    generator.to(device).eval()
    return Translator(generator, image_size, list(vocab["lighting"]), list(vocab["expression"]), ckpt.kind, path)
