"""Test-wide setup: LSL stays on loopback, Qt offscreen; shared fixtures."""

import os

import pytest

from cmt_live.lsl.config import use_loopback_config

# Before anything imports pylsl: liblsl reads its config once, at load.
use_loopback_config()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def one_thread():
    """Torch on one CPU thread for the test (the suite runs on 2 shared cores)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
