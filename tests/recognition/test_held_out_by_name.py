"""Holding out identities by name (the people a generator never trained on), and lighting names that say
where the light is, as the verification pipeline uses them."""
from __future__ import annotations

import pytest

from augmenter.attributes import FLASH_DIRECTIONS, angle_between, light_direction
from augmenter.datasets.spec import read_specs, split_by_identities
from pipelines.verification import harsh_targets
from recognition.train_verifier import VerifierConfig, train_verifier
from tests.recognition.fixtures import make_identity_folders


def test_split_by_identities_holds_out_exactly_the_named_people(tmp_path):
    records = read_specs([f"folder:{make_identity_folders(tmp_path / 'faces', n_per_identity=3)}"])[0]
    names = sorted({r.identity for r in records})
    train, held = split_by_identities(records, names[:2])
    assert {r.identity for r in held} == set(names[:2]) and len(held) == 6
    assert not {r.identity for r in train} & set(names[:2]) and len(train) + len(held) == len(records)
    with pytest.raises(ValueError, match="nobody_here"):
        split_by_identities(records, [names[0], "nobody_here"])


def test_train_verifier_never_trains_on_identities_held_out_by_name(tmp_path):
    root = make_identity_folders(tmp_path / "faces", n_per_identity=4)
    names = sorted({r.identity for r in read_specs([f"folder:{root}"])[0]})
    lines = []
    train_verifier(VerifierConfig(data=[f"folder:{root}"], out=str(tmp_path / "run"), held_out_identities=names[-2:],
                                  backbone="mobilefacenet", embedding_size=32, image_size=32, epochs=1, batch_size=4,
                                  optimizer="adamw", lr=1e-3, scale=16.0, workers=0, device="cpu"), log=lines.append)
    assert "2 identities held out (never trained on)" in lines
    assert f"train: {4 * (len(names) - 2)} image(s) of {len(names) - 2} identities" in lines


def test_light_direction_reads_flash_and_azimuth_elevation_names():
    name, direction = next(iter(FLASH_DIRECTIONS.items()))
    assert light_direction(name) == direction
    assert light_direction("az-070_el+15") == (-70.0, 15.0) and light_direction("az+000_el-20") == (0.0, -20.0)
    assert light_direction("ambient") is None and light_direction("az70_el0") is None


def test_harsh_targets_of_the_field_generator_are_its_lights_beyond_the_angle():
    targets = harsh_targets("fields", 35.0)
    assert "az+000_el+00" not in targets and "az-025_el+00" not in targets
    assert {"az-070_el+00", "az+110_el+15", "az+000_el+45", "az+035_el+40"} <= set(targets)
    assert all(angle_between(light_direction(t), (0, 0)) > 35 for t in targets)
