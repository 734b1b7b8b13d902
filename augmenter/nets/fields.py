"""The field generator: lighting and expression as smooth fields, applied to the source at its own size.

LEGAN (and StarGAN) synthesize every output pixel at the model's resolution, so a 128 px crop loses
its hair, skin and eye detail to a 64 px repaint, and on real photos their lighting branch paints
a tinted half-face mask. This generator predicts *fields* at a small working resolution and applies
them to the full-resolution source, so only the change is new:

1. **Expression** (``H_e`` on the grey working-size image + the target's one-hot maps): a backward
   deformation ``d`` (2 channels, in [-1, 1] grid units) added to the target's prior flow (the mean
   flow of the built-in renderer's faces from neutral to that expression, in the alignment template's
   frame, a buffer set by the trainer), a grey content map ``r`` and its blend mask ``a``:
   ``warped = grid_sample(x, identity + up(prior_e + d))``, ``expr = (1 - up(a)) * warped + up(a) * up(r)``.
   New content is only what the warp cannot make: teeth, a mouth interior. The target's prior mouth
   (``prior_mouth``: coverage and brightness relative to the skin, from the renderer's parted lips in
   the template frame, at twice the working size) is blended last, at the face's own skin brightness
   (the median grey of a box over the nose and cheeks). On a colour photo the new content takes the face's
   own hue (:meth:`FieldGenerator.skin_hue`: the same box's median colour over its luma), twice the skin's
   colour where the content is dark (a mouth interior is dark and redder than skin) and half of it where it is as
   bright as the skin (teeth stay a warm white): chosen by eye on the study's FFHQ photos, which no model here trains
   on (docs/generator.md); its luma is unchanged, so a grey judge sees the same face. Grey
   content on a colour face looked like a grey grille pasted into the mouth (docs/generator.md, "Colour
   photos"); a grey photo's content stays grey, bit for bit.
2. **Lighting** (``H_l`` on the grey working-size expression output + the target light's direction
   as three constant maps): a log-gain ``g`` and an offset ``o`` (1 channel each), upsampled and
   applied in [0, 1] space inside the face: ``out = u * exp(up(m * g)) + up(m * o)`` with ``m`` the
   ``face_mask`` buffer (the renderer's faces in the template frame, feathered), so backgrounds stay as
   they were. One gain for all three channels: white light, so a grey photo stays grey and a colour
   photo keeps its colours. With ``shading_prior`` (the default model's choice) the log-gain is a
   *quotient-image prior* plus a bounded residual: ``g = prior(l) + r``, ``|r| <= residual_log_gain``,
   where ``prior(l) = log(s(N, l) / s(N, frontal)) / 2.2`` is the ratio of Lambert shading (the
   renderer's wrap and ambient) under the target and a frontal light on the renderer's mean face
   normals ``N`` (the ``normals`` buffer, template frame), taken to sRGB. Trained on Yale B alone, an
   unbounded gain learns that lab's faces and exposure and paints blotches and blown-out skin on other
   photos (measured and shown in the README); the prior makes every aligned face shade like a face, and
   the residual adds what the normals miss (cast shadows of the nose and brows). ``shading_fill`` gives a share of
   the prior's light to a soft fill, a uniform half-sky on the camera's side (irradiance ``(1 + n_z) / 2``), and
   ``shading_wrap`` sets how far past 90 degrees the key light wraps: without them (as trained, the *lab* style) a
   side light leaves the far half at the ambient floor, 12:1 below the lit half and starting on a straight line, a
   dark room's light that splits a colour photo in two; the *photo* styles use fill 0.15, wrap 0.4 (about 4.5:1, a
   portrait's ratio; docs/generator.md, "A fill light in the photo style"). With
   ``shading_sees_face`` off the residual is a function of the light alone — a learned mean quotient
   image per direction in the template frame — so it cannot learn one lab's faces at all. With
   ``shading_offset`` off the output is ``u * exp(up(m * g))`` alone: relighting is a change of shading,
   which multiplies the albedo; an additive offset (up to ``offset_bound`` of the range, smooth at 64 px) lets the
   network *paint* a smooth face where the source is dark, which on Yale B's dark sources scores well
   and on other cameras' faces smears texture and paints dark eye slits (measured in docs/generator.md).
   With ``offset_on_albedo`` the offset is light reflected by the face: ``up(m * o) * albedo_detail(u)``
   (the source over its blurred luma), so it brightens skin and keeps pores and eyes; retrained with it the
   model fits Yale B as well and blows out slightly more on other cameras (docs/generator.md): off by default.
   With ``keep_exposure`` the relit face is scaled so its mean linear light inside the face mask equals the
   source's (:func:`meter_exposure`), and highlights above ``EXPOSURE_KNEE`` roll off instead of clipping: a
   camera with automatic exposure (every photo outside a lab) meters the face, so a side light darkens one
   side and brightens the other rather than darkening the whole face as Yale B's fixed-exposure dark-room
   series does. With ``shading_offset`` off this is the *photo* style (:data:`augmenter.attributes.RELIGHT_STYLES`, the built-in
   model's): the photo's own texture, shaded; the *lab* style (offset on, exposure fixed) fits Yale B's
   series best (docs/generator.md compares them).
3. Targets are one-hot rows; an all-zero row keeps that attribute, and a row keeping both returns the
   input unchanged (bit for bit). Light directions come from :attr:`FieldGenerator.directions`
   (``(n_lighting, 3)`` unit vectors, a buffer: :func:`direction_vector` of each vocabulary name's
   azimuth and elevation), so the network learns light as a direction, not a label; training can
   also call :meth:`FieldGenerator.relight` with any direction.

Choices and why: fields at 64 px (``work_size``) hold cast shadows and mouth shapes while costing a
LEGAN-64 forward; the gain is bounded (``|g| <= 3``) so a face in deep shadow cannot be amplified into
noise; the prior flow means the warp starts right on every face aligned to the template.

Example:
    >>> g = FieldGenerator(FieldsConfig(n_lighting=3, n_expression=2, width=8))
    >>> x = torch.rand(2, 3, 112, 112) * 2 - 1
    >>> y = g(x, torch.eye(3)[:2], torch.zeros(2, 2))
    >>> y.shape, bool(torch.equal(g(x, torch.zeros(2, 3), torch.zeros(2, 2)), x))
    (torch.Size([2, 3, 112, 112]), True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from augmenter.nets.blocks import Hourglass, tile_labels
from augmenter.tensors import grey_images

MAX_LOG_GAIN = 3.0
PRIOR_AMBIENT, PRIOR_WRAP, PRIOR_DIFFUSE, SRGB_GAMMA = 0.10, 0.1, 1.1, 2.2  # the renderer's flash shading
MAX_FLOW = 0.08  # residual deformation, in grid units ([-1, 1] spans the image): 4% of the side at most
_BLEND_BIAS = -5.0
EXPOSURE_KNEE = 0.8  # keep_exposure: values above this (in [0, 1]) are compressed smoothly toward 1
CONTENT_HUE_DARK = 2.0  # new content on a colour photo takes this many times the skin's colour where black...
CONTENT_HUE_BRIGHT = 0.5  # ...and this many where as bright as the skin (see the module docstring)


@dataclass(frozen=True)
class FieldsConfig:
    n_lighting: int = 16
    n_expression: int = 7
    width: int = 24
    depth: int = 3
    work_size: int = 64
    shading_prior: bool = False  # False: the gain is learned alone (the first trained models)
    residual_log_gain: float = 1.0
    shading_sees_face: bool = True  # False: the residual is a function of the light alone (a template field)
    shading_offset: bool = True  # False: gain only, out = u * exp(g) (the offset paints smooth faces; see below)
    offset_bound: float = 0.5  # |offset| <= this (in [0, 1] units); smaller paints less (docs/generator.md)
    offset_on_albedo: bool = False  # True: the offset is added light, scaled by the source's own detail (below)
    keep_exposure: bool = False  # True: the relit face keeps the source's mean brightness, as a camera's exposure does
    shading_strength: float = 1.0  # the log-gain is multiplied by this when relighting: above 1, deeper shadows
    content_in_skin_hue: bool = True  # False: new content grey in all three channels (before 2026-12-07)
    shading_fill: float = 0.0  # the prior's share of soft fill light on the camera's side (photo style: 0.15)
    shading_wrap: float = PRIOR_WRAP  # how far past 90 degrees the prior's key light wraps (photo style: 0.4)


def direction_vector(azimuth: float, elevation: float) -> tuple[float, float, float]:
    """A light's unit vector ``(x, y, z)`` in the image frame from Yale B's azimuth/elevation (degrees).

    Positive azimuth lights the subject's right side, the image's left (``x < 0``); positive elevation
    is above (``y > 0``); ``z`` points from the face to the camera.
    """
    a, e = math.radians(azimuth), math.radians(elevation)
    return (-math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e))


def grey(x: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` -> ``(B, 1, H, W)`` luma (ITU-R BT.601), same range."""
    return 0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]


def albedo_detail(u: torch.Tensor, sigma_share: float = 1 / 32, floor: float = 0.05, most: float = 3.0) -> torch.Tensor:
    """``(B, C, H, W)`` in [0, 1] -> the same shape: ``u`` over its own blurred luma (Gaussian, sigma a
    ``sigma_share`` of the side; denominator at least ``floor``), capped at ``most``.

    About 1 on smooth skin, below 1 at eyes, brows and pores, above 1 at highlights: the source's detail
    (and colour) relative to its local brightness. Light added to a face is reflected by its albedo, so an
    offset multiplied by this keeps the face's texture where a flat offset paints it smooth.
    """
    luma = grey(u)
    sigma = max(0.5, sigma_share * u.shape[-1])
    radius = int(math.ceil(3 * sigma))
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=u.dtype, device=u.device) / sigma) ** 2)
    taps = taps / taps.sum()
    padded = F.pad(luma, (radius, radius, radius, radius), mode="replicate")
    base = F.conv2d(F.conv2d(padded, taps.view(1, 1, 1, -1)), taps.view(1, 1, -1, 1))
    return (u / base.clamp_min(floor)).clamp(0, most)


def meter_exposure(source: torch.Tensor, relit: torch.Tensor, mask: torch.Tensor,
                   knee: float = EXPOSURE_KNEE) -> torch.Tensor:
    """``relit`` ``(B, C, S, S)`` (sRGB in [0, 1] units, may exceed 1) scaled inside ``mask`` ``(B or 1, 1, S, S)``
    (in [0, 1]) so that its mask-weighted mean *linear* light (sRGB ^ 2.2) equals ``source``'s, then values above
    ``knee`` rolled off toward 1 (tanh): what a camera metering the face records. Metering in linear light, as a
    sensor does, brightens the lit side of a half-shadowed face less than matching the displayed mean would
    (on FER-2013 faces: 2.4% of face pixels blown out instead of 4.3%). Where ``mask`` is 0 the pixels are
    ``relit``'s.

    >>> u = torch.full((1, 3, 4, 4), 0.4); m = torch.ones(1, 1, 4, 4)
    >>> round(float(meter_exposure(u, u * 0.5, m).mean()), 4)
    0.4
    """
    def linear_mean(t: torch.Tensor) -> torch.Tensor:
        lin = t.clamp_min(0).mean(1, keepdim=True) ** SRGB_GAMMA
        return (lin * mask).sum((2, 3), keepdim=True) / mask.sum((2, 3), keepdim=True).clamp_min(1e-6)

    scale = (linear_mean(source) / linear_mean(relit).clamp_min(1e-8)) ** (1 / SRGB_GAMMA)
    out = relit * (1 + mask * (scale.clamp(0.1, 10.0) - 1))
    rolled = torch.where(out > knee, knee + (1 - knee) * torch.tanh((out - knee) / (1 - knee)), out)
    return out + mask * (rolled - out)


class FieldGenerator(nn.Module):
    """``forward(x, c_l, c_e)``: ``(B, 3, S, S)`` in [-1, 1] (any S >= 32), targets ``(B, n_l)``, ``(B, n_e)``
    one-hot (zero rows keep) -> ``(B, 3, S, S)`` in [-1, 1]."""

    def __init__(self, config: FieldsConfig = FieldsConfig()):
        super().__init__()
        self.config = c = config
        self.expression = Hourglass(1 + c.n_expression, 4, c.width, c.depth)
        self.lighting = Hourglass(1 + 3, 2, c.width, c.depth)
        for head in (self.expression.head, self.lighting.head):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        with torch.no_grad():
            self.expression.head.bias[3] = _BLEND_BIAS
        self.register_buffer("directions", torch.tensor([[0.0, 0.0, 1.0]]).repeat(c.n_lighting, 1))
        self.register_buffer("prior_flow", torch.zeros(c.n_expression, 2, c.work_size, c.work_size))
        self.register_buffer("prior_mouth", torch.zeros(c.n_expression, 2, 2 * c.work_size, 2 * c.work_size))
        self.register_buffer("face_mask", torch.ones(1, 1, c.work_size, c.work_size))
        if c.shading_prior:
            normals = torch.zeros(3, c.work_size, c.work_size)
            normals[2] = 1.0
            self.register_buffer("normals", normals)

    def _small(self, x: torch.Tensor) -> torch.Tensor:
        s = self.config.work_size
        return F.interpolate(grey(x), size=(s, s), mode="bilinear", align_corners=False, antialias=True)

    def expression_fields(self, x: torch.Tensor, c_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Flow ``(B, 2, w, w)`` (grid units, x then y), content ``(B, 1, w, w)`` in [0, 1], mask ``(B, 1, w, w)``
        in [0, 1] at the working size ``w``; the flow includes the target's prior."""
        w = self.config.work_size
        d, r, a = torch.split(self.expression(torch.cat([self._small(x), tile_labels(c_e, w)], 1)), [2, 1, 1], 1)
        prior = torch.einsum("be,ecxy->bcxy", c_e, self.prior_flow)
        return prior + MAX_FLOW * torch.tanh(d), (torch.tanh(r) + 1) / 2, torch.sigmoid(a)

    def skin(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 1, 1)`` in [0, 1]: the median grey of the template's nose-and-cheeks box."""
        s = self.config.work_size
        box = (self._small(x)[:, :, int(0.52 * s):int(0.68 * s), int(0.25 * s):int(0.75 * s)] + 1) / 2
        return box.flatten(1).median(1).values[:, None, None, None]

    def skin_hue(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, 1, 1)``: the per-channel median of the template's nose-and-cheeks box over its luma (luma 1:
        multiplying a grey level by it gives that level the skin's hue); exactly 1 for a grey photo, and for every
        photo when ``config.content_in_skin_hue`` is off."""
        is_grey = grey_images(x)
        if not self.config.content_in_skin_hue or bool(is_grey.all()):  # grey batches (all of training) skip the rest
            return torch.ones(len(x), 3, 1, 1, dtype=x.dtype, device=x.device)
        s = self.config.work_size
        small = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
        box = (small[:, :, int(0.52 * s):int(0.68 * s), int(0.25 * s):int(0.75 * s)] + 1) / 2
        rgb = box.flatten(2).median(2).values[:, :, None, None]
        hue = (rgb / grey(rgb).clamp_min(1e-3)).clamp(0.5, 2.0)
        return torch.where(is_grey[:, None, None, None], torch.ones_like(hue), hue)

    @staticmethod
    def _in_skin_hue(level: torch.Tensor, hue: torch.Tensor, skin: torch.Tensor) -> torch.Tensor:
        """Grey content ``level`` ``(B, 1, H, W)`` in [0, 1] coloured by the skin's ``hue``: twice its colour
        where black (a mouth interior is redder than skin), half where as bright as ``skin`` or brighter (teeth),
        linear between; luma kept (up to clipping)."""
        dark = (1 - level / skin.clamp_min(1e-3)).clamp(0, 1)
        strength = CONTENT_HUE_BRIGHT + (CONTENT_HUE_DARK - CONTENT_HUE_BRIGHT) * dark
        return (level * (1 + strength * (hue - 1))).clamp(0, 1)

    def express(self, x: torch.Tensor, c_e: torch.Tensor) -> torch.Tensor:
        """The expression change alone, at ``x``'s size."""
        flow, content, mask = self.expression_fields(x, c_e)
        size = x.shape[-2:]
        up = lambda t: F.interpolate(t, size=size, mode="bilinear", align_corners=False)  # noqa: E731
        base = F.affine_grid(torch.eye(2, 3, device=x.device).expand(len(x), 2, 3), list(x.shape), align_corners=False)
        warped = F.grid_sample(x, base + up(flow).permute(0, 2, 3, 1), mode="bilinear", padding_mode="border",
                               align_corners=False)
        mask, hue, skin = up(mask), self.skin_hue(x), self.skin(x)
        out = (1 - mask) * warped + mask * (self._in_skin_hue(up(content), hue, skin) * 2 - 1)
        cover, ratio = torch.einsum("be,ecxy->bcxy", c_e, self.prior_mouth).split(1, 1)
        if not bool((cover > 0).any()):
            return out
        cover = up(cover)
        return (1 - cover) * out + cover * (self._in_skin_hue((up(ratio) * skin).clamp(0, 1), hue, skin) * 2 - 1)

    def shading_fields(self, x: torch.Tensor, direction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-gain and offset ``(B, 1, w, w)`` for lights of ``direction`` ``(B, 3)``."""
        w = self.config.work_size
        face = self._small(x)
        if not self.config.shading_sees_face:
            face = torch.zeros_like(face)
        g, o = torch.split(self.lighting(torch.cat([face, tile_labels(direction, w)], 1)), [1, 1], 1)
        b = self.config.offset_bound
        o = b * torch.tanh(o) if self.config.shading_offset else torch.zeros_like(o)
        if not self.config.shading_prior:
            return MAX_LOG_GAIN * torch.tanh(g / MAX_LOG_GAIN), o
        r = self.config.residual_log_gain
        return self.prior_log_gain(direction) + r * torch.tanh(g / r), o

    def prior_log_gain(self, direction: torch.Tensor) -> torch.Tensor:
        """``(B, 1, w, w)``: the quotient-image prior for lights of ``direction`` ``(B, 3)`` (see the module)."""
        wrap, fill = self.config.shading_wrap, self.config.shading_fill
        fill_light = (1 + self.normals[2]) / 2  # a uniform half-sky on the camera's side: irradiance (1 + n_z) / 2

        def shading(n_dot_l: torch.Tensor) -> torch.Tensor:
            key = ((n_dot_l + wrap) / (1 + wrap)).clamp(0, 1)
            return PRIOR_AMBIENT + PRIOR_DIFFUSE * ((1 - fill) * key + fill * fill_light)

        target = shading(torch.einsum("bc,cxy->bxy", direction, self.normals)[:, None])
        return torch.log(target / shading(self.normals[2])) / SRGB_GAMMA  # frontal light: n . l = n_z

    def relight(self, x: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
        """``x`` under lights of ``direction`` ``(B, 3)`` unit vectors, at ``x``'s size."""
        g, o = self.shading_fields(x, direction)
        g = g * self.config.shading_strength
        size = x.shape[-2:]
        up = lambda t: F.interpolate(t * self.face_mask, size=size, mode="bilinear", align_corners=False)  # noqa: E731
        u = (x + 1) / 2
        out = u * torch.exp(up(g))
        if self.config.shading_offset:
            out = out + (up(o) * albedo_detail(u) if self.config.offset_on_albedo else up(o))
        if self.config.keep_exposure:
            mask = F.interpolate(self.face_mask, size=size, mode="bilinear", align_corners=False)  # (1, 1, S, S)
            out = meter_exposure(u, out, mask)
        return out.clamp(0, 1) * 2 - 1

    def forward(self, x: torch.Tensor, c_l: torch.Tensor, c_e: torch.Tensor) -> torch.Tensor:
        out = x
        change_e = c_e.abs().sum(1) > 0
        if change_e.any():
            out = torch.where(change_e[:, None, None, None], self.express(x, c_e), out)
        change_l = c_l.abs().sum(1) > 0
        if change_l.any():
            out = torch.where(change_l[:, None, None, None], self.relight(out, c_l @ self.directions), out)
        return out
