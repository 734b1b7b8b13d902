"""Plain-JSON conversion of metric dicts: numpy to Python, NaN and inf to ``null``."""
from __future__ import annotations

import math
import os
from collections.abc import Mapping

import numpy as np


def json_safe(obj):
    """``obj`` with plain JSON types: numpy scalars and arrays to Python, NaN and inf to ``None``.

    Dict keys become strings, tuples and sets lists (sets sorted by ``str``), paths strings; anything
    else unknown is written as ``str(obj)``.
    """
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return [json_safe(v) for v in sorted(obj, key=str)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return str(obj)
