"""The expression judge: a ``train-expression`` checkpoint that says which expression a synthesized face
shows, so that a face LEGAN was asked to make "disgust" is kept only when a classifier trained on real
faces agrees. It is an extra judge of the synthesis engine (:data:`augmenter.expand.synthesis.Judge`)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from augmenter.expand.plan import Target, same_expression
from augmenter.tensors import resize_square
from evaluation.expression import load_expression_model


class ExpressionJudge:
    """``judge(images, targets)`` -> ``(accept, score, predicted)``: whether the class each image shows is its
    target's expression, the probability the classifier gives the target (its classes that mean the same
    summed), and the class it shows. Images ``(B, 3, S, S)`` float in [-1, 1]."""

    def __init__(self, checkpoint: str, device: torch.device):
        self.backbone, self.head, self.size, self.vocabulary = load_expression_model(checkpoint, device)
        self.path = checkpoint

    @torch.inference_mode()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(resize_square(images.float(), self.size))).float()

    def predict(self, images: torch.Tensor) -> list[str]:
        return [self.vocabulary[i] for i in self.logits(images).argmax(1).tolist()]

    def agrees(self, predicted: str, target: str) -> bool:
        return same_expression(predicted, target)

    def __call__(self, images: torch.Tensor, targets: Sequence[Target]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        logits = self.logits(images)
        probabilities = logits.softmax(1).cpu().numpy()
        predicted = [self.vocabulary[i] for i in logits.argmax(1).tolist()]
        names = [t.expression or "" for t in targets]
        accept = np.array([self.agrees(p, name) for p, name in zip(predicted, names)], dtype=bool)
        score = np.array([sum(float(row[k]) for k, c in enumerate(self.vocabulary) if self.agrees(c, name))
                          for row, name in zip(probabilities, names)])
        return accept, score, predicted
