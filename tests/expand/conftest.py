"""Fixtures of the expand tests: the rendered source set and one uninterrupted reference run."""
from __future__ import annotations

from pathlib import Path

import pytest

from augmenter.expand.engine import run_expand
from augmenter.sample.tree import SampleConfig, render_sample
from tests.expand.helpers import make_config, quiet


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory) -> Path:
    """A 12-image rendered sample: 2 faces x 2 expressions x 3 lights."""
    root = tmp_path_factory.mktemp("sample")
    render_sample(root, SampleConfig(identities=2, lighting=("ambient", "flash07", "flash13"),
                                     expressions=("neutral", "smile")))
    return root


@pytest.fixture(scope="module")
def reference(sample_root, tmp_path_factory) -> Path:
    """One uninterrupted run of the default test config (read-only for the tests)."""
    out = tmp_path_factory.mktemp("reference") / "out"
    result = run_expand(make_config(sample_root, out), log=quiet)
    assert result.summary["variants"] == 24
    return out
