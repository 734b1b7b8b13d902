"""Entry points of the evaluation package: ``eval-lfw``, ``eval-ijbb``, ``eval-expression``, ``eval-edc``
and ``eval-report`` (each a thin click command over its library module)."""
from evaluation.cli_expression import eval_expression
from evaluation.cli_ijbb import eval_ijbb
from evaluation.cli_lfw import eval_lfw
from evaluation.cli_quality import eval_edc
from evaluation.cli_report import eval_report

__all__ = ["eval_lfw", "eval_ijbb", "eval_expression", "eval_edc", "eval_report"]
