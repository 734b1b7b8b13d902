"""PNG plots of evaluation results (matplotlib's Agg canvas only: pyplot's global state is never touched).

Example:
    >>> plot_roc("roc.png", {"model": (fpr, tpr)}, title="LFW")   # doctest: +SKIP
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from augmenter.atomic import atomic_path

MAX_CURVE_POINTS = 20_000


def _figure(size=(6.0, 5.0)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most ``MAX_CURVE_POINTS`` points of a curve, always keeping both ends (an 8M-point ROC is not drawn)."""
    if len(x) <= MAX_CURVE_POINTS:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, MAX_CURVE_POINTS).round().astype(np.int64))
    return x[keep], y[keep]


def plot_roc(path: str | os.PathLike, curves: Mapping[str, tuple[np.ndarray, np.ndarray]], *, title: str = "",
             log_far: bool = True, marks: Sequence[float] = ()) -> None:
    """ROC curves (false accept rate on x, log scale by default; true accept rate on y) into one PNG.

    ``curves`` maps a label to ``(fpr, tpr)`` arrays in [0, 1]; ``marks`` draws dotted verticals at FARs.
    """
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for label, (fpr, tpr) in curves.items():
        fpr, tpr = _thin(np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64))
        if log_far:
            ok = fpr > 0
            fpr, tpr = fpr[ok], tpr[ok]
        ax.plot(fpr, tpr, lw=1.4, label=label)
    for far in marks:
        ax.axvline(far, ls=":", color="0.6", lw=0.8)
    if log_far:
        ax.set_xscale("log")
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    ax.set_ylim(0, 1.01)
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)
    if curves:
        ax.legend(loc="lower right")
    _save(fig, path)


def plot_curve(path: str | os.PathLike, curves: Mapping[str, tuple[np.ndarray, np.ndarray]], *, xlabel: str,
               ylabel: str, title: str = "", ylog: bool = False) -> None:
    """Generic line plot (e.g. error-versus-discard): ``curves`` maps a label to ``(x, y)``."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for label, (x, y) in curves.items():
        x, y = _thin(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        ax.plot(x, y, lw=1.4, label=label)
    if ylog:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)
    if curves:
        ax.legend()
    _save(fig, path)


def plot_confusion(path: str | os.PathLike, matrix: np.ndarray, labels: Sequence[str], *, title: str = "") -> None:
    """A confusion matrix (rows = true class, columns = predicted), cells coloured by row-normalised rate
    and annotated with counts."""
    matrix = np.asarray(matrix, dtype=np.int64)
    rates = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    n = len(labels)
    fig = _figure((1.2 + 0.7 * n, 1.0 + 0.6 * n))
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    _save(fig, path)
