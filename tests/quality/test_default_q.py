"""The built-in Qs: the default loads offline from the package, 'demo' names the demo Q, notices say which."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from augmenter.errors import CheckpointError
from augmenter.nets.quality import q_score
from augmenter.quality import model as qmodel
from augmenter.quality.model import DEFAULT_Q, DEMO_Q, load_q, q_notice, q_path_of


def test_q_values_name_the_built_in_checkpoints():
    assert q_path_of(None) == DEFAULT_Q and q_path_of("demo") == DEMO_Q and q_path_of("x/q.pt") == Path("x/q.pt")
    assert "human-rated" in q_notice(DEFAULT_Q) and "demo" in q_notice(DEMO_Q) and q_notice(Path("x.pt")) is None


def test_default_q_loads_offline_from_the_package(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr("socket.socket.connect", no_network)
    net, path = load_q()
    assert path == DEFAULT_Q and path.stat().st_size < 8 * 2**20
    size = net.config.image_size
    scores = q_score(net(torch.zeros(2, 3, size, size)))
    assert scores.shape == (2,) and bool(((scores >= 0.1) & (scores <= 1.0)).all())


def test_a_missing_built_in_q_says_how_to_rebuild_it(monkeypatch, tmp_path):
    missing = tmp_path / "default_q.pt"
    monkeypatch.setattr(qmodel, "DEFAULT_Q", missing)
    with pytest.raises(CheckpointError, match="augment-train-default-q"):
        qmodel.load_q(None)


@pytest.fixture(scope="module")
def aligned_photo():
    skimage_data = pytest.importorskip("skimage.data")
    from augmenter.align import FaceAligner

    return FaceAligner(image_size=128).align_image(skimage_data.astronaut()).crop


@pytest.mark.parametrize("mode", ["teeth_bar", "painted_irises", "tint", "shading_mask"])
def test_default_q_rates_a_real_photo_natural_and_its_failures_lower_the_worse_they_are(aligned_photo, mode):
    import numpy as np

    from augmenter.quality.failures import fail
    from augmenter.tensors import to_model_input

    net, _ = load_q()

    @torch.inference_mode()
    def score(face):
        return float(q_score(net(to_model_input(torch.from_numpy(face[None]).permute(0, 3, 1, 2))))[0])

    clean = score(aligned_photo)
    damaged = [score(fail(aligned_photo, mode, s, np.random.default_rng(0))) for s in (0.3, 0.6, 1.0)]
    assert clean >= 0.5  # natural (the paper's line); "typically >= 0.6" is measured on 333 held-out photos
    assert damaged[-1] < min(clean, 0.6) and damaged[-1] <= damaged[0] + 1e-6
