"""VerifierConfig and ExpressionConfig refuse bad settings themselves (library callers included); the
commands print the same message as a one-line error."""
import pytest
from click.testing import CliRunner

from recognition.cli import train_expression, train_verifier
from recognition.train_expression import ExpressionConfig
from recognition.train_verifier import VerifierConfig

BASE = dict(data=["folder:x"], out="o")


@pytest.mark.parametrize("config, changes, message", [
    (VerifierConfig, dict(backbone="resnet9000"), "unknown backbone 'resnet9000'; expected one of mobilefacenet"),
    (VerifierConfig, dict(head="sphereface"), "unknown head 'sphereface'; expected one of arcface, cosface, softmax"),
    (VerifierConfig, dict(optimizer="lbfgs"), "unknown optimizer 'lbfgs'; expected one of sgd, adamw"),
    (VerifierConfig, dict(synthetic_ratio=1.0), "synthetic ratio must be in [0, 1), got 1.0"),
    (VerifierConfig, dict(synthetic_ratio=-0.1), "synthetic ratio must be in [0, 1), got -0.1"),
    (ExpressionConfig, dict(remedy="oversample"), "unknown remedy 'oversample'; expected one of none, sampler"),
    (ExpressionConfig, dict(backbone="resnet9000"), "unknown backbone 'resnet9000'; expected one of mobilefacenet"),
    (ExpressionConfig, dict(optimizer="lbfgs"), "unknown optimizer 'lbfgs'; expected one of sgd, adamw"),
    (ExpressionConfig, dict(remedy="synthetic"), "remedy 'synthetic' needs at least one --synthetic MANIFEST"),
    (ExpressionConfig, dict(max_train=0), "max_train must be at least 1, got 0"),
])
def test_bad_settings_are_refused(config, changes, message):
    with pytest.raises(ValueError) as err:
        config(**BASE, **changes)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("config, changes", [
    (VerifierConfig, dict(backbone="small_resnet", head="softmax", optimizer="adamw", synthetic_ratio=0.0)),
    (VerifierConfig, dict(synthetic_ratio=0.99)),
    (ExpressionConfig, dict(remedy="synthetic", synthetic=["m.parquet"], max_train=1, optimizer="sgd")),
])
def test_good_settings_pass(config, changes):
    config(**BASE, **changes)


@pytest.mark.parametrize("command, args, message", [
    (train_verifier, ["--synthetic-ratio", "1.5"], "synthetic ratio must be in [0, 1), got 1.5"),
    (train_expression, ["--remedy", "synthetic"], "remedy 'synthetic' needs at least one --synthetic MANIFEST"),
    (train_expression, ["--max-train", "0"], "max_train must be at least 1, got 0"),
])
def test_the_commands_print_the_config_message(tmp_path, command, args, message):
    result = CliRunner().invoke(command, ["--data", f"folder:{tmp_path}", "--out", str(tmp_path / "run"), *args])
    assert result.exit_code == 1 and result.output.strip() == f"Error: {message}", result.output
    assert not (tmp_path / "run").exists()
