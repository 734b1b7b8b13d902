"""Render the built-in sample into a Multi-PIE-like folder: the library behind ``augment sample``.

What :func:`render_sample` writes under ``out`` (read back with ``read_dataset("sample", out)``)::

    out/sample.json                                   the config, toolkit version, renderer speed
    out/labels.csv                                    one row per image (columns :data:`CSV_COLUMNS`)
    out/session01/multiview/001/01/05_1/001_01_01_051_00.png
        session   subject  recording  camera   <subject>_<session>_<recording>_051_<illumination>.png

* ``subject`` is the identity index + 1 on three digits (identity 0 -> ``"001"``); its face is
  ``make_identity(config.seed, index)``.
* ``illumination`` is the Multi-PIE id: ``"00"`` for ``"ambient"``, ``"01"``-``"18"`` for
  ``"flash01"``-``"flash18"``. Multi-PIE's second no-flash frame ``19`` is not written: it would be
  a second, identical ambient image.
* Each expression goes to the first (session, recording) that the Multi-PIE reader's
  :data:`~augmenter.datasets.multipie.RECORDING_EXPRESSIONS` maps to it: neutral 01/01, smile 01/02,
  surprise 02/02, squint 02/03, disgust 03/03, scream 04/03 (:data:`EXPRESSION_RECORDINGS`).
* Images are ``(size, size, 3)`` uint8 RGB PNGs, each written atomically.

``labels.csv`` columns: ``path`` (relative to ``out``, ``/``-separated), ``identity`` (``"001"``),
``lighting``, ``expression``, ``illumination``, ``session``, ``recording``, ``azimuth`` and
``elevation`` (the flash direction in degrees from :data:`~augmenter.attributes.FLASH_DIRECTIONS`,
empty for ambient), ``size``, ``seed``. It lists every image of the config, sorted by path, and is
written (atomically) at the end, so its presence means the render finished.

Resuming: ``sample.json`` is written first. A rerun with the same config (``overwrite`` aside)
renders only the images that are missing, so an interrupted run keeps its finished images and a
rerun of a finished one renders nothing. A rerun with another config into the same folder raises
:class:`~augmenter.errors.DatasetFormatError` unless ``overwrite=True``, which renders everything
again and deletes the images of the earlier config that the new one does not have. A non-empty
folder without ``sample.json`` is never written into.

Example:
    >>> s = render_sample(Path("build/sample"), SampleConfig(identities=2, expressions=("neutral", "smile")))  # doctest: +SKIP
    >>> s.written, s.resumed                                                                   # doctest: +SKIP
    (76, 0)
    >>> len(read_dataset("sample", "build/sample"))                                            # doctest: +SKIP
    76
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from augmenter import __version__
from augmenter.atomic import write_text_atomic
from augmenter.attributes import FLASH_DIRECTIONS, LIGHTING, MULTIPIE_EXPRESSIONS, multipie_lighting, require_names
from augmenter.datasets.multipie import FRONTAL_CAMERA, RECORDING_EXPRESSIONS
from augmenter.errors import DatasetFormatError
from augmenter.io import write_image_atomic
from augmenter.sample.identity import make_identity
from augmenter.sample.render import FaceRenderer

__all__ = [
    "CSV_COLUMNS", "CSV_NAME", "CONFIG_NAME", "EXPRESSION_RECORDINGS", "LIGHTING_IDS",
    "SampleConfig", "SampleSummary", "render_sample",
]

CSV_NAME = "labels.csv"
CONFIG_NAME = "sample.json"
SIZES = (64, 128)
MAX_IDENTITIES = 999  # subject ids have three digits
CSV_COLUMNS: tuple[str, ...] = (
    "path", "identity", "lighting", "expression", "illumination", "session", "recording",
    "azimuth", "elevation", "size", "seed",
)

EXPRESSION_RECORDINGS: dict[str, tuple[str, str]] = {}
"""Expression -> the first (session, recording) the Multi-PIE table maps to it (neutral -> ("01", "01"))."""
for _key, _expression in RECORDING_EXPRESSIONS.items():
    EXPRESSION_RECORDINGS.setdefault(_expression, _key)

LIGHTING_IDS: dict[str, str] = {}
"""Lighting name -> Multi-PIE illumination id: ``"ambient"`` -> ``"00"``, ``"flash07"`` -> ``"07"`` (never ``"19"``)."""
for _id in range(19):
    LIGHTING_IDS.setdefault(multipie_lighting(_id), f"{_id:02d}")

_CAMERA_ID = FRONTAL_CAMERA.replace("_", "")  # "051" in file names
_IMAGE_NAME = re.compile(r"\d{3}_\d\d_\d\d_\d{3}_\d\d\.png")


@dataclass(frozen=True)
class SampleConfig:
    """Settings of :func:`render_sample`.

    Attributes:
        identities: number of faces, 1..999; face ``i`` is ``make_identity(seed, i)``, subject ``i + 1``.
        size: side of the square images in pixels, 64 or 128.
        seed: picks the faces; the same seed gives the same pixels.
        expressions: names from :data:`~augmenter.attributes.MULTIPIE_EXPRESSIONS` (any order, no repeats).
        lighting: names from :data:`~augmenter.attributes.LIGHTING` (any order, no repeats).
        overwrite: start over in a folder that holds a sample of another config.

    Example:
        >>> SampleConfig(identities=2, lighting=("ambient", "flash07")).lighting
        ('ambient', 'flash07')
    """

    identities: int = 4
    size: int = 64
    seed: int = 0
    expressions: tuple[str, ...] = MULTIPIE_EXPRESSIONS
    lighting: tuple[str, ...] = LIGHTING
    overwrite: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "expressions", _names(self.expressions, MULTIPIE_EXPRESSIONS, "expression"))
        object.__setattr__(self, "lighting", _names(self.lighting, LIGHTING, "lighting"))
        if not 1 <= int(self.identities) <= MAX_IDENTITIES:
            raise ValueError(f"identities must be in 1..{MAX_IDENTITIES}, not {self.identities}")
        if self.size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}, not {self.size}")

    def settings(self) -> dict:
        """What shapes the images (everything but ``overwrite``), names in vocabulary order."""
        settings = asdict(self)
        del settings["overwrite"]
        settings["expressions"] = [e for e in MULTIPIE_EXPRESSIONS if e in self.expressions]
        settings["lighting"] = [name for name in LIGHTING if name in self.lighting]
        return settings


@dataclass
class SampleSummary:
    """What :func:`render_sample` did; ``written + resumed`` is the number of images of the config.

    Attributes:
        written: images rendered and written by this call.
        resumed: images already present from an earlier call, not rendered again.
        wall_s: wall time of the call, seconds.
        images_per_s: ``written / wall_s`` (0.0 when nothing was rendered).
        out: the sample folder.
    """

    written: int = 0
    resumed: int = 0
    wall_s: float = 0.0
    images_per_s: float = 0.0
    out: Path | None = None

    def describe(self) -> str:
        """Two lines: counts, then speed and where the labels are."""
        return (
            f"{self.written + self.resumed} image(s) in {self.out}: {self.written} rendered, "
            f"{self.resumed} already there from an earlier run\n"
            f"{self.wall_s:.1f} s, {self.images_per_s:.1f} images/s; labels in {self.out / CSV_NAME if self.out else CSV_NAME}"
        )


@dataclass(frozen=True)
class _Image:
    """One planned image: its labels and path relative to the sample folder."""

    subject: str
    expression: str
    lighting: str
    session: str = field(init=False)
    recording: str = field(init=False)
    illumination: str = field(init=False)

    def __post_init__(self) -> None:
        session, recording = EXPRESSION_RECORDINGS[self.expression]
        object.__setattr__(self, "session", session)
        object.__setattr__(self, "recording", recording)
        object.__setattr__(self, "illumination", LIGHTING_IDS[self.lighting])

    @property
    def rel(self) -> str:
        name = f"{self.subject}_{self.session}_{self.recording}_{_CAMERA_ID}_{self.illumination}.png"
        return f"session{self.session}/multiview/{self.subject}/{self.recording}/{FRONTAL_CAMERA}/{name}"


def render_sample(
    out: str | os.PathLike,
    config: SampleConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SampleSummary:
    """Render ``config``'s faces under every expression and lighting into the tree under ``out``.

    Each (identity, expression) is one ``render_lights`` call over its missing lights, so the face
    geometry is built once for all of them.

    Args:
        out: the sample folder (created); see the module docstring for its content.
        config: what to render; default ``SampleConfig()`` (4 identities x 6 expressions x 19
            lightings = 456 images of 64 x 64).
        progress: ``progress(n_done, n_total)`` in images, called once before any rendering
            (``n_done`` = images already present) and after each (identity, expression).

    Returns:
        Counts and speed; ``written + resumed == identities * len(expressions) * len(lighting)``.

    Raises:
        DatasetFormatError: ``out`` is a file, a non-empty folder without ``sample.json``, or holds
            a sample of another config (unless ``config.overwrite``); unreadable ``sample.json``.
        ValueError: bad config values (raised by :class:`SampleConfig`).

    Example:
        >>> s = render_sample("build/sample", SampleConfig(identities=1, lighting=("ambient",)))  # doctest: +SKIP
        >>> s.written                                                                          # doctest: +SKIP
        6
    """
    t0 = time.perf_counter()
    config = config or SampleConfig()
    out = Path(out)
    old = _check_folder(out, config)
    plan = _plan(config)
    if config.overwrite and old is not None:
        _remove_stale(out, {image.rel for image in plan})
    meta = {"config": config.settings(), "toolkit_version": __version__,
            "images_per_s": old.get("images_per_s") if old and not config.overwrite else None}
    write_text_atomic(out / CONFIG_NAME, json.dumps(meta, indent=2) + "\n")

    summary = SampleSummary(out=out)
    missing = [image for image in plan if config.overwrite or not (out / image.rel).is_file()]
    summary.resumed = len(plan) - len(missing)
    done = summary.resumed
    if progress is not None:
        progress(done, len(plan))
    renderer = FaceRenderer(size=config.size) if missing else None
    if missing:
        (out / CSV_NAME).unlink(missing_ok=True)  # its presence means "finished"
    for index, expression, images in _groups(missing):
        identity = make_identity(config.seed, index)
        pixels = renderer.render_lights(identity, expression, [image.lighting for image in images])
        if len(pixels) != len(images):
            raise RuntimeError(f"renderer returned {len(pixels)} images for {len(images)} lights")
        for image, array in zip(images, pixels):
            write_image_atomic(out / image.rel, array)
        summary.written += len(images)
        done += len(images)
        if progress is not None:
            progress(done, len(plan))

    summary.wall_s = time.perf_counter() - t0
    if summary.written and summary.wall_s > 0:
        summary.images_per_s = summary.written / summary.wall_s
        meta["images_per_s"] = round(summary.images_per_s, 2)
        write_text_atomic(out / CONFIG_NAME, json.dumps(meta, indent=2) + "\n")
    write_text_atomic(out / CSV_NAME, _labels_csv(plan, config))
    return summary


# ----------------------------------------------------------------------------- helpers


def _names(names: Sequence[str], vocabulary: tuple[str, ...], what: str) -> tuple[str, ...]:
    """``names`` as a tuple, checked against ``vocabulary`` (an error lists it)."""
    names = (names,) if isinstance(names, str) else tuple(names)
    require_names(names, vocabulary, what)
    if not names or len(set(names)) != len(names):
        raise ValueError(f"{what} names must be given once each and at least one, got {names}")
    return names


def _check_folder(out: Path, config: SampleConfig) -> dict | None:
    """Refuse a folder we must not write into; return the earlier ``sample.json`` content, if any."""
    if out.exists() and not out.is_dir():
        raise DatasetFormatError(out, "is not a folder")
    meta_path = out / CONFIG_NAME
    if not meta_path.exists():
        if out.exists() and any(out.iterdir()):
            raise DatasetFormatError(out, f"is not empty and holds no {CONFIG_NAME}; render the sample into a new folder")
        return None
    try:
        old = json.loads(meta_path.read_text(encoding="utf-8"))
        old_settings = old["config"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if config.overwrite:
            return {}
        raise DatasetFormatError(meta_path, f"unreadable ({exc}); use overwrite to start over") from None
    new = config.settings()
    if old_settings != new and not config.overwrite:
        changed = sorted(k for k in set(old_settings) | set(new) if old_settings.get(k) != new.get(k))
        raise DatasetFormatError(
            meta_path,
            f"holds a sample rendered with another config ({', '.join(changed)}); "
            "use overwrite to start over, or another folder",
        )
    return old


def _plan(config: SampleConfig) -> list[_Image]:
    """Every image of ``config``, grouped by (identity, expression), lights in vocabulary order."""
    settings = config.settings()
    return [
        _Image(f"{index + 1:03d}", expression, lighting)
        for index in range(config.identities)
        for expression in settings["expressions"]
        for lighting in settings["lighting"]
    ]


def _groups(images: list[_Image]):
    """Yield ``(identity index, expression, images)`` runs of consecutive planned images."""
    group: list[_Image] = []
    for image in images:
        if group and (image.subject, image.expression) != (group[0].subject, group[0].expression):
            yield int(group[0].subject) - 1, group[0].expression, group
            group = []
        group.append(image)
    if group:
        yield int(group[0].subject) - 1, group[0].expression, group


def _remove_stale(out: Path, keep: set[str]) -> None:
    """Delete the sample images under ``out`` that are not in ``keep`` (relative posix paths)."""
    for path in out.glob(f"session*/multiview/*/*/{FRONTAL_CAMERA}/*.png"):
        rel = path.relative_to(out).as_posix()
        if _IMAGE_NAME.fullmatch(path.name) and rel not in keep:
            path.unlink()


def _labels_csv(plan: list[_Image], config: SampleConfig) -> str:
    """The text of ``labels.csv``: header and one row per planned image, sorted by path."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for image in sorted(plan, key=lambda i: i.rel):
        azimuth, elevation = FLASH_DIRECTIONS.get(image.lighting, ("", ""))
        writer.writerow([
            image.rel, image.subject, image.lighting, image.expression, image.illumination,
            image.session, image.recording, azimuth, elevation, config.size, config.seed,
        ])
    return buffer.getvalue()
