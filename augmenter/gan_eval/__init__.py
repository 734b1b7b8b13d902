"""Evaluation of the LEGAN translator: metrics (:mod:`.metrics`) and the report files (:mod:`.report`).

On the built-in sample the true answer of every translation is known: it is rendered by
:class:`augmenter.sample.ground_truth.GroundTruth`.
"""
from augmenter.gan_eval.metrics import (
    LIGHTING_NEIGHBOURS, cosine_similarity_rows, feature_stats, frechet_distance, frechet_distance_from_stats,
    kernel_distance, l1_error, lighting_neighbours, target_accuracy, within_one_accuracy,
)
from augmenter.gan_eval.report import translation_table, write_gan_report

__all__ = [
    "LIGHTING_NEIGHBOURS", "cosine_similarity_rows", "feature_stats", "frechet_distance",
    "frechet_distance_from_stats", "kernel_distance", "l1_error", "lighting_neighbours", "target_accuracy",
    "translation_table", "within_one_accuracy", "write_gan_report",
]
