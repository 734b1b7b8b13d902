"""Atomic writes: permissions from the process umask, never touching it, safe from many threads."""
from __future__ import annotations

import os
import stat
import sys
import threading

import pytest

from augmenter.atomic import atomic_path, write_text_atomic


@pytest.fixture
def umask_027():
    """Run the test under umask 027 (distinct from the usual 022), restoring the old one after."""
    old = os.umask(0o027)
    yield 0o027
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_writes_never_call_umask_and_files_get_666_minus_umask(tmp_path, umask_027, monkeypatch):
    calls = []
    real_umask = os.umask
    monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or real_umask(mask))
    write_text_atomic(tmp_path / "a" / "b.txt", "x")
    with atomic_path(tmp_path / "c.bin", fsync=True) as tmp:
        tmp.write_bytes(b"y")
    assert calls == []
    assert _mode(tmp_path / "a" / "b.txt") == 0o666 & ~umask_027 == 0o640
    assert _mode(tmp_path / "c.bin") == 0o640
    assert _mode(tmp_path / "a") == 0o777 & ~umask_027  # the kernel applied the umask to the new folder too


def test_many_threads_writing_keep_the_umask_and_the_modes(tmp_path, umask_027):
    errors: list[BaseException] = []
    seen_masks: set[int] = set()
    stop = threading.Event()

    def watch_umask():  # reads the process umask without changing it (Linux /proc)
        while not stop.is_set():
            with open("/proc/self/status") as f:
                seen_masks.update(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))

    def write(k: int):
        try:
            for i in range(100):
                write_text_atomic(tmp_path / f"t{k}" / f"sub{i % 4}" / f"f{i}.txt", f"{k} {i}")
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
    if os.path.exists("/proc/self/status"):
        threads.append(threading.Thread(target=watch_umask))
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so that a race shows
    try:
        for t in threads:
            t.start()
        for t in threads[:8]:
            t.join()
    finally:
        stop.set()
        for t in threads[8:]:
            t.join()
        sys.setswitchinterval(old_interval)
    assert errors == []
    assert os.umask(0o027) == 0o027  # the process umask is still what it was
    assert seen_masks <= {0o027}
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 8 * 100
    assert {_mode(p) for p in files} == {0o640}
    assert {_mode(p) for p in tmp_path.rglob("*") if p.is_dir()} == {0o750}
    assert not list(tmp_path.rglob(".*"))  # no temp file left behind


def test_failed_write_leaves_no_temp_file(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "x.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []
