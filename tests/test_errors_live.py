"""cmt-live's user-facing errors (issue 11): Ctrl-C at start-up exits at once with one line, a
missing marker stream is a warning and an event, a duplicate-stream hint that works, windows
skipped at start-up logged as events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
from live_models import make_model_file

from cmt_live.pipeline import WINDOWS_SKIPPED, Pipeline
from cmt_live.settings import Settings
from cmt_live.sinks import SessionLog, read_log
from cmt_live.source import Batch


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return make_model_file(tmp_path_factory.mktemp("m") / "tiny.pt")


def _live(*args):
    cmd = [sys.executable, "-m", "cmt_live.cli.live", "--headless", "--device", "cpu"]
    cmd += ["--threads", "1", "--log-level", "INFO", *map(str, args)]
    return subprocess.Popen(
        cmd,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a child inherits an ignored SIGINT (something earlier in a full
        # pytest run left it ignored: the Ctrl-C tests then waited out their 60 s).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_stderr(proc, needle, timeout_s=120.0):
    """Lines of stderr up to the first holding ``needle`` (read as they come)."""
    lines = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} never appeared on stderr: {''.join(lines)}")


@pytest.mark.lsl
def test_ctrl_c_while_looking_for_streams_exits_at_once_with_one_line(model_file):
    # A resolve timeout of 120 s: before the fix, SIGINT waited for all of it.
    proc = _live("--eeg-stream", f"NoSuch-{uuid.uuid4().hex[:6]}", "--model", model_file,
                 "--resolve-timeout", "120")  # fmt: skip
    try:
        _wait_stderr(proc, "looking for the streams")
        time.sleep(0.5)  # inside liblsl's lookup by now (it starts right after that line)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        dt = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert dt < 20, f"took {dt:.1f} s to stop"  # generous: a loaded 2-core machine
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    msgs = [ln for ln in err.splitlines() if ln.startswith("cmt-live:")]
    assert msgs == ["cmt-live: interrupted during start-up; exiting."]


def test_ctrl_c_while_loading_the_model_exits_with_one_line(model_file):
    # SIGINT as soon as the process runs Python: it lands in imports or the model load.
    proc = _live("--eeg-stream", "EEG", "--model", model_file, "--resolve-timeout", "120")
    try:
        _wait_stderr(proc, "loaded")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130 and "Traceback" not in err, err


def _batches(pipe, seconds, chunk_s):
    sf = pipe.settings.eeg_sfreq
    n = int(chunk_s * sf)
    rng = np.random.default_rng(0)
    for i in range(int(seconds / chunk_s)):
        ts = 1000.0 + (i * n + np.arange(n)) / sf
        yield Batch(eeg=5e-6 * rng.standard_normal((n, 62)), eeg_ts=ts)


def test_windows_skipped_at_start_up_go_to_the_session_log(tmp_path, model_file):
    from models import load_runtime

    rt = load_runtime(model_file, device="cpu", threads=1, warmup=1)
    log = SessionLog(tmp_path / "s.jsonl")
    settings = Settings.from_contract(rt.contract, has_gaze=False, max_behind=3)
    pipe = Pipeline(rt, settings, sinks=[log])
    # 16 s arrive at once (a backlog at start-up): 13 windows due, 12 skipped.
    for b in _batches(pipe, 16.0, 16.0):
        pipe.process(b)
    log.close()
    rows = read_log(tmp_path / "s.jsonl")
    ev = [r for r in rows if r["kind"] == "event" and r["event"] == WINDOWS_SKIPPED]
    assert len(ev) == 1 and "skipped 12 windows" in ev[0]["message"]
    assert sum("skipped" in r.get("message", "") for r in rows if r["kind"] == "event") == 1
    assert pipe.cutter.n_skipped == 12


@pytest.mark.lsl
def test_a_marker_stream_that_is_not_found_is_a_warning_an_event_and_a_health_row(
    model_file, tmp_path
):
    from lsl_sources import start_source, stop_source

    name, markers = f"EEG-{uuid.uuid4().hex[:6]}", f"Nope-{uuid.uuid4().hex[:6]}"
    src, _ = start_source("--name", name, "--n-channels", "62", "--seedv-labels")
    try:
        log = tmp_path / "s.jsonl"
        proc = _live("--eeg-stream", name, "--marker-stream", markers, "--model", model_file,
                     "--duration", "6", "--log", log, "--resolve-timeout", "20")  # fmt: skip
        _, err = proc.communicate(timeout=120)
    finally:
        stop_source(src)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    warn = [ln for ln in err.splitlines() if "WARNING" in ln and markers in ln]
    assert len(warn) == 1 and "--marker-stream" in warn[0], err
    rows = read_log(log)
    ev = [r for r in rows if r["kind"] == "event" and r["event"] == "marker_missing"]
    assert len(ev) == 1 and markers in ev[0]["message"]
    health = [r for r in rows if r["kind"] == "health"]
    assert (
        health
        and {"name": markers, "status": "absent"}.items()
        <= next(s for s in health[0]["streams"] if s["name"] == markers).items()
    )


@pytest.mark.lsl
def test_duplicate_hint_names_only_a_pin_that_separates_the_candidates():
    from lsl_sources import start_source, stop_source

    from cmt_live.lsl.config import use_loopback_config
    from cmt_live.lsl.resolve import StreamResolutionError, resolve_stream

    use_loopback_config()
    name = f"EEG-{uuid.uuid4().hex[:6]}"
    procs = [start_source("--name", name)[0] for _ in range(2)]  # same host, no source_id
    try:
        with pytest.raises(StreamResolutionError) as first:
            resolve_stream(name, timeout=5)
        host = next(
            ln.split("hostname=")[1].split()[0].strip("'")
            for ln in str(first.value).splitlines()
            if "hostname=" in ln
        )
        # Before the fix the hint said --eeg-hostname, which refuses again: follow the hint.
        assert "--eeg-hostname" not in str(first.value)
        assert "no query can tell them apart" in str(first.value)
        with pytest.raises(StreamResolutionError) as again:
            resolve_stream(name, hostname=host, timeout=5)
        assert "--eeg-hostname" not in str(again.value)
    finally:
        for p in procs:
            stop_source(p)
