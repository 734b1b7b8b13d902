"""Fixtures shared by every test: where the real stand-in data lives, skipping when it is absent."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

# The tests use tiny models: one thread is faster than two fighting over small kernels, and the
# results do not depend on how many cores the machine has.
torch.set_num_threads(1)

SHARED_DATA = (Path(__file__).resolve().parents[1].parent / "shared" / "data").resolve()
"""``../shared/data`` beside the repository (Extended Yale B, FER-2013); never copied into it."""


@pytest.fixture
def shared_data() -> Path:
    """The shared data folder; the test is skipped when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not available at {SHARED_DATA}")
    return SHARED_DATA
