"""Small helpers shared by the toolkit's click entry points (kept out of the library code)."""
from __future__ import annotations

import functools
import sys

import click

from augmenter.errors import AugmenterError

def one_line_errors(func):
    """Turn the toolkit's typed errors into click's one-line ``Error: <path>: <reason>`` and exit 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AugmenterError as err:
            raise click.ClickException(str(err)) from None
        except KeyboardInterrupt:
            click.echo("interrupted: finished work is kept; rerun the same command to resume.", err=True)
            sys.exit(130)

    return wrapper


def progress_bar(desc: str, unit: str = "img"):
    """A tqdm bar (silent when stderr is not a terminal) and a ``callback(done, total)`` that moves it.

    Use as ``bar, update = progress_bar("align")`` then ``with bar: job(progress=update)``.
    """
    from tqdm import tqdm

    bar = tqdm(unit=unit, desc=desc, disable=None)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return bar, update
