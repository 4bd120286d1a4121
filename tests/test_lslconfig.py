"""LSL stays on this machine in tests: the config is loopback-only and selected before pylsl."""

import os
import subprocess
import sys
from pathlib import Path

from cmt_live.lsl.config import LOOPBACK_CFG


def test_loopback_config_is_active_and_local_only():
    assert Path(os.environ["LSLAPICFG"]).resolve() == LOOPBACK_CFG.resolve()
    text = LOOPBACK_CFG.read_text()
    assert "KnownPeers = {127.0.0.1}" in text
    assert "ResolveScope = machine" in text


def test_user_config_is_respected(tmp_path):
    cfg = tmp_path / "mine.cfg"
    cfg.write_text("[lab]\nKnownPeers = {127.0.0.1}\n")
    code = "from cmt_live.lsl.config import use_loopback_config; print(use_loopback_config())"
    env = {**os.environ, "LSLAPICFG": str(cfg)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == str(cfg)


def test_late_selection_after_pylsl_import_is_refused(tmp_path):
    # Another loopback-only file, so liblsl never sees a config that could leave the machine.
    other = tmp_path / "other.cfg"
    other.write_text(LOOPBACK_CFG.read_text())
    code = (
        "import pylsl\n"
        "from cmt_live.lsl.config import use_loopback_config\n"
        "try:\n    use_loopback_config(force=True)\nexcept RuntimeError as e:\n"
        "    print('refused:', e)\n"
    )
    env = {**os.environ, "LSLAPICFG": str(other)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "refused: pylsl was imported before" in out.stdout
