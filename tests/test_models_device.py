"""The one device resolver, shared by training and the runtime."""

from __future__ import annotations

import pytest
import torch

from models.device import resolve_device


def test_auto_follows_cuda_availability(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


def test_explicit_devices_are_checked(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match=r"device='tpu' is invalid; use 'auto', 'cpu'"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match=r"device='meta' is invalid"):
        resolve_device("meta")
    with pytest.raises(ValueError, match="device='cuda' was asked for but CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device(torch.device("cuda", 0))


def test_training_and_runtime_share_it():
    from models import runtime
    from models.train import loop, run

    assert runtime.resolve_device is loop.resolve_device is run.resolve_device is resolve_device
