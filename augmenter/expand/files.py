"""Operating-system errors that name the file they are about, so the CLI can say it in one line."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


def naming(err: OSError, path: str | Path) -> OSError:
    """``err``, or the same error naming ``path`` when ``err`` names no file (``write`` and ``fsync`` raise
    them so on a full disk) or only ``path``'s hidden temp file (see :mod:`augmenter.atomic`). An error
    about another file (a parent folder, say) is returned as it is."""
    path = Path(path)
    if err.filename is not None and not Path(err.filename).name.startswith(f".{path.name}."):
        return err
    return type(err)(err.errno, err.strerror or str(err), str(path))


@contextlib.contextmanager
def naming_errors(path: str | Path) -> Iterator[None]:
    """Re-raise an ``OSError`` of the block through :func:`naming`."""
    try:
        yield
    except OSError as err:
        renamed = naming(err, path)
        if renamed is err:
            raise
        raise renamed from err
