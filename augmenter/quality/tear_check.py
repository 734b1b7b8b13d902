"""Q with its source beside it: the tear check (:mod:`augmenter.nets.tear_check`) and the score it adjusts.

A variant's q_score is Q's (predicted mean rating / 10). When the photo it was made from is known, as in
``augment expand``, the built-in tear check compares the two and lowers the score once it thinks the variant
more likely torn than not::

    q_score = Q(variant) - TEAR_PENALTY * clip((p - TEAR_THRESHOLD) / (1 - TEAR_THRESHOLD), 0, 1)

with ``p = p(torn | source, variant)``, ``TEAR_PENALTY = 0.2`` and ``TEAR_THRESHOLD = 0.5``. Why two rating
points: a faint seam leaves Q's score within a few hundredths of the photo's, so a clear tear must fall below
the photo and below 0.6 from a typical 0.7. Why nothing below even odds: the plain ``Q - 0.2 p`` charged every
whole variant its small doubt (joint edits of harsh-lit photos have p of 0.1-0.2) and rejected 15 of 122
good Yale B variants near 0.6, for no more seams caught (docs/quality.md, "The tear check").

A check whose checkpoint carries ``config["rules"]`` (the built-in one does) also applies the measured rules of
:mod:`augmenter.quality.source_rules`: detail lost against the source, colour added to a grey face and (where
the rules set them; the built-in check's do) light brought out of black and texture missing where the variant
brought new light, each up to another 0.2 (:func:`check_penalty` is the sum), and, where the rules set
``source_margin`` (the built-in check's do: 0.05), a ceiling of the source's own q_score plus the margin.
:func:`judged_against_sources` gives the adjusted q_score: ``max(min(q, source_q + margin) - check_penalty, 0.1)``.

Example:
    >>> check, path = load_tear_check()                           # the built-in one  # doctest: +SKIP
    >>> p = tear_probability(check, sources, variants)            # (B,) in [0, 1]    # doctest: +SKIP
    >>> q = with_tear_penalty(q_score(variants), p)                                    # doctest: +SKIP
    >>> q = judged_against_sources(q_score(variants), check, sources, variants,       # seams and the rules
    ...                            source_q=q_score(sources))                          # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from augmenter.checkpoint import load_checkpoint, load_weights
from augmenter.errors import CheckpointError
from augmenter.nets.tear_check import TearCheck, TearCheckConfig
from augmenter.quality.source_rules import SIZE as RULES_SIZE
from augmenter.quality.source_rules import (RULE_NAMES, DEFAULT_RULES, SourceRules, bounded_by_source, hinge,
                                            rule_charges)
from augmenter.tensors import resize_square

DEFAULT_TEAR_CHECK = Path(__file__).resolve().parents[1] / "assets" / "tear_check.pt"
TEAR_PENALTY = 0.2
TEAR_THRESHOLD = 0.5
TEAR_NOTICE = ("using the built-in tear check beside Q (variants compared with their source photo; trained on "
               "FER-2013 and Extended Yale B photos and the default generator's variants of them, with synthetic "
               "seams; it also charges a variant softer or grainier than its photo, a grey photo's variant given "
               "colour, a colour photo's variant given colour it does not have, light brought out of the photo's "
               "black or a glow without texture, and scores no variant more than 0.05 above its photo; research use "
               "only); --tear-check none turns it off")


def tear_check_config(net: TearCheckConfig, rules: SourceRules | None = DEFAULT_RULES) -> dict:
    """The part of a tear-check checkpoint's config that rebuilds the check: the network and its rules."""
    return {"net": asdict(net), **({"rules": asdict(rules)} if rules is not None else {})}


def tear_check_path(path: str | Path | None) -> Path | None:
    """The checkpoint a ``--tear-check`` value names: ``None`` -> the built-in one, ``"none"`` -> no check."""
    if path is None:
        return DEFAULT_TEAR_CHECK
    return None if str(path) == "none" else Path(path)


def load_tear_check(path: str | Path | None = None,
                    device: str | torch.device = "cpu") -> tuple[TearCheck | None, Path | None]:
    """A tear check in eval mode from a ``kind="tear_check"`` checkpoint (EMA weights when saved); ``None``
    loads the built-in one, ``"none"`` returns ``(None, None)``. Nothing is downloaded.

    Raises :class:`CheckpointError` (one line naming the file) for a missing file, another kind of checkpoint
    or a config that does not describe a tear check.
    """
    path = tear_check_path(path)
    if path is None:
        return None, None
    if path == DEFAULT_TEAR_CHECK and not path.is_file():
        raise CheckpointError(path, "the built-in tear check is missing from this installation; rebuild it with "
                                    "`augment-train-tear-check` or pass --tear-check none")
    ckpt = load_checkpoint(path, kind="tear_check")
    try:
        net = TearCheck(TearCheckConfig(**ckpt.config["net"]))
        net.rules = SourceRules(**ckpt.config["rules"]) if "rules" in ckpt.config else None
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(path, f"config does not describe a tear check ({err})") from None
    load_weights(net, {k: v.float() for k, v in (ckpt.ema or ckpt.model).items()}, source=path)
    return net.to(device).eval(), path


@torch.inference_mode()
def tear_probability(net: TearCheck, sources: torch.Tensor, variants: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """``p(torn)`` of each variant against its source: ``(B, 3, H, W)`` each in [-1, 1] (any size; both are
    resized to the check's input size) -> ``(B,)`` float32 in [0, 1] on the variants' device."""
    out = [_p_torn(net, *_at_check_size(net, sources[i:i + batch], variants[i:i + batch]))
           for i in range(0, len(variants), batch)]
    return torch.cat(out) if out else torch.zeros(0, device=variants.device)


def _at_check_size(net: TearCheck, sources: torch.Tensor, variants: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    size = net.config.image_size
    return resize_square(sources.float(), size), resize_square(variants.float(), size)


def _p_torn(net: TearCheck, sources: torch.Tensor, variants: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(net(sources, variants))


def check_charges(net: TearCheck, sources: torch.Tensor, variants: torch.Tensor,
                  rules: bool = True) -> dict[str, torch.Tensor]:
    """What the check takes off each variant's q_score, by cause: ``"seam"`` (the penalty of
    :func:`with_tear_penalty`) and, when ``net.rules`` is set and ``rules``, each rule's charge
    (:func:`~augmenter.quality.source_rules.rule_charges`); each ``(B,)`` in [0, 0.2]. Images ``(B, 3, H, W)`` in
    [-1, 1], any size. Differentiable in ``variants``."""
    small = _at_check_size(net, sources, variants)
    charges = {"seam": TEAR_PENALTY * hinge(_p_torn(net, *small), TEAR_THRESHOLD, 1.0)}
    if rules and net.rules is not None:
        # the rules measure at 128 px, the built-in check's size: then the images are resized once for both
        charges.update(rule_charges(*(small if net.config.image_size == RULES_SIZE else (sources, variants)),
                                    net.rules))
    return charges


def check_penalty(net: TearCheck, sources: torch.Tensor, variants: torch.Tensor, rules: bool = True) -> torch.Tensor:
    """``(B,)`` in [0, 1]: what the check takes off each variant's q_score, the sum of :func:`check_charges`
    (``rules=False``: the seam network's charge alone, as the GAN trainer's loss uses it by default).
    Differentiable in ``variants``."""
    return sum(check_charges(net, sources, variants, rules).values())


def source_margin(net: TearCheck | None) -> float | None:
    """The ceiling a check puts on a variant's q_score above its source's (``None``: no ceiling, or no check)."""
    return net.rules.source_margin if net is not None and net.rules is not None else None


@torch.inference_mode()
def judged_against_sources(q: np.ndarray, net: TearCheck | None, sources: torch.Tensor, variants: torch.Tensor,
                           batch: int = 256, source_q: np.ndarray | None = None) -> np.ndarray:
    """``q`` ``(B,)`` (Q's q_scores of ``variants``), at most ``source_q + margin`` where the check's rules set a
    margin (:func:`source_margin`), less :func:`check_penalty`, floored at 0.1; ``net`` ``None`` returns ``q``
    unchanged (as float64). ``source_q`` ``(B,)``: Q's q_scores of ``sources`` (each as the generator saw it);
    required when the check has a margin (``ValueError`` without it)."""
    q = np.asarray(q, np.float64)
    if net is None:
        return q
    bounded, charges = _bound_and_charges(q, net, sources, variants, batch, source_q)
    return np.maximum(bounded - sum(charges.values(), np.zeros(len(q))), 0.1)


@torch.inference_mode()
def judged_and_why(q: np.ndarray, net: TearCheck | None, sources: torch.Tensor, variants: torch.Tensor,
                   batch: int = 256, source_q: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """:func:`judged_against_sources` and, per variant, what moved its score from Q's by 0.005 or more, in words
    (``""`` when nothing did): e.g. ``"Q 0.71; at most its photo's 0.52 + 0.05; light from black -0.20"``. The
    words of each rule are :data:`~augmenter.quality.source_rules.RULE_NAMES`; a seam is ``"torn"``."""
    q = np.asarray(q, np.float64)
    if net is None:
        return q, [""] * len(q)
    bounded, charges = _bound_and_charges(q, net, sources, variants, batch, source_q)
    margin = source_margin(net)
    why = []
    for i in range(len(q)):
        words = [f"at most its photo's {source_q[i]:.2f} + {margin:.2f}"] if bounded[i] <= q[i] - _NOTED else []
        words += [f"{_CHARGE_WORDS[name]} -{c[i]:.2f}" for name, c in charges.items() if c[i] >= _NOTED]
        why.append("; ".join([f"Q {q[i]:.2f}", *words]) if words else "")
    return np.maximum(bounded - sum(charges.values(), np.zeros(len(q))), 0.1), why


def _bound_and_charges(q: np.ndarray, net: TearCheck, sources: torch.Tensor, variants: torch.Tensor, batch: int,
                       source_q: np.ndarray | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``q`` held to ``source_q + margin`` (when the check has a margin) and each cause's charge, ``(B,)`` each."""
    margin, bounded = source_margin(net), q
    if margin is not None:
        if source_q is None:
            raise ValueError("this tear check bounds a variant's q_score by its source's: pass source_q")
        bounded = bounded_by_source(q, np.asarray(source_q, np.float64), margin)
    parts = [check_charges(net, sources[i:i + batch], variants[i:i + batch]) for i in range(0, len(variants), batch)]
    charges = {name: torch.cat([p[name] for p in parts]).double().cpu().numpy() for name in parts[0]} if parts else {}
    return bounded, charges


_CHARGE_WORDS = {"seam": "torn", **RULE_NAMES}  # a charge's name -> its words in a note
_NOTED = 0.005  # a cause that moved the score by less is left out of the words
BOUND_WORDS = "held to its photo's score"  # the cause :func:`note_causes` names for the bound


def note_causes(note: str) -> list[str]:
    """The causes named in one of :func:`judged_and_why`'s notes, in order: ``"Q 0.71; at most its photo's 0.52 +
    0.05; torn -0.20"`` -> ``["held to its photo's score", "torn"]``; ``""`` -> ``[]``."""
    parts = note.split("; ")[1:] if note else []
    return [BOUND_WORDS if part.startswith("at most its photo's") else part.rsplit(" -", 1)[0] for part in parts]


def count_causes(notes) -> dict[str, int]:
    """How many of ``notes`` name each cause (a note may name two), most frequent first."""
    counts: dict[str, int] = {}
    for note in notes:
        for cause in note_causes(note):
            counts[cause] = counts.get(cause, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def describe_causes(counts: dict[str, int]) -> str:
    """``{"torn": 8, "light from black": 2}`` -> ``"torn 8, light from black 2"``."""
    return ", ".join(f"{cause} {n:,}" for cause, n in counts.items())


def with_tear_penalty(q: np.ndarray, p: np.ndarray, penalty: float = TEAR_PENALTY,
                      threshold: float = TEAR_THRESHOLD) -> np.ndarray:
    """``q - penalty * clip((p - threshold) / (1 - threshold), 0, 1)``, floored at 0.1 (the lowest q_score, a
    rating of 1): nothing below ``threshold``, the whole penalty at ``p = 1``."""
    share = hinge(np.asarray(p, np.float64), threshold, 1.0)
    return np.maximum(np.asarray(q, np.float64) - penalty * share, 0.1)
