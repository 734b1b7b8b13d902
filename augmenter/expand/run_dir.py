"""The output folder of an expand run: whose run it holds, and where each part keeps its journal.

``<out>/.expand/run.json`` names the run (its settings, the generator and Q file hashes, the number of
source images). Every process of the run (the single process, or each shard) checks it before writing:
the same run resumes, another run is refused with the settings that differ.
``<out>/.expand/parts/<part>/`` holds each part's ``journal.jsonl`` (and, for shards, the part's own
manifest, summary, report and lock; a single-process run's lock is ``<out>/expand.lock``). The
bookkeeping is hidden so that dataset readers, which skip hidden entries, read an expanded tree as the
dataset it is.
"""
from __future__ import annotations

import errno
import json
from pathlib import Path

from augmenter import __version__
from augmenter.atomic import read_json_object, write_text_atomic
from augmenter.errors import DatasetFormatError, RunConflictError
from augmenter.expand.config import ExpandConfig
from augmenter.expand.files import naming_errors
from augmenter.expand.lock import LOCK_NAME

META = ".expand"
RUN_FILE = "run.json"
PARTS = "parts"
FINAL_OUTPUTS = ("manifest.parquet", "manifest.csv", "summary.json", "report.html")


def check_out_and_root(out: str | Path, root: str | Path | None, sample_folder: str) -> None:
    """Refuse an ``out`` that would mix variants into the sources: ``out`` equal to the dataset folder or
    inside it, or the dataset inside ``out`` (apart from ``out/<sample_folder>``, where the built-in sample
    is rendered). Paths are compared resolved, so symbolic links and ``..`` cannot hide an overlap. The
    dataset folder is ``root``, or the folder of ``root`` when it is a file (``--dataset manifest``: a
    manifest's rows are keyed relative to its folder, so ``out`` must not be that folder; a sibling
    folder beside the manifest is fine). ``DatasetFormatError`` naming ``out`` (or ``root``)."""
    if root is None:
        return
    out_r, root_r = Path(out).resolve(), Path(root).resolve()
    root_is_file = root_r.is_file()
    folder = root_r.parent if root_is_file else root_r
    if out_r == folder or (not root_is_file and _inside(out_r, folder)):
        raise DatasetFormatError(out, f"must not be --root ({root}) or a folder inside it: the variants would be "
                                      "written among the sources; choose an --out outside the dataset")
    if _inside(root_r, out_r) and not _inside(root_r, out_r / sample_folder):
        raise DatasetFormatError(root, f"is inside --out ({out}): the expanded tree would hold the sources "
                                       "themselves; choose an --out outside the dataset")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_out_is_folder(out: str | Path) -> None:
    """``NotADirectoryError`` naming ``out`` when it exists and is no folder (a file, say)."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "--out is a file, not a folder", str(path))


ANOTHER_RUN = ("holds another run ({changes}); use another --out, "
               "or --resume to continue that run with its own settings")
EXTRAS = {"generator_hash": "generator checkpoint", "q_hash": "Q checkpoint",
          "tear_check_hash": "tear check checkpoint", "n_sources": "number of source images", "judges": "extra judges"}


def read_run_file(run_file: Path) -> dict | None:
    """The run saved in ``run_file``, ``None`` when there is none; ``RunConflictError`` when unreadable."""
    if not run_file.is_file():
        return None
    try:
        return read_json_object(run_file)
    except (OSError, ValueError) as err:
        raise RunConflictError(run_file, f"unreadable ({err}); use another --out") from None


SETTINGS_BEFORE = {"tear_check": "none"}
"""Settings that did not exist when older runs were saved, with the value those runs had in effect (runs made before
the tear check judged with Q alone), so such a run still resumes and is compared as what it was."""


def claim_settings(run_file: Path, now: dict, labels: dict[str, str] | None = None,
                   message: str = ANOTHER_RUN) -> None:
    """Write ``now`` to ``run_file`` for a new run; for a rerun, check that the run saved there is this one.

    Without ``labels``, ``now`` is the run's settings. With ``labels`` (key -> what it is), ``now`` is
    ``{"settings": {...}, **extras}``: each extra named in ``labels`` is compared as a whole, the other
    extras (the toolkit version) are only recorded. Settings are compared one by one, over the keys either
    side has. A difference is ``RunConflictError`` naming ``run_file``, with ``message`` formatted with
    ``changes`` (``"key: X there, Y here; ..."``) and ``keys`` (the differing setting names, sorted)."""
    saved = read_run_file(run_file)
    if saved is None:
        with naming_errors(run_file):
            write_text_atomic(run_file, json.dumps(now, indent=2) + "\n", fsync=True)
        return
    settings, there = (now["settings"], saved.get("settings") or {}) if labels else (now, saved)
    there = {**{k: v for k, v in SETTINGS_BEFORE.items() if k in settings}, **there}
    keys = [k for k in {**settings, **there} if there.get(k) != settings.get(k)]
    changes = [f"{k}: {there.get(k)!r} there, {settings.get(k)!r} here" for k in keys]
    changes += [f"{what}: {saved.get(key)} there, {now.get(key)} here" for key, what in (labels or {}).items()
                if saved.get(key) != now.get(key)]
    if changes:
        raise RunConflictError(run_file, message.format(changes="; ".join(changes), keys=", ".join(sorted(keys))))


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

    def lock(self, config: ExpandConfig) -> Path:
        """The lock of ``config``'s process: ``out/expand.lock``, or in its part folder for a shard
        (shards of one run go side by side; see :mod:`augmenter.expand.lock`)."""
        return self.out / LOCK_NAME if config.shards == 1 else self.part_dir(config.part) / LOCK_NAME

    def saved(self) -> dict | None:
        return read_run_file(self.run_file)

    def saved_config(self, config: ExpandConfig) -> ExpandConfig:
        """The saved run's settings with ``config``'s runtime ones (``--resume``)."""
        saved = self.saved()
        if saved is None:
            raise RunConflictError(self.run_file, "not found: --resume continues a run, and there is none here")
        runtime = {k: getattr(config, k) for k in ExpandConfig.RUNTIME}
        return ExpandConfig.from_dict({**SETTINGS_BEFORE, **saved["settings"], **runtime})

    def claim(self, config: ExpandConfig, generator_hash: str, q_hash: str, n_sources: int,
              judges: list[str] | None = None, tear_check_hash: str | None = None) -> None:
        """Write ``run.json`` for a new run, or check that the run already here is this one. ``judges``:
        the names of the run's extra judges (recorded only when there are some); ``tear_check_hash``: the
        tear check's (recorded when there is one; a run made without one is another run)."""
        now = {"settings": config.identity(), "generator_hash": generator_hash, "q_hash": q_hash,
               "n_sources": n_sources, "toolkit_version": __version__}
        if tear_check_hash:
            now["tear_check_hash"] = tear_check_hash
        if judges:
            now["judges"] = list(judges)
        if not self.run_file.is_file():
            for name in ("manifest.parquet", "manifest.csv"):
                if (self.out / name).exists():
                    raise RunConflictError(self.out / name, f"belongs to another run (no {META}/{RUN_FILE} beside it); "
                                                            "use another --out")
        claim_settings(self.run_file, now, labels=EXTRAS)
