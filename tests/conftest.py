"""Fixtures shared by every test: where the real stand-in data lives, skipping when it is absent."""
from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = (Path(__file__).resolve().parents[1].parent / "shared" / "data").resolve()
"""``../shared/data`` beside the repository (Extended Yale B, FER-2013); never copied into it."""


@pytest.fixture
def shared_data() -> Path:
    """The shared data folder; the test is skipped when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not available at {SHARED_DATA}")
    return SHARED_DATA
