"""Ctrl-C between steps, not in the middle of one: long jobs stop at a consistent point and save.

Inside ``with deferred_interrupt() as stop:`` a SIGINT only sets ``stop.requested``; the job checks it
between units of work (a training step, a batch), saves, and raises ``KeyboardInterrupt`` itself. A
second Ctrl-C interrupts at once (the usual behaviour), for a job that does not check in time.
Outside the main thread (where signals cannot be handled) it does nothing.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class InterruptFlag:
    requested: bool = False


@contextmanager
def deferred_interrupt():
    flag = InterruptFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
