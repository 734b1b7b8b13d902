"""Export the trained default Q as the package's asset, with what it was trained on and how it measured."""
from __future__ import annotations

import json
from pathlib import Path

from augmenter.quality.model import DEFAULT_Q
from pipelines.demo_models import export_inference_checkpoint

PROVENANCE = ("default Q: trained on FER-2013 and Extended Yale B photos (aligned, FER-2013 also as shipped and "
              "re-cropped) with graded synthetic failures (simulated ratings), then fine-tuned on the human-realism study's ratings (Lago et al. 2022); "
              "research use only (see the README)")


def export_default_q(checkpoint: Path, asset: Path | None, results: dict) -> Path:
    """Copy ``checkpoint``'s weights (float16) to ``asset`` (default: augmenter/assets/default_q.pt) with the
    provenance note and the cross-validated agreement figures."""
    measured = {k: results[k] for k in ("cv", "cv_whole", "stage1_only") if k in results}
    note = PROVENANCE + "; measured: " + json.dumps(measured, sort_keys=True, default=str)
    return export_inference_checkpoint(checkpoint, asset or DEFAULT_Q, note)
