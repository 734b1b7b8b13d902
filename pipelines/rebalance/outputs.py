"""What a rebalancing run leaves in ``OUT``: ``manifest.parquet``/``.csv`` (every real training row, then
the kept synthetic rows; real rows have ``generator_hash`` ``""`` and no ``q_score``), ``summary.json``
(per class: real, target, needed, generated, kept, rejected by Q / by the expression judge, shortfall)
and ``report.html`` (counts and example translations per class, kept and rejected, self-contained)."""
from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

from augmenter import __version__
from augmenter.atomic import write_text_atomic
from augmenter.datasets.manifest import new_manifest, write_manifest
from augmenter.datasets.record import FaceRecord
from augmenter.datasets.splits import record_split
from augmenter.jsonsafe import json_safe


def manifest_rows(records: Sequence[FaceRecord], rows: list[dict], generator_hash: str) -> list[dict]:
    real = [dict(out_path=str(r.path), source_path=str(r.path), identity=r.identity, dataset=r.dataset,
                 lighting=r.lighting, expression=r.expression, q_score=None, kept=True, seed=0, generator_hash="",
                 toolkit_version=__version__, synthetic=False, predicted_expression="", source_split=record_split(r))
            for r in records]
    split_of = {str(r.path): record_split(r) for r in records}  # sources are training records: the leak guard's check
    synthetic = [dict(out_path=row["out_path"], source_path=row["source_path"], identity=row["identity"],
                      dataset="synthetic", lighting=row["lighting"], expression=row["target"], q_score=row["q_score"],
                      kept=True, seed=row["seed"], generator_hash=generator_hash, toolkit_version=__version__,
                      synthetic=True, predicted_expression=row["predicted"] or "",
                      source_split=split_of.get(str(row["source_path"]), "unknown"))
                 for row in rows if not row["reason"]]
    return real + synthetic


def write_manifest_files(out: Path, records, rows, generator_hash: str) -> tuple[Path, Path]:
    return write_manifest(new_manifest(manifest_rows(records, rows, generator_hash)), out / "manifest")


def class_table(counts: dict[str, int], targets: dict[str, int], states: dict) -> dict[str, dict]:
    """Per class: the counts of ``summary.json``. ``states``: class -> the engine's
    :class:`~augmenter.expand.quota.QuotaState` (rejections by reason: Q, the expression judge, over quota,
    and the sources that could not be read, whatever the reader called them)."""
    table = {}
    for c in counts:
        s = states.get(c)
        kept = s.kept if s else 0
        rejected = dict(s.rejected) if s else {}
        named = {"q": rejected.pop("q", 0), "expression": rejected.pop("expression", 0),
                 "over quota": rejected.pop("over quota", 0)}
        needed = max(0, targets[c] - counts[c])
        table[c] = {"real": counts[c], "target": targets[c], "needed": needed,
                    "generated": s.generated if s else 0, "kept": kept,
                    "rejected_q": named["q"], "rejected_expression": named["expression"],
                    "unreadable_sources": sum(rejected.values()), "over_quota": named["over quota"],
                    "shortfall": needed - kept,
                    "acceptance": (kept / s.generated) if s and s.generated else None,
                    "final": counts[c] + kept}
    return table


def write_summary(out: Path, summary: dict) -> Path:
    path = out / "summary.json"
    write_text_atomic(path, json.dumps(json_safe(summary), indent=2) + "\n")
    return path


def _img(b64: str, title: str) -> str:
    return f'<img src="data:image/png;base64,{b64}" title="{html.escape(title)}" width="64" height="64">'


def render_report(summary: dict, examples: list[dict]) -> str:
    esc = html.escape
    head = ["class", "real", "target", "needed", "generated", "kept", "rejected (Q)", "rejected (expression)",
            "shortfall", "acceptance"]
    rows = []
    for c, t in summary["classes"].items():
        acc = "n/a" if t["acceptance"] is None else f"{t['acceptance']:.1%}"
        rows.append("<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in (
            c, t["real"], t["target"], t["needed"], t["generated"], t["kept"], t["rejected_q"],
            t["rejected_expression"], t["shortfall"], acc)) + "</tr>")
    sections = []
    for c in summary["classes"]:
        mine = [e for e in examples if e["target"] == c]
        if not mine:
            continue
        cells = []
        for e in mine:
            verdict = "kept" if e["kept"] else "rejected"
            caption = f"{verdict}, q {e['q']:.2f}" + (f", judged {e['predicted']}" if e["predicted"] else "")
            cells.append(f'<div class="ex {verdict}">{_img(e["source"], "source")}{_img(e["output"], caption)}'
                         f'<br><small>{esc(caption)}</small></div>')
        sections.append(f"<h2>to {esc(c)}</h2><div class=row>{''.join(cells)}</div>")
    facts = "".join(f"<li>{esc(k)}: {esc(str(v))}</li>" for k, v in summary["facts"].items())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>rebalance report</title><style>
body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
.row{{display:flex;flex-wrap:wrap;gap:8px}} .ex{{padding:4px;border:2px solid #ccc;text-align:center}}
.ex.kept{{border-color:#2a2}} .ex.rejected{{border-color:#c33}} img{{image-rendering:pixelated}}
</style></head><body><h1>Class rebalancing</h1><ul>{facts}</ul>
<table><tr>{''.join(f'<th>{esc(h)}</th>' for h in head)}</tr>{''.join(rows)}</table>
<p>Examples: the first attempts of each class (source, then output), green kept, red rejected.</p>
{''.join(sections)}</body></html>
"""


def write_report(out: Path, summary: dict, examples: list[dict]) -> Path:
    path = out / "report.html"
    write_text_atomic(path, render_report(summary, examples))
    return path
