"""CMU Multi-PIE reader (multiview images), also used for the toolkit's rendered sample data.

Layout::

    root/session01/multiview/001/01/05_1/001_01_01_051_00.png
         session  subject recording camera  <subject>_<session>_<recording>_<camera>_<illumination>.png

``identity`` is the subject id (``"001"``); the illumination id ``00``-``19`` maps through
:func:`augmenter.attributes.multipie_lighting` (``00`` and ``19`` are the no-flash frames,
``"ambient"``); the expression comes from the (session, recording) table
:data:`RECORDING_EXPRESSIONS`. ``extra`` keeps ``session``, ``recording``, ``camera`` (``"05_1"``)
and ``illumination`` (``"00"``). Only the cameras asked for are read (default the frontal ``05_1``).

Skipped and counted: entries that do not fit the layout (files above the camera level, folders
with other names, e.g. ``session01/highres``), images of cameras not asked for, file names not
matching the pattern, names whose fields disagree with their folders, illumination ids beyond 19,
and (session, recording) pairs missing from the table.

The registry's ``"sample"`` dataset (the toolkit's rendered demo data) is written in this layout
and read by this function with ``dataset="sample"``.

Example:
    >>> r = read_multipie("/data/Multi-PIE/data").records[0]            # doctest: +SKIP
    >>> r.identity, r.lighting, r.expression                              # doctest: +SKIP
    ('001', 'ambient', 'neutral')
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

from augmenter.attributes import multipie_lighting
from augmenter.datasets._tree import NESTED, bad_name_reason, entries, finish, rel, require_dir, skip_entry
from augmenter.datasets.listing import DatasetListing
from augmenter.datasets.record import FaceRecord
from augmenter.skips import SkipReport

RECORDING_EXPRESSIONS: dict[tuple[str, str], str] = {
    ("01", "01"): "neutral", ("01", "02"): "smile",
    ("02", "01"): "neutral", ("02", "02"): "surprise", ("02", "03"): "squint",
    ("03", "01"): "neutral", ("03", "02"): "smile", ("03", "03"): "disgust",
    ("04", "01"): "neutral", ("04", "02"): "neutral", ("04", "03"): "scream",
}
"""(session, recording) -> expression, from the Multi-PIE paper's recording protocol."""

FRONTAL_CAMERA = "05_1"
LAYOUT = "not in the Multi-PIE layout"
_SESSION = re.compile(r"session(\d\d)")
_MULTIVIEW = re.compile("multiview")
_SUBJECT = re.compile(r"\d{3}")
_RECORDING = re.compile(r"\d\d")
_CAMERA = re.compile(r"\d\d_\d")
_FILE = re.compile(r"(\d{3})_(\d\d)_(\d\d)_(\d{3})_(\d\d)\.png")


def read_multipie(
    root: str | os.PathLike,
    *,
    cameras: Iterable[str] = (FRONTAL_CAMERA,),
    dataset: str = "multipie",
    ignore: Iterable[str] = (),
) -> DatasetListing:
    """List the Multi-PIE images of ``cameras`` (folder names like ``"05_1"``, ``"19_0"``) under ``root``.

    ``ignore`` names root-level entries that belong to the tree without being part of the layout
    (the built-in sample's ``labels.csv`` and ``sample.json``): they are neither listed nor counted.
    """
    cameras = frozenset([cameras] if isinstance(cameras, str) else cameras)
    odd = sorted(c for c in cameras if not _CAMERA.fullmatch(c))
    if odd or not cameras:
        raise ValueError(f"Multi-PIE cameras are folder names like '05_1', got {odd or 'none'}")
    root = require_dir(root)
    skips = SkipReport()
    records: list[FaceRecord] = []
    for session, subject, recording, camera in _camera_folders(root, skips, frozenset(ignore)):
        if camera.name not in cameras:
            skip_entry(camera, root, skips, "camera not selected")
            continue
        folders = (session, subject.name, recording.name, camera.name)
        for entry in entries(camera.path, root, skips):
            record = _record(entry, folders, root, skips, dataset)
            if record is not None:
                records.append(record)
    return finish(records, skips, dataset, root)


def _subfolders(folder: os.DirEntry | Path, pattern: re.Pattern, root: Path, skips: SkipReport,
                ignore: frozenset[str] = frozenset()):
    """The subfolders of ``folder`` named like ``pattern``; anything else is counted as off-layout."""
    for entry in entries(folder, root, skips):
        if entry.name in ignore:
            continue
        if entry.is_dir() and pattern.fullmatch(entry.name):
            yield entry
        else:
            skip_entry(entry, root, skips, LAYOUT)


def _camera_folders(root: Path, skips: SkipReport, ignore: frozenset[str]):
    """Yield ``(session id, subject, recording, camera)`` for every camera folder of the layout."""
    for session in _subfolders(root, _SESSION, root, skips, ignore):
        for multiview in _subfolders(session.path, _MULTIVIEW, root, skips):
            for subject in _subfolders(multiview.path, _SUBJECT, root, skips):
                for recording in _subfolders(subject.path, _RECORDING, root, skips):
                    for camera in _subfolders(recording.path, _CAMERA, root, skips):
                        yield _SESSION.fullmatch(session.name).group(1), subject, recording, camera


def _record(entry: os.DirEntry, folders: tuple[str, str, str, str], root: Path, skips: SkipReport, dataset: str):
    where = rel(entry.path, root)
    if entry.is_dir():
        skip_entry(entry, root, skips, NESTED)
        return None
    m = _FILE.fullmatch(entry.name)
    if m is None:
        skips.add(bad_name_reason(entry.name), where)
        return None
    subject, session, recording, camera, illumination = m.groups()
    session_dir, subject_dir, recording_dir, camera_dir = folders
    if (subject, session, recording, camera) != (subject_dir, session_dir, recording_dir, camera_dir.replace("_", "")):
        skips.add("name disagrees with its folders", where)
        return None
    if int(illumination) > 19:
        skips.add("illumination id beyond 19", where)
        return None
    expression = RECORDING_EXPRESSIONS.get((session, recording))
    if expression is None:
        skips.add("unknown session/recording", f"{where}: session {session} recording {recording}")
        return None
    return FaceRecord(
        path=Path(entry.path),
        dataset=dataset,
        identity=subject,
        lighting=multipie_lighting(illumination),
        expression=expression,
        extra={"session": session, "recording": recording, "camera": camera_dir, "illumination": illumination},
    )
