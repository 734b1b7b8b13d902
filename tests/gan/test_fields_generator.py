"""The field generator: keeping, grey-preserving white light, the prior flow's backward warp, any input size,
and a ``fields`` checkpoint loaded by ``load_translator``."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch.nn import functional as F

from augmenter.checkpoint import save_checkpoint
from augmenter.gan.models import ARCHS, load_translator
from augmenter.nets.fields import FieldGenerator, FieldsConfig, direction_vector, grey

SMALL = FieldsConfig(n_lighting=3, n_expression=2, width=8, work_size=32)
MASK = torch.sigmoid(torch.tensor(-5.0)).item()  # the untrained blend mask


def _images(b: int = 2, size: int = 40, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, size, size, generator=g) * 2 - 1


def _grey_images(b: int = 2, size: int = 40, seed: int = 0) -> torch.Tensor:
    """Like :func:`_images` with the three channels equal: new content stays grey on them."""
    return _images(b, size, seed)[:, :1].expand(-1, 3, -1, -1).contiguous()


def _randomise_heads(generator: FieldGenerator, seed: int = 1, std: float = 0.3) -> FieldGenerator:
    """Give the zero-initialised heads weights, so the generator changes its input."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for head in (generator.expression.head, generator.lighting.head):
            head.weight.copy_(torch.randn(head.weight.shape, generator=g) * std)
            head.bias.copy_(torch.randn(head.bias.shape, generator=g) * std)
    return generator.eval()


def _identity_grid(x: torch.Tensor) -> torch.Tensor:
    return F.affine_grid(torch.eye(2, 3).expand(len(x), 2, 3), list(x.shape), align_corners=False)


# --------------------------------------------------------------------------- helpers


def test_direction_vector_axes_and_unit_length():
    assert direction_vector(0, 0) == pytest.approx((0.0, 0.0, 1.0))
    # positive azimuth lights the subject's right side = the image's left (x < 0)
    assert direction_vector(90, 0) == pytest.approx((-1.0, 0.0, 0.0), abs=1e-12)
    assert direction_vector(-90, 0) == pytest.approx((1.0, 0.0, 0.0), abs=1e-12)
    assert direction_vector(0, 90) == pytest.approx((0.0, 1.0, 0.0), abs=1e-12)
    assert direction_vector(0, -30) == pytest.approx((0.0, -0.5, math.cos(math.radians(30))))
    for a, e in ((-110, 15), (35, 40), (60, -20)):
        assert math.fsum(v * v for v in direction_vector(a, e)) == pytest.approx(1.0)


def test_grey_is_bt601_luma():
    x = torch.zeros(1, 3, 2, 2)
    x[0, 0], x[0, 1], x[0, 2] = 1.0, 0.5, -1.0
    out = grey(x)
    assert out.shape == (1, 1, 2, 2)
    torch.testing.assert_close(out, torch.full((1, 1, 2, 2), 0.299 + 0.5 * 0.587 - 0.114))
    v = torch.rand(1, 1, 5, 5) * 2 - 1
    torch.testing.assert_close(grey(v.expand(-1, 3, -1, -1)), v)  # R = G = B -> that value


# --------------------------------------------------------------------------- forward


@pytest.mark.parametrize("size", [32, 47, 112])
def test_output_has_the_input_size_and_range(size):
    g = _randomise_heads(FieldGenerator(SMALL))
    x = _images(2, size)
    with torch.no_grad():
        y = g(x, torch.eye(3)[:2], torch.eye(2))
    assert y.shape == x.shape
    assert torch.isfinite(y).all() and y.min() >= -1 and y.max() <= 1
    assert not torch.allclose(y, x, atol=1e-3)  # the randomised heads do change it


def test_keeping_both_attributes_returns_the_input_bit_for_bit():
    g = _randomise_heads(FieldGenerator(SMALL))
    x = _images(3, 48)
    with torch.no_grad():
        assert torch.equal(g(x, torch.zeros(3, 3), torch.zeros(3, 2)), x)
        # a mixed batch: only the rows with a target change, the kept row is the input exactly
        c_l = torch.tensor([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]])
        c_e = torch.tensor([[0.0, 0], [0, 0], [1, 0]])
        y = g(x, c_l, c_e)
    assert torch.equal(y[0], x[0])
    assert not torch.allclose(y[1], x[1], atol=1e-3)
    assert not torch.allclose(y[2], x[2], atol=1e-3)


def test_forward_is_express_then_relight_towards_the_target_direction():
    g = FieldGenerator(SMALL)
    with torch.no_grad():
        g.directions.copy_(torch.tensor([direction_vector(a, e) for a, e in ((0, 0), (-70, 0), (35, 40))]))
    _randomise_heads(g)
    x = _images(2, 40)
    c_l, c_e = torch.tensor([[0.0, 1, 0], [0, 0, 1]]), torch.tensor([[1.0, 0], [0, 1]])
    with torch.no_grad():
        expected_light = g.relight(x, g.directions[[1, 2]])
        torch.testing.assert_close(g(x, c_l, torch.zeros(2, 2)), expected_light)
        expected_both = g.relight(g.express(x, c_e), g.directions[[1, 2]])
        torch.testing.assert_close(g(x, c_l, c_e), expected_both)
        torch.testing.assert_close(g(x, torch.zeros(2, 3), c_e), g.express(x, c_e))
        # the direction does matter: another light gives another picture
        assert not torch.allclose(g.relight(x, g.directions[[0, 0]]), expected_light, atol=1e-3)


def test_relight_keeps_a_grey_picture_grey():
    g = _randomise_heads(FieldGenerator(SMALL), seed=3)
    v = _images(2, 40)[:, :1]
    x = v.expand(-1, 3, -1, -1).contiguous()
    with torch.no_grad():
        y = g(x, torch.eye(3)[[0, 2]], torch.zeros(2, 2))
    assert not torch.allclose(y, x, atol=1e-3)
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2])


def test_relight_applies_one_gain_and_offset_to_every_channel():
    g = _randomise_heads(FieldGenerator(SMALL), seed=4, std=0.1)
    x = _images(1, 36)
    d = torch.tensor([direction_vector(-50, 0)])
    with torch.no_grad():
        gain, offset = g.shading_fields(x, d)
        y = g.relight(x, d)
    assert gain.shape == offset.shape == (1, 1, 32, 32)
    assert gain.abs().max() <= 3 and offset.abs().max() <= 0.5
    up = lambda t: F.interpolate(t, size=(36, 36), mode="bilinear", align_corners=False)  # noqa: E731
    expected = (((x + 1) / 2) * torch.exp(up(gain)) + up(offset)).clamp(0, 1) * 2 - 1
    torch.testing.assert_close(y, expected)


def test_offset_bound_limits_the_offset_and_defaults_to_the_shipped_half_range():
    wide = _randomise_heads(FieldGenerator(SMALL), seed=4, std=3.0)  # large raw outputs: saturating tanh
    narrow = FieldGenerator(dataclasses.replace(SMALL, offset_bound=0.15))
    narrow.load_state_dict(wide.state_dict())
    x, d = _images(2, 36), torch.tensor([direction_vector(-50, 0), direction_vector(70, 20)])
    with torch.no_grad():
        _, o_wide = wide.shading_fields(x, d)
        _, o_narrow = narrow.shading_fields(x, d)
    assert SMALL.offset_bound == 0.5 and o_wide.abs().max() > 0.4  # old checkpoints (no key) keep +-0.5
    assert o_narrow.abs().max() <= 0.15 + 1e-6
    torch.testing.assert_close(o_narrow, o_wide * 0.3)  # same raw output, bound 0.15 / 0.5


def test_untrained_relight_is_the_identity():
    g = FieldGenerator(SMALL)
    x = _images(2, 40)
    with torch.no_grad():
        y = g.relight(x, torch.tensor([direction_vector(-70, 0), direction_vector(35, 40)]))
    torch.testing.assert_close(y, x, atol=1e-6, rtol=0)


def test_untrained_expression_is_the_prior_flow_warp():
    g = FieldGenerator(SMALL)
    prior = torch.zeros(2, 2, 32, 32)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    prior[1, 0] = 0.1 * torch.sin(3 * yy)
    prior[1, 1] = -0.15 * xx * yy
    with torch.no_grad():
        g.prior_flow.copy_(prior)
    x = _grey_images(2, 48)  # a grey photo's content is grey: 0.5 -> 0
    with torch.no_grad():
        y = g(x, torch.zeros(2, 3), torch.tensor([[0.0, 1], [0, 1]]))
        neutral = g(x, torch.zeros(2, 3), torch.tensor([[1.0, 0], [1, 0]]))
    up = F.interpolate(prior[[1, 1]], size=(48, 48), mode="bilinear", align_corners=False)
    warped = F.grid_sample(x, _identity_grid(x) + up.permute(0, 2, 3, 1), mode="bilinear",
                           padding_mode="border", align_corners=False)
    # untrained: content (tanh(0) + 1) / 2 = 0.5, i.e. 0 in [-1, 1]; blend mask sigmoid(-5)
    torch.testing.assert_close(y, (1 - MASK) * warped, atol=1e-5, rtol=0)
    assert (y - warped).abs().max() < 0.01  # approximately the warp itself
    assert (warped - x).abs().mean() > 0.05  # and the warp really moved something
    # expression 0 has a zero prior: (almost) the input
    torch.testing.assert_close(neutral, (1 - MASK) * x, atol=1e-5, rtol=0)


def test_prior_flow_is_a_backward_flow_in_grid_units():
    """A constant x flow of 2k/S grid units makes output column j take input column j + k."""
    g = FieldGenerator(SMALL)
    size, k = 40, 4
    with torch.no_grad():
        g.prior_flow[1, 0] = 2 * k / size
    x = _grey_images(1, size)
    with torch.no_grad():
        y = g.express(x, torch.tensor([[0.0, 1]])) / (1 - MASK)
    torch.testing.assert_close(y[..., : size - k], x[..., k:], atol=1e-5, rtol=0)
    # border padding beyond the right edge
    torch.testing.assert_close(y[..., size - k:], x[..., -1:].expand(-1, -1, -1, k), atol=1e-5, rtol=0)


# --------------------------------------------------------------------------- checkpoint round trip


def test_fields_checkpoint_round_trip_through_load_translator(tmp_path):
    assert "fields" in ARCHS
    names = ["az+000_el+00", "az-070_el+00", "az+035_el+40"]
    config = FieldsConfig(n_lighting=3, n_expression=2, width=8)  # default work size 64
    model_g = _randomise_heads(FieldGenerator(config), seed=5)
    ema_g = _randomise_heads(FieldGenerator(config), seed=6)
    directions = torch.tensor([direction_vector(0, 0), direction_vector(-70, 0), direction_vector(35, 40)])
    with torch.no_grad():
        for g in (model_g, ema_g):
            g.directions.copy_(directions)
            g.prior_flow.copy_(torch.randn(g.prior_flow.shape, generator=torch.Generator().manual_seed(7)) * 0.05)
    path = save_checkpoint(tmp_path / "fields.pt", kind="fields", model={"generator": model_g.state_dict()},
                           ema={"generator": ema_g.state_dict()}, step=0,
                           config={"generator": dataclasses.asdict(config), "image_size": 128},
                           vocabularies={"lighting": names, "expression": ["neutral", "happy"]})

    translator = load_translator(path)
    loaded = translator.generator
    assert isinstance(loaded, FieldGenerator) and loaded.config == config
    assert translator.arch == "fields" and translator.image_size == 128
    assert translator.lighting == names and translator.expression == ["neutral", "happy"]
    assert torch.equal(loaded.directions, ema_g.directions)
    assert torch.equal(loaded.prior_flow, ema_g.prior_flow)
    assert not torch.equal(loaded.directions, FieldGenerator(config).directions)

    x = _images(2, 112, seed=8)
    c_l, c_e = torch.tensor([[0.0, 1, 0], [0, 0, 1]]), torch.tensor([[0.0, 1], [1, 0]])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, c_l, c_e), ema_g(x, c_l, c_e), atol=0, rtol=0)  # the EMA weights
        raw = load_translator(path, use_ema=False).generator
        torch.testing.assert_close(raw(x, c_l, c_e), model_g(x, c_l, c_e), atol=0, rtol=0)

    out = translator.translate(x, lighting="az-070_el+00")
    assert out.shape == (2, 3, 112, 112)  # any size, though image_size says 128
    with torch.no_grad():
        torch.testing.assert_close(out, ema_g(x, torch.tensor([[0.0, 1, 0]] * 2), torch.zeros(2, 2)), atol=0, rtol=0)
    assert not torch.allclose(out, x, atol=1e-3)
    assert torch.equal(translator.translate(x), x)  # nothing named: the input


def test_skin_is_the_median_grey_of_the_nose_and_cheeks_box():
    g = FieldGenerator(SMALL)
    x = torch.full((2, 3, 48, 48), -0.2)
    x[1] = 0.4
    x[1, :, :5] = 1.0  # the forehead is outside the box
    assert torch.allclose(g.skin(x).flatten(), torch.tensor([0.4, 0.7]), atol=1e-5)


def test_prior_mouth_paints_content_at_the_skins_brightness():
    g = FieldGenerator(SMALL)
    with torch.no_grad():
        g.expression.head.bias[3] = -100.0  # no learned blend: only the prior mouth adds content
        g.prior_mouth[1, 0, 40:50, 20:44] = 1.0
        g.prior_mouth[1, 1, 40:50, 20:44] = 1.5
    x = torch.full((1, 3, 64, 64), 0.0)  # skin 0.5 in [0, 1]
    x[..., :8, :] = -0.6
    out = g(x, torch.zeros(1, 3), torch.tensor([[0.0, 1.0]]))
    assert torch.allclose(out[0, :, 42:48, 24:40], torch.tensor(0.5), atol=1e-5)  # 1.5 * 0.5 -> 0.75 -> 0.5
    assert torch.allclose(out[0, :, 10:30], x[0, :, 10:30], atol=1e-5)  # far from the mouth: the input
    # the other expression has no mouth prior: nothing painted
    kept = g(x, torch.zeros(1, 3), torch.tensor([[1.0, 0.0]]))
    assert torch.allclose(kept, x, atol=1e-5)


def test_on_a_colour_photo_the_prior_mouth_takes_the_skins_hue_and_keeps_its_luma():
    from augmenter.nets.fields import CONTENT_HUE_BRIGHT, CONTENT_HUE_DARK, grey

    g = FieldGenerator(SMALL)
    with torch.no_grad():
        g.expression.head.bias[3] = -100.0  # no learned blend: only the prior mouth adds content
        g.prior_mouth[1, 0, 40:50, 20:44] = 1.0
        g.prior_mouth[1, 1, 40:46, 20:44] = 0.2  # a dark interior...
        g.prior_mouth[1, 1, 46:50, 20:44] = 1.2  # ...and a row of teeth brighter than the skin
    skin_rgb = torch.tensor([0.8, 0.6, 0.5])  # a warm skin, in [0, 1]
    x = (skin_rgb * 2 - 1)[None, :, None, None].expand(1, 3, 64, 64).clone()
    out = (g(x, torch.zeros(1, 3), torch.tensor([[0.0, 1.0]])) + 1) / 2
    luma = grey(skin_rgb[None, :, None, None]).item()
    hue = skin_rgb / luma
    interior, teeth = out[0, :, 41:45, 24:40].mean((1, 2)), out[0, :, 47:49, 24:40].mean((1, 2))
    dark = 1 - 0.2  # the interior is 0.2 of the skin's brightness
    expected_interior = 0.2 * luma * (1 + (CONTENT_HUE_BRIGHT + (CONTENT_HUE_DARK - CONTENT_HUE_BRIGHT) * dark)
                                      * (hue - 1))
    torch.testing.assert_close(interior, expected_interior, atol=2e-3, rtol=0)
    torch.testing.assert_close(teeth, (1.2 * luma * (1 + CONTENT_HUE_BRIGHT * (hue - 1))).clamp(0, 1), atol=2e-3,
                               rtol=0)
    assert interior[0] > interior[1] > interior[2]  # warm, like the skin
    assert grey(interior[None, :, None, None]).item() == pytest.approx(0.2 * luma, abs=2e-3)  # luma kept


def test_a_grey_photos_new_content_stays_grey_bit_for_bit():
    g = _randomise_heads(FieldGenerator(SMALL))
    with torch.no_grad():
        g.prior_mouth[1, 0, 40:50, 20:44] = 1.0
        g.prior_mouth[1, 1, 40:50, 20:44] = 0.3
    x = _grey_images(2, 64)
    out = g.express(x, torch.tensor([[0.0, 1.0], [0.0, 1.0]]))
    assert torch.equal(g.skin_hue(x), torch.ones(2, 3, 1, 1))
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])


def test_with_content_in_skin_hue_off_a_colour_photos_new_content_is_grey():
    g = FieldGenerator(dataclasses.replace(SMALL, content_in_skin_hue=False))
    x = torch.tensor([0.6, 0.2, 0.0])[None, :, None, None].expand(2, 3, 32, 32)
    assert torch.equal(g.skin_hue(x), torch.ones(2, 3, 1, 1))
    assert not torch.equal(FieldGenerator(SMALL).skin_hue(x), torch.ones(2, 3, 1, 1))


def test_shading_stays_inside_the_face_mask():
    g = _randomise_heads(FieldGenerator(SMALL))
    with torch.no_grad():
        g.face_mask.zero_()
        g.face_mask[..., 8:24, 8:24] = 1.0
    x = _images(2, 64)
    out = g(x, torch.eye(3)[:2], torch.zeros(2, 2))
    assert torch.equal(out[..., :8, :], x[..., :8, :])  # the top rows: gain 0, offset 0 -> unchanged
    assert (out[..., 24:40, 24:40] - x[..., 24:40, 24:40]).abs().mean() > 1e-3


# --------------------------------------------------------------------------- quotient-image lighting prior

def _prior_generator(**kw) -> FieldGenerator:
    g = FieldGenerator(FieldsConfig(n_lighting=3, n_expression=2, width=8, work_size=32, shading_prior=True, **kw))
    with torch.no_grad():  # a ball: normals point left on the left, right on the right
        ys, xs = torch.meshgrid(torch.linspace(1, -1, 32), torch.linspace(-1, 1, 32), indexing="ij")
        z = (1 - xs ** 2 - ys ** 2).clamp_min(0.05).sqrt()
        n = torch.stack([xs, ys, z])
        g.normals.copy_(n / n.norm(dim=0, keepdim=True))
    return g.eval()


def test_the_shading_prior_is_one_under_a_frontal_light_and_lights_the_side_the_light_is_on():
    g = _prior_generator()
    frontal = g.prior_log_gain(torch.tensor([[0.0, 0.0, 1.0]]))
    assert torch.allclose(frontal, torch.zeros_like(frontal))
    left = g.prior_log_gain(torch.tensor([direction_vector(70, 0)]))  # positive azimuth: the image's left
    assert float(left[..., 16, :8].mean()) > float(left[..., 16, -8:].mean()) + 0.3
    assert float(left.max()) <= math.log((0.1 + 1.1) / (0.1 + 1.1 * 0.1 / 1.1)) / 2.2 + 1e-5  # bounded by the model


def test_without_fill_the_prior_is_the_renderers_flash_shading():
    g = _prior_generator()
    d = torch.tensor([direction_vector(95, 0)])
    ndl = torch.einsum("bc,cxy->bxy", d, g.normals)[:, None]
    flash = lambda t: 0.1 + 1.1 * ((t + 0.1) / 1.1).clamp(0, 1)  # noqa: E731
    assert torch.allclose(g.prior_log_gain(d), torch.log(flash(ndl) / flash(g.normals[2])) / 2.2, atol=1e-6)


def test_a_fill_light_lifts_the_shadow_side_and_softens_the_step_across_the_face():
    d = torch.tensor([direction_vector(95, 0)])  # a side light: the image's right half in shadow
    hard = _prior_generator().prior_log_gain(d)
    soft = _prior_generator(shading_fill=0.15, shading_wrap=0.4).prior_log_gain(d)
    row = lambda g: g[0, 0, 16, 4:-4]  # noqa: E731  (across the ball's middle, inside its rim)
    assert float(row(soft)[-8:].mean()) > float(row(hard)[-8:].mean()) + 0.3  # the shadow keeps light
    assert float(row(soft).diff().abs().max()) < 0.6 * float(row(hard).diff().abs().max())  # no hard line
    assert float(row(soft)[:4].mean()) > float(row(soft)[-4:].mean()) + 0.3  # and the light still comes from its side
    frontal = _prior_generator(shading_fill=0.15, shading_wrap=0.4).prior_log_gain(torch.tensor([[0.0, 0.0, 1.0]]))
    assert torch.allclose(frontal, torch.zeros_like(frontal))


def test_with_the_prior_the_learned_gain_is_a_bounded_residual_on_top():
    g = _prior_generator(residual_log_gain=0.5)
    with torch.no_grad():
        g.lighting.head.bias.fill_(50.0)  # a saturated residual
    d = torch.tensor([direction_vector(-50, 0)])
    gain, _ = g.shading_fields(torch.zeros(1, 3, 32, 32), d)
    assert torch.allclose(gain - g.prior_log_gain(d), torch.full_like(gain, 0.5), atol=1e-4)


def test_a_face_blind_shading_field_ignores_the_image():
    g = _prior_generator(shading_sees_face=False)
    with torch.no_grad():
        for p in g.lighting.parameters():
            p.normal_(0, 0.3)
    d = torch.tensor([direction_vector(-50, 0)] * 2)
    a, _ = g.shading_fields(torch.rand(2, 3, 32, 32) * 2 - 1, d)
    b, _ = g.shading_fields(torch.rand(2, 3, 32, 32) * 2 - 1, d)
    assert torch.allclose(a, b)
    seeing = _prior_generator()
    seeing.load_state_dict(g.state_dict())
    c, _ = seeing.shading_fields(torch.rand(2, 3, 32, 32) * 2 - 1, d)
    assert not torch.allclose(a, c)


def test_albedo_detail_is_one_on_flat_skin_and_follows_detail_and_colour():
    from augmenter.nets.fields import albedo_detail

    flat = torch.full((1, 3, 32, 32), 0.5)
    assert torch.allclose(albedo_detail(flat), torch.ones_like(flat), atol=1e-5)
    spot = flat.clone()
    spot[:, :, 16, 16] = 0.1  # a dark pore: below 1 there, about 1 far from it
    d = albedo_detail(spot)
    assert d[0, 0, 16, 16] < 0.3 and abs(d[0, 0, 2, 2].item() - 1) < 1e-3
    tinted = torch.tensor([0.6, 0.5, 0.4]).view(1, 3, 1, 1).expand(1, 3, 32, 32)
    d = albedo_detail(tinted)[0, :, 8, 8]
    assert d[0] > d[1] > d[2]  # the colour of the face relative to its grey: added white light takes the skin's colour
    black = torch.zeros(1, 3, 16, 16)
    assert torch.equal(albedo_detail(black), black)  # the floor keeps a black background black (no 0/0)


def test_offset_on_albedo_matches_the_flat_offset_on_a_flat_face_and_keeps_detail_on_a_textured_one():
    import dataclasses

    g = FieldGenerator(FieldsConfig(n_lighting=1, n_expression=1, width=8, work_size=32)).eval()
    with torch.no_grad():
        g.lighting.head.bias[1] = 0.5  # offset 0.5 * tanh(0.5) ~ +0.23 everywhere on the face
    on_albedo = FieldGenerator(dataclasses.replace(g.config, offset_on_albedo=True)).eval()
    on_albedo.load_state_dict(g.state_dict())
    light = torch.tensor([[0.0, 0.0, 1.0]])
    flat = torch.zeros(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(g.relight(flat, light), on_albedo.relight(flat, light), atol=1e-4)
        stripes = torch.zeros(1, 3, 64, 64)
        stripes[..., ::2] = -0.4  # fine dark stripes on mid grey, in [-1, 1]
        contrast = lambda y: (y[..., 1::2] - y[..., ::2]).mean().item()  # noqa: E731
        assert contrast(on_albedo.relight(stripes, light)) > 1.15 * contrast(g.relight(stripes, light))
