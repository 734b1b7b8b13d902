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
