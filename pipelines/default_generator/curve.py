"""The default generator's training curve: held-out Yale B lighting figures against training time.

``python -m pipelines.default_generator.curve LOG OUT.png [TITLE]`` reads the ``eval`` rows that
:func:`pipelines.default_generator.train.train_generator` writes to ``log.jsonl`` every ``eval_every``
steps and draws SSIM and PSNR of the relit photos beside the unchanged input's.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def eval_rows(log: Path) -> list[dict]:
    """``{"step", "minutes", **figures}`` of every evaluation in a ``log.jsonl``, in order."""
    rows = []
    for line in Path(log).read_text().splitlines():
        row = json.loads(line)
        if "eval" in row:
            rows.append({"step": row["step"], "minutes": row["seconds"] / 60, **row["eval"]})
    return rows


def draw_curve(rows: list[dict], out: Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    if not rows:
        raise ValueError("no evaluation rows in the log: train with eval_every > 0")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    minutes = [r["minutes"] for r in rows]
    for ax, key, unit in ((axes[0], "ssim", ""), (axes[1], "psnr", " (dB)")):
        ax.plot(minutes, [r[f"relit_{key}"] for r in rows], marker=".", label="relit")
        ax.axhline(rows[0][f"input_{key}"], color="grey", linestyle="--", label="unchanged input")
        ax.set_xlabel("training minutes")
        ax.set_ylabel(key.upper() + unit + " to the real photo")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right")
    fig.suptitle(title or f"held-out Yale B lighting ({rows[-1]['pairs']} pairs), step {rows[-1]['step']}")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return Path(out)


if __name__ == "__main__":
    print(draw_curve(eval_rows(Path(sys.argv[1])), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else ""))
