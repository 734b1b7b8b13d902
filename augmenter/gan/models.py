"""Building field / LEGAN / StarGAN generators from a config, and loading a trained generator for translation."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from augmenter.attributes import RELIGHT_STYLES
from augmenter.checkpoint import load_checkpoint, load_weights
from augmenter.errors import CheckpointError
from augmenter.gan.vocabulary import require_in_vocabulary
from augmenter.nets.fields import FieldGenerator, FieldsConfig
from augmenter.nets.legan import LeganConfig, LeganGenerator
from augmenter.nets.stargan import Discriminator, DiscriminatorConfig, StarGanConfig, StarGanGenerator

ARCHS = ("legan", "stargan", "fields")
DEMO_LEGAN = Path(__file__).resolve().parents[1] / "assets" / "demo_legan.pt"
FIELDS_GENERATOR = Path(__file__).resolve().parents[1] / "assets" / "fields_generator.pt"
DEFAULT_GENERATOR = FIELDS_GENERATOR  # real faces; the render-trained demo LEGAN stays as "demo"
BUILT_IN = {"default": DEFAULT_GENERATOR, "demo": DEMO_LEGAN, "fields": FIELDS_GENERATOR}
_REBUILD = {FIELDS_GENERATOR: "augment-train-default-generator", DEMO_LEGAN: "augment-train-demo-legan"}
_NOTICES = {
    DEMO_LEGAN: "using the built-in demo LEGAN (64 px, trained on rendered faces only): fine for trying the "
                "toolkit, not for real data; pass --legan CKPT",
    FIELDS_GENERATOR: "using the built-in field generator (lighting and expression fields applied at the source's "
                      "size; trained on Extended Yale B + FER-2013, research use only)"}
EXPRESSION_ALIASES = {"smile": "happy", "scream": "surprise", "angry": "anger", "squint": "disgust"}
"""Multi-PIE's (and FER-2013's folder) names accepted for a model whose vocabulary has the emotion instead."""
_GENERATORS = {"legan": (LeganGenerator, LeganConfig), "stargan": (StarGanGenerator, StarGanConfig),
               "fields": (FieldGenerator, FieldsConfig)}
_REQUIRED = ("n_lighting", "n_expression", "width")  # what every saved generator config has held
VOCABULARIES = ("lighting", "expression")


def build_generator(arch: str, n_lighting: int, n_expression: int, width: int) -> nn.Module:
    """A new generator of ``arch`` (``legan`` or ``stargan``), its other settings at their defaults."""
    return generator_from_config(arch, {"n_lighting": n_lighting, "n_expression": n_expression, "width": width})


def generator_from_config(arch: str, config: Mapping) -> nn.Module:
    """The generator that a checkpoint's saved ``config["generator"]`` (:func:`generator_config`) describes.

    Settings the config lacks (``depth``, ``mask_channels``, ``res_blocks``: checkpoints saved before
    they existed) take their defaults. Raises ``KeyError`` when a setting of :data:`_REQUIRED` is
    missing, ``ValueError`` for an unknown setting or a value of the wrong kind (see :func:`_valid_setting`).
    """
    if arch not in _GENERATORS:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHS)}")
    generator, config_class = _GENERATORS[arch]
    missing = [key for key in _REQUIRED if key not in config]
    if missing:
        raise KeyError(missing[0])
    unknown = sorted(set(config) - {f.name for f in fields(config_class)})
    if unknown:
        raise ValueError(f"unknown generator setting(s) {', '.join(map(str, unknown))}")
    defaults = asdict(config_class(**{k: config[k] for k in _REQUIRED}))
    odd = [f"{k}={v!r}" for k, v in config.items() if not _valid_setting(v, defaults[k], k in _SHARES)]
    if odd:
        raise ValueError(f"generator settings must be positive integers (switches true/false, scales positive "
                         f"numbers, shares in [0, 1]), not {', '.join(odd)}")
    return generator(config_class(**config))


_SHARES = {"shading_fill"}  # float settings that are a share in [0, 1], where 0 is meaningful


def _valid_setting(value, default, share: bool = False) -> bool:
    """A saved setting has its default's type: a switch is a bool, a scale a positive number, a share a number in
    [0, 1], else a positive int."""
    if type(default) is bool:
        return type(value) is bool
    if share:
        return type(value) in (int, float) and 0 <= value <= 1
    if type(default) is float:
        return type(value) in (int, float) and value > 0
    return type(value) is int and value >= 1


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
        """``(B, 3, S, S)`` in [-1, 1] -> translated, ``None`` keeps an attribute. S is the model's size for
        ``legan``/``stargan``; a ``fields`` generator takes any S >= 32. Expression names may be Multi-PIE's
        (:data:`EXPRESSION_ALIASES`: ``smile`` -> ``happy``)."""
        device = next(self.generator.parameters()).device
        b = len(images)
        tl = torch.full((b,), self.index("lighting", lighting), device=device)
        te = torch.full((b,), self.index("expression", expression), device=device)
        return self.generator(images.to(device), one_hot(tl, len(self.lighting)), one_hot(te, len(self.expression)))

    def index(self, kind: str, name: str | None) -> int:
        if name is None:
            return -1
        names = self.lighting if kind == "lighting" else self.expression
        if kind == "expression" and name not in names:
            name = EXPRESSION_ALIASES.get(name, name)
        # worded as augment expand's check of its --lighting / --expression names
        require_in_vocabulary(self.path, kind, [name], names)
        return names.index(name)


def generator_path(path: str | Path | None) -> Path:
    """``None``, ``"default"`` or ``"fields"`` -> the built-in field generator, ``"demo"`` -> the demo LEGAN, else ``path``."""
    if path is None:
        return DEFAULT_GENERATOR
    return BUILT_IN.get(str(path), Path(path))


def built_in_notice(path: str | Path | None) -> str | None:
    """The one-line notice a verb prints when it uses a built-in generator (``None`` for any other)."""
    return _NOTICES.get(generator_path(path))


def load_translator(path: str | Path | None = None, device: str | torch.device = "cpu", use_ema: bool = True,
                    relight_style: str | None = None) -> Translator:
    """A generator from a ``fields``/``legan``/``stargan`` checkpoint (EMA weights by default).

    ``None`` (or ``"default"``, ``"fields"``) loads the built-in field generator (lighting trained on
    Extended Yale B, expression warps from the renderer; any size); ``"demo"`` the render-trained demo
    LEGAN (64 px, for the built-in sample).

    ``relight_style`` (a name of :data:`~augmenter.attributes.RELIGHT_STYLES`: photo, photo-deep, lab) makes a ``fields``
    generator relight that way whatever its checkpoint says (same weights); ``None`` keeps the saved style.

    The generator is rebuilt from the checkpoint's whole saved generator config. Raises
    :class:`CheckpointError` naming the file when it is not a generator checkpoint, its config does
    not describe a generator, or its lighting / expression vocabularies are missing or do not match
    the generator's inputs.
    """
    if relight_style not in (None, *RELIGHT_STYLES):
        raise ValueError(f"unknown relight style {relight_style!r}; expected one of {', '.join(RELIGHT_STYLES)}")
    path = generator_path(path)
    if path in _REBUILD and not path.is_file():
        raise CheckpointError(path, f"this built-in generator is missing from this installation; "
                                    f"rebuild it with `{_REBUILD[path]}` or pass --legan CKPT")
    ckpt = load_checkpoint(path)
    if ckpt.kind not in ARCHS:
        raise CheckpointError(path, f"is a {ckpt.kind!r} checkpoint, expected one of {', '.join(ARCHS)}")
    try:
        generator = generator_from_config(ckpt.kind, _styled(ckpt.config["generator"], relight_style, ckpt.kind, path))
        image_size = int(ckpt.config["image_size"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(path, f"config does not describe a generator ({err})") from None
    lighting, expression = _vocabularies(ckpt.vocabularies, generator, path)
    state = (ckpt.ema or {}).get("generator") if use_ema else None
    state = state or ckpt.model["generator"]
    load_weights(generator, {k: v.float() for k, v in state.items()}, source=path)
    generator.to(device).eval()
    return Translator(generator, image_size, lighting, expression, ckpt.kind, path)


def with_relight_style(generator_config: Mapping, relight_style: str | None) -> Mapping:
    """A fields generator's saved config with the settings of ``relight_style`` (a name of
    :data:`~augmenter.attributes.RELIGHT_STYLES`; ``None``: unchanged)."""
    return generator_config if relight_style is None else {**generator_config, **RELIGHT_STYLES[relight_style]}


def _styled(config: Mapping, relight_style: str | None, arch: str, path: Path) -> Mapping:
    """``config`` with the settings of ``relight_style`` (none: unchanged)."""
    if relight_style is not None and arch != "fields":
        raise CheckpointError(path, f"is a {arch} generator; a relight style applies to a fields generator only")
    return with_relight_style(config, relight_style)


def _vocabularies(saved: Mapping | None, generator: nn.Module, path: Path) -> tuple[list[str], list[str]]:
    """The checkpoint's lighting and expression names, one per generator input."""
    saved = saved if isinstance(saved, Mapping) else {}
    missing = [kind for kind in VOCABULARIES
               if not isinstance(saved.get(kind), (list, tuple)) or not all(isinstance(n, str) for n in saved[kind])]
    if missing:
        raise CheckpointError(path, f"has no {' and '.join(missing)} vocabulary (the target names saved with the "
                                    "weights under 'vocabularies'), so its targets cannot be named")
    names = {kind: list(saved[kind]) for kind in VOCABULARIES}
    for kind in VOCABULARIES:
        inputs = getattr(generator.config, f"n_{kind}")
        if len(names[kind]) != inputs:
            raise CheckpointError(path, f"has {len(names[kind])} {kind} names for {inputs} generator inputs")
    return names["lighting"], names["expression"]
