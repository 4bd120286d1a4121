"""Test-wide setup: LSL stays on loopback, Qt offscreen."""

import os

from cmt_live.lsl.config import use_loopback_config

# Before anything imports pylsl: liblsl reads its config once, at load.
use_loopback_config()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
