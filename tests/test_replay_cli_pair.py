"""Replay reproduces live from the command line: ``cmt-live`` listening first, then
``cmt-replay --wait-consumers`` of a recording, gives the fast path's predictions within 1e-5,
and the recording's first marker reaches the log (it is pushed only once cmt-live listens)."""

import os
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
from live_models import make_model_file

from cmt_live.sim.streams import SimSessionSettings, record_session
from cmt_live.sinks import read_log

pytestmark = [pytest.mark.lsl, pytest.mark.slow]

DURATION_S = 20.0


def _cli(*args, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", *map(str, args)],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _rows(path, kind):
    return [r for r in read_log(path) if r["kind"] == kind] if path.exists() else []


def _probs(rows):
    return np.array([list(r["probs"].values()) for r in rows])


def test_cli_listening_then_replay_with_wait_consumers_matches_fast_replay(tmp_path):
    prefix = f"P{uuid.uuid4().hex[:6]}-"
    settings = SimSessionSettings(subject=101, seed=5, prefix=prefix, trial_s=6.0)
    rec = record_session(settings, tmp_path / "s.xdf", DURATION_S)
    model = make_model_file(tmp_path / "m.pt", context_len=4)
    fast_log = tmp_path / "fast.jsonl"
    fast = subprocess.run(
        [sys.executable, "-m", "cmt_live.cli.live", "--replay", rec, "--fast", "--model", model,
         "--log", fast_log, "--device", "cpu"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ),
    )  # fmt: skip
    assert fast.returncode == 0, fast.stderr[-2000:]
    fast_preds = _rows(fast_log, "prediction")
    fast_marks = _rows(fast_log, "marker")
    assert len(fast_preds) > 10 and fast_marks and fast_marks[0]["t"] == pytest.approx(0.0)

    live_log = tmp_path / "live.jsonl"
    live = _cli(
        "cmt_live.cli.live", "--eeg-stream", f"{prefix}EEG", "--eye-stream", f"{prefix}Gaze",
        "--marker-stream", f"{prefix}Markers", "--model", model, "--headless", "--device", "cpu",
        "--threads", "1", "--resolve-timeout", "60", "--log", live_log, "--no-outlet",
    )  # fmt: skip
    replay = None
    try:
        # cmt-live listens first; the replay's clock starts once every stream has a consumer.
        replay = _cli("cmt_live.cli.replay", rec, "--wait-consumers", "60", "-q")
        _, replay_err = replay.communicate(timeout=DURATION_S + 90)
        assert replay.returncode == 0, replay_err[-2000:]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_rows(live_log, "prediction")) < len(fast_preds):
            time.sleep(0.2)
    finally:
        for proc in (replay, live):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                if proc is replay:
                    replay.communicate(timeout=30)
        _, live_err = live.communicate(timeout=30)
    live_preds = _rows(live_log, "prediction")
    assert len(live_preds) >= len(fast_preds), live_err[-2000:]
    live_preds = live_preds[: len(fast_preds)]
    # One constant clock offset between the two time axes, the same windows.
    offset = live_preds[0]["t_end"] - fast_preds[0]["t_end"]
    np.testing.assert_allclose(
        [r["t_end"] - offset for r in live_preds], [r["t_end"] for r in fast_preds], atol=1e-3
    )
    np.testing.assert_allclose(_probs(live_preds), _probs(fast_preds), atol=1e-5)
    # Every marker arrived, the first one (pushed at the recording's first instant) included.
    live_marks = _rows(live_log, "marker")
    assert [m["label"] for m in live_marks] == [m["label"] for m in fast_marks]
    assert live_marks[0]["t"] - offset == pytest.approx(fast_marks[0]["t"], abs=1e-3)
