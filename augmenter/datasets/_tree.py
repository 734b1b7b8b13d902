"""Folder walking shared by the readers: hidden files, layout checks, skips, the final listing.

Readers only list files and parse names; they never decode an image. Entries whose name starts
with ``.`` (``.DS_Store``, AppleDouble ``._x.jpg``, editors' temp files, the writers' hidden
``.<name>.tmp``) and the OS litter folders/files in :data:`IGNORED_NAMES` are ignored without
being counted: they are never part of a dataset.

Entries that are neither a folder nor a regular file (through symlinks) are counted skips, never
an abort and never opened: :data:`BROKEN_LINK`, :data:`NOT_REGULAR` (a FIFO, socket or device:
opening a FIFO would block forever) and ``"unreadable entry (<why>)"`` for an entry that cannot be
examined (a symlink loop, a path over the system's length limit, no permission). A folder that
cannot be listed is ``"unreadable folder (<why>)"``, its path the example.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Iterator

from augmenter.datasets.listing import DatasetListing
from augmenter.datasets.record import FaceRecord
from augmenter.skips import SkipReport
from augmenter.errors import DatasetFormatError
from augmenter.io import IMAGE_EXTENSIONS

IGNORED_NAMES = frozenset({"__MACOSX", "Thumbs.db", "desktop.ini",
                           # the toolkit's own bookkeeping beside a dataset tree (augment align's and
                           # augment expand's outputs), so an aligned or expanded tree reads back cleanly
                           "align.json", "landmarks.csv", "expand.json", "expand.lock",
                           "manifest.parquet", "manifest.csv", "summary.json", "report.html"})

OUTSIDE_FOLDER = "file outside a class folder"
NESTED = "nested too deep"
NOT_IMAGE = "not an image"
BAD_NAME = "bad file name"
BROKEN_LINK = "broken symlink"
NOT_REGULAR = "not a regular file"
NO_SUCH_PATH = "no such file or folder"

SYMLINK_LOOP = "unreadable entry (symlink loop)"

DIR, FILE = "dir", "file"
_WHY = {errno.ELOOP: "symlink loop", errno.ENAMETOOLONG: "name too long",
        errno.EACCES: "permission denied", errno.EPERM: "permission denied"}


def is_hidden(name: str) -> bool:
    return name.startswith(".") or name in IGNORED_NAMES


def is_image_name(name: str) -> bool:
    """Whether ``name`` has an image suffix (:data:`augmenter.io.IMAGE_EXTENSIONS`, any case)."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def bad_name_reason(name: str) -> str:
    """The skip reason for a file whose name a format rejects: bad image name, or no image at all."""
    return BAD_NAME if is_image_name(name) else NOT_IMAGE


def absolute(path: str | os.PathLike) -> Path:
    """Absolute, normalised path; symlinks are kept (not resolved) so records show the user's paths."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def why(err: OSError) -> str:
    """A few words for an operating-system error: "symlink loop", "permission denied", ..."""
    return _WHY.get(err.errno) or (err.strerror or type(err).__name__).lower()


def unreadable_entry(err: OSError) -> str:
    return f"unreadable entry ({why(err)})"


def unreadable_folder(err: OSError) -> str:
    return f"unreadable folder ({why(err)})"


def require_dir(root: str | os.PathLike, what: str = "dataset root") -> Path:
    """``root`` as an absolute path; :class:`DatasetFormatError` when it is missing, not a folder,
    or cannot be listed (no permission, a symlink loop...)."""
    path = absolute(root)
    try:
        is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        if is_dir:
            os.scandir(path).close()
    except FileNotFoundError:
        raise DatasetFormatError(path, f"{what} does not exist") from None
    except OSError as err:
        raise DatasetFormatError(path, f"{what} cannot be read ({why(err)})") from None
    if not is_dir:
        raise DatasetFormatError(path, f"{what} is not a folder")
    return path


class Entry:
    """A folder entry, examined once: :meth:`is_dir` / :meth:`is_file` (through symlinks) never raise.

    ``problem`` is the skip reason of an entry that is neither a folder nor a regular file (see the
    module docstring), ``""`` otherwise. It stands in for :class:`os.DirEntry` in the readers.
    """

    __slots__ = ("name", "path", "kind", "problem")

    def __init__(self, entry: os.DirEntry):
        self.name, self.path = entry.name, entry.path
        self.kind, self.problem = _examine(entry)

    def is_dir(self) -> bool:
        return self.kind == DIR

    def is_file(self) -> bool:
        return self.kind == FILE

    def __repr__(self) -> str:
        return f"<Entry {self.path!r} {self.kind or self.problem}>"


def _examine(entry: os.DirEntry) -> tuple[str, str]:
    """``(DIR or FILE, "")`` or ``("", skip reason)``; uses the directory's file types, stats only links."""
    try:
        if entry.is_dir():
            return DIR, ""
        if entry.is_file():
            return FILE, ""
    except OSError as err:  # a link that loops, or whose target is too long or out of reach
        return "", BROKEN_LINK if err.errno == errno.ENOTDIR and entry.is_symlink() else unreadable_entry(err)
    if entry.is_symlink() and not os.path.exists(entry.path):  # the target is missing
        return "", BROKEN_LINK
    return "", NOT_REGULAR


def path_kind(path: str | os.PathLike) -> str:
    """:data:`DIR`, :data:`FILE` (regular, through symlinks), or why ``path`` is neither: :data:`NO_SUCH_PATH`,
    :data:`BROKEN_LINK`, :data:`NOT_REGULAR` or ``"unreadable entry (<why>)"``. Never opens ``path``."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return BROKEN_LINK if os.path.islink(path) else NO_SUCH_PATH
    except OSError as err:
        return unreadable_entry(err)
    return DIR if stat.S_ISDIR(mode) else FILE if stat.S_ISREG(mode) else NOT_REGULAR


def entries(folder: str | os.PathLike, root: Path | None = None, skips: SkipReport | None = None) -> list[Entry]:
    """The non-hidden entries of ``folder``, sorted by name.

    With ``skips``, entries that are neither a folder nor a regular file are counted and left out, and
    a folder that cannot be listed is counted and gives ``[]`` (examples relative to ``root``, or the
    paths as listed when ``root`` is ``None``); without, such entries are returned with their
    ``problem`` set, and a listing error raises ``OSError``.
    """
    try:
        with os.scandir(folder) as it:
            found = sorted((Entry(e) for e in it if not is_hidden(e.name)), key=lambda e: e.name)
    except OSError as err:
        if skips is None:
            raise
        skips.add(unreadable_folder(err), rel(folder, root) if root is not None else os.fspath(folder))
        return []
    if skips is None:
        return found
    for entry in found:
        if entry.problem:
            skips.add(entry.problem, rel(entry.path, root) if root is not None else entry.path)
    return [e for e in found if not e.problem]


def rel(path: str | os.PathLike, root: Path) -> str:
    """``path`` relative to ``root`` with ``/`` separators, for skip examples."""
    return Path(os.path.relpath(path, root)).as_posix()


def skip_entry(entry: Entry | os.DirEntry, root: Path, skips: SkipReport, reason: str) -> None:
    """Count a rejected file, or every non-hidden file under a rejected folder, as ``reason``.

    An entry with a ``problem`` is counted under it instead; subfolders that cannot be listed are
    counted as unreadable folders.
    """
    problem = getattr(entry, "problem", "")
    if problem or not entry.is_dir():
        skips.add(problem or reason, rel(entry.path, root))
        return

    def unreadable(err: OSError) -> None:
        skips.add(unreadable_folder(err), rel(err.filename, root))

    for folder, dirs, files in os.walk(entry.path, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not is_hidden(d))
        for name in sorted(files):
            if not is_hidden(name):
                skips.add(reason, rel(os.path.join(folder, name), root))


def walk_files(top: Path, skips: SkipReport, *, exclude: Path | None = None) -> list[Path]:
    """Every non-hidden regular file under the folder ``top``, recursively, sorted by path.

    Symlinked folders are followed, except one that leads back to a folder being walked (counted as
    :data:`SYMLINK_LOOP`). Entries that are neither a folder nor a regular file and folders that
    cannot be listed are counted in ``skips`` (module docstring); the examples are paths under ``top``
    as given (several input folders can share relative paths).
    ``exclude`` (a folder, e.g. an output folder inside ``top``) is not walked.
    """
    found: list[Path] = []
    try:
        excluded = _identity(exclude) if exclude is not None else None
    except OSError:  # not there (yet): nothing to leave out
        excluded = None

    def visit(folder: str | os.PathLike, ancestors: frozenset) -> None:
        for entry in entries(folder, None, skips):
            if entry.is_file():
                found.append(Path(entry.path))
                continue
            try:
                identity = _identity(entry.path)
            except OSError as err:  # gone or changed since the listing
                skips.add(unreadable_entry(err), entry.path)
                continue
            if identity in ancestors:
                skips.add(SYMLINK_LOOP, entry.path)
            elif identity != excluded:
                visit(entry.path, ancestors | {identity})

    visit(top, frozenset({_identity(top)}))
    return found


def _identity(path: str | os.PathLike) -> tuple[int, int]:
    """``(device, inode)`` of a folder, through symlinks."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


def walk_class_folders(folder: Path, root: Path, skips: SkipReport) -> Iterator[tuple[str, Entry]]:
    """Yield ``(class folder name, regular file entry)`` for each file at ``folder/<class>/<file>``.

    Files directly in ``folder`` are counted as :data:`OUTSIDE_FOLDER`, anything below a class
    folder's own subfolders as :data:`NESTED`, unreadable folders and entries that are not regular
    files by their own reasons (module docstring); skip examples are relative to ``root``.
    """
    for top in entries(folder, root, skips):
        if not top.is_dir():
            skips.add(OUTSIDE_FOLDER, rel(top.path, root))
            continue
        for entry in entries(top.path, root, skips):
            if entry.is_dir():
                skip_entry(entry, root, skips, NESTED)
            else:
                yield top.name, entry


def skip_counts(skips: SkipReport) -> str:
    """``"skipped 5: 2 broken symlink, 1 unreadable image, ..."`` (most frequent first); ``""`` when none."""
    if not skips.total:
        return ""
    return f"skipped {skips.total}: " + ", ".join(f"{n} {reason}" for reason, n in skips.counts.most_common())


def finish(records: list[FaceRecord], skips: SkipReport, dataset: str, root: Path) -> DatasetListing:
    """The listing, records sorted by path; :class:`DatasetFormatError` when none is usable."""
    if not records:
        detail = f" ({skips.total} skipped: {', '.join(sorted(skips.counts))})" if skips.total else ""
        raise DatasetFormatError(root, f"no usable images for {dataset}{detail}")
    records.sort(key=lambda r: str(r.path))
    return DatasetListing(records, skips, dataset, root)
