"""The output folder of an expand run: whose run it holds, and where each part keeps its journal.

``<out>/.expand/run.json`` names the run (its settings, the generator and Q file hashes, the number of
source images). Every process of the run (the single process, or each shard) checks it before writing:
the same run resumes, another run is refused with the settings that differ.
``<out>/.expand/parts/<part>/`` holds each part's ``journal.jsonl`` (and, for shards, the part's own
manifest, summary and report). The bookkeeping is hidden so that dataset readers, which skip hidden
entries, read an expanded tree as the dataset it is.
"""
from __future__ import annotations

import json
from pathlib import Path

from augmenter import __version__
from augmenter.atomic import write_text_atomic
from augmenter.errors import RunConflictError
from augmenter.expand.config import ExpandConfig

META = ".expand"
RUN_FILE = "run.json"
PARTS = "parts"
FINAL_OUTPUTS = ("manifest.parquet", "manifest.csv", "summary.json", "report.html")


class RunDir:
    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.meta = self.out / META
        self.run_file = self.meta / RUN_FILE

    def part_dir(self, part: str) -> Path:
        return self.meta / PARTS / part

    def output_folder(self, config: ExpandConfig) -> Path:
        """Where a process writes its manifest, summary and report: ``out``, or its part folder for a shard."""
        return self.out if config.shards == 1 else self.part_dir(config.part)

    def journal(self, part: str) -> Path:
        return self.part_dir(part) / "journal.jsonl"

    def saved(self) -> dict | None:
        if not self.run_file.is_file():
            return None
        try:
            return json.loads(self.run_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise RunConflictError(self.run_file, f"unreadable ({err}); use another --out") from None

    def saved_config(self, config: ExpandConfig) -> ExpandConfig:
        """The saved run's settings with ``config``'s runtime ones (``--resume``)."""
        saved = self.saved()
        if saved is None:
            raise RunConflictError(self.run_file, "not found: --resume continues a run, and there is none here")
        runtime = {k: getattr(config, k) for k in ExpandConfig.RUNTIME}
        return ExpandConfig.from_dict({**saved["settings"], **runtime})

    def claim(self, config: ExpandConfig, generator_hash: str, q_hash: str, n_sources: int) -> None:
        """Write ``run.json`` for a new run, or check that the run already here is this one."""
        now = {"settings": config.identity(), "generator_hash": generator_hash, "q_hash": q_hash,
               "n_sources": n_sources, "toolkit_version": __version__}
        saved = self.saved()
        if saved is None:
            for name in ("manifest.parquet", "manifest.csv"):
                if (self.out / name).exists():
                    raise RunConflictError(self.out / name, f"belongs to another run (no {META}/{RUN_FILE} beside it); "
                                                            "use another --out")
            write_text_atomic(self.run_file, json.dumps(now, indent=2) + "\n")
            return
        differ = [f"{k}: {saved['settings'].get(k)!r} there, {v!r} here" for k, v in now["settings"].items()
                  if saved["settings"].get(k) != v]
        for key, what in (("generator_hash", "generator checkpoint"), ("q_hash", "Q checkpoint"),
                          ("n_sources", "number of source images")):
            if saved.get(key) != now[key]:
                differ.append(f"{what}: {saved.get(key)} there, {now[key]} here")
        if differ:
            raise RunConflictError(self.run_file, f"holds another run ({'; '.join(differ)}); use another --out, "
                                                  "or --resume to continue that run with its own settings")
