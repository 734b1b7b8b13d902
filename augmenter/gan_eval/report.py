"""Files of the GAN evaluation: a PNG table of example translations and the metrics JSON.

The table is drawn with numpy and Pillow (no matplotlib), so its size in pixels is exact and known
beforehand (:func:`table_size`)::

    +-----------+--------+--------+--------+
    |           | input  |flash01 | smile  |   header band: column labels, up to 2 lines
    +-----------+--------+--------+--------+
    | row label | image  | image  | image  |   one row of cells per input
    +-----------+--------+--------+--------+

Cells are ``cell`` x ``cell`` pixels with a ``GAP``-pixel white gutter around each; an image is
resized to fit its cell, keeping its aspect ratio (area averaging when shrinking, nearest neighbour
when enlarging, so pixels stay visible) and centred on a grey backdrop.

Example:
    >>> path = translation_table([[x, y1, y2]], ["001 neutral"], ["flash01", "flash07"], "out/table.png")  # doctest: +SKIP
    >>> write_gan_report("out", {"fid": 12.5, "kid": float("nan")})                                    # doctest: +SKIP
    PosixPath('out/gan_eval.json')
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from augmenter.atomic import atomic_path
from augmenter.jsonsafe import json_safe

__all__ = ["GAP", "HEADER_HEIGHT", "LABEL_WIDTH", "json_safe", "table_size", "translation_table", "write_gan_report"]

GAP = 2
"""White gutter between cells, pixels."""

LABEL_WIDTH = 112
"""Width of the row-label band, pixels (0 when there are no row labels)."""

HEADER_HEIGHT = 28
"""Height of the column-header band, pixels: two lines of text (0 when there are no column labels)."""

FONT_SIZE = 11
_LINE = 13  # pixels per line of text
_BACKDROP = (128, 128, 128)
_EMPTY = (235, 235, 235)


def table_size(n_rows: int, n_cols: int, cell: int, *, row_labels: bool = True,
               col_labels: bool = True) -> tuple[int, int]:
    """``(width, height)`` in pixels of a :func:`translation_table` of ``n_rows`` x ``n_cols`` cells.

    ``width = LABEL_WIDTH + n_cols * (cell + GAP) + GAP`` and
    ``height = HEADER_HEIGHT + n_rows * (cell + GAP) + GAP``, without the label band or header band
    when there are no row or column labels.
    """
    width = (LABEL_WIDTH if row_labels else 0) + n_cols * (cell + GAP) + GAP
    height = (HEADER_HEIGHT if col_labels else 0) + n_rows * (cell + GAP) + GAP
    return width, height


def _font() -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=FONT_SIZE)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: the bitmap font
        return ImageFont.load_default()


def _text_width(font, text: str) -> float:
    return font.getlength(text)


def _fit_lines(font, text: str, width: int, max_lines: int) -> list[str]:
    """``text`` broken into at most ``max_lines`` lines of at most ``width`` px; "..." marks a cut."""
    if max_lines < 1:
        return []
    words = str(text).split()
    lines: list[str] = []
    current = ""
    pending = list(words)
    while pending:
        word = pending.pop(0)
        candidate = f"{current} {word}" if current else word
        if _text_width(font, candidate) <= width:
            current = candidate
            continue
        if current:  # the word starts the next line
            lines.append(current)
            current = ""
            pending.insert(0, word)
            continue
        # a single word wider than the line: split it where it stops fitting
        cut = max(1, max(n for n in range(1, len(word) + 1) if n == 1 or _text_width(font, word[:n]) <= width))
        lines.append(word[:cut])
        if word[cut:]:
            pending.insert(0, word[cut:])
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and _text_width(font, last + "...") > width:
            last = last[:-1]
        lines = lines[:max_lines - 1] + [last + "..."]
    return lines


def _as_rgb(image, where: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise TypeError(f"{where}: images must be uint8, not {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{where}: images must be (H, W, 3) or (H, W), not {arr.shape}")
    return np.ascontiguousarray(arr)


def _fit_image(arr: np.ndarray, cell: int) -> Image.Image:
    """``arr`` resized to fit ``cell`` x ``cell`` (aspect kept) and centred on the grey backdrop."""
    h, w = arr.shape[:2]
    scale = cell / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    im = Image.fromarray(arr, "RGB")
    if (new_w, new_h) != (w, h):
        resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.NEAREST
        im = im.resize((new_w, new_h), resample=resample)
    tile = Image.new("RGB", (cell, cell), _BACKDROP)
    tile.paste(im, ((cell - new_w) // 2, (cell - new_h) // 2))
    return tile


def translation_table(rows: Sequence[Sequence[np.ndarray | None]], row_labels: Sequence[str] | None,
                      col_labels: Sequence[str] | None, path: str | os.PathLike, *,
                      cell: int | None = None) -> Path:
    """Write one PNG of example translations: a row per input, ``[input, output for target 1, ...]``.

    Args:
        rows: equal-length lists of uint8 images ``(H, W, 3)`` or ``(H, W)``, of any sizes; ``None``
            leaves a cell empty (light grey), e.g. a target that equals the input's own attribute.
        row_labels: one label per row (wrapped onto the row's height), or ``None`` for no label band.
        col_labels: one header per column, or one per output column (then ``"input"`` heads the first
            column), or ``None`` for no header band. Long headers wrap onto 2 lines, then are cut ("...").
        path: the PNG to write (atomically; parent folders are created).
        cell: cell side in pixels; default the largest side of any image in ``rows``.

    Returns:
        ``Path(path)``. The image is :func:`table_size` pixels, white background, black text.

    Raises:
        ValueError: no rows, rows of different lengths, labels of the wrong count, a bad image shape
            or a ``cell`` below 8.
        TypeError: an image that is not uint8.
    """
    rows = [list(r) for r in rows]
    if not rows or not rows[0]:
        raise ValueError("the table needs at least one row with at least one image")
    n_cols = len(rows[0])
    if any(len(r) != n_cols for r in rows):
        raise ValueError(f"rows must have the same length; got lengths {sorted({len(r) for r in rows})}")
    images = [[None if im is None else _as_rgb(im, f"row {i}, column {j}") for j, im in enumerate(r)]
              for i, r in enumerate(rows)]
    if row_labels is not None:
        row_labels = [str(s) for s in row_labels]
        if len(row_labels) != len(rows):
            raise ValueError(f"{len(row_labels)} row labels for {len(rows)} rows")
    if col_labels is not None:
        col_labels = [str(s) for s in col_labels]
        if len(col_labels) == n_cols - 1:
            col_labels = ["input", *col_labels]
        if len(col_labels) != n_cols:
            raise ValueError(f"{len(col_labels)} column labels for {n_cols} columns (or {n_cols - 1} targets)")
    if cell is None:
        sides = [max(im.shape[:2]) for r in images for im in r if im is not None]
        cell = max(sides) if sides else 64
    cell = int(cell)
    if cell < 8:
        raise ValueError(f"cell must be at least 8 pixels, not {cell}")

    width, height = table_size(len(rows), n_cols, cell, row_labels=row_labels is not None,
                               col_labels=col_labels is not None)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = _font()
    x0 = LABEL_WIDTH if row_labels is not None else 0
    y0 = HEADER_HEIGHT if col_labels is not None else 0

    if col_labels is not None:
        max_lines = max(1, HEADER_HEIGHT // _LINE)
        for j, label in enumerate(col_labels):
            left = x0 + GAP + j * (cell + GAP)
            lines = _fit_lines(font, label, cell, max_lines)
            top = HEADER_HEIGHT - GAP - len(lines) * _LINE  # bottom-aligned above the cells
            for k, line in enumerate(lines):
                x = left + (cell - _text_width(font, line)) / 2
                draw.text((x, top + k * _LINE), line, fill=(0, 0, 0), font=font)
    for i, row in enumerate(images):
        top = y0 + GAP + i * (cell + GAP)
        if row_labels is not None:
            lines = _fit_lines(font, row_labels[i], LABEL_WIDTH - 2 * GAP - 2, max(1, cell // _LINE))
            text_top = top + (cell - len(lines) * _LINE) / 2
            for k, line in enumerate(lines):
                draw.text((GAP + 2, text_top + k * _LINE), line, fill=(0, 0, 0), font=font)
        for j, arr in enumerate(row):
            left = x0 + GAP + j * (cell + GAP)
            tile = Image.new("RGB", (cell, cell), _EMPTY) if arr is None else _fit_image(arr, cell)
            canvas.paste(tile, (left, top))

    path = Path(path)
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")
    return path


# --------------------------------------------------------------------------------------------- #
# JSON


def write_gan_report(out_dir: str | os.PathLike, metrics: Mapping, *, name: str = "gan_eval") -> Path:
    """Write ``metrics`` to ``out_dir/<name>.json`` (atomically, ``out_dir`` created) and return the path.

    Values go through :func:`json_safe`: NaN and inf are written as ``null``, numpy types as plain
    numbers and lists. Indented, UTF-8, key order kept.
    """
    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"name must be a plain file name without folders, not {name!r}")
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a mapping, not {type(metrics).__name__}")
    text = json.dumps(json_safe(metrics), indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    path = Path(out_dir) / f"{name}.json"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def training_curve(evals_csv: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Plot a run's ``evals.csv`` against training minutes: target accuracies, L1 to truth vs baselines,
    identity cosine. One PNG, written atomically."""
    import pandas as pd
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    table = pd.read_csv(evals_csv)
    fig = Figure(figsize=(12, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    panels = [
        ("target accuracy (real-data classifier)", [("light_acc", "lighting"), ("light_within1", "lighting, within one"),
                                                    ("expr_acc", "expression")]),
        ("L1 to the true image (0-1)", [("light_l1", "relit output"), ("light_l1_input", "unchanged input"),
                                        ("light_l1_mean_face", "average face for the light")]),
        ("identity cosine", [("id_cos", "input vs output"), ("id_cos_true", "input vs true relit"),
                             ("id_cos_other", "different identities")]),
    ]
    for i, (title, series) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        for column, label in series:
            if column in table:
                ax.plot(table["minutes"], table[column], marker="o", markersize=3, label=label)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("training minutes")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
