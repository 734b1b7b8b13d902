"""Extended Yale Face Database B reader (the cropped set: frontal pose, one folder per subject).

Layout::

    root/yaleB01/yaleB01_P00A+035E+20.pgm     light at azimuth +35, elevation +20 degrees
    root/yaleB01/yaleB01_P00A-130E+20.pgm
    root/yaleB01/yaleB01_P00_Ambient.pgm      ambient light only (a full, uncropped 640x480 frame)

Any image suffix is read in place of ``.pgm`` (any case), also after it, so the tree ``augment
align`` writes reads back with the same labels: it stores a ``.pgm`` source's crop as
``yaleB01_P00A+035E+20.png`` (``.pgm.png`` when that name was taken), and its ``align.json`` and
``landmarks.csv`` at the root are ignored.

``identity`` is the subject folder (``"yaleB01"``), ``expression`` is ``"neutral"`` (Yale B has no
other), ``extra`` keeps ``azimuth`` and ``elevation`` as integers in text (``"35"``, ``"-130"``).
``lighting`` depends on ``lighting_mapping``:

* ``"nearest"`` (default): :func:`augmenter.attributes.nearest_lighting` (a Multi-PIE flash name);
  with ``max_angle`` set, directions farther than that from every flash are counted as skips
  (``"lighting too far from any flash"``) rather than labelled with a far flash.
* ``"binned"``: :func:`augmenter.attributes.binned_lighting` (``"az+030_el+030"``).
* ``"raw"``: the file's own direction, e.g. ``"A+035E+20"``.

Ambient frames get ``lighting="ambient"`` and ``extra["ambient_frame"] = "1"`` so that callers can
tell them apart (they are not crops); ``include_ambient=False`` counts them as skips instead.

Skipped and counted: files marked bad by the distribution (``*.pgm.bad``), non-images (``*.info``,
or a ``.txt`` named like an image), names not matching the pattern, poses other than ``P00``, names
whose subject differs from their folder, folders not named ``yaleBNN``, files directly under
``root`` or deeper than a subject folder.

Example:
    >>> r = read_yaleb("/data/CroppedYale").records[0]                    # doctest: +SKIP
    >>> r.identity, r.extra["azimuth"], r.lighting                        # doctest: +SKIP
    ('yaleB01', '0', 'flash07')
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from augmenter.attributes import AMBIENT, binned_lighting, nearest_lighting
from augmenter.datasets._tree import bad_name_reason, finish, is_image_name, rel, require_dir, walk_class_folders
from augmenter.datasets.listing import DatasetListing
from augmenter.datasets.record import FaceRecord
from augmenter.skips import SkipReport

LIGHTING_MAPPINGS = ("nearest", "binned", "raw")
_SUBJECT = re.compile(r"yaleB\d\d")
# any image suffix after the name (is_image_name checks it), ".pgm.png" too: augment align writes
# a .pgm source's crop as .png, or as .pgm.png when a .png source already has that name
_SUFFIX = r"(?i:\.pgm)?\.[A-Za-z]+"
_LIT = re.compile(rf"(yaleB\d\d)_P(\d\d)(A[+-]\d{{3}}E[+-]\d\d){_SUFFIX}")
_AMBIENT = re.compile(rf"(yaleB\d\d)_P(\d\d)_Ambient{_SUFFIX}")


def read_yaleb(
    root: str | os.PathLike,
    *,
    lighting_mapping: str = "nearest",
    max_angle: float | None = None,
    include_ambient: bool = True,
    dataset: str = "yaleb",
) -> DatasetListing:
    """List a cropped Extended Yale B tree (see module docstring)."""
    if lighting_mapping not in LIGHTING_MAPPINGS:
        raise ValueError(f"lighting_mapping must be one of {', '.join(LIGHTING_MAPPINGS)}, got {lighting_mapping!r}")
    root = require_dir(root)
    skips = SkipReport()
    records: list[FaceRecord] = []
    for folder, entry in walk_class_folders(root, root, skips):
        where = rel(entry.path, root)
        if not _SUBJECT.fullmatch(folder):
            skips.add("bad subject folder", where)
            continue
        if entry.name.endswith(".bad"):
            skips.add("marked bad (.bad)", where)
            continue
        lit, ambient = _LIT.fullmatch(entry.name), _AMBIENT.fullmatch(entry.name)
        m = (lit or ambient) if is_image_name(entry.name) else None
        if m is None:
            skips.add(bad_name_reason(entry.name), where)
        elif m.group(1) != folder:
            skips.add("name disagrees with its folder", where)
        elif m.group(2) != "00":
            skips.add("pose is not P00", where)
        elif ambient and not include_ambient:
            skips.add("ambient frame excluded", where)
        elif ambient:
            records.append(FaceRecord(path=Path(entry.path), dataset=dataset, identity=folder, lighting=AMBIENT,
                                      expression="neutral", extra={"ambient_frame": "1"}))
        else:
            direction = m.group(3)
            azimuth, elevation = int(direction[1:5]), int(direction[6:])
            try:
                lighting = _lighting(direction, azimuth, elevation, lighting_mapping, max_angle)
            except ValueError as e:
                skips.add("lighting too far from any flash", f"{where}: {e}")
                continue
            records.append(FaceRecord(
                path=Path(entry.path), dataset=dataset, identity=folder, lighting=lighting, expression="neutral",
                extra={"azimuth": str(azimuth), "elevation": str(elevation)},
            ))
    return finish(records, skips, dataset, root)


def _lighting(direction: str, azimuth: int, elevation: int, mapping: str, max_angle: float | None) -> str:
    if mapping == "raw":
        return direction
    if mapping == "binned":
        return binned_lighting(azimuth, elevation)
    return nearest_lighting(azimuth, elevation, max_angle=max_angle)
