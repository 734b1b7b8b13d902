"""Where ``augment expand`` writes each variant: the source dataset's own layout, so the expanded set
trains directly.

========================  =====================================================================
source dataset            variant path under ``--out``
========================  =====================================================================
``casia``, ``folder``     ``<identity>/<source stem>_<target>.<ext>`` (identity folders stay intact)
``fer2013``,              a new expression: ``<split>/<its class>/<source class>_<source stem>_<target>.<ext>``
``class-folder``          (the prefix because FER's file names repeat across classes); lighting only:
                          ``<split>/<source class>/<source stem>_<target>.<ext>``
others                    ``<source folder>/<source stem>_<target>.<ext>`` (Multi-PIE, Yale B,
                          AffectNet, the sample: their labels live in the manifest)
========================  =====================================================================

``<ext>`` is ``jpg`` for JPEG sources (written at quality 95), ``png`` for everything else. A rejected variant, written only
with ``--save-rejected``, goes to the same path under the hidden ``.rejected/`` so it never enters the
training tree (readers skip hidden folders). Expression names follow the source's vocabulary where a mapping exists (a FER or AffectNet
variant made with Multi-PIE's ``smile`` is labelled ``happy``).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath

from augmenter.attributes import FER_NAMES, expression_to_emotion
from augmenter.datasets.record import UNKNOWN, FaceRecord
from augmenter.expand.plan import Target

EMOTION_DATASETS = ("fer2013", "affectnet")
CLASS_FOLDER_DATASETS = ("fer2013", "class-folder")
REJECTED = ".rejected"
_FER_FOLDER = {emotion: folder for folder, emotion in FER_NAMES.items()}


def source_key(record: FaceRecord, root: Path) -> str:
    """The source's path relative to the dataset root, POSIX style (the absolute path when outside it).

    Symbolic links are not resolved (as the readers keep them): a linked file's key is where it sits
    in the dataset, not where it points.
    """
    base = Path(os.path.abspath(root if root.is_dir() else root.parent))
    path = Path(os.path.abspath(record.path))
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def check_distinct_names(keys: list[str]) -> None:
    """Refuse sources whose variants would overwrite each other: two files of one folder with one stem
    and one output format (``a.png`` and ``a.bmp``, ``a.jpg`` and ``a.jpeg``). ``ValueError`` naming both."""
    seen: dict[tuple[str, str, str], str] = {}
    for key in keys:
        path = PurePosixPath(key)
        slot = (str(path.parent), path.stem, _output_suffix(path))
        if slot in seen:
            raise ValueError(f"sources {seen[slot]} and {key} share the name {path.stem!r} in one folder: their "
                             "variants would overwrite each other; rename one or expand them separately")
        seen[slot] = key


def variant_labels(dataset: str, record: FaceRecord, target: Target) -> tuple[str, str]:
    """``(lighting, expression)`` of the written variant, in the source dataset's vocabulary."""
    lighting = target.lighting or record.lighting
    expression = record.expression
    if target.expression:
        expression = target.expression
        if dataset in EMOTION_DATASETS:
            expression = expression_to_emotion(expression) or expression
    return lighting, expression


def variant_path(dataset: str, record: FaceRecord, key: str, target: Target) -> str:
    """The variant's path relative to ``--out`` (see the module table)."""
    source = PurePosixPath(key)
    if source.is_absolute():  # a manifest row outside the manifest's folder: never write outside --out
        source = PurePosixPath("external", hashlib.sha256(key.encode()).hexdigest()[:8], source.name)
    name = f"{source.stem}_{target.tag}{_output_suffix(source)}"
    if dataset in ("casia", "folder") and record.identity != UNKNOWN:
        return f"{record.identity}/{name}"
    if dataset in CLASS_FOLDER_DATASETS and target.expression:
        _, expression = variant_labels(dataset, record, target)
        folder = _FER_FOLDER.get(expression, expression) if dataset == "fer2013" else expression
        name = f"{source.parent.name}_{name}" if source.parent.name else name  # FER's file names repeat across classes
        return str(source.parent.parent / folder / name) if source.parent.name else f"{folder}/{name}"
    return str(source.parent / name) if source.parent.name else name


def _output_suffix(source: PurePosixPath) -> str:
    return ".jpg" if source.suffix.lower() in (".jpg", ".jpeg") else ".png"


def rejected_path(path: str) -> str:
    return f"{REJECTED}/{path}"
