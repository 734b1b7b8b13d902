"""``report.html`` of ``augment expand``: what the run will add to the training set.

One self-contained page (inline CSS, SVG and JavaScript, thumbnails as ``data:`` URIs; no network,
no external files) showing, top to bottom:

* the title and a small table of facts about the run (counts, speed, which quality model Q);
* a histogram of the q_score of every scored variant of the run (20 bins over [0, 1]; bins whose
  centre is >= q_min in the "kept" colour, a vertical line at q_min), with the count and median;
* a legend: green border and a "kept" label = kept, red border and a "rejected" label = rejected (both
  at full opacity, so a rejected variant can be judged too), and the rule that decided it; then where
  each lighting target shown puts the light (``flash05 (az -30°, el 0°)``, see :func:`lighting_direction`);
* a contact sheet of a sample of sources: one row per source, its thumbnail then its variants by
  q_score, high first (unscored last), each captioned with its target, its light direction when it
  has a lighting target, its q_score and its label, and what the tear check did to Q's score when it did
  anything (e.g. ``Q 0.71; light from black -0.20``: why a variant Q liked was rejected); rows ordered by
  best q_score, high first, and re-sortable in the browser by best Q, mean Q, lowest best Q or source path.

Example:
    >>> page = render_report(sources, scores, q_min=0.6, keep_best=None, title="expand: yaleb",
    ...                      facts=[("variants", "1,152")])  # doctest: +SKIP
"""
from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from augmenter.attributes import AMBIENT, light_direction

__all__ = ["ReportSource", "ReportVariant", "histogram_counts", "lighting_direction", "lighting_legend",
           "render_report"]

DIRECTION_CONVENTION = ("azimuth + lights the subject's right side (the left half of a frontal image), "
                        "elevation + is above; the flash directions approximate Multi-PIE's rig "
                        "(augmenter.attributes.FLASH_DIRECTIONS)")

BINS = 20
"""Number of equal histogram bins over [0, 1]."""


@dataclass
class ReportVariant:
    """One synthesized variant: ``target`` (e.g. ``"L-flash07_E-smile"``), ``q_score`` in [0, 1] or
    NaN when not scored, whether it was ``kept``, a small PNG thumbnail (bytes), and what the tear check did to
    Q's score in words (``note``; ``""`` when nothing), so a rejected variant shows why."""

    target: str
    q_score: float
    kept: bool
    thumb_png: bytes
    note: str = ""


@dataclass
class ReportSource:
    """One source face: its manifest path (relative), identity, a readable label (``""`` when
    unknown), a PNG thumbnail at the variants' size, and its variants."""

    source_path: str
    identity: str
    label: str
    thumb_png: bytes
    variants: list[ReportVariant] = field(default_factory=list)


def lighting_direction(name: str) -> str | None:
    """Where lighting target ``name`` puts the light: ``"az -30°, el 0°"`` for a flash of
    :data:`~augmenter.attributes.FLASH_DIRECTIONS` or a field generator's ``az-030_el+00``,
    ``"room light, no flash"`` for ambient, else ``None``."""
    if name == AMBIENT:
        return "room light, no flash"
    direction = light_direction(name)
    return None if direction is None else f"az {direction[0]:.0f}°, el {direction[1]:.0f}°"


def lighting_legend(names) -> str:
    """``"ambient (room light, no flash), flash05 (az -30°, el 0°), ..."`` for the names with a direction."""
    return ", ".join(f"{n} ({lighting_direction(n)})" for n in names if lighting_direction(n))


def _lighting_of(target: str) -> str | None:
    """The lighting name of a target tag (``"L-flash07_E-smile"`` -> ``"flash07"``), ``None`` without one."""
    return next((part[2:] for part in target.split("_") if part.startswith("L-")), None)


def histogram_counts(q_scores: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Counts, shape ``(bins,)`` int64, of the finite ``q_scores`` (any shape) in ``bins`` equal bins
    over [0, 1]; the last bin includes 1.0, values outside [0, 1] are clipped, NaN/inf ignored."""
    q = np.asarray(q_scores, dtype=np.float64).ravel()
    q = np.clip(q[np.isfinite(q)], 0.0, 1.0)
    return np.histogram(q, bins=bins, range=(0.0, 1.0))[0].astype(np.int64)


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _fmt_q(q: float) -> str:
    return "–" if not math.isfinite(q) else f"{q:.3f}"


def _stats(src: ReportSource) -> tuple[float, float]:
    """(best, mean) finite q_score of the source's variants, both -1.0 when none is finite."""
    q = [v.q_score for v in src.variants if math.isfinite(v.q_score)]
    return (max(q), sum(q) / len(q)) if q else (-1.0, -1.0)


def _rule(q_min: float | None, keep_best: int | None) -> str:
    parts = []
    if q_min is not None:
        parts.append(f"kept when q_score ≥ {q_min:.2f}")
    if keep_best is not None:
        parts.append(f"kept: the {keep_best} best per source")
    if not parts:
        return "kept as recorded in the manifest (no q_min or keep-best given)"
    return parts[0] if len(parts) == 1 else f"{parts[0]}, or among the {keep_best} best per source"


def _histogram(q_scores: np.ndarray, q_min: float | None) -> str:
    """The histogram SVG and its caption, or a sentence when there are no finite scores."""
    q = np.asarray(q_scores, dtype=np.float64).ravel()
    finite = q[np.isfinite(q)]
    if finite.size == 0:
        return '<p class="caption">No variant has a finite q_score: there is no histogram to show.</p>'
    counts = histogram_counts(finite)
    w, h, left, top, bottom = 440, 170, 36, 10, 22
    pw, ph = w - left - 8, h - top - bottom
    bw, peak = pw / len(counts), int(counts.max())
    out = [f'<svg class="hist" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">']
    for i, c in enumerate(counts):
        lo, centre = i / len(counts), (i + 0.5) / len(counts)
        cls = "bar" if q_min is None else ("bar keep" if centre >= q_min else "bar reject")
        bh = ph * int(c) / peak
        out.append(f'<rect class="{cls}" data-count="{int(c)}" x="{left + i * bw + 1:.1f}" '
                   f'y="{top + ph - bh:.1f}" width="{bw - 2:.1f}" height="{bh:.1f}">'
                   f'<title>{lo:.2f}–{lo + 1 / len(counts):.2f}: {int(c)}</title></rect>')
    base = top + ph
    out.append(f'<line x1="{left}" y1="{base}" x2="{left + pw}" y2="{base}" stroke="#555"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#555"/>')
    out.append(f'<text x="{left}" y="{h - 6}" text-anchor="middle">0</text>'
               f'<text x="{left + pw}" y="{h - 6}" text-anchor="middle">1</text>'
               f'<text x="{left - 4}" y="{top + 9}" text-anchor="end">{peak}</text>'
               f'<text x="{left - 4}" y="{base}" text-anchor="end">0</text>')
    if q_min is not None:
        x = left + pw * min(max(q_min, 0.0), 1.0)
        out.append(f'<line class="qmin" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{base}" '
                   f'stroke="#222" stroke-dasharray="4 3"/>'
                   f'<text x="{x + 3:.1f}" y="{top + 9}">q_min {q_min:.2f}</text>')
    out.append("</svg>")
    unscored = q.size - finite.size
    note = f" ({unscored:,} not scored)" if unscored else ""
    out.append(f'<p class="caption">{finite.size:,} scored variants{note}; '
               f'median q_score {float(np.median(finite)):.3f}.</p>')
    return "\n".join(out)


def _thumb(png: bytes, alt: str, cls: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure class="{cls}"><img src="data:image/png;base64,{data}" alt="{_esc(alt)}">'
            f'<figcaption>{caption}</figcaption></figure>')


def _row(src: ReportSource) -> str:
    best, mean = _stats(src)
    label = f"<br>{_esc(src.label)}" if src.label else ""
    cells = [_thumb(src.thumb_png, src.source_path, "src",
                    f"<b>source</b><br>{_esc(src.identity)}{label}")]
    ordered = sorted(src.variants, key=lambda v: (not math.isfinite(v.q_score),
                                                  -v.q_score if math.isfinite(v.q_score) else 0.0))
    for v in ordered:
        cls = "var kept" if v.kept else "var rejected"
        direction = lighting_direction(_lighting_of(v.target) or "")
        where = f'<span class="dir">{direction}</span><br>' if direction else ""
        mark = '<span class="mark ok">kept</span>' if v.kept else '<span class="mark no">rejected</span>'
        note = f'<br><span class="why">{_esc(v.note)}</span>' if v.note else ""
        cells.append(_thumb(v.thumb_png, v.target, cls,
                            f"{_esc(v.target)}<br>{where}{_fmt_q(v.q_score)}<br>{mark}{note}"))
    return (f'<div class="row" data-best="{best:.6f}" data-mean="{mean:.6f}" '
            f'data-name="{_esc(src.source_path)}"><div class="path">{_esc(src.source_path)}</div>'
            f'<div class="cells">{"".join(cells)}</div></div>')


_STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:1.2em 2em;color:#222}
table.facts{border-collapse:collapse;margin-bottom:1em}table.facts th,table.facts td{padding:2px 10px;
border-bottom:1px solid #ddd;text-align:left}svg.hist text{font-size:11px}.bar{fill:#7a8fb0}
.bar.keep{fill:#3a9a4a}.bar.reject{fill:#c8504a}.caption,.legend{color:#444}.row{margin:10px 0;
padding-bottom:6px;border-bottom:1px solid #eee}.path{font-family:monospace;font-size:12px}
.cells{display:flex;flex-wrap:wrap;gap:6px}figure{margin:0;width:104px;font-size:11px;
text-align:center;overflow-wrap:anywhere}img{width:96px;height:96px;border:4px solid transparent}
.src img{border-color:#888}.kept img{border-color:#2e9e44}.rejected img{border-color:#d23c32}
.ok{color:#2e9e44;font-weight:bold}.no{color:#d23c32;font-weight:bold}.dir{color:#555}.why{color:#8a3a2a}
.rejected .mark{background:#d23c32;color:#fff;padding:0 4px;border-radius:3px}"""

_SCRIPT = """document.getElementById("sort").addEventListener("change", function () {
  var sheet = document.getElementById("sheet"), how = this.value;
  var rows = Array.prototype.slice.call(sheet.children);
  function n(r, k) { return parseFloat(r.dataset[k]); }
  rows.sort(function (a, b) {
    var d = how === "best" ? n(b, "best") - n(a, "best") : how === "mean" ? n(b, "mean") - n(a, "mean")
          : how === "worst" ? n(a, "best") - n(b, "best") : 0;
    return d || a.dataset.name.localeCompare(b.dataset.name);
  });
  rows.forEach(function (r) { sheet.appendChild(r); });
});"""


def render_report(sources: Sequence[ReportSource], q_scores: np.ndarray, *, q_min: float | None,
                  keep_best: int | None, title: str, facts: Sequence[tuple[str, str]]) -> str:
    """The whole HTML page as a string (self-contained: no network, no external files).

    ``sources`` is the sample shown in the contact sheet (a few dozen at most); ``q_scores`` holds
    the q_score of every variant of the run, any shape, NaN where not scored (ignored); ``facts`` are
    (name, value) rows of the table at the top. Every user-provided string is HTML-escaped.
    """
    rows = sorted(sources, key=lambda s: (-_stats(s)[0], s.source_path))
    lights = sorted({_lighting_of(v.target) for s in sources for v in s.variants} - {None})
    legend = lighting_legend(lights)
    directions = (f'<p class="legend">Lighting targets shown: {_esc(legend)}. Directions: {DIRECTION_CONVENTION}.</p>'
                  if legend else "")
    notes = ('<p class="legend"><span class="why">Brown words under a variant</span>: what the tear check did to '
             "Q's own score: Q's score, then the photo's score plus the margin where it held the variant to it, then "
             "each charge by cause; also in the manifest's q_note.</p>"
             if any(v.note for s in sources for v in s.variants) else "")
    facts_html = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in facts)
    options = [("best", "best Q (high first)"), ("mean", "mean Q (high first)"),
               ("worst", "lowest best Q first"), ("name", "source path")]
    select = "".join(f'<option value="{v}">{t}</option>' for v, t in options)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{_esc(title)}</h1>
<table class="facts">{facts_html}</table>
<h2>Q of every variant</h2>
{_histogram(q_scores, q_min)}
<p class="legend"><span class="ok">green border, "kept"</span>: kept (enters the training set);
<span class="no">red border, "rejected"</span>: rejected (recorded in the manifest, written only with
--save-rejected). Rule: {_esc(_rule(q_min, keep_best))}.</p>
{directions}
{notes}
<h2>Contact sheet ({len(rows)} sources)</h2>
<p><label>Order rows by <select id="sort">{select}</select></label></p>
<div id="sheet">
{chr(10).join(_row(s) for s in rows)}
</div>
<script>{_SCRIPT}</script>
</body></html>
"""
