"""The six Multi-PIE expressions as combinations of the basis's expression components.

Recipes (component index: coefficient in std units) come from measurements on a prototype: c0 opens
the jaw (about 17 mm at -3), c1 stretches or puckers, c3 raises the upper lip, c5 raises nose and lip,
c6 lowers (+) or raises (-) the inner brows, c7 presses the lips. No component moves the eyelids or the
outer brows, so each recipe adds hand-made parts: vertex offsets around landmarks (``offsets``: smile
corners, brow raise or lower, nose wrinkle, cheek raise, and for the emotions of
:data:`augmenter.sample.flows.EMOTION_RECIPES` knit brows, inner brows raised, corners down, lips stretched, chin
raised) and how open the painted eyes are (``eye_open``: 1 is
neutral, 0 closed; ``lower_lid`` raises the lower lid).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from augmenter.attributes import MULTIPIE_EXPRESSIONS

N_EXPRESSION = 10


@dataclass(frozen=True)
class ExpressionRecipe:
    components: dict[int, float]
    offsets: dict[str, float] = field(default_factory=dict)  # name -> strength (1 = nominal)
    eye_open: float = 1.0
    lower_lid: float = 0.0

    def coefficients(self) -> np.ndarray:
        c = np.zeros(N_EXPRESSION, np.float32)
        for i, v in self.components.items():
            c[i] = v
        return c


RECIPES: dict[str, ExpressionRecipe] = {
    "neutral": ExpressionRecipe({7: 1.2}),
    "smile": ExpressionRecipe({1: 2.2, 0: -1.2, 3: 2.0}, {"smile": 1.0, "cheeks": 1.0}, eye_open=0.8, lower_lid=0.25),
    "surprise": ExpressionRecipe({0: -2.6, 1: -1.2, 6: -3.0, 9: 1.5}, {"brow_raise": 1.0}, eye_open=1.35),
    "squint": ExpressionRecipe({}, {"cheeks": 0.6, "brow_lower": 0.5}, eye_open=0.35, lower_lid=0.45),
    "disgust": ExpressionRecipe({3: 2.6, 5: 2.5, 6: 2.5}, {"nose_wrinkle": 1.0, "brow_lower": 1.0},
                                eye_open=0.65, lower_lid=0.3),
    "scream": ExpressionRecipe({0: -3.6, 1: 2.0, 3: 2.2, 6: 3.0}, {"brow_lower": 0.6, "cheeks": 1.0},
                               eye_open=0.15, lower_lid=0.4),
}
assert tuple(RECIPES) == MULTIPIE_EXPRESSIONS


def _blob(vertices: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    return np.exp(-np.sum((vertices - centre) ** 2, axis=1) / (2 * radius ** 2)).astype(np.float32)


def offset_field(name: str, neutral: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """``(V, 3)`` mm displacement of one hand-made part at strength 1, on the neutral ``(V, 3)`` face.

    ``landmarks`` are the ``(68, 3)`` positions of the 68-point scheme on that face.
    """
    out = np.zeros_like(neutral)
    if name == "smile":  # mouth corners out, up and back
        for corner, side in ((48, -1.0), (54, 1.0)):
            w = _blob(neutral, landmarks[corner], 9.0)[:, None]
            out += w * np.array([2.5 * side, 4.0, -2.0], np.float32)
    elif name == "cheeks":  # cheeks up under the eyes
        for eye_corner, mouth_corner in ((36, 48), (45, 54)):
            centre = 0.55 * landmarks[eye_corner] + 0.45 * landmarks[mouth_corner]
            out += _blob(neutral, centre, 12.0)[:, None] * np.array([0.0, 2.5, 1.0], np.float32)
    elif name in ("brow_raise", "brow_lower"):
        w = np.max([_blob(neutral, landmarks[i], 11.0) for i in range(17, 27)], axis=0)[:, None]
        out += w * np.array([0.0, 5.0 if name == "brow_raise" else -2.5, 0.0], np.float32)
    elif name == "nose_wrinkle":  # nose sides up, upper lip follows a little
        for i in (31, 35, 29):
            out += _blob(neutral, landmarks[i], 7.0)[:, None] * np.array([0.0, 2.0, 0.5], np.float32)
    elif name == "brow_knit":  # AU4: the inner brows drawn together (and a little down)
        middle = (landmarks[21, 0] + landmarks[22, 0]) / 2
        for i in (20, 21, 22, 23):
            side = 1.0 if landmarks[i, 0] < middle else -1.0
            out += _blob(neutral, landmarks[i], 7.0)[:, None] * np.array([2.0 * side, -0.8, 0.0], np.float32)
    elif name == "inner_brow_raise":  # AU1: the inner ends of the brows up (the oblique brows of sadness and fear)
        for i in (20, 21, 22, 23):
            out += _blob(neutral, landmarks[i], 6.0)[:, None] * np.array([0.0, 3.5, 0.0], np.float32)
    elif name in ("corners_down", "lip_stretch"):  # AU15 (corners down) or AU20 (corners out, a little down)
        move = {"corners_down": (0.5, -3.5, 0.0), "lip_stretch": (3.5, -1.0, -0.5)}[name]
        for corner, side in ((48, -1.0), (54, 1.0)):
            out += _blob(neutral, landmarks[corner], 7.0)[:, None] * np.array([move[0] * side, move[1], move[2]],
                                                                              np.float32)
    elif name == "chin_raise":  # AU17: the chin boss pushes the lower lip up
        for i in (57, 8):
            out += _blob(neutral, landmarks[i], 8.0)[:, None] * np.array([0.0, 2.0, 1.0], np.float32)
    else:
        raise ValueError(f"unknown expression part {name!r}")
    return out


def expression_vertices(basis, shape: np.ndarray, expression: str) -> tuple[np.ndarray, np.ndarray]:
    """``(neutral, posed)`` vertices ``(V, 3)`` in mm of a shape under one of the six expressions."""
    recipe = RECIPES.get(expression)
    if recipe is None:
        raise ValueError(f"unknown expression {expression!r}; expected one of {', '.join(RECIPES)}")
    return recipe_vertices(basis, shape, recipe)


def recipe_vertices(basis, shape: np.ndarray, recipe: ExpressionRecipe) -> tuple[np.ndarray, np.ndarray]:
    """``(neutral, posed)`` vertices ``(V, 3)`` in mm of a shape under any recipe."""
    neutral = basis.vertices(shape)
    posed = basis.vertices(shape, recipe.coefficients())
    landmarks = neutral[basis.landmarks]
    for name, strength in recipe.offsets.items():
        posed = posed + strength * offset_field(name, neutral, landmarks)
    return neutral, posed
