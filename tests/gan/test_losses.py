"""GAN losses on hand-made tensors."""
import pytest
import torch

from augmenter.losses import (gradient_penalty, identity_loss, l1_loss, masked_cross_entropy, quality_loss,
                              wgan_critic_loss, wgan_generator_loss)


def test_wgan_losses():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.5, -0.5])
    assert wgan_critic_loss(real, fake).item() == pytest.approx(0.0 - 2.0)
    assert wgan_generator_loss(fake).item() == pytest.approx(0.0)
    assert wgan_generator_loss(torch.tensor([2.0, 4.0])).item() == pytest.approx(-3.0)


def test_gradient_penalty_of_a_linear_critic():
    # D(x) = sum(w * x): the gradient is w everywhere, so the penalty is (|w| - 1)^2.
    w = torch.tensor([3.0, 4.0])
    points = torch.randn(5, 2, requires_grad=True)
    assert gradient_penalty((points * w).sum(1), points).item() == pytest.approx((5 - 1) ** 2)
    unit = torch.tensor([0.6, 0.8])
    assert gradient_penalty((points * unit).sum(1), points).item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_penalty_trains_the_critic():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    points = torch.randn(4, 2, requires_grad=True)
    gradient_penalty((points * w).sum(1), points).backward()
    # d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w| = 2 * 4 * (0.6, 0.8)
    torch.testing.assert_close(w.grad, torch.tensor([4.8, 6.4]))


def test_masked_cross_entropy_ignores_unlabelled_rows():
    logits = torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.0, 9.0], [0.0, 5.0, 0.0]], requires_grad=True)
    labelled_only = torch.nn.functional.cross_entropy(logits[[0, 2]], torch.tensor([0, 1]))
    loss = masked_cross_entropy(logits, torch.tensor([0, -1, 1]))
    assert loss.item() == pytest.approx(labelled_only.item())
    loss.backward()
    assert torch.all(logits.grad[1] == 0)  # the unlabelled row gets no gradient
    none = masked_cross_entropy(logits, torch.tensor([-1, -1, -1]))
    assert none.item() == 0.0 and none.requires_grad


def test_l1_with_and_without_weights():
    out = torch.zeros(3, 1, 2, 2)
    target = torch.stack([torch.full((1, 2, 2), v) for v in (1.0, 2.0, 4.0)])
    assert l1_loss(out, target).item() == pytest.approx(7 / 3)
    assert l1_loss(out, target, torch.tensor([1.0, 0.0, 1.0])).item() == pytest.approx(2.5)
    assert l1_loss(out, target, torch.zeros(3)).item() == 0.0


def test_identity_loss():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert identity_loss(a, a).item() == pytest.approx(0.0)
    assert identity_loss(a, -a).item() == pytest.approx(2.0)
    assert identity_loss(a, a.flip(1)).item() == pytest.approx(1.0)


def test_quality_loss_pushes_ratings_up():
    assert quality_loss(torch.tensor([10.0, 12.0])).item() == 0.0
    assert quality_loss(torch.tensor([1.0])).item() == pytest.approx(1.0)
    r = torch.tensor([5.5], requires_grad=True)
    quality_loss(r).backward()
    assert r.grad.item() < 0  # minimising the loss raises the rating


def test_tear_loss_is_the_tear_checks_penalty_in_rating_units():
    from augmenter.losses import tear_loss

    assert tear_loss(torch.tensor([0.0, 0.0])).item() == 0.0
    assert tear_loss(torch.tensor([0.2])).item() == pytest.approx(2.0 / 9.0)  # two rating points on the 1-10 scale
    assert tear_loss(torch.tensor([0.1, 0.0])).item() == pytest.approx(0.5 / 9.0)
    p = torch.tensor([0.0, 0.1], requires_grad=True)
    tear_loss(p).backward()
    assert p.grad[0].item() > 0 and p.grad[1].item() > 0  # lowering a penalty lowers the loss
