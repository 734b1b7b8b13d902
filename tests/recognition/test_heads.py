"""Margin heads: the ArcFace / CosFace arithmetic on hand-made cosines, and the head module."""
import math

import pytest
import torch

from recognition.heads import ClassifierHead, margin_logits
from recognition.trainer import Classifier


def test_arcface_shifts_only_the_target_angle():
    cosine = torch.tensor([[0.8, 0.3, -0.2], [0.1, 0.8, 0.5]])
    before = cosine.clone()
    logits = margin_logits(cosine, torch.tensor([0, 1]), "arcface", scale=2.0, margin=0.5)
    target = 2.0 * math.cos(math.acos(0.8) + 0.5)  # s * cos(theta + m)
    assert logits[0, 0].item() == pytest.approx(target, abs=1e-5)
    assert logits[1, 1].item() == pytest.approx(target, abs=1e-5)
    # by hand: cos(theta + m) = c cos m - sqrt(1 - c^2) sin m = 0.8 * 0.877583 - 0.6 * 0.479426 = 0.414411
    assert target == pytest.approx(2 * 0.414411, abs=1e-5)
    # the other classes keep s * cos(theta)
    assert torch.allclose(logits[0, 1:], torch.tensor([0.6, -0.4]), atol=1e-6)
    assert torch.allclose(logits[1, [0, 2]], torch.tensor([0.2, 1.0]), atol=1e-6)
    assert torch.equal(cosine, before)  # the input is not modified in place


def test_arcface_falls_back_past_pi_minus_m():
    m, s = 0.5, 2.0
    assert math.cos(math.pi - m) == pytest.approx(-0.87758, abs=1e-5)
    cosine = torch.tensor([[-0.95, 0.4], [-0.5, 0.4]])
    logits = margin_logits(cosine, torch.tensor([0, 0]), "arcface", scale=s, margin=m)
    # below cos(pi - m): the CosFace-like s * (c - m sin m), not s * cos(theta + m) (which would rise again)
    assert logits[0, 0].item() == pytest.approx(s * (-0.95 - m * math.sin(m)), abs=1e-5)
    assert logits[0, 0].item() != pytest.approx(s * math.cos(math.acos(-0.95) + m), abs=1e-3)
    # above it: the plain arcface branch
    assert logits[1, 0].item() == pytest.approx(s * math.cos(math.acos(-0.5) + m), abs=1e-5)
    assert torch.allclose(logits[:, 1], torch.tensor([0.8, 0.8]), atol=1e-6)


def test_cosface_subtracts_the_margin_from_the_target():
    cosine = torch.tensor([[0.8, 0.3], [0.2, -0.6]])
    logits = margin_logits(cosine, torch.tensor([0, 1]), "cosface", scale=2.0, margin=0.35)
    expected = torch.tensor([[2 * (0.8 - 0.35), 0.6], [0.4, 2 * (-0.6 - 0.35)]])
    assert torch.allclose(logits, expected, atol=1e-5)


def test_no_labels_and_softmax_are_scaled_cosines():
    cosine = torch.tensor([[0.8, -0.1, 0.3]])
    for kind in ("arcface", "cosface"):
        assert torch.allclose(margin_logits(cosine, None, kind, 3.0, 0.5), 3.0 * cosine)
    assert torch.allclose(margin_logits(cosine, torch.tensor([0]), "softmax", 3.0, 0.5), 3.0 * cosine)


def test_unknown_head_kind_raises():
    with pytest.raises(ValueError, match="unknown head 'sphereface'"):
        margin_logits(torch.zeros(1, 2), torch.tensor([0]), "sphereface", 1.0, 0.5)
    with pytest.raises(ValueError, match="unknown head"):
        ClassifierHead("sphereface", 8, 3)


def test_classifier_head_logits():
    torch.manual_seed(0)
    emb, labels = torch.randn(4, 8), torch.tensor([0, 1, 2, 0])
    head = ClassifierHead("cosface", 8, 3, scale=10.0)
    assert head.margin == 0.35  # the default margin of the kind
    plain = head(emb)
    assert plain.shape == (4, 3) and plain.abs().max() <= 10.0 + 1e-4  # scaled cosines
    with_margin = head(emb, labels)
    assert torch.allclose(plain - with_margin, 10.0 * 0.35 * torch.nn.functional.one_hot(labels, 3).float(), atol=1e-5)
    softmax = ClassifierHead("softmax", 8, 3)
    assert torch.allclose(softmax(emb, labels), softmax.linear(emb))  # no margin, no normalisation
    model = Classifier(torch.nn.Identity(), head)
    assert torch.allclose(model(emb, labels), with_margin)
