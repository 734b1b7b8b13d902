"""Measured rules that judge a variant against its source: detail lost, colour added to a grey face or a colour face's
colour changed, light brought out of black, new light without texture, and a score bounded by the source's.

All but the bound are statistics of the pair, not learned: a generator trained against them can lower them only by
keeping its photo's detail, its black and its colour (on a grey photo, its greyness). Each costs a variant up to
:attr:`SourceRules.penalty` of its q_score, like the tear check's seam penalty (:mod:`augmenter.quality.tear_check`),
and all are switched on by the check's checkpoint (``config["rules"]``; the colour patch, colour not in the photo
and the two light rules only where it names their thresholds, so a check saved before them judges as it did).
Compare a variant with its source at the size the generator worked at: a 64 px generator's output beside a 128 px
photo is softer by its size alone.

* **Detail kept** (:func:`detail_kept`): the fine texture of the variant's face against the source's, measured
  on log luma (a relight multiplies the photo by a smooth gain, which a log turns into a smooth offset that the
  high-pass removes), so shading a face keeps it near 1 and softening it lowers it. Why: a variant is never
  meant to be softer than its photo, and a single-image Q rates a soft face as a soft photo; only the source
  shows that it was sharp. Deep shadow does lower it (texture sinks into the black), so it charges only clear
  softening.
* **Grain or a pattern the photo does not have** (the same ratio, when ``grain_start`` is set): detail kept well
  above 1, fine texture the photo lacks: added noise, a generator's checkerboard, tiles cut apart. Why: on colour
  photos faint noise and checkerboards scored at or above their photo 19-24% of the time (on grey ones the colour
  rule caught them by their colour); a change of light or expression keeps the photo's texture, and a single-image
  Q cannot tell a grainy photo from a grainy variant.
* **Colour on a grey face** (:func:`colour_on_grey`): the colour a variant adds to a grey photo (its mean
  distance from grey over the face less the photo's, in grey levels). A grey photo's variant should be grey
  (the default generator's are, exactly); faint pink and green casts are what generators trained against Q
  learned to fool it with (docs/quality.md, "The source rules"). Where the check sets ``patch_start``, a cast
  confined to part of the image counts too (:func:`colour_patch_on_grey`: the colour added over the 5% most
  coloured 8 px blocks of the whole image, where a face-box mean dilutes a pink background or one pink cheek, the
  tints a 128 px generator trained against the judge found next); the rule charges the larger of the two.
* **Colour a colour photo does not have** (:func:`colour_not_in_photo`, when ``hue_start`` is set): the colour
  rule's twin for colour photos. A change of light multiplies a pixel's three channels alike, so its colour relative
  to its luma stays; darkening, brightening and desaturation (a highlight rolling off, a shadow) only move along
  that colour. Per pixel at 32 px, the colour the variant has beyond any such change of a source pixel within
  :data:`HUE_REACH` px (a warp moves colour a few pixels), in grey levels; pixels the variant brightens past
  :data:`HUE_KNEE` (where highlights roll off channel by channel and turn yellow, as a camera's do) and their
  neighbours, and pixels whose photo is near black (its colour unknown; the light rules judge black), are left out;
  averaged over the 5% most coloured 8 px blocks, as the patch measure. Why: tints, colour shifts and painted
  shading masks on colour photos, which Q alone passes at faint severity (docs/quality.md, "Colour photos"). With
  ``hue_upper_start`` set the same measure over the blocks above the nose tip alone (:func:`colours_not_in_photo`)
  charges from a lower start, and the rule takes the larger part: an expression paints new content (a mouth's
  interior and teeth in the skin's hue) only below the nose tip, so above it faint casts stand out sooner
  (docs/quality.md, "Colour above the nose tip").
* **Light from black** (:func:`light_from_black`, when ``black_start`` is set): the light a variant adds where its
  source is black all around (luma at most :data:`BLACK_LEVEL` within :data:`BLACK_REACH` px at 128 px: the
  aligner's padding, a background in the dark, a face in deep shadow), in grey levels averaged over that region.
  Why: a relight multiplies the light a face reflects, and black times any gain stays black; a warp moves content
  a few pixels (a dropped jaw into the padding below the chin), which the reach allows. What lights up black far
  from anything is invented: the grey ghost frames and painted faces of a 128 px generator trained against the
  judge (docs/quality.md, "Light from black"), and the default generator's own painted faces on near-black photos.
* **Texture in new light** (:func:`texture_in_new_light`, when ``texture_start`` is set): where the variant makes
  a region at least twice as bright as its source, its fine texture over the source's texture times that gain.
  Why: the same physics; a gain brings a shadow's texture up with its light (the ratio stays near 1), and a
  smooth glow painted over the shadow, which a single-image Q rates like the photo, has none (docs/quality.md,
  "Light from black").
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
takes all of ``penalty`` at 2. Light from black: the default generator's variants of those training photos add
0.0 at the median, 1.3 at the 99th percentile and 9.5 at the 99.9th (the painted faces above), its variants of 300
held-out photos 2.8 at most; a 128 px generator trained against the judge lifts its ghost frames by 11-15: the rule
starts at 3 and takes all of ``penalty`` at 8. Texture in new light: measured (not 1) for 935 of those 6,000
variants, 0.89 at their median, 0.30 at their 1st percentile (dark hair or glasses brightened into a painted
look), below 0.25 once; 0.55 at least on the held-out photos; the 128 px generator's glows over shadowed faces
0.15-0.29: the rule starts at 0.4 and takes all of ``penalty`` at 0.25. Colour not in the photo (thresholds set on the
human study's 75 GAN faces, colour, so that its 75 FFHQ photos judge it): the default generator's variants of them
(every light and expression) measure 0.14 at the median, 2.5 at the 99th percentile, 3.8 at the 99.9th and 4.9 at
most (surprise's mouth, new content in the skin's hue); the pool's failures at severity 0.3 measure 5.8 at the
median for shading masks, 5.0 for tints, 10.9 for colour shifts: the rule starts at 4 and takes all of
``penalty`` at 8. Above the nose tip the generator's variants of the GAN faces measure at most 1.24 (0.86 at the
99th percentile), faint shading masks 4.9 and tints 3.4 at the median: that part starts at 2 and takes all of
``penalty`` at 4. Colour patch: the default generator's variants of grey photos measure 0 exactly; the 128 px
adversary's tints that show by eye measure 3.1-5.9, those that do not 1.6-3.2: the rule starts at 2 and takes all of
``penalty`` at 4. Grain (set on the default generator's variants of 93 FER-2013 train faces, 150 Yale B photos and
the study's 75 GAN faces, every light and expression but neutral, and on the pool's failures of the same faces):
those variants measure 0.98 at the median and at most 1.23 / 1.34 / 1.07 (brightened dark Yale B faces show their
photo's sensor noise), a JPEG copy at quality 75 at most 1.20; faint noise and checkerboards (severity 0.3) 1.61 and
1.72 at the median on the GAN faces, 1.97 and 2.24 on FER-2013: the rule starts at 1.35, above every good variant
measured, and takes all of ``penalty`` at 1.7.

Example:
    >>> x = torch.rand(2, 3, 128, 128) * 2 - 1
    >>> rule_penalty(x, x, SourceRules())
    tensor([0., 0.])
"""
from __future__ import annotations

import functools
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
BLACK_LEVEL = 6.0  # grey levels: a source pixel this dark or darker is black
BLACK_REACH = 8  # px at 128 px: light within this distance of a lit source pixel may have been moved there
_BLACK_FLOOR = 0.05  # light from black is averaged over at least this share of the image (a few black pixels: noise)
LIT_GAIN = 2.0  # a region the variant makes at least this many times brighter than its source is newly lit...
LIT_LEVEL = 30.0  # ...when it is at least this bright (grey levels) in the variant
_LIT_AREA = 0.03  # texture in new light is measured only over at least this share of the image (else 1)
_LIGHT_SIGMA = 3.0  # px at 128 px: the scale of light, above the scale of texture


@dataclass(frozen=True)
class SourceRules:
    """Where each rule starts to charge and where it charges all of ``penalty`` (linear between)."""

    detail_start: float = 0.6    # detail kept below this loses points...
    detail_full: float = 0.45    # ...and ``penalty`` at or below this
    colour_start: float = 0.5    # grey levels of colour added to a grey source's variant above this lose points...
    colour_full: float = 2.0     # ...and ``penalty`` at or above this
    grey_source: float = 1.0     # a source with less colour than this (grey levels) over the face is grey
    patch_start: float | None = None  # grey levels of colour added to a grey source's most coloured blocks above
    patch_full: float = 4.0           # this lose points, ``penalty`` at or above this (None: face mean only)
    penalty: float = 0.2
    source_margin: float | None = None  # a variant scores at most its source's q_score plus this (None: no bound)
    black_start: float | None = None  # grey levels of light from black above this lose points (None: rule off)...
    black_full: float = 8.0          # ...and ``penalty`` at or above this
    texture_start: float | None = None  # texture in new light below this loses points (None: rule off)...
    texture_full: float = 0.25          # ...and ``penalty`` at or below this
    hue_start: float | None = None  # grey levels of colour not in a colour photo above this lose points (None: off)
    hue_full: float = 8.0           # ...and ``penalty`` at or above this
    hue_upper_start: float | None = None  # the same measure above the nose tip only, where no expression paints new
    hue_upper_full: float = 4.0           # content, above this loses points, ``penalty`` at or above this (None: off)
    grain_start: float | None = None  # detail kept above this (texture the photo lacks) loses points (None: off)...
    grain_full: float = 1.7           # ...and ``penalty`` at or above this


# what a newly trained check is saved with (the built-in one's)
DEFAULT_RULES = SourceRules(source_margin=0.05, black_start=3.0, texture_start=0.4, patch_start=2.0,
                            hue_start=4.0, hue_upper_start=2.0, grain_start=1.35)


def _luma(x: torch.Tensor) -> torch.Tensor:
    return _luma_of((resize_square(x.float(), SIZE) + 1) / 2)


def _luma_of(u: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` -> ``(B, 1, H, W)``: BT.601 luma, same units."""
    return 0.299 * u[:, 0:1] + 0.587 * u[:, 1:2] + 0.114 * u[:, 2:3]


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """A Gaussian blur of ``(B, C, H, W)`` with replicated edges, as two matrix products: a separable
    convolution with replicate padding is a banded matrix along each axis, and a matrix product runs several
    times faster on a CPU than a one-channel convolution (same values, to float rounding)."""
    rows = _blur_matrix(x.shape[-2], sigma, x.dtype, x.device)
    cols = _blur_matrix(x.shape[-1], sigma, x.dtype, x.device)
    return rows.T @ x @ cols


@functools.lru_cache(maxsize=16)
def _blur_matrix(n: int, sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``(n, n)``: ``m[j, i]`` = the weight of input ``j`` in output ``i`` (taps to 3 sigma, edges replicated).
    Built outside inference mode: the cached matrix also serves losses that need gradients."""
    with torch.inference_mode(False):
        return _banded(n, sigma).to(dtype=dtype, device=device)


def _banded(n: int, sigma: float) -> torch.Tensor:
    radius = int(math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    taps = torch.exp(-0.5 * (offsets / sigma) ** 2)
    taps = taps / taps.sum()
    source = (torch.arange(n)[:, None] + torch.arange(-radius, radius + 1)[None, :]).clamp(0, n - 1)
    m = torch.zeros(n, n, dtype=torch.float64)
    m.index_put_((source, torch.arange(n)[:, None].expand_as(source)), taps.expand(n, -1), accumulate=True)
    return m


def _max_nearby(x: torch.Tensor, reach: int) -> torch.Tensor:
    """The maximum of ``(B, C, H, W)`` over the square within ``reach`` px (edges see only the image): one axis at
    a time, each by doubling windows (the same values as a square max-pool, about ten times faster on a CPU)."""
    return _max_along(_max_along(x, reach, 3), reach, 2)


def _max_along(x: torch.Tensor, reach: int, dim: int) -> torch.Tensor:
    n, size = x.shape[dim], 2 * reach + 1
    padding = (reach, reach) if dim == 3 else (0, 0, reach, reach)
    m, width = F.pad(x, padding, value=float("-inf")), 1
    while 2 * width <= size:
        m = torch.maximum(m.narrow(dim, 0, m.shape[dim] - width), m.narrow(dim, width, m.shape[dim] - width))
        width *= 2  # now m[i] = max over [i, i + width)
    return torch.maximum(m.narrow(dim, 0, n), m.narrow(dim, size - width, n))  # two windows of width cover size


def _detail(luma: torch.Tensor) -> torch.Tensor:
    log_luma = torch.log(luma.clamp_min(0) + _LOG_FLOOR)
    a, b = _BOX
    return (log_luma - _blur(log_luma, _HIGH_PASS_SIGMA)).abs()[:, 0, a:b, a:b].mean((1, 2))


def _detail_kept(source_luma: torch.Tensor, variant_luma: torch.Tensor) -> torch.Tensor:
    return _detail(variant_luma) / _detail(source_luma).clamp_min(1e-4)


def detail_kept(sources: torch.Tensor, variants: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` each in [-1, 1] (any size; measured at 128 px) -> ``(B,)``: the variant's fine detail over
    the source's (1 = as sharp; a flat source counts as 1). Differentiable in ``variants``."""
    return _detail_kept(_luma(sources), _luma(variants))


def _chroma(x: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` in [-1, 1] -> ``(B, 1, 128, 128)``: each pixel's largest channel distance from its mean,
    in grey levels (0 for a grey pixel)."""
    u = (resize_square(x.float(), SIZE) + 1) * 127.5
    return (u - u.mean(1, keepdim=True)).abs().amax(1, keepdim=True)


def _colour(x: torch.Tensor) -> torch.Tensor:
    a, b = _BOX
    return _chroma(x)[:, 0, a:b, a:b].mean((1, 2))


def colour_on_grey(sources: torch.Tensor, variants: torch.Tensor, grey_source: float = 1.0) -> torch.Tensor:
    """``(B, 3, H, W)`` each in [-1, 1] -> ``(B,)``: the colour a variant adds to a grey source: its mean distance
    from grey over the face less the source's (grey levels, 0-255 scale, at least 0) where the source's is below
    ``grey_source``; 0 for colour sources. Differentiable in ``variants``."""
    source = _colour(sources)
    added = (_colour(variants) - source).clamp_min(0)
    return torch.where(source < grey_source, added, torch.zeros_like(added))


_PATCH_BLOCK = 8  # px at 128 px: a colour patch is measured over blocks of this side...
_PATCH_SHARE = 0.05  # ...the most coloured this share of them (13 of the 256 blocks)
HUE_SIZE = 32  # colour_not_in_photo measures at this side...
HUE_REACH = 2  # ...where a variant pixel's colour may come from a source pixel this many px away (8 at 128 px)
HUE_KNEE = 0.8  # ...and leaves out variant pixels with a channel above this (in [0, 1]): rolled-off highlights
_HUE_FLOOR = 0.03  # a source pixel darker than this (luma in [0, 1]) has no colour of its own: grey...
_HUE_DARK = 0.06  # ...and a variant pixel whose source is darker than this is not judged (its colour is unknown)


def colour_patch_on_grey(sources: torch.Tensor, variants: torch.Tensor, grey_source: float = 1.0) -> torch.Tensor:
    """``(B, 3, H, W)`` each in [-1, 1] (any size; measured at 128 px) -> ``(B,)``: the colour a variant adds to a
    grey source where it adds the most: per 8 px block of the whole image the variant's mean distance from grey less
    the source's (grey levels, at least 0), averaged over the 5% most coloured blocks; 0 for colour sources (as
    :func:`colour_on_grey`). A grey photo saved as a colour JPEG measures 0. Differentiable in ``variants``.

    Example: a grey face whose top tenth (the background above the head) moves 6 levels from grey -> 6, while
    the face-box mean of :func:`colour_on_grey` stays 0.
    """
    top = _most_coloured((_block_colour(variants) - _block_colour(sources)).clamp_min(0))
    return torch.where(_colour(sources) < grey_source, top, torch.zeros_like(top))


def _block_colour(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(_chroma(x), _PATCH_BLOCK).flatten(1)


def _most_coloured(blocks: torch.Tensor) -> torch.Tensor:
    """``(B, N)`` -> ``(B,)``: the mean of each row's largest :data:`_PATCH_SHARE` of values."""
    return blocks.topk(max(1, round(_PATCH_SHARE * blocks.shape[1])), dim=1).values.mean(1)


def colour_not_in_photo(sources: torch.Tensor, variants: torch.Tensor, grey_source: float = 1.0) -> torch.Tensor:
    """``(B, 3, H, W)`` each in [-1, 1] (any size; measured at :data:`HUE_SIZE` px) -> ``(B,)``: the colour a variant
    of a colour photo has that no change of light gives its photo (see the module docstring), grey levels over the
    5% most coloured 8 px blocks; 0 for grey sources (the colour rule judges those). Differentiable in ``variants``.

    Example: a smooth warm skin relit (its three channels times one smooth gain) -> 0.2 (rounding); the same skin
    with red and blue up 10 levels (a pink cast) -> 9.2, with red alone up 10 (redder, part of it along the skin's
    own colour) -> 7.5.
    """
    return colours_not_in_photo(sources, variants, grey_source)[0]


UPPER_BLOCK_ROWS = 10  # 8 px block rows above 80 px at 128: the template's nose tip is at 82 px, its mouth at 106


def colours_not_in_photo(sources: torch.Tensor, variants: torch.Tensor,
                         grey_source: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B,)`` twice: :func:`colour_not_in_photo` over the whole image, and over its blocks above the nose tip
    only (:data:`UPPER_BLOCK_ROWS`), where an expression moves the face but paints no new content: the mouth's
    interior and teeth, new content in the skin's hue, lie below it. Both 0 for grey sources."""
    whole, upper = torch.zeros(len(sources), device=sources.device), torch.zeros(len(sources), device=sources.device)
    colour = _colour(sources) >= grey_source
    if bool(colour.any()):  # only colour photos pay for the measure
        blocks = _colour_not_in_photo_blocks(sources[colour], variants[colour])
        whole[colour] = _most_coloured(blocks.flatten(1))
        upper[colour] = _most_coloured(blocks[:, :, :UPPER_BLOCK_ROWS].flatten(1))
    return whole, upper


def _colour_not_in_photo_blocks(sources: torch.Tensor, variants: torch.Tensor) -> torch.Tensor:
    """``(B, 1, 16, 16)``: the colour not in the photo (grey levels) averaged over each 8 px block at 128 px."""
    s = (F.interpolate(sources.float(), size=HUE_SIZE, mode="area") + 1) / 2
    v = (F.interpolate(variants.float(), size=HUE_SIZE, mode="area") + 1) / 2
    source_luma, variant_luma = _luma_of(s), _luma_of(v)
    own = torch.where(source_luma > _HUE_FLOOR, s / source_luma.clamp_min(_HUE_FLOOR), torch.ones_like(s))
    chroma, r = v - variant_luma, HUE_REACH
    padded = F.pad(own, (r,) * 4, mode="replicate")
    beyond = torch.full_like(variant_luma, float("inf"))
    for dy in range(2 * r + 1):  # every source pixel within the reach, one shift at a time
        for dx in range(2 * r + 1):
            expected = variant_luma * (padded[:, :, dy:dy + HUE_SIZE, dx:dx + HUE_SIZE] - 1)
            length = (expected * expected).sum(1, keepdim=True).clamp_min(1e-8)
            share = (chroma * expected).sum(1, keepdim=True) / length
            rest = chroma - share.clamp(0, 1) * expected  # what no darkening or desaturation of that colour explains
            beyond = torch.minimum(beyond, (rest * rest).sum(1, keepdim=True))  # squared (norm() is slow here)
    bright = F.adaptive_max_pool2d((variants.float().amax(1, keepdim=True) + 1) / 2, HUE_SIZE) >= HUE_KNEE
    judged = ~F.max_pool2d(bright.float(), 3, 1, 1).bool() & (source_luma >= _HUE_DARK)  # see the module docstring
    beyond = beyond.clamp_min(1e-12).sqrt() * 255 * judged.float()  # grey levels; the floor keeps sqrt's gradient
    return F.avg_pool2d(beyond, _PATCH_BLOCK * HUE_SIZE // SIZE)


def light_from_black(sources: torch.Tensor, variants: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` each in [-1, 1] (any size; measured at 128 px) -> ``(B,)``: the mean light (grey levels,
    0-255 scale) the variant adds over the region where the source is black within :data:`BLACK_REACH` px; the
    average is over at least 5% of the image, so a source with almost no black region measures about 0.
    Differentiable in ``variants``.

    Example: a black frame around a face, lifted to grey 40 -> about 40; the face alone relit -> 0.
    """
    return _light_from_black(*_levels(_luma(sources), _luma(variants))[2:])


def _levels(source_luma: torch.Tensor, variant_luma: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Both lumas in grey levels (0-255), then each smoothed at the high-pass scale (sensor noise blurred away)."""
    source, variant = source_luma * 255, variant_luma * 255
    return source, variant, _blur(source, _HIGH_PASS_SIGMA), _blur(variant, _HIGH_PASS_SIGMA)


def _light_from_black(source: torch.Tensor, variant: torch.Tensor) -> torch.Tensor:
    """:func:`light_from_black` of smoothed grey levels ``(B, 1, 128, 128)``."""
    lit_nearby = _max_nearby(source, BLACK_REACH)
    black = (lit_nearby <= BLACK_LEVEL).float()
    added = (variant - lit_nearby).clamp_min(0) * black
    return added.sum((1, 2, 3)) / black.sum((1, 2, 3)).clamp_min(_BLACK_FLOOR * black[0].numel())


def texture_in_new_light(sources: torch.Tensor, variants: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` each in [-1, 1] (any size; measured at 128 px) -> ``(B,)``: where the variant is newly lit
    (its smoothed luma at least :data:`LIT_GAIN` times the source's and :data:`LIT_LEVEL` grey levels or more), the
    variant's fine texture over the source's times that gain: a relight (a smooth gain) keeps it near 1, a glow
    painted over a shadow has next to none. 1 where less than 3% of the image is newly lit. Differentiable in
    ``variants`` (the region itself is not)."""
    return _texture_in_new_light(*_levels(_luma(sources), _luma(variants)))


def _texture_in_new_light(source: torch.Tensor, variant: torch.Tensor, source_smooth: torch.Tensor,
                          variant_smooth: torch.Tensor) -> torch.Tensor:
    """:func:`texture_in_new_light` of grey levels ``(B, 1, 128, 128)`` and their high-pass-scale blurs."""
    light = _blur(variant, _LIGHT_SIGMA)
    gain = (light + 2) / (_blur(source, _LIGHT_SIGMA) + 2)
    lit = ((gain.detach() >= LIT_GAIN) & (light.detach() >= LIT_LEVEL)).float()
    texture = (variant - variant_smooth).abs()
    expected = gain * (source - source_smooth).abs()
    ratio = (texture * lit).sum((1, 2, 3)) / (expected * lit).sum((1, 2, 3)).clamp_min(1.0)
    enough = lit.mean((1, 2, 3)) >= _LIT_AREA
    return torch.where(enough, ratio, torch.ones_like(ratio))


def hinge(value, start: float, full: float):
    """``clip((value - start) / (full - start), 0, 1)`` of a tensor or array: 0 up to ``start``, 1 from ``full`` on
    (either side of ``start``), linear between; the shape of every penalty of the check."""
    return ((value - start) / (full - start)).clip(0, 1)


RULE_NAMES = {"soft": "softer than the photo", "grain": "grain or pattern the photo does not have",
              "colour": "colour on a grey photo",
              "hue": "colour the photo does not have", "black": "light from black",
              "glow": "new light without texture"}  # a charge's name -> its words


def rule_charges(sources: torch.Tensor, variants: torch.Tensor, rules: SourceRules) -> dict[str, torch.Tensor]:
    """Each rule's charge ``(B,)`` in [0, rules.penalty] (linear between its start and full thresholds), keyed as
    :data:`RULE_NAMES`; ``"grain"``, ``"hue"``, ``"black"`` and ``"glow"`` only when ``rules.grain_start`` /
    ``rules.hue_start`` / ``rules.black_start`` / ``rules.texture_start`` are set. ``"colour"`` charges only grey
    sources' variants and ``"hue"`` only colour ones'. Differentiable in ``variants``."""
    sources, variants = resize_square(sources.float(), SIZE), resize_square(variants.float(), SIZE)  # once for all
    source_luma, variant_luma = _luma(sources), _luma(variants)  # once for every rule that reads luma
    colour = hinge(colour_on_grey(sources, variants, rules.grey_source), rules.colour_start, rules.colour_full)
    if rules.patch_start is not None:
        colour = torch.maximum(colour, hinge(colour_patch_on_grey(sources, variants, rules.grey_source),
                                             rules.patch_start, rules.patch_full))
    kept = _detail_kept(source_luma, variant_luma)
    share = {"soft": hinge(kept, rules.detail_start, rules.detail_full), "colour": colour}
    if rules.grain_start is not None:
        share["grain"] = hinge(kept, rules.grain_start, rules.grain_full)
    if rules.hue_start is not None:
        whole, upper = colours_not_in_photo(sources, variants, rules.grey_source)
        share["hue"] = hinge(whole, rules.hue_start, rules.hue_full)
        if rules.hue_upper_start is not None:
            share["hue"] = torch.maximum(share["hue"], hinge(upper, rules.hue_upper_start, rules.hue_upper_full))
    if rules.black_start is not None or rules.texture_start is not None:
        levels = _levels(source_luma, variant_luma)  # the two light rules share the grey levels and their blurs
        if rules.black_start is not None:
            share["black"] = hinge(_light_from_black(*levels[2:]), rules.black_start, rules.black_full)
        if rules.texture_start is not None:
            share["glow"] = hinge(_texture_in_new_light(*levels), rules.texture_start, rules.texture_full)
    return {name: rules.penalty * s for name, s in share.items()}


def rule_penalty(sources: torch.Tensor, variants: torch.Tensor, rules: SourceRules) -> torch.Tensor:
    """``(B,)`` in [0, 4 * rules.penalty] (the two colour rules never both charge, nor soft and grain): what the
    rules take off each variant's q_score, the sum of :func:`rule_charges`. Differentiable in ``variants``."""
    return sum(rule_charges(sources, variants, rules).values())


def bounded_by_source(q, source_q, margin: float | None):
    """``min(q, source_q + margin)`` of arrays or tensors of the same shape (q_score units); ``margin`` ``None``
    returns ``q``. Example: ``bounded_by_source(np.array([0.8, 0.5]), np.array([0.6, 0.6]), 0.05)`` -> ``[0.65,
    0.5]``."""
    if margin is None:
        return q
    ceiling = source_q + margin
    return torch.minimum(q, ceiling) if isinstance(q, torch.Tensor) else np.minimum(q, ceiling)
