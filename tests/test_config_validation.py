"""AlignConfig refuses a face selection augment align's --select (a click.Choice) would refuse, with the
message FaceAligner gives, for library callers too."""
import pytest

from augmenter.align_tree import AlignConfig


@pytest.mark.parametrize("changes, message", [
    (dict(select="first"), "select must be one of ('largest', 'best'), got 'first'"),
])
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(ValueError) as err:
        AlignConfig(**changes)
    assert str(err.value) == message


@pytest.mark.parametrize("select", ["largest", "best"])
def test_good_settings_pass(select):
    assert AlignConfig(select=select).select == select
