"""``resolve_device``: the one place a user's ``--device`` string becomes a torch device, with one-line
:class:`DeviceError` for a GPU that is not there and for strings that name no device."""
import pytest
import torch

from augmenter.errors import AugmenterError, DeviceError
from augmenter.device import resolve_device


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.fixture
def one_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


def test_auto_and_cpu(no_gpu):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")


def test_auto_takes_the_gpu_when_there_is_one(one_gpu):
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cuda:0") == torch.device("cuda", 0)


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_without_a_gpu_is_a_one_line_error(no_gpu, device):
    with pytest.raises(DeviceError) as err:
        resolve_device(device)
    message = str(err.value)
    assert "\n" not in message and isinstance(err.value, AugmenterError)
    assert f"--device {device}" in message and "CUDA is not available" in message
    assert "--device cpu" in message and "auto" in message


def test_a_gpu_index_past_the_last_gpu_is_a_one_line_error(one_gpu):
    with pytest.raises(DeviceError, match=r"^--device cuda:3: there is 1 CUDA device \(cuda:0\); "):
        resolve_device("cuda:3")


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "", "cuda:-1", "cpu:abc", "nonsense:0", "cuda:1:2"])
def test_an_unknown_device_string_is_a_one_line_error(one_gpu, device):
    with pytest.raises(DeviceError) as err:
        resolve_device(device)
    assert "\n" not in str(err.value) and f"--device {device.strip()}" in str(err.value)
    assert "auto, cpu, cuda or cuda:N" in str(err.value)
