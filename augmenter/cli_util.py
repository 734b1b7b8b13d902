"""Small helpers shared by the toolkit's click entry points (kept out of the library code)."""
from __future__ import annotations

import functools
import sys

import click

from augmenter.errors import AugmenterError

NOT_LANDED_EXIT_CODE = 3


def not_landed(name: str, issue: int, what: str) -> click.Command:
    """A command that exists in the interface but whose issue has not landed.

    It accepts any arguments, prints one line saying so to stderr and exits with status 3:
    it never produces output that could be mistaken for a result.
    """

    @click.command(
        name=name,
        help=f"[not available yet: issue #{issue}] {what}",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
        add_help_option=False,
    )
    @click.pass_context
    def command(ctx: click.Context) -> None:
        click.echo(f"{name}: not available yet; it lands with issue #{issue} ({what}).", err=True)
        ctx.exit(NOT_LANDED_EXIT_CODE)

    return command


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
