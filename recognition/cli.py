"""Entry points of the recognition package (train-verifier, train-expression)."""
from augmenter.cli_util import not_landed

train_verifier = not_landed("train-verifier", 7, "train a face verifier on real plus synthetic data")
train_expression = not_landed("train-expression", 7, "train an expression classifier with imbalance remedies")
