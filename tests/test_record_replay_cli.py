"""Record -> replay -> predictions on simulator streams, through the command lines."""

import json
import os
import subprocess
import sys
import uuid

import pytest
from live_models import make_model_file

from cmt_live.io.xdf import read_xdf

pytestmark = [pytest.mark.lsl, pytest.mark.slow]


def _run(*args, timeout=90):
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=os.environ
    )


def test_record_then_fast_replay(tmp_path):
    prefix = f"R{uuid.uuid4().hex[:6]}-"
    model = make_model_file(tmp_path / "m.pt", context_len=4)
    sim = subprocess.Popen(
        [sys.executable, "-m", "cmt_live.cli.sim", "stream", "--prefix", prefix,
         "--subject", "101", "--trial-s", "6", "--duration", "40"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ,
    )  # fmt: skip
    try:
        rec = tmp_path / "session.xdf"
        out = _run(
            "-m", "cmt_live.cli.live", "--eeg-stream", f"{prefix}EEG", "--eye-stream",
            f"{prefix}Gaze", "--marker-stream", f"{prefix}Markers", "--model", str(model),
            "--headless", "--duration", "12", "--record", str(rec),
            "--outlet-name", f"{prefix}CMT-Emotion", "--log", str(tmp_path / "live.jsonl"),
        )  # fmt: skip
    finally:
        sim.terminate()
        sim.wait(10)
    assert out.returncode == 0, out.stderr[-2000:]
    streams = {s.name: s for s in read_xdf(rec)}
    assert {f"{prefix}EEG", f"{prefix}Gaze", f"{prefix}CMT-Emotion"} <= set(streams)
    emotion = streams[f"{prefix}CMT-Emotion"]
    assert emotion.ch_names[:2] == ["p_Disgust", "p_Fear"] and len(emotion.timestamps) >= 3
    assert streams[f"{prefix}EEG"].data.shape[1] == 62

    log = tmp_path / "replay.jsonl"
    out = _run(
        "-m", "cmt_live.cli.live", "--replay", str(rec), "--fast", "--model", str(model),
        "--eeg-stream", f"{prefix}EEG", "--eye-stream", f"{prefix}Gaze", "--log", str(log),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    preds = [r for r in rows if r["kind"] == "prediction"]
    assert len(preds) >= 5
    assert all(abs(sum(r["probs"].values()) - 1) < 1e-4 for r in preds)


def test_fast_replay_errors(tmp_path):
    model = make_model_file(tmp_path / "m.pt", context_len=4)
    out = _run("-m", "cmt_live.cli.live", "--replay", str(tmp_path / "x.txt"), "--fast",
               "--model", str(model))  # fmt: skip
    assert out.returncode == 2 and "unknown extension '.txt'" in out.stderr
    out = _run("-m", "cmt_live.cli.live", "--fast", "--model", str(model))
    assert out.returncode == 2 and "--fast goes with --replay FILE" in out.stderr
