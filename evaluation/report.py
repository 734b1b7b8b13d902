"""Several evaluation results side by side, with their differences from a baseline (``eval-report``).

Each result (``lfw.json``, ``ijbb.json``, ``expression.json``, ``edc.json`` or any JSON of numbers) is
flattened to its numeric leaves under dotted keys: ``{"tar_at_far": {"1e-04": 0.91}}`` ->
``tar_at_far.1e-04``, ``{"per_class_recall": {"disgust": 0.4}}`` -> ``per_class_recall.disgust``.
Lists (confusion matrices, curves, per-fold figures), strings and booleans are left out; ``null`` (how
the results write NaN) counts as a missing value. A key numeric in at least one result is a row; a
result without it shows ``n/a``. Rows keep the order in which the keys first appear (baseline first).

The table has one column per result and one delta column per non-baseline result: ``value - baseline``
(``n/a`` when either is missing). Whether higher is better depends on the metric (accuracy up, FNMR and
pAUC down), so deltas are not coloured.

Example:
    >>> table = compare_results([{"accuracy": 0.9, "n": 10}, {"accuracy": 0.93}], labels=["base", "aug"])
    >>> table.rows, table.deltas[1]
    (['accuracy', 'n'], [0.030000000000000027, None])
"""
from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from augmenter.errors import DatasetFormatError


@dataclass
class ComparisonTable:
    """Rows are metrics, columns results.

    Attributes:
        labels: one per result.
        rows: the dotted metric keys.
        values: ``values[r][c]``: metric ``rows[r]`` of result ``c`` (``None`` when missing).
        baseline: index of the baseline result.
        deltas: ``deltas[c][r]`` = ``values[r][c] - values[r][baseline]`` for every non-baseline ``c``
            (``None`` when either is missing); empty list for the baseline.
        sources: where each result came from (a path, or ``"<dict N>"``).
    """

    labels: list[str]
    rows: list[str]
    values: list[list[int | float | None]]
    baseline: int
    deltas: list[list[int | float | None]]
    sources: list[str]


def flatten_numbers(obj, prefix: str = "") -> dict[str, int | float | None]:
    """Numeric leaves of nested dicts under dotted keys (ints stay ints; ``None``, NaN and inf leaves become
    ``None``; lists, strings and booleans dropped).

    Example:
        >>> flatten_numbers({"a": 1, "b": {"c": 0.5, "d": "x", "e": [1, 2], "f": None}})
        {'a': 1, 'b.c': 0.5, 'b.f': None}
    """
    out: dict[str, int | float | None] = {}
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, Mapping):
                out.update(flatten_numbers(value, name))
            elif value is None:
                out[name] = None
            elif isinstance(value, int) and not isinstance(value, bool):
                out[name] = value
            elif isinstance(value, float):
                out[name] = value if math.isfinite(value) else None
    return out


def _load(item, n: int) -> tuple[dict, str]:
    if isinstance(item, Mapping):
        return dict(item), f"<dict {n + 1}>"
    path = Path(item)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetFormatError(path, "result file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetFormatError(path, f"not a JSON result ({type(err).__name__}: {err})") from None
    if not isinstance(data, dict):
        raise DatasetFormatError(path, f"not a JSON object of results (a {type(data).__name__})")
    return data, str(path)


def default_labels(items: Sequence) -> list[str]:
    """Labels for results given without any: the folder names when the files share a name
    (``runs/base/lfw.json``, ``runs/aug/lfw.json`` -> ``base``, ``aug``), else the file stems; ``result N``
    for dicts; repeated labels get ``#N`` appended."""
    paths = [Path(i) for i in items if not isinstance(i, Mapping)]
    by_folder = len({p.name for p in paths}) == 1 and len({p.parent.name for p in paths}) == len(paths)
    labels = []
    for n, item in enumerate(items):
        if isinstance(item, Mapping):
            labels.append(f"result {n + 1}")
        else:
            p = Path(item)
            labels.append(p.parent.name if by_folder and p.parent.name else p.stem)
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if labels.count(label) == 1 else f"{label} #{seen[label]}")
    return unique


def compare_results(paths_or_dicts: Sequence[str | os.PathLike | Mapping], labels: Sequence[str] | None = None,
                    baseline: int = 0) -> ComparisonTable:
    """Load and align the results (see the module docstring).

    Raises:
        ValueError: no result, a label count that does not match, a bad ``baseline``, results of
            different ``kind`` fields, or no numeric value at all.
        DatasetFormatError: a missing or non-JSON file.
    """
    items = list(paths_or_dicts)
    if not items:
        raise ValueError("no result to compare")
    if labels is not None and len(labels) != len(items):
        raise ValueError(f"{len(labels)} label(s) for {len(items)} result(s)")
    if not -len(items) <= baseline < len(items):
        raise ValueError(f"baseline {baseline} is not one of the {len(items)} result(s)")
    baseline %= len(items)
    loaded = [_load(item, n) for n, item in enumerate(items)]
    kinds = {str(d["kind"]) for d, _ in loaded if isinstance(d.get("kind"), str)}
    if len(kinds) > 1:
        raise ValueError(f"results of different kinds ({', '.join(sorted(kinds))}) cannot be compared")
    flat = [flatten_numbers(d) for d, _ in loaded]
    rows: list[str] = []
    seen: set[str] = set()
    for f in [flat[baseline]] + [f for n, f in enumerate(flat) if n != baseline]:
        for key, value in f.items():
            if value is not None and key not in seen:
                seen.add(key)
                rows.append(key)
    if not rows:
        raise ValueError("no numeric value in any result")
    values = [[f.get(key) for f in flat] for key in rows]
    deltas = []
    for c in range(len(items)):
        if c == baseline:
            deltas.append([])
            continue
        deltas.append([None if row[c] is None or row[baseline] is None else row[c] - row[baseline]
                       for row in values])
    return ComparisonTable(labels=list(labels) if labels is not None else default_labels(items), rows=rows,
                           values=values, baseline=baseline, deltas=deltas, sources=[s for _, s in loaded])


def format_number(value: int | float | None, signed: bool = False) -> str:
    """A table cell: ``n/a`` for missing, ints as they are, floats below 1e-3 in ``g`` notation, other
    floats with 4 decimals; ``signed`` adds ``+`` to positive values (deltas).

    Example:
        >>> [format_number(v) for v in (None, 120, 1.0, 0.91234, 1e-05)], format_number(0.5, signed=True)
        (['n/a', '120', '1.0000', '0.9123', '1e-05'], '+0.5000')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    sign = "+" if signed else ""
    if isinstance(value, int):
        return f"{value:{sign}d}"
    if value != 0 and abs(value) < 1e-3:
        return f"{value:{sign}.3g}"
    return f"{value:{sign}.4f}"


def _header(table: ComparisonTable) -> list[str]:
    base = table.labels[table.baseline]
    return ["metric", *table.labels,
            *(f"Δ {label} − {base}" for c, label in enumerate(table.labels) if c != table.baseline)]


def _cells(table: ComparisonTable) -> list[list[str]]:
    out = []
    for r, key in enumerate(table.rows):
        row = [key, *(format_number(v) for v in table.values[r])]
        row += [format_number(table.deltas[c][r], signed=True) for c in range(len(table.labels)) if c != table.baseline]
        out.append(row)
    return out


def to_markdown(table: ComparisonTable) -> str:
    """The table as GitHub Markdown (``|`` in labels or keys escaped), with the baseline named above it."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")
    header = _header(table)
    lines = [f"Baseline: {cell(table.labels[table.baseline])}", "",
             "| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in _cells(table)]
    return "\n".join(lines) + "\n"


def to_html(table: ComparisonTable, title: str = "Evaluation results") -> str:
    """A self-contained HTML page (inline CSS, no scripts, every label and key escaped)."""
    esc = html.escape
    header = "".join(f"<th>{esc(h)}</th>" for h in _header(table))
    body = "\n".join("<tr>" + f"<td>{esc(row[0])}</td>" + "".join(f"<td class=\"num\">{esc(c)}</td>" for c in row[1:])
                     + "</tr>" for row in _cells(table))
    sources = "".join(f"<li>{esc(label)}: {esc(src)}</li>" for label, src in zip(table.labels, table.sources))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; }}
th {{ background: #f0f0f0; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
</style>
</head>
<body>
<h1>{esc(title)}</h1>
<p>Baseline: {esc(table.labels[table.baseline])}</p>
<ul>{sources}</ul>
<table>
<thead><tr>{header}</tr></thead>
<tbody>
{body}
</tbody>
</table>
</body>
</html>
"""
