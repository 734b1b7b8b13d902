"""Lighting and expression vocabularies, and how each dataset's labels map onto them.

Lighting follows Multi-PIE's flash rig (Gross et al., "Multi-PIE", IVC 2010): 18 flashes plus the
no-flash (room light only) frames, 19 conditions in all. Multi-PIE numbers a recording's 20 frames
00-19; frames 00 and 19 are both taken without flash, so both map to ``"ambient"``.

Directions are ``(azimuth, elevation)`` in degrees, with Extended Yale B's convention: positive
azimuth lights the subject's right side (the *left* half of a frontal image; checked on
``yaleB01_P00A+070E+00.pgm``: left half mean 139, right half 18), positive elevation is above.
The flash directions below are an approximation of the rig layout (13 flashes at head height every
15 degrees from -90 to +90, five above at about 35 degrees), not a calibration: code that needs
calibrated directions passes its own table to :func:`nearest_lighting`.

Expressions: the six Multi-PIE expressions are the synthesis vocabulary; AffectNet and FER-2013 use
the eight basic emotions (FER's ``angry`` is stored as ``anger``).

Example:
    >>> nearest_lighting(-35, 0)
    'flash05'
    >>> nearest_lighting(-35, 20)   # 16 deg from flash15 (-30, 35), 21 deg from flash05 (-30, 0)
    'flash15'
    >>> multipie_lighting("19")
    'ambient'
    >>> emotion_to_expression("happy")
    'smile'
"""
from __future__ import annotations

import math
import re
from typing import Mapping

AMBIENT = "ambient"

# flash name -> (azimuth, elevation) in degrees; flashNN is Multi-PIE illumination NN.
FLASH_DIRECTIONS: dict[str, tuple[float, float]] = {
    **{f"flash{i + 1:02d}": (-90.0 + 15.0 * i, 0.0) for i in range(13)},
    "flash14": (-60.0, 35.0),
    "flash15": (-30.0, 35.0),
    "flash16": (0.0, 35.0),
    "flash17": (30.0, 35.0),
    "flash18": (60.0, 35.0),
}

LIGHTING: tuple[str, ...] = (AMBIENT, *FLASH_DIRECTIONS)
"""The 19 lighting conditions, ``"ambient"`` first then ``flash01`` ... ``flash18``."""

FIELD_LIGHT_DIRECTIONS: tuple[tuple[int, int], ...] = (
    (0, 0), (-25, 0), (25, 0), (-50, 0), (50, 0), (-70, 0), (70, 0), (-95, 0), (95, 0),
    (-110, 15), (110, 15), (0, 45), (-35, 40), (35, 40), (-60, -20), (60, -20))
"""The default field generator's lights as Yale B (azimuth, elevation) in degrees: frontal, side lights at
head height up to 110 degrees, lights from above and from below."""


def direction_name(azimuth: float, elevation: float) -> str:
    """``(-70, 0)`` -> ``"az-070_el+00"``: a lighting name that says where the light is (Yale B's convention)."""
    return f"az{int(round(azimuth)):+04d}_el{int(round(elevation)):+03d}"


FIELD_LIGHTING: tuple[str, ...] = tuple(direction_name(a, e) for a, e in FIELD_LIGHT_DIRECTIONS)
"""The default field generator's lighting vocabulary, in its order."""

_PHOTO_LIGHT = {"shading_offset": False, "keep_exposure": True, "shading_fill": 0.15, "shading_wrap": 0.4}
RELIGHT_STYLES: dict[str, dict] = {
    "photo": {**_PHOTO_LIGHT, "shading_strength": 1.0},
    "photo-deep": {**_PHOTO_LIGHT, "shading_strength": 2.0},
    "lab": {"shading_offset": True, "keep_exposure": False, "shading_strength": 1.0,
            "shading_fill": 0.0, "shading_wrap": 0.1},  # as the model was trained
}
"""How a trained field generator relights (settings of :class:`augmenter.nets.fields.FieldsConfig`): ``photo``
multiplies the photo by the shading and keeps its exposure, under a key light with a soft fill from the camera's
side (faces from ordinary cameras; the built-in model's); ``photo-deep`` the same with the log-gain doubled (a
harder lamp, deeper shadows); ``lab`` adds the learned offset at fixed exposure, with no fill (fits Yale B's
dark-room series, as the model was trained). Measured side by side in docs/generator.md."""

MULTIPIE_EXPRESSIONS: tuple[str, ...] = ("neutral", "smile", "surprise", "squint", "disgust", "scream")
EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
EXPRESSIONS: tuple[str, ...] = MULTIPIE_EXPRESSIONS + tuple(e for e in EMOTIONS if e not in MULTIPIE_EXPRESSIONS)
"""Every expression name a record may carry (Multi-PIE's six, then the emotions not among them)."""

AFFECTNET_CODES: dict[int, str] = {
    0: "neutral", 1: "happy", 2: "sad", 3: "surprise", 4: "fear", 5: "disgust", 6: "anger", 7: "contempt",
}
AFFECTNET_EXCLUDED_CODES: dict[int, str] = {8: "none", 9: "uncertain", 10: "no-face"}

FER_NAMES: dict[str, str] = {
    "angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happy",
    "neutral": "neutral", "sad": "sad", "surprise": "surprise",
}
FER_CSV_CODES: tuple[str, ...] = ("anger", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""fer2013.csv ``emotion`` column: 0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral."""

# Emotions with a Multi-PIE counterpart; the others (sad, fear, anger, contempt) have none.
_EMOTION_TO_EXPRESSION = {"neutral": "neutral", "happy": "smile", "surprise": "surprise", "disgust": "disgust"}
_EXPRESSION_TO_EMOTION = {v: k for k, v in _EMOTION_TO_EXPRESSION.items()}


def multipie_lighting(illumination: str | int) -> str:
    """Map a Multi-PIE illumination id (``0``-``19`` or ``"00"``-``"19"``) to a lighting name."""
    i = int(illumination)
    if i in (0, 19):
        return AMBIENT
    if 1 <= i <= 18:
        return f"flash{i:02d}"
    raise ValueError(f"Multi-PIE illumination id out of range 00-19: {illumination!r}")


_AZ_EL_NAME = re.compile(r"az([+-]\d{3})_el([+-]\d{2})$")


def light_direction(name: str) -> tuple[float, float] | None:
    """``(azimuth, elevation)`` in degrees of a lighting name: a flash of :data:`FLASH_DIRECTIONS`
    (``"flash07"``) or a field generator's ``"az-070_el+00"``; ``None`` for ambient or unknown names.

    Example:
        >>> light_direction("az-070_el+15"), light_direction("ambient")
        ((-70.0, 15.0), None)
    """
    if name in FLASH_DIRECTIONS:
        return FLASH_DIRECTIONS[name]
    m = _AZ_EL_NAME.match(name)
    return (float(m.group(1)), float(m.group(2))) if m else None


def angle_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle angle in degrees between two (azimuth, elevation) directions."""
    (az1, el1), (az2, el2) = (map(math.radians, a), map(math.radians, b))
    cos = math.sin(el1) * math.sin(el2) + math.cos(el1) * math.cos(el2) * math.cos(az1 - az2)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def lighting_neighbours(name: str, table: Mapping[str, tuple[float, float]] = FLASH_DIRECTIONS) -> frozenset[str]:
    """The other flashes of ``table`` nearest to flash ``name`` on the sphere (all of them on a tie).

    Used to score "within one light" (the target or a nearest neighbour). ``"ambient"`` and names not
    in ``table`` have none.

    Example:
        >>> sorted(lighting_neighbours("flash07")), sorted(lighting_neighbours("flash01"))
        (['flash06', 'flash08'], ['flash02'])
    """
    if name not in table:
        return frozenset()
    angles = {other: angle_between(table[name], d) for other, d in table.items() if other != name}
    if not angles:
        return frozenset()
    best = min(angles.values())
    return frozenset(other for other, angle in angles.items() if angle <= best + 1e-6)


def nearest_lighting(
    azimuth: float,
    elevation: float,
    table: Mapping[str, tuple[float, float]] = FLASH_DIRECTIONS,
    max_angle: float | None = None,
) -> str:
    """The lighting name in ``table`` whose direction is nearest on the sphere.

    Args:
        azimuth, elevation: light direction in degrees (Yale B convention, see module docstring).
        table: name -> (azimuth, elevation); defaults to the Multi-PIE flash approximation.
        max_angle: when given, directions farther than this from every entry raise ``ValueError``
            instead of being forced onto a far flash (Yale B's +-130 degree azimuths, for example).
    Ties go to the first entry in table order.
    """
    best, best_angle = None, math.inf
    for name, direction in table.items():
        angle = angle_between((azimuth, elevation), direction)
        if angle < best_angle - 1e-9:
            best, best_angle = name, angle
    if best is None:
        raise ValueError("empty lighting table")
    if max_angle is not None and best_angle > max_angle:
        raise ValueError(f"direction ({azimuth}, {elevation}) is {best_angle:.0f} deg from the nearest light")
    return best


def binned_lighting(azimuth: float, elevation: float, azimuth_step: float = 30.0, elevation_step: float = 30.0) -> str:
    """An alternative to :func:`nearest_lighting`: a grid bin name such as ``"az+030_el+000"``."""
    az = azimuth_step * round(azimuth / azimuth_step)
    el = elevation_step * round(elevation / elevation_step)
    return f"az{az:+04.0f}_el{el:+04.0f}"


def emotion_to_expression(emotion: str) -> str | None:
    """The Multi-PIE expression closest to an emotion, or ``None`` when there is none."""
    return _EMOTION_TO_EXPRESSION.get(emotion)


def expression_to_emotion(expression: str) -> str | None:
    """The emotion a Multi-PIE expression shows, or ``None`` (squint, scream have none)."""
    return _EXPRESSION_TO_EMOTION.get(expression)


def one_hot_index(name: str, vocabulary: tuple[str, ...]) -> int:
    """Index of ``name`` in ``vocabulary``, with an error that lists the vocabulary."""
    try:
        return vocabulary.index(name)
    except ValueError:
        raise ValueError(f"unknown attribute {name!r}; expected one of {', '.join(vocabulary)}") from None


def unknown_names(names, vocabulary) -> list[str]:
    """The ``names`` not in ``vocabulary``, in their order: the one name-in-vocabulary test that every
    check builds its own message on (user-given names, a checkpoint's targets, command-line lists)."""
    known = set(vocabulary)
    return [n for n in names if n not in known]


def require_names(names, vocabulary, what: str) -> None:
    """``ValueError`` ``unknown <what> 'a', 'b'; expected names from <vocabulary>`` unless every name is known."""
    unknown = unknown_names(names, vocabulary)
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(map(repr, unknown))}; expected names from {', '.join(vocabulary)}")
