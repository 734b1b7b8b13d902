"""Loss functions: pure functions of tensors, no state, no configuration objects."""
from __future__ import annotations

import torch


def rating_margin_loss(pred: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                       margin_scale: float = 1.0) -> torch.Tensor:
    """Q's margin loss: ``mean(max(0, |pred - m| - margin_scale * s))``.

    A prediction inside the raters' spread ``[m - k s, m + k s]`` costs nothing; outside it costs its
    distance to the spread. The paper gives no formula; this one follows its description (a margin
    from the mean and std of the three ratings) and reduces to the L1 loss when the raters agree
    (``s = 0``), so unanimous ratings are fitted exactly rather than ignored.

    Args:
        pred, mean, std: ``(B,)`` tensors on the 1-10 rating scale; ``std >= 0``.
        margin_scale: ``k``, how many stds of tolerance (0 gives plain L1 to the mean).
    Returns:
        a scalar tensor.

    Example:
        >>> rating_margin_loss(torch.tensor([7.0, 3.0]), torch.tensor([6.0, 6.0]), torch.tensor([0.5, 0.0]))
        tensor(1.7500)
    """
    return torch.clamp((pred - mean).abs() - margin_scale * std, min=0).mean()


def within_group_rank_loss(pred: torch.Tensor, mean: torch.Tensor, group: torch.Tensor,
                           scale: float = 0.5, cap: float = 1.0) -> torch.Tensor:
    """Order within groups: for every pair ``(i, j)`` of one group with ``mean[i] > mean[j]``,
    ``max(0, min(scale * (mean[i] - mean[j]), cap) - (pred[i] - pred[j]))``, averaged over those pairs.

    A group is one photo and what was made of it (its damaged copies, its toned copy...). The margin loss
    fits each image to its label on its own, so a damaged copy of a well-rated photo can still score above
    a poor photo's clean copy *and above its own source*, which is what the failure test counts. This term
    asks for the order inside a group only: the damaged copy at least ``scale`` of the label gap (at most
    ``cap``) below its source. Zero when no group holds two different labels.

    Args:
        pred, mean: ``(B,)`` on the 1-10 rating scale; group: ``(B,)`` integer ids (equal = same photo).
    Returns:
        a scalar tensor.

    Example:
        >>> within_group_rank_loss(torch.tensor([6.0, 6.5, 3.0]), torch.tensor([7.0, 4.0, 5.0]),
        ...                        torch.tensor([0, 0, 1]))
        tensor(1.5000)
    """
    same = group[:, None] == group[None, :]
    above = (mean[:, None] - mean[None, :]) > 0
    pairs = same & above
    if not bool(pairs.any()):
        return pred.sum() * 0.0
    wanted = torch.clamp(scale * (mean[:, None] - mean[None, :]), max=cap)
    shortfall = torch.clamp(wanted - (pred[:, None] - pred[None, :]), min=0)
    return shortfall[pairs].mean()


# --- GAN losses (LEGAN and StarGAN) -------------------------------------------------------------
# Conventions: critic outputs are raw scores (WGAN), images are in [-1, 1], attribute labels are class
# indices with -1 meaning "not labelled" (masked out, StarGAN's mask vector for partial labels).


def wgan_critic_loss(real_score: torch.Tensor, fake_score: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss ``E[D(fake)] - E[D(real)]`` (minimised by the discriminator).

    Example:
        >>> wgan_critic_loss(torch.tensor([2.0, 4.0]), torch.tensor([1.0, -1.0]))
        tensor(-3.)
    """
    return fake_score.mean() - real_score.mean()


def wgan_generator_loss(fake_score: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss ``-E[D(fake)]``."""
    return -fake_score.mean()


def gradient_penalty(score: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """WGAN-GP term ``E[(||grad_x D(x)||_2 - 1)^2]`` at ``points`` (which must require grad).

    ``score`` is D's output on ``points`` (interpolates of real and fake images); the gradient is taken
    with ``create_graph=True`` so the penalty trains D. The weight (10 by default) is the caller's.
    """
    grad, = torch.autograd.grad(score.sum(), points, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def masked_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the samples whose label is not -1; exactly 0 (with a graph) when none is.

    Example:
        >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
        >>> round(masked_cross_entropy(logits, torch.tensor([0, -1])).item(), 4)   # only row 0 counts
        0.1269
        >>> masked_cross_entropy(logits, torch.tensor([-1, -1])).item()
        0.0
    """
    known = labels >= 0
    if not bool(known.any()):
        return logits.sum() * 0.0
    return torch.nn.functional.cross_entropy(logits[known], labels[known])


def l1_loss(output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error; with ``weight`` ``(B,)`` in {0, 1}, averaged over the weighted samples only.

    Used for the cycle reconstruction (input vs input rebuilt from the output with the source
    attributes) and for the paired term (output vs the true image under the target attributes, where
    the dataset has it: ``weight`` marks those samples). 0 when no sample is weighted.
    """
    per_sample = (output - target).abs().flatten(1).mean(dim=1)
    if weight is None:
        return per_sample.mean()
    return (per_sample * weight).sum() / weight.sum().clamp(min=1.0)


def identity_loss(input_embedding: torch.Tensor, output_embedding: torch.Tensor) -> torch.Tensor:
    """``1 - cos`` between L2-normalised embeddings of input and output, averaged: 0 keeps identity."""
    cos = torch.nn.functional.cosine_similarity(input_embedding, output_embedding, dim=1)
    return (1 - cos).mean()


def tear_loss(penalty: torch.Tensor, rating_max: float = 10.0, rating_min: float = 1.0) -> torch.Tensor:
    """The tear check's penalty ``(B,)`` (q_score units, :func:`augmenter.quality.tear_check.check_penalty`) in
    :func:`quality_loss`'s units: ``mean(penalty * rating_max) / (rating_max - rating_min)``, so that Q's rating and
    the check's penalty add up to the q_score the check gives (0 for an output it finds whole)."""
    return (penalty * rating_max).mean() / (rating_max - rating_min)


def quality_loss(rating: torch.Tensor, rating_max: float = 10.0, rating_min: float = 1.0,
                 ceiling: torch.Tensor | None = None) -> torch.Tensor:
    """Push Q's predicted rating up: ``mean(max(0, rating_max - min(r, ceiling))) / (rating_max - rating_min)``.

    In [0, 1] for ratings on the 1-10 scale: 0 when Q rates the image 10/10. Applied (summed) to the
    translated output and to the cyclic reconstruction, with Q frozen. ``ceiling`` ``(B,)`` (ratings, no
    gradient), when given: a rating above it earns nothing more, so the generator gains nothing by beating
    its source's rating (the bound of :mod:`augmenter.quality.source_rules`).
    """
    if ceiling is not None:
        rating = torch.minimum(rating, ceiling.detach())
    return torch.clamp(rating_max - rating, min=0).mean() / (rating_max - rating_min)
