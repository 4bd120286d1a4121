"""A demo that opens anywhere: when Qt's platform plugin cannot load, cmt-live falls back to the
terminal dashboard with one line naming what is missing, instead of Qt aborting the process."""

import os
import subprocess
import sys
import uuid

import pytest
from live_models import make_model_file

from apps.qt_check import XCB_PACKAGES, debian_package, missing_xcb_libraries, probe_qt_platform
from cmt_live.sim.streams import SimSessionSettings, record_session


def _xcb_without_display() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "xcb"  # forced, with no X display: the plugin cannot load
    return env


def test_debian_package_names_follow_debians_rule():
    assert debian_package("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert debian_package("libxcb-keysyms.so.1") == "libxcb-keysyms1"
    assert debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert debian_package("libX11-xcb.so.1") == "libx11-xcb1"
    assert debian_package("libdbus-1.so.3") == "libdbus-1-3"
    assert {"libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0"} <= set(XCB_PACKAGES)


def test_probe_reports_a_plugin_that_cannot_load(monkeypatch):
    for k, v in _xcb_without_display().items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("DISPLAY", raising=False)
    probe = probe_qt_platform()
    assert not probe.ok
    missing = {debian_package(s) for s in missing_xcb_libraries()}
    assert set(probe.missing_packages) == missing
    if missing:
        assert probe.hint.startswith("Qt's xcb plugin cannot load: install ")
        assert all(p in probe.hint for p in missing)
    else:
        assert probe.hint == "Qt's xcb plugin found no X display (DISPLAY is not set)."
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert probe_qt_platform().ok


@pytest.mark.lsl
def test_cmt_live_falls_back_to_the_dashboard_with_the_hint(tmp_path):
    prefix = f"F{uuid.uuid4().hex[:6]}-"
    rec = record_session(SimSessionSettings(subject=101, prefix=prefix), tmp_path / "s.xdf", 8.0)
    model = make_model_file(tmp_path / "m.pt", context_len=4)
    out = subprocess.run(
        [sys.executable, "-m", "cmt_live.cli.live", "--replay", str(rec), "--model", str(model),
         "--device", "cpu", "--threads", "1"],
        capture_output=True, text=True, timeout=180, env=_xcb_without_display(),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    hint = [ln for ln in out.stderr.splitlines() if "Showing the terminal dashboard" in ln]
    assert len(hint) == 1 and hint[0].startswith("cmt-live: Qt's xcb plugin"), out.stderr[-2000:]
    assert "Aborted" not in out.stderr and "could not load the Qt platform" not in out.stderr
    assert "Happy" in out.stdout or "Sad" in out.stdout or "Fear" in out.stdout  # the dashboard


def test_the_dashboard_shows_full_stream_names_and_any_flag_as_an_event():
    import io

    from fake_records import prediction

    from cmt_live.dashboard import Dashboard
    from cmt_live.records import StreamHealth

    d = Dashboard(io.StringIO(), ansi=True, refresh_hz=1000)
    name = "cmtdemo-3f2a9c1e-EEG-with-a-long-name"
    d.on_health([StreamHealth(name=name, status="connected", nominal_rate=200)])
    d.on_prediction(prediction(100.0, 1))
    d.on_prediction(prediction(101.0, 1, flags=("eeg_implausible_units",)))
    d.on_prediction(prediction(102.0, 1))
    screen = d.render()
    assert name in screen
    assert "eeg_implausible_units: started" in screen
    assert "eeg_implausible_units: cleared" in screen
