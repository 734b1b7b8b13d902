"""Small helpers shared by the toolkit's click entry points (kept out of the library code)."""
from __future__ import annotations

import errno
import functools
import os
import sys
import time

import click

from augmenter.errors import AugmenterError

#: Seconds between progress lines when stderr is not a terminal (a log file, a batch job).
PROGRESS_INTERVAL_ENV = "AUGMENT_PROGRESS_SECONDS"
DEFAULT_PROGRESS_INTERVAL = 30.0


def os_error_line(err: OSError) -> str:
    """``"<file>: <reason>"`` for an operating-system error, with a hint for the common ones."""
    reason = err.strerror or str(err)
    hint = {errno.ENOSPC: " (the disk is full: free space and rerun the same command; finished work is kept)",
            errno.EDQUOT: " (disk quota exceeded: free space and rerun the same command)",
            errno.EROFS: " (read-only file system: choose another output folder)",
            errno.EACCES: " (permission denied: choose a folder you can write, or fix its permissions)"}
    reason += hint.get(err.errno, "")
    name = err.filename if err.filename is not None else None
    return f"{name}: {reason}" if name else reason


def one_line_errors(func):
    """Turn the toolkit's typed errors and operating-system errors into click's one-line
    ``Error: <path>: <reason>`` and exit 1; Ctrl-C exits 130 with a note that finished work is kept."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AugmenterError as err:
            raise click.ClickException(str(err)) from None
        except OSError as err:
            raise click.ClickException(os_error_line(err)) from None
        except KeyboardInterrupt:
            click.echo("interrupted: finished work is kept; rerun the same command to resume.", err=True)
            sys.exit(130)

    return wrapper


def make_config(factory, /, *args, usage: bool = False, **kwargs):
    """``factory(*args, **kwargs)``: a library config, whose ``__post_init__`` refuses bad settings with a
    ValueError. That becomes click's one-line ``Error: <message>`` (exit 1), or, with ``usage`` (options that
    do not go together), a usage error (exit 2)."""
    try:
        return factory(*args, **kwargs)
    except ValueError as err:
        raise (click.UsageError if usage else click.ClickException)(str(err)) from None


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get(PROGRESS_INTERVAL_ENV, DEFAULT_PROGRESS_INTERVAL)))
    except ValueError:
        return DEFAULT_PROGRESS_INTERVAL


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class LogProgress:
    """A progress reporter for logs: one plain line every ``interval`` seconds (and one at the end).

    It takes the part of tqdm's interface the CLI uses (``n``, ``total``, ``update``, ``set_postfix``,
    ``set_description``, ``refresh``, ``write``, context manager), so a long run writing to a file or a
    batch system's log shows steady progress instead of nothing (tqdm stays silent off a terminal).
    """

    def __init__(self, desc: str = "", total: float | None = None, unit: str = "it", interval: float | None = None,
                 stream=None, clock=time.monotonic):
        self.desc, self.total, self.unit, self.n = desc, total, unit, 0
        self.initial = 0  # where this session started (a resumed run's step): the rate counts from here, as tqdm's
        self.interval = _interval() if interval is None else interval
        self._stream, self._clock = stream, clock
        self._start = self._last = clock()
        self._postfix = ""
        self._printed_n = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, k: float = 1) -> None:
        self.n += k
        self.refresh()

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        items = dict(ordered_dict or {}, **kwargs)
        self._postfix = ", ".join(f"{k}={v}" for k, v in items.items())
        if refresh:
            self.refresh()

    def set_description(self, desc: str, refresh: bool = True) -> None:
        self.desc = desc
        if refresh:
            self.refresh()

    def refresh(self) -> None:
        if self._clock() - self._last >= self.interval:
            self._emit()

    def write(self, message: str) -> None:
        click.echo(message, file=self._stream or sys.stderr)

    def close(self) -> None:
        if self.n and self._printed_n != self.n:
            self._emit()

    def line(self) -> str:
        """The progress line as it would be printed now."""
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = (self.n - self.initial) / elapsed
        done = f"{self.n:g}/{self.total:g}" if self.total else f"{self.n:g}"
        parts = [f"{self.desc}: {done} {self.unit}"]
        if self.total:
            parts[0] += f" ({100.0 * self.n / self.total:.1f}%)"
        parts.append(f"{rate:.2f} {self.unit}/s, {_duration(elapsed)} elapsed")
        if self.total and rate > 0 and self.n < self.total:
            parts.append(f"eta {_duration((self.total - self.n) / rate)}")
        if self._postfix:
            parts.append(self._postfix)
        return ", ".join(parts)

    def _emit(self) -> None:
        self._last = self._clock()
        self._printed_n = self.n
        click.echo(self.line(), file=self._stream or sys.stderr)


def make_bar(desc: str = "", unit: str = "it", total: float | None = None):
    """A tqdm bar on a terminal, a :class:`LogProgress` (a line every 30 s, ``AUGMENT_PROGRESS_SECONDS``)
    otherwise. Use ``bar.write`` for log lines so they do not break the bar."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(desc=desc, unit=unit, total=total)
    return LogProgress(desc=desc, total=total, unit=unit)


def progress_bar(desc: str, unit: str = "img"):
    """A progress display (see :func:`make_bar`) and a ``callback(done, total)`` that moves it.

    Use as ``bar, update = progress_bar("align")`` then ``with bar: job(progress=update)``.
    """
    bar = make_bar(desc=desc, unit=unit)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return bar, update
