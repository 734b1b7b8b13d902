"""Entry points of the evaluation package (eval-lfw, eval-ijbb, eval-expression)."""
from augmenter.cli_util import not_landed

eval_lfw = not_landed("eval-lfw", 8, "LFW View 2 verification protocol")
eval_ijbb = not_landed("eval-ijbb", 8, "IJB-B 1:1 template verification protocol")
eval_expression = not_landed("eval-expression", 8, "expression recognition metrics")
