"""Test-wide setup: LSL stays on loopback, Qt offscreen; shared fixtures."""

import os
import signal

import pytest

from cmt_live.lsl.config import use_loopback_config

# Before anything imports pylsl: liblsl reads its config once, at load.
use_loopback_config()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# A shell without job control starts `cmd &` with SIGINT ignored (POSIX), so a suite launched
# in the background (`make test &`, a CI script) would hand an ignored SIGINT to every
# subprocess, and the Ctrl-C tests of the CLIs would wait out their timeouts. Python's own
# handler, as in a terminal; children get the default disposition back at exec.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

#: Signals whose handling a test must leave as it found it: subprocesses inherit an ignored
#: SIGINT/SIGTERM, and the Ctrl-C/SIGTERM tests of the CLIs then wait out their timeouts.
_GUARDED = (signal.SIGINT, signal.SIGTERM)


def _kernel_ignored() -> set[int]:
    """Signals ignored at the kernel level (what a child inherits), from /proc (Linux)."""
    try:
        with open("/proc/self/status") as f:
            mask = next(int(ln.split()[1], 16) for ln in f if ln.startswith("SigIgn:"))
    except (OSError, StopIteration):
        return set()
    return {s for s in _GUARDED if mask >> (s - 1) & 1}


@pytest.fixture(autouse=True)
def _signals_left_as_found():
    """Fail the test that leaves SIGINT/SIGTERM handled differently (and put them back)."""
    before = {s: signal.getsignal(s) for s in _GUARDED}
    ignored_before = _kernel_ignored()
    yield
    changed = [s.name for s in _GUARDED if signal.getsignal(s) is not before[s]]
    ignored_now = _kernel_ignored()
    if changed or ignored_now != ignored_before:
        for s, handler in before.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        newly = sorted(s.name for s in ignored_now - ignored_before)
        pytest.fail(
            f"the test left signal handling changed: handlers {changed}, newly ignored {newly}"
            " (restore them where they are set)",
            pytrace=False,
        )


@pytest.fixture
def one_thread():
    """Torch on one CPU thread for the test (the suite runs on 2 shared cores)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
