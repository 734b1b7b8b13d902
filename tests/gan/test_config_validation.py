"""GanTrainConfig refuses an architecture train-legan's --arch (a click.Choice) would refuse, for library
callers too."""
import pytest

from augmenter.gan.train import GanTrainConfig


@pytest.mark.parametrize("changes, message", [
    (dict(arch="cyclegan"), "unknown architecture 'cyclegan'; expected one of legan, stargan, fields"),
])
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(ValueError) as err:
        GanTrainConfig(**{"data": ["sample:x"], "out": "o", **changes})
    assert str(err.value) == message


@pytest.mark.parametrize("arch", ["legan", "stargan", "fields"])
def test_every_architecture_passes(arch):
    assert GanTrainConfig(data=["sample:x"], out="o", arch=arch).arch == arch
