"""Sample grids during training: fixed inputs x every lighting target, then x every expression target."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from augmenter.gan.models import one_hot
from augmenter.io import write_image_atomic
from augmenter.tensors import to_model_input, to_uint8_images


@torch.inference_mode()
def sample_grid(generator, inputs: torch.Tensor, lighting: list[str], expression: list[str], path: Path) -> Path:
    """PNG grid: one row per input ``(K, 3, S, S)`` uint8; columns: input | each lighting | each expression.

    A lighting column keeps the expression and vice versa (an all-zero target vector).
    """
    device = next(generator.parameters()).device
    x = to_model_input(inputs, device)
    k = len(x)
    keep_l, keep_e = torch.zeros(k, len(lighting), device=device), torch.zeros(k, len(expression), device=device)
    columns = [x]
    for i in range(len(lighting)):
        columns.append(generator(x, one_hot(torch.full((k,), i, device=device), len(lighting)), keep_e))
    for i in range(len(expression)):
        columns.append(generator(x, keep_l, one_hot(torch.full((k,), i, device=device), len(expression))))
    tiles = [to_uint8_images(c) for c in columns]  # each (K, S, S, 3)
    grid = np.concatenate([np.concatenate([t[row] for t in tiles], axis=1) for row in range(k)], axis=0)
    write_image_atomic(path, grid)
    return path
