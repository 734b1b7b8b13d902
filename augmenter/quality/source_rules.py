"""Measured rules that judge a variant against its source: detail lost, colour added to a grey face, and a score
bounded by the source's.

The first two are statistics of the pair, not learned: a generator trained against them can lower them only by
keeping its photo's detail and, on a grey photo, its greyness. Each costs a variant up to :attr:`SourceRules.penalty`
of its q_score, like the tear check's seam penalty (:mod:`augmenter.quality.tear_check`), and both are switched
on by the check's checkpoint (``config["rules"]``). Compare a variant with its source at the size the generator
worked at: a 64 px generator's output beside a 128 px photo is softer by its size alone.

* **Detail kept** (:func:`detail_kept`): the fine texture of the variant's face against the source's, measured
  on log luma (a relight multiplies the photo by a smooth gain, which a log turns into a smooth offset that the
  high-pass removes), so shading a face keeps it near 1 and softening it lowers it. Why: a variant is never
  meant to be softer than its photo, and a single-image Q rates a soft face as a soft photo; only the source
  shows that it was sharp. Deep shadow does lower it (texture sinks into the black), so it charges only clear
  softening.
* **Colour on a grey face** (:func:`colour_on_grey`): the colour a variant adds to a grey photo (its mean
  distance from grey over the face less the photo's, in grey levels). A grey photo's variant should be grey
  (the default generator's are, exactly); faint pink and green casts are what generators trained against Q
  learned to fool it with (docs/quality.md, "The source rules").
* **Bounded by the source** (:func:`bounded_by_source`, when ``source_margin`` is set): a variant's q_score is at
  most its source's plus ``source_margin``. Why: a variant is made from its photo and is meant to look as natural
  as that photo, not more; a generator trained against Q can only beat its photo's score by finding what Q
  overrates, and the bound takes that reward away (in the trainer too: :func:`augmenter.losses.quality_loss`'s
  ``ceiling``). Compare with the source as the generator saw it (for a 64 px generator, the photo through 64 px).
  Cost: a relight of a badly lit photo may rightly look better than it, and is held to its photo's score plus the
  margin; 0.05 was measured to cost the default generator 2 of its 58.7% passing variants on 300 held-out photos
  and cut the passing near-copies of a generator trained against Q from 52% to 12% (docs/quality.md, "The bound").

Thresholds (the defaults of :class:`SourceRules`): detail kept is 0.97 at the median for the default generator's
variants of the tear check's *training* photos (``build_tear_check``'s pairs), 0.71 at their 1st percentile
(dark relights of harsh-lit photos), 1.04 for a JPEG copy at quality 75, 0.77 / 0.68 / 0.57 after a Gaussian
blur of 0.7 / 0.9 / 1.2 px at 128 px; the rule starts below 0.6, where no good variant measured so far falls
(a first try at 0.75 rejected 5 of 122 good held-out Yale B variants, all dark side lights). None of those
variants of grey photos has any colour at all, nor does a grey photo saved as a colour JPEG (quality 50-95); the
generators trained against Q add 3.6 grey levels at the median, and the copies of theirs that passed Q and the
check with a first threshold of 1.5-4 levels show pink and green fringes at 1.5-2.7: the rule starts at 0.5 and
takes all of ``penalty`` at 2.

Example:
    >>> x = torch.rand(2, 3, 128, 128) * 2 - 1
    >>> rule_penalty(x, x, SourceRules())
    tensor([0., 0.])
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from augmenter.tensors import resize_square

SIZE = 128  # both images are measured at this side
_BOX = (24, 104)  # the central face box of an aligned 128 px crop (eyes to chin, cheek to cheek)
_LOG_FLOOR = 0.03  # added to luma in [0, 1] before the log, so black padding and deep shadow stay finite
_HIGH_PASS_SIGMA = 1.0  # px at 128 px


@dataclass(frozen=True)
class SourceRules:
    """Where each rule starts to charge and where it charges all of ``penalty`` (linear between)."""

    detail_start: float = 0.6    # detail kept below this loses points...
    detail_full: float = 0.45    # ...and ``penalty`` at or below this
    colour_start: float = 0.5    # grey levels of colour added to a grey source's variant above this lose points...
    colour_full: float = 2.0     # ...and ``penalty`` at or above this
    grey_source: float = 1.0     # a source with less colour than this (grey levels) over the face is grey
    penalty: float = 0.2
    source_margin: float | None = None  # a variant scores at most its source's q_score plus this (None: no bound)


DEFAULT_RULES = SourceRules(source_margin=0.05)  # what a newly trained check is saved with (the built-in one's)


def _luma(x: torch.Tensor) -> torch.Tensor:
    u = (resize_square(x.float(), SIZE) + 1) / 2
    return 0.299 * u[:, 0:1] + 0.587 * u[:, 1:2] + 0.114 * u[:, 2:3]


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = int(math.ceil(3 * sigma))
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device) / sigma) ** 2)
    taps = taps / taps.sum()
    padded = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    return F.conv2d(F.conv2d(padded, taps.view(1, 1, 1, -1)), taps.view(1, 1, -1, 1))


def _detail(x: torch.Tensor) -> torch.Tensor:
    log_luma = torch.log(_luma(x).clamp_min(0) + _LOG_FLOOR)
    a, b = _BOX
    return (log_luma - _blur(log_luma, _HIGH_PASS_SIGMA)).abs()[:, 0, a:b, a:b].mean((1, 2))


def detail_kept(sources: torch.Tensor, variants: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` each in [-1, 1] (any size; measured at 128 px) -> ``(B,)``: the variant's fine detail over
    the source's (1 = as sharp; a flat source counts as 1). Differentiable in ``variants``."""
    return _detail(variants) / _detail(sources).clamp_min(1e-4)


def _colour(x: torch.Tensor) -> torch.Tensor:
    u = (resize_square(x.float(), SIZE) + 1) * 127.5
    a, b = _BOX
    box = u[:, :, a:b, a:b]
    return (box - box.mean(1, keepdim=True)).abs().amax(1).mean((1, 2))


def colour_on_grey(sources: torch.Tensor, variants: torch.Tensor, grey_source: float = 1.0) -> torch.Tensor:
    """``(B, 3, H, W)`` each in [-1, 1] -> ``(B,)``: the colour a variant adds to a grey source: its mean distance
    from grey over the face less the source's (grey levels, 0-255 scale, at least 0) where the source's is below
    ``grey_source``; 0 for colour sources. Differentiable in ``variants``."""
    source = _colour(sources)
    added = (_colour(variants) - source).clamp_min(0)
    return torch.where(source < grey_source, added, torch.zeros_like(added))


def hinge(value, start: float, full: float):
    """``clip((value - start) / (full - start), 0, 1)`` of a tensor or array: 0 up to ``start``, 1 from ``full`` on
    (either side of ``start``), linear between; the shape of every penalty of the check."""
    return ((value - start) / (full - start)).clip(0, 1)


def rule_penalty(sources: torch.Tensor, variants: torch.Tensor, rules: SourceRules) -> torch.Tensor:
    """``(B,)`` in [0, 2 * rules.penalty]: what the two rules take off each variant's q_score (each up to
    ``rules.penalty``, linear between its start and full thresholds). Differentiable in ``variants``."""
    sources, variants = resize_square(sources.float(), SIZE), resize_square(variants.float(), SIZE)  # once for both
    soft = hinge(detail_kept(sources, variants), rules.detail_start, rules.detail_full)
    cast = hinge(colour_on_grey(sources, variants, rules.grey_source), rules.colour_start, rules.colour_full)
    return rules.penalty * (soft + cast)


def bounded_by_source(q, source_q, margin: float | None):
    """``min(q, source_q + margin)`` of arrays or tensors of the same shape (q_score units); ``margin`` ``None``
    returns ``q``. Example: ``bounded_by_source(np.array([0.8, 0.5]), np.array([0.6, 0.6]), 0.05)`` -> ``[0.65,
    0.5]``."""
    if margin is None:
        return q
    ceiling = source_q + margin
    return torch.minimum(q, ceiling) if isinstance(q, torch.Tensor) else np.minimum(q, ceiling)
