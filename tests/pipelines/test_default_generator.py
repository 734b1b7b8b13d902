"""The default generator's pipeline: Yale B light series and class folders as arrays, the lighting and
expression measurements, and the names of its lights."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from augmenter.align import canonical_template, similarity_transform
from augmenter.attributes import FIELD_LIGHT_DIRECTIONS, FIELD_LIGHTING, direction_name
from augmenter.gan_eval.image_similarity import psnr, ssim
from augmenter.nets.fields import FieldGenerator, FieldsConfig
from pipelines.default_generator.data import class_folder_arrays, yaleb_light_series
from pipelines.default_generator.measure import expression_scores, lighting_scores

# --------------------------------------------------------------------------- Yale B light series

W, H = 168, 192  # Extended Yale B's cropped photos: 168 wide, 192 high
POINTS = np.array([[60.0, 80.0], [110.0, 80.0], [85.0, 110.0], [65.0, 140.0], [105.0, 140.0]])
LIGHTS = ("+000E+00", "+070E+00", "-035E+15")
DOT = (100, 85)  # (row, column) of the centre of a bright dot put in every raw photo
HEADER = ["path", "found", "score", "n_faces", "x1", "y1", "x2", "y2",
          *[f"l{c}{i}" for i in range(5) for c in "xy"], "out_path"]


def _photo(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(20, 50, (H, W), dtype=np.uint8)
    img[DOT[0] - 3:DOT[0] + 4, DOT[1] - 3:DOT[1] + 4] = 255  # 7x7: still the brightest spot after shrinking
    return img


def _dot_centre(img: np.ndarray) -> np.ndarray:
    """(x, y) centroid of the bright dot (the background stays below 50)."""
    ys, xs = np.nonzero(img > 60)
    w = img[ys, xs].astype(np.float64) - 35  # the background's mean, so half-covered edge pixels weigh right
    return np.array([(w * xs).sum(), (w * ys).sum()]) / w.sum()


def _row(rel: str, points: np.ndarray, found: bool = True) -> dict:
    row = {"path": rel, "found": str(found), "score": "0.99", "n_faces": "1", "x1": "30", "y1": "40", "x2": "140",
           "y2": "170", "out_path": f"aligned/{rel}"}
    for i, (x, y) in enumerate(points):
        row[f"lx{i}"], row[f"ly{i}"] = f"{x:.2f}", f"{y:.2f}"
    return row


def _yaleb(root: Path, landmarks: dict[str, list[tuple[str, np.ndarray, bool]]]) -> tuple[Path, Path]:
    """``root/yaleB/<subject>/*.pgm`` (three lights and an ambient shot each) and a landmarks.csv."""
    data = root / "yaleB"
    seed = 0
    for subject in landmarks:
        (data / subject).mkdir(parents=True)
        for light in LIGHTS:
            seed += 1
            Image.fromarray(_photo(seed)).save(data / subject / f"{subject}_P00A{light}.pgm")
        Image.fromarray(np.full((H, W), 200, np.uint8)).save(data / subject / f"{subject}_P00_Ambient.pgm")
    csv_path = root / "landmarks.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, HEADER)
        writer.writeheader()
        for subject, rows in landmarks.items():
            for light, points, found in rows:
                writer.writerow(_row(f"{subject}/{subject}_P00A{light}.pgm", points, found))
    return data, csv_path


def _shifted(dx: float, dy: float = 0.0) -> np.ndarray:
    return POINTS + np.array([dx, dy])


def test_pgm_fixture_is_what_yale_b_looks_like(tmp_path):
    data, _ = _yaleb(tmp_path, {"yaleB01": []})
    with Image.open(data / "yaleB01" / "yaleB01_P00A+000E+00.pgm") as img:
        assert img.format == "PPM" and img.mode == "L" and img.size == (W, H)


def test_light_series_parses_every_lit_photo_and_registers_each_subject_once(tmp_path):
    data, csv_path = _yaleb(tmp_path, {
        # two near-frontal detections (median: shifted by 5 px) and one far from frontal that must not count
        "yaleB01": [("+000E+00", _shifted(0), True), ("-035E+15", _shifted(10), True),
                    ("+070E+00", _shifted(60, 20), True)],
        # a not-found row's points must not count either
        "yaleB02": [("+000E+00", _shifted(-4, 3), True), ("-035E+15", _shifted(40, 40), False)],
    })
    series = yaleb_light_series(data, csv_path, size=64)
    assert series.images.shape == (6, 64, 64) and series.images.dtype == np.uint8
    got = sorted(zip(series.subject.tolist(), series.azimuth.tolist(), series.elevation.tolist()))
    assert got == sorted((s, a, e) for s in ("yaleB01", "yaleB02") for a, e in ((0, 0), (70, 0), (-35, 15)))
    assert series.azimuth.dtype == np.float32 and series.elevation.dtype == np.float32
    assert not (series.images == 200).all(axis=(1, 2)).any()  # the ambient shots (all 200) are left out

    template = canonical_template(64)
    for subject, median in (("yaleB01", _shifted(5)), ("yaleB02", _shifted(-4, 3))):
        mine = np.flatnonzero(series.subject == subject)
        # one transform per subject: the dot lands at the same output place in every photo
        centres = np.array([_dot_centre(series.images[i]) for i in mine])
        assert np.abs(centres - centres[0]).max() < 0.05, (subject, centres)
        # and it is the transform of the median near-frontal five points onto the template
        m = similarity_transform(median, template)
        expected = m @ np.array([DOT[1], DOT[0], 1.0])
        np.testing.assert_allclose(centres[0], expected, atol=0.3)
        for i in mine:
            light = f"{int(series.azimuth[i]):+04d}E{int(series.elevation[i]):+03d}"
            raw = np.asarray(Image.open(data / subject / f"{subject}_P00A{light}.pgm"))
            warped = cv2.warpAffine(raw, m, (64, 64), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                    borderValue=0)
            np.testing.assert_array_equal(series.images[i], warped)


def test_a_subject_without_a_near_frontal_detection_is_left_out(tmp_path):
    data, csv_path = _yaleb(tmp_path, {
        "yaleB01": [("+000E+00", _shifted(0), True)],
        "yaleB02": [("+070E+00", _shifted(0), True)],  # only a side-lit detection
    })
    series = yaleb_light_series(data, csv_path, size=48)
    assert series.images.shape == (3, 48, 48)
    assert set(series.subject.tolist()) == {"yaleB01"}
    assert sorted(series.azimuth.tolist()) == [-35, 0, 70]


# --------------------------------------------------------------------------- class folders


def _jpg(path: Path, value: int, size: int = 48, colour: bool = False):
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size, size, 3) if colour else (size, size)
    Image.fromarray(np.full(shape, value, np.uint8)).save(path)


def test_class_folder_arrays_labels_resizes_and_skips_other_files(tmp_path):
    _jpg(tmp_path / "angry" / "a0.jpg", 30)
    _jpg(tmp_path / "angry" / "a1.jpg", 40, colour=True)
    _jpg(tmp_path / "happy" / "h0.jpg", 200)
    _jpg(tmp_path / "happy" / "h1.PNG", 210)
    _jpg(tmp_path / "happy" / "h2.jpeg", 220, size=32)
    (tmp_path / "happy" / "notes.txt").write_text("not an image")
    (tmp_path / "happy" / "h3.gif").write_bytes(b"GIF89a")
    _jpg(tmp_path / "anger" / "decoy.jpg", 255)  # the class's own name is not its folder here
    _jpg(tmp_path / "sad" / "s0.jpg", 120)  # not a requested class

    images, labels = class_folder_arrays(tmp_path, ("anger", "happy"), size=32, folder_names={"anger": "angry"})
    assert images.shape == (5, 32, 32) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.tolist() == [0, 0, 1, 1, 1]
    means = images.reshape(5, -1).mean(1)
    np.testing.assert_allclose(means, [30, 40, 200, 210, 220], atol=3)


# --------------------------------------------------------------------------- lighting scores


def _series(size: int = 32):
    rng = np.random.default_rng(0)
    base = {s: rng.integers(40, 200, (size, size)).astype(np.float64) for s in ("s1", "s2", "s3")}
    rows = []  # (subject, azimuth, elevation, gain)
    for s, lights in (("s1", ((0, 0), (70, 0), (-35, 15))), ("s2", ((0, 0), (70, 0))), ("s3", ((70, 0), (-35, 15)))):
        for k, (a, e) in enumerate(lights):
            rows.append((s, a, e, 1.0 - 0.25 * k))
    images = np.stack([np.clip(base[s] * gain + rng.normal(0, 5, (size, size)), 0, 255).round().astype(np.uint8)
                       for s, _, _, gain in rows])
    subject = np.array([r[0] for r in rows])
    azimuth = np.array([r[1] for r in rows], np.float32)
    elevation = np.array([r[2] for r in rows], np.float32)
    return images, subject, azimuth, elevation


def test_lighting_scores_of_an_identity_relight_equal_the_unchanged_input():
    images, subject, azimuth, elevation = _series()
    generator = FieldGenerator(FieldsConfig(n_lighting=3, n_expression=2, width=8, work_size=32)).eval()
    scores = lighting_scores(generator, images, subject, azimuth, elevation, ["s1", "s2", "s3"])
    # s1: two targets, s2: one, s3 has no frontal photo and is skipped
    assert scores["pairs"] == 3
    assert scores["relit_ssim"] == scores["input_ssim"]
    assert scores["relit_psnr"] == scores["input_psnr"]
    # the input side is the frontal photo compared with each target, by hand
    pairs = [(0, 1), (0, 2), (3, 4)]
    assert scores["input_ssim"] == pytest.approx(np.mean([ssim(images[i], images[j]) for i, j in pairs]))
    assert scores["input_psnr"] == pytest.approx(np.mean([psnr(images[i], images[j]) for i, j in pairs]))
    assert scores["input_ssim"] < 0.99

    only = lighting_scores(generator, images, subject, azimuth, elevation, ["s1", "s2", "s3"], directions=[(70, 0)])
    assert only["pairs"] == 2
    assert only["input_psnr"] == pytest.approx(np.mean([psnr(images[0], images[1]), psnr(images[3], images[4])]))
    assert lighting_scores(generator, images, subject, azimuth, elevation, ["s2"])["pairs"] == 1


def test_lighting_scores_see_a_relight_that_changes_the_picture():
    images, subject, azimuth, elevation = _series()
    generator = FieldGenerator(FieldsConfig(n_lighting=3, n_expression=2, width=8, work_size=32)).eval()
    with torch.no_grad():
        generator.lighting.head.bias[0] = -0.5  # a uniform log-gain: every target darker than the input
    scores = lighting_scores(generator, images, subject, azimuth, elevation, ["s1", "s2"])
    assert scores["pairs"] == 3
    assert scores["relit_psnr"] != scores["input_psnr"]  # relit photos really are what is compared
    assert scores["relit_psnr"] > scores["input_psnr"]  # darker targets: a darkened input is closer


# --------------------------------------------------------------------------- expression scores


class _HalfBrightness(nn.Module):
    """An embedding of (top half mean, bottom half mean): the head calls which half is brighter."""

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        h = t.shape[-2] // 2
        return torch.stack([t[:, :, :h].mean((1, 2, 3)), t[:, :, h:].mean((1, 2, 3))], 1)


def _judge():
    head = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        head.weight.copy_(torch.eye(2))
    # index 0 = "top brighter", named neutral; 1 = "bottom brighter", named happy
    return _HalfBrightness(), head, 24, ["neutral", "happy"]


def _faces(top_bright: list[bool], size: int = 32) -> np.ndarray:
    faces = np.full((len(top_bright), size, size), 40, np.uint8)
    for i, top in enumerate(top_bright):
        if top:
            faces[i, size // 4:size // 2] = 230  # a bright band in the top half, above the middle
        else:
            faces[i, size // 2 + 2:] = 230
    return faces


def test_expression_scores_of_an_untrained_generator_match_the_sources():
    generator = FieldGenerator(FieldsConfig(n_lighting=3, n_expression=2, width=8, work_size=32)).eval()
    faces = _faces([True, True, False, True, False])
    scores = expression_scores(generator, ["neutral", "happy"], _judge(), faces, ["neutral", "happy"], batch=2)
    assert set(scores) == {"neutral", "source_neutral", "happy", "source_happy", "faces"}
    assert scores["faces"] == 5
    assert scores["source_neutral"] == pytest.approx(0.6) and scores["source_happy"] == pytest.approx(0.4)
    assert scores["neutral"] == scores["source_neutral"] and scores["happy"] == scores["source_happy"]


def test_expression_scores_count_the_edited_faces_under_each_target():
    generator = FieldGenerator(FieldsConfig(n_lighting=3, n_expression=2, width=8, work_size=32)).eval()
    with torch.no_grad():
        # "happy": output row r takes source row r - S/2 (a backward flow of -1 grid unit in y), which moves
        # the top-half band into the bottom half; "neutral" stays put
        generator.prior_flow[1, 1] = -1.0
    faces = _faces([True] * 4)
    scores = expression_scores(generator, ["neutral", "happy"], _judge(), faces, ["happy", "neutral"], batch=3)
    assert scores["source_happy"] == 0.0 and scores["source_neutral"] == 1.0
    assert scores["happy"] == 1.0 and scores["neutral"] == 1.0
    # the target is looked up by name in each vocabulary, not by position
    swapped = expression_scores(generator, ["happy", "neutral"], _judge(), faces, ["happy"], batch=3)
    assert swapped["happy"] == 0.0  # generator input 0 is now named happy, and its prior flow is zero


# --------------------------------------------------------------------------- light names


def test_lighting_names_say_where_the_light_is():
    assert direction_name(-70, 0) == "az-070_el+00"
    assert direction_name(35, 40) == "az+035_el+40"
    assert direction_name(0, 0) == "az+000_el+00"
    assert direction_name(-110, 15) == "az-110_el+15"
    assert direction_name(60, -20) == "az+060_el-20"
    assert direction_name(24.6, -0.4) == "az+025_el+00"  # rounded to whole degrees


def test_light_direction_names_are_unique():
    names = [direction_name(a, e) for a, e in FIELD_LIGHT_DIRECTIONS]
    assert len(names) == len(set(names)) == len(FIELD_LIGHT_DIRECTIONS) == 16
    assert names[0] == "az+000_el+00"


def test_the_shipped_field_generator_speaks_the_named_lights():
    from augmenter.gan.models import load_translator

    assert tuple(load_translator("fields").lighting) == FIELD_LIGHTING


def test_the_shipped_field_generator_relights_in_the_photo_style_with_its_fill_light():
    from augmenter.attributes import RELIGHT_STYLES
    from augmenter.gan.models import load_translator

    config = load_translator("fields").generator.config
    assert {k: getattr(config, k) for k in RELIGHT_STYLES["photo"]} == RELIGHT_STYLES["photo"]
    assert config.shading_fill > 0


def test_identity_cosines_compare_edits_with_real_pairs():
    from pipelines.default_generator.measure import identity_cosines

    images, subject, azimuth, elevation = _series()
    generator = FieldGenerator(FieldsConfig(n_lighting=3, n_expression=2, width=8, work_size=32)).eval()
    embed = lambda x: nn.functional.normalize(x.flatten(1), dim=1)  # noqa: E731  the pixels as the "identity"
    scores = identity_cosines(generator, ["neutral", "happy"], embed, images, subject, azimuth, elevation,
                              ["s1", "s2"], targets=["happy"], max_angle=80.0)
    # an untrained generator keeps the face up to its faint blend mask: cosine to the source near 1
    assert scores["happy"] > 0.99 and scores["lights"] == pytest.approx(1.0, abs=1e-6)
    near = [i for i in range(len(subject)) if subject[i] in ("s1", "s2")]  # every light is within 80 degrees
    e = embed(torch.from_numpy(images[near]).float().div(127.5).sub(1)[:, None].expand(-1, 3, -1, -1)).numpy()
    same = [float(e[a] @ e[b]) for a in range(len(near)) for b in range(a + 1, len(near))
            if subject[near[a]] == subject[near[b]]]
    assert scores["real_same_person"] == pytest.approx(np.median(same), abs=1e-4)
    assert scores["subjects"] == 2
    different = [float(e[a] @ e[b]) for a in range(len(near)) for b in range(a + 1, len(near))
                 if subject[near[a]] != subject[near[b]]]
    threshold = np.quantile(different, 1 - 1e-3)
    assert scores["threshold"] == pytest.approx(threshold, abs=1e-4)
    assert scores["verified"]["real_same_person"] == pytest.approx(np.mean(np.array(same) > threshold))
    assert scores["verified"]["happy"] == 1.0  # edits that keep the source sit above every stranger pair
    strict = identity_cosines(generator, ["neutral", "happy"], embed, images, subject, azimuth, elevation,
                              ["s1", "s2"], targets=["happy"], max_angle=35.0)
    assert np.isnan(strict["real_same_person"])  # only the frontal photos are within 35 degrees: no pairs


def test_q_pass_rates_count_sources_and_each_target():
    from types import SimpleNamespace

    from pipelines.default_generator.q_pass import pass_rates

    images = np.stack([np.full((8, 8), v, np.uint8) for v in (50, 150, 200, 250)])
    fake = SimpleNamespace(lightings=["dark"], expressions=["neutral", "happy"],
                           score=lambda x, sources=None: x.reshape(len(x), -1).mean(1) / 255,  # brightness as "quality"
                           relight=lambda x, name: x // 2, change_expression=lambda x, name: x)
    rates = pass_rates(fake, images, q_min=0.6, batch=3)
    assert rates["faces"] == 4 and rates["sources"] == 0.5      # 200 and 250 reach 0.6 * 255 = 153
    assert rates["dark"] == 0.0 and rates["happy"] == 0.5       # halved: 125 at most
    assert "neutral" not in rates and rates["all_variants"] == 0.25


def test_blown_out_share_counts_face_pixels_a_relight_turns_white():
    from pipelines.default_generator.measure import blown_out_share

    generator = FieldGenerator(FieldsConfig(n_lighting=2, n_expression=2, width=8, work_size=32)).eval()
    faces = np.full((3, 64, 64), 200, np.uint8)
    faces[0, :, :32] = 255  # already white: never counted
    assert blown_out_share(generator, ["a", "b"], faces)["worst"] == 0.0  # zero heads: relights change nothing
    with torch.no_grad():
        generator.lighting.head.bias[0] = 2.0  # gain e^2 everywhere on the face: 200 -> white
    shares = blown_out_share(generator, ["a", "b"], faces)
    assert shares["a"] == shares["b"] == shares["worst"] == pytest.approx(5 / 6, abs=0.03)


def test_real_and_relit_pairs_take_held_out_subjects_and_named_lights_only():
    from pipelines.default_generator.q_real_vs_relit import real_and_relit_pairs
    from pipelines.default_generator.run import GeneratorRecipe

    n_train = GeneratorRecipe().yaleb_train_subjects
    subjects = [f"yaleB{k:02d}" for k in range(1, n_train + 3)]       # the last two are held out
    rows = [(s, a, e) for s in subjects for a, e in ((0, 0), (50, 0), (-70, 0), (33, 7))]  # (33, 7): not a named light
    rows = [r for r in rows if r != (subjects[-1], 50, 0)]              # one held-out photo missing
    inputs = {"light_subject": np.array([r[0] for r in rows]), "light_az": np.array([r[1] for r in rows]),
              "light_el": np.array([r[2] for r in rows]),
              "light_images": np.stack([np.full((4, 4), i, np.uint8) for i in range(len(rows))])}
    sources, reals, names = real_and_relit_pairs(inputs)
    assert sorted(names) == ["az+050_el+00", "az-070_el+00", "az-070_el+00"]
    index = {int(img[0, 0]): rows[int(img[0, 0])] for img in np.concatenate([sources, reals])}
    for src, real, name in zip(sources, reals, names):
        s, a, e = index[int(real[0, 0])]
        assert s in subjects[-2:] and index[int(src[0, 0])] == (s, 0, 0) and name == f"az{a:+04d}_el{e:+03d}"
