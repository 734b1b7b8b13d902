"""Where every evaluation command puts its result: ``NAME.json`` (plain JSON, NaN as ``null``) and
``NAME.md`` (a short Markdown summary) in the output folder, both written atomically.

Example:
    >>> paths = write_result("runs/eval", "lfw", {"accuracy_mean": 0.99}, "# LFW\\n")   # doctest: +SKIP
    >>> [p.name for p in paths]                                                          # doctest: +SKIP
    ['lfw.json', 'lfw.md']
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from augmenter.atomic import write_text_atomic
from augmenter.jsonsafe import json_safe


def result_json(result: dict) -> str:
    """``result`` as indented plain JSON (numpy values converted, NaN and inf as ``null``)."""
    return json.dumps(json_safe(result), indent=2) + "\n"


def write_result(out_dir: str | os.PathLike, name: str, result: dict, markdown: str | None = None) -> list[Path]:
    """Write ``OUT/NAME.json`` (and ``OUT/NAME.md`` when ``markdown`` is given); returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / f"{name}.json"]
    write_text_atomic(written[0], result_json(result))
    if markdown is not None:
        written.append(out / f"{name}.md")
        write_text_atomic(written[1], markdown)
    return written


def fmt(value, digits: int = 4) -> str:
    """A number for a Markdown table: fixed ``digits`` decimals, ``n/a`` for None or NaN."""
    if value is None:
        return "n/a"
    value = float(value)
    return "n/a" if value != value else f"{value:.{digits}f}"
