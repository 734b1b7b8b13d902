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

Datasets whose expressions are a fixed set of classes (:data:`CLASS_DATASETS`: FER-2013's seven folders,
AffectNet's eight emotions, a class-folder tree's folders) can only hold variants whose new expression
is one of their classes: :func:`class_labels` maps the generator's expression names onto them (``smile``
-> ``happy``, or an explicit ``--expression-map``), and the other names are not drawn as targets (a
``squint`` folder would be a class no trainer of FER knows).
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from augmenter.attributes import AFFECTNET_CODES, FER_NAMES, emotion_to_expression, expression_to_emotion
from augmenter.datasets.record import UNKNOWN, FaceRecord
from augmenter.errors import DatasetFormatError
from augmenter.expand.plan import Target
from augmenter.skips import SkipReport

EMOTION_DATASETS = ("fer2013", "affectnet")
CLASS_FOLDER_DATASETS = ("fer2013", "class-folder")
CLASS_DATASETS = ("fer2013", "affectnet", "class-folder")
"""Datasets whose expression labels are a fixed set of classes (see the module docstring)."""
DUPLICATE_SOURCE = "duplicate source"
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


def drop_duplicate_sources(records: Sequence[FaceRecord], keys: Sequence[str],
                           skips: SkipReport) -> tuple[list[FaceRecord], list[str]]:
    """``(records, keys)`` without the repeats of a source listed more than once (the same key is the same
    file: a CSV listing one row twice); each repeat is counted in ``skips`` as :data:`DUPLICATE_SOURCE`."""
    seen: set[str] = set()
    kept_records, kept_keys = [], []
    for record, key in zip(records, keys):
        if key in seen:
            skips.add(DUPLICATE_SOURCE, f"{key}: listed more than once; expanded once")
            continue
        seen.add(key)
        kept_records.append(record)
        kept_keys.append(key)
    return kept_records, kept_keys


def check_distinct_names(keys: Sequence[str], paths: Sequence[str | os.PathLike] | None = None) -> None:
    """Refuse sources whose variants would overwrite each other: two files of one folder with one stem
    and one output format (``a.png`` and ``a.bmp``, ``a.jpg`` and ``a.jpeg``). ``DatasetFormatError`` naming
    the second file (its entry of ``paths``, else its key) and the first."""
    seen: dict[tuple[str, str, str], str] = {}
    for i, key in enumerate(keys):
        path = PurePosixPath(key)
        slot = (str(path.parent), path.stem, _output_suffix(path))
        if slot in seen:
            raise DatasetFormatError(paths[i] if paths is not None else key,
                                     f"shares the name {path.stem!r} with source {seen[slot]} in its folder: their "
                                     "variants would overwrite each other; rename one or expand them separately")
        seen[slot] = key


def dataset_classes(dataset: str, records: Sequence[FaceRecord]) -> tuple[str, ...] | None:
    """The expression classes of a dataset of :data:`CLASS_DATASETS` (a class-folder tree's are its
    folder names), ``None`` for the others."""
    if dataset == "fer2013":
        return tuple(sorted(set(FER_NAMES.values())))
    if dataset == "affectnet":
        return tuple(AFFECTNET_CODES.values())
    if dataset == "class-folder":
        return tuple(sorted({r.extra.get("class", r.expression) for r in records}))
    return None


def class_labels(names: Sequence[str], classes: Sequence[str], explicit: Mapping[str, str]) -> dict[str, str]:
    """The class each expression name of ``names`` gives a variant: ``explicit[name]``, else the class of
    that name or of its emotion / Multi-PIE counterpart (``smile`` -> ``happy``). Names with none are left out."""
    labels = {}
    for name in names:
        if name in explicit:
            labels[name] = explicit[name]
            continue
        counterparts = (name, expression_to_emotion(name), emotion_to_expression(name))
        match = next((c for c in counterparts if c in classes), None)
        if match is not None:
            labels[name] = match
    return labels


def variant_labels(dataset: str, record: FaceRecord, target: Target,
                   classes: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``(lighting, expression)`` of the written variant, in the source dataset's vocabulary: ``classes``
    (see :func:`class_labels`) names the class of a target expression; without it a FER or AffectNet
    variant takes the emotion of its expression where there is one."""
    lighting = target.lighting or record.lighting
    expression = record.expression
    if target.expression:
        expression = target.expression
        if classes is not None and expression in classes:
            expression = classes[expression]
        elif dataset in EMOTION_DATASETS:
            expression = expression_to_emotion(expression) or expression
    return lighting, expression


def variant_path(dataset: str, record: FaceRecord, key: str, target: Target,
                 classes: Mapping[str, str] | None = None) -> str:
    """The variant's path relative to ``--out`` (see the module table; ``classes`` as in :func:`variant_labels`)."""
    source = PurePosixPath(key)
    if source.is_absolute():  # a manifest row outside the manifest's folder: never write outside --out
        source = PurePosixPath("external", hashlib.sha256(key.encode()).hexdigest()[:8], source.name)
    name = f"{source.stem}_{target.tag}{_output_suffix(source)}"
    if dataset in ("casia", "folder") and record.identity != UNKNOWN:
        return f"{record.identity}/{name}"
    if dataset in CLASS_FOLDER_DATASETS and target.expression:
        _, expression = variant_labels(dataset, record, target, classes)
        folder = _FER_FOLDER.get(expression, expression) if dataset == "fer2013" else expression
        name = f"{source.parent.name}_{name}" if source.parent.name else name  # FER's file names repeat across classes
        return str(source.parent.parent / folder / name) if source.parent.name else f"{folder}/{name}"
    return str(source.parent / name) if source.parent.name else name


def _output_suffix(source: PurePosixPath) -> str:
    return ".jpg" if source.suffix.lower() in (".jpg", ".jpeg") else ".png"


def rejected_path(path: str) -> str:
    return f"{REJECTED}/{path}"
