"""The CLI helpers: progress lines in logs, one-line operating-system errors."""
from __future__ import annotations

import errno
import io

import click
import pytest
from click.testing import CliRunner

from augmenter.cli_util import LogProgress, make_bar, one_line_errors


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_log_progress_prints_a_line_per_interval_and_one_at_the_end():
    clock, out = FakeClock(), io.StringIO()
    bar = LogProgress(desc="align", total=100, unit="img", interval=30, stream=out, clock=clock)
    with bar:
        for _ in range(10):            # 10 images over 20 s: no line yet
            clock.t += 2
            bar.update(1)
        assert out.getvalue() == ""
        clock.t += 10                  # 30 s in: the first line
        bar.update(5)
        bar.set_postfix(loss="0.5")
        clock.t += 5
        bar.update(85)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("align: 15/100 img (15.0%), 0.50 img/s, 30s elapsed, eta 2m50s")
    assert lines[1].startswith("align: 100/100 img (100.0%)") and lines[1].endswith("loss=0.5")


def test_a_resumed_runs_rate_and_eta_count_only_this_sessions_steps():
    clock, out = FakeClock(), io.StringIO()
    bar = LogProgress(desc="train", total=1550, unit="step", interval=30, stream=out, clock=clock)
    bar.initial = 775                  # resumed at step 775: 47 steps in 60 s here, not 822
    bar.n = 822
    clock.t = 60.0
    assert bar.line().startswith("train: 822/1550 step (53.0%), 0.78 step/s, 1m00s elapsed, eta 15m29s")


def test_make_bar_off_a_terminal_is_a_log_progress(monkeypatch):
    monkeypatch.setenv("AUGMENT_PROGRESS_SECONDS", "0")
    bar = make_bar(desc="x", unit="step")          # pytest's stderr is not a terminal
    assert isinstance(bar, LogProgress) and bar.interval == 0


@pytest.mark.parametrize("code, hint", [(errno.ENOSPC, "disk is full"), (errno.EACCES, "permission denied")])
def test_os_errors_become_one_line_naming_the_file(code, hint):
    @click.command()
    @one_line_errors
    def cmd():
        raise OSError(code, "boom", "/data/out/journal.jsonl")

    result = CliRunner().invoke(cmd, [])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.strip().startswith("Error: /data/out/journal.jsonl: boom") and hint in result.output
    assert len(result.output.strip().splitlines()) == 1
