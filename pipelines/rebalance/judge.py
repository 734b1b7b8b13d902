"""The expression judge: a ``train-expression`` checkpoint that says which expression a synthesized face
shows, so that a face LEGAN was asked to make "disgust" is kept only when a classifier trained on real
faces agrees."""
from __future__ import annotations

import torch

from augmenter.expand.plan import same_expression
from augmenter.tensors import resize_square
from evaluation.expression import load_expression_model


class ExpressionJudge:
    """``predict(images)`` -> the class name each image shows. Images ``(B, 3, S, S)`` float in [-1, 1]."""

    def __init__(self, checkpoint: str, device: torch.device):
        self.backbone, self.head, self.size, self.vocabulary = load_expression_model(checkpoint, device)
        self.path = checkpoint

    @torch.inference_mode()
    def predict(self, images: torch.Tensor) -> list[str]:
        logits = self.head(self.backbone(resize_square(images.float(), self.size)))
        return [self.vocabulary[i] for i in logits.argmax(1).tolist()]

    def agrees(self, predicted: str, target: str) -> bool:
        return same_expression(predicted, target)
