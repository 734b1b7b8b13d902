"""RebalanceConfig and VerificationExperiment refuse bad settings themselves (library callers included)."""
import pytest

from pipelines.rebalance.config import RebalanceConfig
from pipelines.verification import VerificationExperiment


@pytest.mark.parametrize("config, changes, message", [
    (RebalanceConfig, dict(dataset="celeba", root="r"), "unknown dataset 'celeba'; expected one of casia"),
    (VerificationExperiment, dict(root="r", seeds=[1, 1]), "seeds must be distinct non-negative integers, got [1, 1]"),
    (VerificationExperiment, dict(root="r", seeds=[0, -2]), "seeds must be distinct non-negative integers"),
    (VerificationExperiment, dict(root="r", seed=-1), "seeds must be distinct non-negative integers, got [-1]"),
    (VerificationExperiment, dict(root="r", synthetic_ratio=1.0), "synthetic ratio must be in [0, 1), got 1.0"),
    (VerificationExperiment, dict(root="r", dataset="casia"), "dataset must be one of yaleb, multipie, sample"),
    (VerificationExperiment, dict(root="r", mode="expression"), "mode must be 'lighting' or 'both'"),
])
def test_bad_settings_are_refused(config, changes, message):
    with pytest.raises(ValueError) as err:
        config(out="o", **changes)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("config, changes", [
    (RebalanceConfig, dict(dataset="class-folder", root="r")),
    (RebalanceConfig, dict(dataset="multipie", root="r")),
    (VerificationExperiment, dict(root="r", seed=-1, seeds=[0, 1], synthetic_ratio=0.0)),
    (VerificationExperiment, dict(root="r", dataset="sample", mode="both", train_expressions=["neutral"])),
])
def test_good_settings_pass(config, changes):
    config(out="o", **changes)
