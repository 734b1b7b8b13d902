"""Relight styles of the field generator: ``photo`` (gain only, the face's exposure kept) and ``lab`` (the learned
offset at fixed exposure), and the exposure metering they rest on."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from augmenter.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from augmenter.gan.models import load_translator
from augmenter.attributes import RELIGHT_STYLES
from augmenter.nets.fields import EXPOSURE_KNEE, FieldGenerator, FieldsConfig, meter_exposure

SMALL = FieldsConfig(n_lighting=3, n_expression=2, width=8, work_size=32, shading_prior=True)


def _trained_looking(config: FieldsConfig, seed: int = 1, whole_face: bool = False) -> FieldGenerator:
    generator = FieldGenerator(config)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        head = generator.lighting.head
        head.weight.copy_(torch.randn(head.weight.shape, generator=g) * 0.3)
        head.bias.copy_(torch.randn(head.bias.shape, generator=g) * 0.3)
        generator.directions.copy_(torch.tensor([[0.0, 0.0, 1.0], [0.9, 0.0, 0.44], [-0.9, 0.0, 0.44]]))
        mask = torch.zeros_like(generator.face_mask)
        mask[..., 6:26, 8:24] = 1.0
        if whole_face:
            mask[:] = 1.0
        generator.face_mask.copy_(mask)
    return generator.eval()


def _dim_faces(b: int = 2, size: int = 48, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    grey = torch.rand(b, 1, size, size, generator=g) * 0.5 - 0.6  # [0.2, 0.45] in [0, 1] units: below the knee
    return grey.repeat(1, 3, 1, 1)


def _linear(t: torch.Tensor) -> torch.Tensor:
    return t.mean(0) ** 2.2  # channels first: the grey of one face in linear light


def test_metering_restores_the_sources_mean_linear_light_inside_the_mask_and_leaves_the_rest():
    source = torch.rand(2, 3, 8, 8) * 0.5
    relit = source * torch.linspace(0.3, 1.2, 8)  # darker on one side, as a side light makes it
    mask = torch.zeros(2, 1, 8, 8)
    mask[..., 2:6, 2:6] = 1.0
    out = meter_exposure(source, relit, mask)
    inside = mask.bool().expand_as(out)
    assert torch.equal(out[~inside], relit[~inside])
    for i in range(len(out)):
        mine = inside[i]
        face = mine[0]
        assert _linear(out[i])[face].mean() == pytest.approx(_linear(source[i])[face].mean().item(), rel=1e-4)
        ratio = out[i][mine] / relit[i][mine]
        assert torch.allclose(ratio, ratio[0].expand_as(ratio), atol=1e-5)  # one scale: the shading pattern is kept


def test_highlights_roll_off_below_one_and_keep_their_order():
    source = torch.full((1, 1, 1, 5), 0.9)
    relit = torch.tensor([0.5, 0.8, 1.0, 1.4, 3.0]).view(1, 1, 1, 5)
    mask = torch.ones(1, 1, 1, 5)
    out = meter_exposure(source, relit, mask).flatten()
    assert torch.all(out[1:] > out[:-1]) and bool((out < 1).all())
    scaled = relit.flatten() * (0.9 ** 2.2 / (relit ** 2.2).mean()) ** (1 / 2.2)
    below = scaled <= EXPOSURE_KNEE
    assert torch.allclose(out[below], scaled[below])


def test_photo_style_keeps_the_faces_mean_light_and_grey_and_adds_no_offset():
    config = dataclasses.replace(SMALL, **RELIGHT_STYLES["photo"])
    generator = _trained_looking(config, whole_face=True)  # a mask of ones: metering is exact (the rim is tested above)
    x = _dim_faces()
    side = generator.directions[1].expand(len(x), 3)
    y = generator.relight(x, side)
    size = x.shape[-1]
    mask = torch.nn.functional.interpolate(generator.face_mask.expand(len(x), -1, -1, -1), size=(size, size),
                                           mode="bilinear", align_corners=False)
    mean = lambda t: (((t + 1) / 2) ** 2.2 * mask).sum((1, 2, 3)) / (3 * mask.sum((1, 2, 3)))  # noqa: E731
    assert torch.allclose(mean(y), mean(x), rtol=1e-3)
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2])
    assert not torch.allclose(y, x, atol=1e-2)  # it did relight


def test_lab_style_is_the_trained_models_own_output():
    generator = _trained_looking(dataclasses.replace(SMALL, **RELIGHT_STYLES["lab"]))
    x = _dim_faces()
    side = generator.directions[2].expand(len(x), 3)
    with torch.no_grad():
        gain, offset = generator.shading_fields(x, side)
    size = x.shape[-1]
    up = lambda t: torch.nn.functional.interpolate(t * generator.face_mask, size=(size, size), mode="bilinear",  # noqa: E731
                                                    align_corners=False)
    expected = (((x + 1) / 2) * torch.exp(up(gain)) + up(offset)).clamp(0, 1) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(generator.relight(x, side), expected, atol=1e-6)
    assert float(offset.abs().max()) > 0


def _saved_fields(tmp_path, config: FieldsConfig, train: dict | None = None):
    generator = _trained_looking(config)
    names = ["az+000_el+00", "az+065_el+00", "az-065_el+00"]
    return save_checkpoint(tmp_path / "fields.pt", kind="fields", model={"generator": generator.state_dict()},
                           ema={"generator": generator.state_dict()}, step=3,
                           config={"generator": dataclasses.asdict(config), "image_size": 64, "train": train or {}},
                           vocabularies={"lighting": names, "expression": ["neutral", "happy"]})


def test_load_translator_relights_in_the_style_asked_for_with_the_same_weights(tmp_path):
    path = _saved_fields(tmp_path, dataclasses.replace(SMALL, **RELIGHT_STYLES["lab"]))
    saved = load_translator(path).generator
    photo = load_translator(path, relight_style="photo").generator
    assert saved.config.shading_offset and not saved.config.keep_exposure
    assert not photo.config.shading_offset and photo.config.keep_exposure
    for (name, a), (_, b) in zip(saved.state_dict().items(), photo.state_dict().items()):
        assert torch.equal(a, b), name
    x = _dim_faces()
    assert not torch.allclose(load_translator(path).translate(x, lighting="az+065_el+00"),
                              load_translator(path, relight_style="photo").translate(x, lighting="az+065_el+00"))
    with pytest.raises(ValueError, match="unknown relight style .studio.*photo, photo-deep, lab"):
        load_translator(path, relight_style="studio")


def test_a_relight_style_is_refused_for_a_legan(tmp_path):
    from augmenter.gan.models import build_generator, generator_config

    legan = build_generator("legan", 3, 2, 8)
    path = save_checkpoint(tmp_path / "legan.pt", kind="legan", model={"generator": legan.state_dict()}, step=0,
                           config={"generator": generator_config(legan), "image_size": 64},
                           vocabularies={"lighting": ["a", "b", "c"], "expression": ["neutral", "happy"]})
    assert load_translator(path).arch == "legan"
    with pytest.raises(CheckpointError, match="legan.pt.*fields generator only"):
        load_translator(path, relight_style="photo")


def test_export_writes_the_shipping_style_into_the_saved_config(tmp_path):
    from pipelines.default_generator.run import export

    trained = _saved_fields(tmp_path, dataclasses.replace(SMALL, **RELIGHT_STYLES["lab"]))
    shipped = export(trained, tmp_path / "asset.pt", "a note", learned_expression=True)
    kept = export(trained, tmp_path / "kept.pt", "a note", learned_expression=True, relight_style=None)
    saved = load_checkpoint(shipped).config["generator"]
    assert saved == {**dataclasses.asdict(SMALL), **RELIGHT_STYLES["photo"]}
    assert load_translator(shipped).generator.config.keep_exposure
    assert load_translator(kept).generator.config == load_translator(trained).generator.config


def test_shading_strength_multiplies_the_log_gain():
    plain = dataclasses.replace(SMALL, shading_offset=False)
    generator = _trained_looking(plain)
    stronger = FieldGenerator(dataclasses.replace(plain, shading_strength=2.0)).eval()
    stronger.load_state_dict(generator.state_dict())
    x = _dim_faces()
    side = generator.directions[1].expand(len(x), 3)
    with torch.no_grad():
        gain, _ = generator.shading_fields(x, side)
        up = torch.nn.functional.interpolate(gain * generator.face_mask, size=x.shape[-2:], mode="bilinear",
                                             align_corners=False)
        expected = (((x + 1) / 2) * torch.exp(2 * up)).clamp(0, 1) * 2 - 1
        assert torch.allclose(stronger.relight(x, side), expected, atol=1e-6)
        assert not torch.allclose(generator.relight(x, side), expected, atol=1e-3)


@pytest.mark.parametrize("style", sorted(RELIGHT_STYLES))
def test_every_named_style_loads_with_its_settings(tmp_path, style):
    path = _saved_fields(tmp_path, SMALL)
    config = load_translator(path, relight_style=style).generator.config
    assert {k: getattr(config, k) for k in RELIGHT_STYLES[style]} == RELIGHT_STYLES[style]


def test_a_saved_fill_share_may_be_zero_but_not_outside_zero_to_one(tmp_path):
    assert load_translator(_saved_fields(tmp_path, dataclasses.replace(SMALL, shading_fill=0.0))).arch == "fields"
    odd = _saved_fields(tmp_path, dataclasses.replace(SMALL, shading_fill=1.5))
    with pytest.raises(CheckpointError, match=r"fields\.pt.*shares in \[0, 1\]\), not shading_fill=1.5"):
        load_translator(odd)
