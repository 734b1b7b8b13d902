"""Expression flows from the renderer: exact correspondences between a neutral and an expressive face.

The renderer knows every vertex of one identity under every expression, so the image-space motion of
an expression is known exactly. :func:`mean_expression_flow` averages it over identities, in the
alignment template's frame (the frame of ``augment align``'s crops), as a *backward* flow: the output
pixel ``p`` takes the source pixel ``p + flow(p)``, the convention of ``torch.nn.functional.grid_sample``.
The field generator (:mod:`augmenter.nets.fields`) starts its expression warp from these flows.

Emotions of emotion datasets without a Multi-PIE expression (anger, sad, fear) get geometric recipes
here, built from the same components and hand-made parts as :mod:`augmenter.sample.expressions`.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import griddata
from scipy.ndimage import gaussian_filter

from augmenter.sample.basis import load_basis
from augmenter.sample.expressions import RECIPES, ExpressionRecipe, recipe_vertices
from augmenter.sample.identity import make_identity
from augmenter.sample.render import template_framing

EMOTION_RECIPES: dict[str, ExpressionRecipe] = {
    "neutral": RECIPES["neutral"],
    "happy": RECIPES["smile"],
    "surprise": RECIPES["surprise"],
    "disgust": RECIPES["disgust"],
    "anger": ExpressionRecipe({6: 2.5, 7: 1.5}, {"brow_lower": 1.0}),
    "sad": ExpressionRecipe({6: -2.0, 7: 0.8}, {"smile": -0.6}),
    "fear": ExpressionRecipe({0: -1.0, 1: 1.5, 6: -2.0}, {"brow_raise": 0.8}),
}
"""Geometry of each emotion (the eye openings of a recipe are painted, so they play no part here)."""


def expression_flow(basis, shape: np.ndarray, recipe: ExpressionRecipe, size: int) -> np.ndarray:
    """``(2, size, size)`` float32 backward flow (x, y) in grid units of one identity's expression."""
    neutral, posed = recipe_vertices(basis, shape, recipe)
    scale, offset = template_framing(neutral, basis.landmarks, size)
    to_xy = lambda v: np.c_[v[:, 0] * scale + offset[0], -v[:, 1] * scale + offset[1]]  # noqa: E731
    front = neutral[:, 2] > np.percentile(neutral[:, 2], 30)  # leave out the sides and back of the mesh
    p, n = to_xy(posed)[front], to_xy(neutral)[front]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    flow = np.stack([griddata(p, (n - p)[:, k], (xs, ys), method="linear", fill_value=0.0) for k in range(2)])
    return (flow * 2.0 / size).astype(np.float32)


def mean_expression_flow(expression: str, size: int = 64, n_identities: int = 12, seed: int = 0,
                         smooth: float = 1.0) -> np.ndarray:
    """``(2, size, size)`` float32: the backward flow of ``expression`` (an emotion of
    :data:`EMOTION_RECIPES`) averaged over ``n_identities`` rendered identities, Gaussian-smoothed
    by ``smooth`` pixels. Neutral is all zero.

    Example:
        >>> f = mean_expression_flow("happy", size=32, n_identities=2)   # doctest: +SKIP
        >>> f.shape                                                       # doctest: +SKIP
        (2, 32, 32)
    """
    if expression not in EMOTION_RECIPES:
        raise ValueError(f"unknown expression {expression!r}; expected one of {', '.join(EMOTION_RECIPES)}")
    if expression == "neutral":
        return np.zeros((2, size, size), np.float32)
    basis = load_basis()
    recipe = EMOTION_RECIPES[expression]
    flows = [expression_flow(basis, make_identity(seed, i).shape, recipe, size) for i in range(n_identities)]
    mean = np.mean(flows, axis=0)
    return np.stack([gaussian_filter(c, smooth) for c in mean]).astype(np.float32)
