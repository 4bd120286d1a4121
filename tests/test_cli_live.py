"""cmt-live end to end over real LSL (loopback): cmt-sim stream -> cmt-live -> log."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from itertools import pairwise

import pytest
from live_models import make_model_file
from lsl_sources import start_source, stop_source

from cmt_live.sinks import read_log

pytestmark = pytest.mark.lsl


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return make_model_file(tmp_path_factory.mktemp("m") / "tiny.pt")


def sim(prefix, *extra):
    cmd = [
        sys.executable,
        "-m",
        "cmt_live.cli.sim",
        "stream",
        "--prefix",
        prefix,
        "--subject",
        "101",
        "--trial-scale",
        "0.1",
        "--duration",
        "120",
        *map(str, extra),
    ]
    return subprocess.Popen(
        cmd, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def live(*args):
    cmd = [
        sys.executable,
        "-m",
        "cmt_live.cli.live",
        "--headless",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--resolve-timeout",
        "10",
        *map(str, args),
    ]
    return subprocess.Popen(
        cmd, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def wait_rows(path, ready, what, timeout_s=60.0):
    """Poll the log until ``ready(rows)`` holds; returns the rows (generous deadline)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            rows = read_log(path)
        except (FileNotFoundError, ValueError):  # not created yet / a line half written
            rows = []
        if rows and ready(rows):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"no {what} in {path} after {timeout_s} s")


def wait_predictions(path, n, timeout_s=60.0):
    rows = wait_rows(
        path,
        lambda rows: sum(r["kind"] == "prediction" for r in rows) >= n,
        f"{n} predictions",
        timeout_s,
    )
    return [r for r in rows if r["kind"] == "prediction"]


def test_happy_path_then_sigterm_leaves_a_complete_log(tmp_path, model_file):
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    src = sim(prefix)
    log = tmp_path / "session.jsonl"
    proc = live(
        "--eeg-stream",
        prefix + "EEG",
        "--eye-stream",
        prefix + "Gaze",
        "--marker-stream",
        prefix + "Markers",
        "--model",
        model_file,
        "--log",
        log,
    )
    try:
        seen = wait_predictions(log, 4)
        # The simulator may push its first marker before the marker inlet connects; the
        # next clip's marker follows within seconds (short clips): wait for one, on a loaded
        # machine too, instead of assuming it arrived.
        wait_rows(log, lambda rows: any(r["kind"] == "marker" for r in rows), "marker row")
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)  # one signal: stop() would send a second
        assert proc.returncode == 0, err[-2000:]
    finally:
        stop(proc)
        stop(src)
    lines = log.read_text().splitlines()
    rows = [json.loads(line) for line in lines]  # every line parses
    assert rows[0]["kind"] == "start" and rows[0]["eeg_source_id"] == "cmt-sim-eeg-101-0"
    assert rows[-1]["kind"] == "end"
    preds = [r for r in rows if r["kind"] == "prediction"]
    assert len(preds) >= len(seen)
    assert rows[-1]["n_predictions"] == len(preds)
    assert any(r["kind"] == "marker" for r in rows)
    for p in preds:
        assert abs(sum(p["probs"].values()) - 1) < 1e-4
        assert 0 < p["latency_ms"] < 1000
    # One prediction per step, spaced 1 s on the LSL clock.
    dt = [b["t_end"] - a["t_end"] for a, b in pairwise(preds)]
    assert all(abs(d - 1.0) < 1e-3 for d in dt), dt
    # With both streams flowing, the newest predictions use both modalities.
    assert "eye_missing" not in preds[-1]["flags"]


def test_no_eye_stream_runs_eeg_only(tmp_path, model_file):
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    src = sim(prefix)
    log = tmp_path / "eeg_only.csv"
    proc = live(
        "--eeg-stream", prefix + "EEG", "--model", model_file, "--log", log, "--duration", "9"
    )
    try:
        _out, err = proc.communicate(timeout=60)
    finally:
        stop(proc)
        stop(src)
    assert proc.returncode == 0, err[-2000:]
    rows = read_log(log)
    preds = [r for r in rows if r["kind"] == "prediction"]
    assert preds, err[-2000:]
    for p in preds:
        assert "eye_missing" in p["flags"] and float(p["gate_eye"]) < 1e-3
    assert any(r["kind"] == "event" and r["event"] == "eye_missing" for r in rows)
    assert rows[-1]["kind"] == "end"


def test_contract_mismatch_is_refused_before_the_first_window(tmp_path, model_file):
    name = f"t{uuid.uuid4().hex[:8]}-EEG"
    src, _ = start_source("--name", name, "--source-id", uuid.uuid4().hex, "--n-channels", "4")
    log = tmp_path / "never.jsonl"
    try:
        proc = live("--eeg-stream", name, "--model", model_file, "--log", log)
        _out, err = proc.communicate(timeout=60)
    finally:
        stop_source(src)
    assert proc.returncode == 2
    assert "lacks 62 of the model's 62 channels" in err and "--channel-map" in err
    assert not log.exists()


def test_missing_stream_lists_what_is_visible(model_file):
    proc = live(
        "--eeg-stream",
        f"absent-{uuid.uuid4().hex[:6]}",
        "--model",
        model_file,
        "--resolve-timeout",
        "1",
    )
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "No LSL stream matched" in err


@pytest.mark.slow
def test_end_to_end_accuracy_on_an_unseen_session_is_above_chance(tmp_path_factory):
    """A small model trained by the project's own code on simulated subjects 1-4 (session 1),
    streamed subject 1's session 2 (never seen) through LSL at 4x real time; accuracy vs the
    Markers stream.

    Not an unseen subject: this 4-subject, 6-epoch model scores 22-27% on unseen subjects 101
    and 102 in fast replay (one subject's 2 minutes sit too near chance to test anything), and
    60% on this session in fast replay, 42% live at 4x on a loaded machine (fewer windows of
    context). A broken path (column order, units, labels) falls to chance here; cross-subject
    accuracy is what the LOSO tests measure.
    """
    from cmt_live.sim.demo import build_demo_model

    model = build_demo_model(
        tmp_path_factory.mktemp("demo") / "demo.pt",
        {"subjects": 4, "trial_scale": 0.1, "preset": "small", "epochs": 6, "max_len": 4},
        progress=False,
    )
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    log = tmp_path_factory.mktemp("e2e") / "e2e.jsonl"
    src = sim(prefix, "--speed", "4", "--subject", "1", "--session", "2")
    proc = live(
        "--eeg-stream",
        prefix + "EEG",
        "--eye-stream",
        prefix + "Gaze",
        "--marker-stream",
        prefix + "Markers",
        "--model",
        model,
        "--log",
        log,
        "--time-scale",
        "4",
        "--duration",
        "28",
    )
    try:
        _out, err = proc.communicate(timeout=120)
    finally:
        stop(proc)
        stop(src)
    assert proc.returncode == 0, err[-2000:]
    rows = read_log(log)
    acc = next(r for r in rows if r["kind"] == "accuracy")
    print("end-to-end accuracy vs markers:", acc)
    preds = [r for r in rows if r["kind"] == "prediction" and r["true_label"]]
    # Several emotions were scored (a constant guess cannot pass), and the model beats chance.
    assert len({r["true_label"] for r in preds}) >= 3
    assert acc["n_scored"] >= 15
    assert acc["accuracy"] > 0.2 + 0.1
