"""Fault suite, LSL part: sources killed and restarted at random moments, duplicates, a stream
that comes back changed, a stream that never comes back, and a prompt close meanwhile.

Real outlets in subprocesses (tests/lsl_sources.py), loopback only, inside the private network
namespace of tests/run_pytest.sh. "Random moments" are drawn from a seeded generator as sample
counts to wait for, so every wait is on a condition with a generous deadline (a loaded 2-core
machine stretches everything; nothing here sleeps a fixed time).
"""

import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
from live_models import make_model_file
from lsl_sources import start_source, stop_source

from cmt_live.lsl.inlet import StreamInput
from cmt_live.lsl.resolve import StreamResolutionError, resolve_stream
from cmt_live.sinks import read_log

pytestmark = pytest.mark.lsl

#: Generous deadline for anything to happen after a source is back, seconds (the target,
#: measured by bench/bench_restart.py, is 2 s to data).
RECOVERY_DEADLINE_S = 30.0


@pytest.fixture
def sources():
    procs = []

    def start(*args):
        proc, _ = start_source(*args)
        procs.append(proc)
        return proc

    yield start
    for p in procs:
        stop_source(p)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return make_model_file(tmp_path_factory.mktemp("m") / "tiny.pt")


def _wait(cond, timeout_s, what="condition"):
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} not reached within {timeout_s:g} s")


def _uid():
    return uuid.uuid4().hex[:8]


def _has_data_after(inp, t):
    newest = inp.newest_timestamp
    return newest is not None and newest > t


def test_eeg_and_gaze_killed_and_restarted_at_random_moments(tmp_path, model_file, sources):
    """The live loop through kill/restart cycles of EEG, gaze and both: every outage ends
    with data again, predictions resume on both modalities, and the log tells each outage
    (lost, then connected) and ends with a complete ``end`` row."""
    import pylsl

    from cmt_live.driver import Driver
    from cmt_live.lsl.source import LslSource, StreamSelection
    from cmt_live.sinks import SessionLog
    from models import load_runtime

    u = _uid()
    args = {
        "eeg": f"--name EEG-{u} --source-id eeg-{u} --seedv-labels --n-channels 62".split(),
        "gaze": f"--name Gaze-{u} --type Gaze --source-id gaze-{u} --n-channels 5 --sfreq 120 "
        "--labels x,y,pupil_1,pupil_2,valid --unit= --amp 1".split(),
    }
    procs = {k: sources(*a) for k, a in args.items()}
    runtime = load_runtime(model_file, device="cpu", threads=1)
    spec = runtime.contract.feature_spec
    source = LslSource(StreamSelection(eeg=f"EEG-{u}", eye=f"Gaze-{u}"), spec.ch_names)
    source.open()
    log_path = tmp_path / "faults.jsonl"
    driver = Driver.for_source(runtime, source, step_s=1.0)
    driver.pipeline.add_sink(SessionLog(log_path, window_s=spec.window_s, start_info={}))
    inputs = {"eeg": source.eeg, "gaze": source.gaze}
    names = {k: inp.name for k, inp in inputs.items()}
    rng = np.random.default_rng(11)
    # Each victim once, in a random order, each after a random number of samples.
    cycles = [("eeg",), ("gaze",), ("eeg", "gaze")]
    rng.shuffle(cycles)
    kills = {"eeg": 0, "gaze": 0}
    recovery_s = []
    try:
        source.start()
        driver.start()
        for victims in cycles:
            n0 = {k: inp.buffer.n_total for k, inp in inputs.items()}
            more = int(rng.integers(20, 400))
            _wait(
                lambda n0=n0, more=more: all(
                    inputs[k].buffer.n_total >= n0[k] + more for k in inputs
                ),
                RECOVERY_DEADLINE_S,
                f"{more} more samples before killing {victims}",
            )
            t_kill = pylsl.local_clock()
            for k in victims:
                stop_source(procs[k])
                kills[k] += 1
            _wait(
                lambda victims=victims: all(inputs[k].status != "connected" for k in victims),
                RECOVERY_DEADLINE_S,
                f"{victims} noticed as gone",
            )
            t_back = time.monotonic()
            for k in victims:
                procs[k] = sources(*args[k])
            _wait(
                lambda victims=victims, t_kill=t_kill: all(
                    _has_data_after(inputs[k], t_kill) for k in victims
                ),
                RECOVERY_DEADLINE_S,
                f"data again from {victims}",
            )
            recovery_s.append(time.monotonic() - t_back)
        # Predictions resume on a clean window of both modalities after the last restart.
        t_last = pylsl.local_clock()
        _wait(
            lambda: _log_has_clean_prediction(log_path, t_last, spec.window_s),
            RECOVERY_DEADLINE_S * 2,
            "a prediction on new data",
        )
    finally:
        driver.close()
    print(f"data back after the restarts: {[round(x, 2) for x in recovery_s]} s")
    rows = read_log(log_path)
    assert rows[0]["kind"] == "start" and rows[-1]["kind"] == "end"
    preds = [r for r in rows if r["kind"] == "prediction"]
    assert rows[-1]["n_predictions"] == len(preds) > 0
    events = [(r["event"], r["message"]) for r in rows if r["kind"] == "event"]
    for k, name in names.items():
        mine = [e for e, m in events if m.startswith(f"[{name}]")]
        # A crash is a LostError at once; each outage ends with data flowing again (a
        # starved source on a loaded machine may add a stale/connected pair: >=).
        assert mine.count("recovering") >= kills[k], mine
        assert mine.count("reconnected") >= kills[k], mine
        assert mine.count("connected") >= kills[k], mine
    assert not [e for e, _ in events if e in ("error", "refused")]


def _log_has_clean_prediction(path, t_after, window_s):
    try:
        rows = read_log(path)
    except (FileNotFoundError, ValueError):  # not yet created / a line half written
        return False
    return any(
        r["kind"] == "prediction"
        and r["t_end"] - window_s > t_after
        and not {"eeg_missing", "eeg_stale", "eeg_gap"} & set(r["flags"])
        for r in rows
    )


def _counter_source(sources, name, sid, *extra):
    return sources("--name", name, "--source-id", sid, "--counter", "--unit", "V", *extra)


def _after_a_crash(sources, *extra):
    """``(name, source_id, input)``: an EEG input that read a counter source which then died
    (the caller closes the input)."""
    name, sid = f"EEG-{_uid()}", _uid()
    proc = _counter_source(sources, name, sid, *extra)
    s = StreamInput(resolve_stream(name, timeout=5), kind="eeg")
    try:
        _wait(lambda: s.buffer.n_total > 50, RECOVERY_DEADLINE_S, "first data")
        stop_source(proc)
        _wait(lambda: s.status != "connected", RECOVERY_DEADLINE_S, "stream gone")
    except BaseException:
        s.close(timeout_s=5.0)
        raise
    return name, sid, s


def test_duplicate_streams_during_an_outage_are_never_mixed(sources):
    """Two outlets with the pinned identity come back. liblsl answers a resolution as soon as
    one outlet does, so the first to answer is taken (two in the same answer are refused as
    ambiguous: tests/test_lsl_recovery.py); the data then come from that one outlet only, and
    when it dies the input moves to the other."""
    name, sid, s = _after_a_crash(sources)
    try:
        twins = {
            100000: _counter_source(sources, name, sid, "--start-index", "100000"),
            200000: _counter_source(sources, name, sid, "--start-index", "200000"),
        }
        _wait(lambda: s.buffer.latest(1)[0][0, 0] >= 100000, RECOVERY_DEADLINE_S, "data again")
        n = s.buffer.n_total
        _wait(lambda: s.buffer.n_total >= n + 200, RECOVERY_DEADLINE_S, "more data")
        d, _ = s.buffer.latest(10**5)
        new = d[d[:, 0] >= 100000, 0]
        block = 200000 if new[0] >= 200000 else 100000
        # One outlet only: one block, every sample once, in order.
        assert ((new >= block) & (new < block + 100000)).all()
        np.testing.assert_array_equal(np.diff(new), 1)
        stop_source(twins[block])
        other = 300000 - block
        _wait(
            lambda: s.status == "connected" and s.buffer.latest(1)[0][0, 0] >= other,
            RECOVERY_DEADLINE_S,
            "the other twin taken",
        )
        assert s.n_reconnects == 2
    finally:
        assert s.close(timeout_s=5.0)


def test_a_source_that_dies_again_while_reconnecting_is_recovered(sources):
    name, sid, s = _after_a_crash(sources)
    try:
        # Back, and killed again as soon as it is up: the monitor may be resolving it, opening
        # an inlet on it, or already reading it.
        stop_source(_counter_source(sources, name, sid, "--start-index", "100000"))
        _counter_source(sources, name, sid, "--start-index", "200000")
        _wait(
            lambda: s.status == "connected" and s.buffer.latest(1)[0][0, 0] >= 200000,
            RECOVERY_DEADLINE_S,
            "the third outlet's data",
        )
        assert s.error is None
    finally:
        assert s.close(timeout_s=5.0)


def test_a_stream_back_with_other_labels_is_refused_then_the_right_one_taken(sources):
    name, sid, s = _after_a_crash(sources, "--labels", "Fp1,Cz,Pz,Oz")
    events = []

    def saw(kind):
        events.extend(s.pop_events())
        return any(k == kind for k, _, _ in events)

    try:
        wrong = _counter_source(sources, name, sid, "--labels", "Fp1,Cz,Pz,O2")
        wrong_units = _counter_source(sources, f"{name}-u", sid)  # another name: not matched
        _wait(lambda: saw("refused"), RECOVERY_DEADLINE_S, "refusal")
        (msg,) = [m for k, m, _ in events if k == "refused"]
        assert "other channel labels ('Oz' -> 'O2')" in msg and "Restart the source" in msg
        assert s.status == "refused"
        n = s.recovery.n_resolves
        _wait(lambda: s.recovery.n_resolves >= n + 3, RECOVERY_DEADLINE_S, "more attempts")
        assert s.status == "refused" and s.n_reconnects == 0
        stop_source(wrong)
        stop_source(wrong_units)
        _counter_source(sources, name, sid, "--labels", "Fp1,Cz,Pz,Oz", "--start-index", "9000")
        _wait(
            lambda: s.status == "connected" and s.buffer.latest(1)[0][0, 0] >= 9000,
            RECOVERY_DEADLINE_S,
            "the right stream taken",
        )
        assert [k for k, _, _ in events].count("refused") == 1
    finally:
        assert s.close(timeout_s=5.0)


def test_close_is_prompt_while_recovery_is_under_way(sources):
    name = f"EEG-{_uid()}"
    proc = _counter_source(sources, name, _uid())
    s = StreamInput(resolve_stream(name, timeout=5), kind="eeg", lost_after_s=1.0)
    _wait(lambda: s.buffer.n_total > 50, RECOVERY_DEADLINE_S, "first data")
    stop_source(proc)
    # Re-resolutions (1 s each, nothing answers) are under way; "lost" after 1 s of absence.
    _wait(lambda: s.status == "lost", RECOVERY_DEADLINE_S, "lost")
    assert s.recovery.n_resolves >= 1
    kinds = [k for k, _, _ in s.pop_events()]
    assert kinds.count("lost") == 1
    assert s.close(timeout_s=5.0)  # the reader stopped (a resolution lasts at most 1 s)


def test_the_inlet_is_closed_when_the_constructor_fails(sources, monkeypatch):
    import pylsl

    import cmt_live.lsl.inlet as inlet_mod

    name = f"EEG-{_uid()}"
    _counter_source(sources, name, _uid())
    info = resolve_stream(name, timeout=5)
    closed = []
    real_close = pylsl.StreamInlet.close_stream
    monkeypatch.setattr(
        pylsl.StreamInlet, "close_stream", lambda self: closed.append(1) or real_close(self)
    )

    def refuse(*a, **k):
        raise ValueError("unit 'furlongs' is not a voltage")

    monkeypatch.setattr(inlet_mod, "read_meta", refuse)
    with pytest.raises(ValueError, match="furlongs"):
        StreamInput(info, kind="eeg")
    assert closed == [1]


def test_opening_a_vanished_stream_fails_in_one_line(sources):
    name = f"EEG-{_uid()}"
    proc = _counter_source(sources, name, _uid())
    info = resolve_stream(name, timeout=5)
    stop_source(proc)
    with pytest.raises(StreamResolutionError, match="was found but could not be opened") as e:
        StreamInput(info, kind="eeg", open_timeout_s=1.0)
    assert "\n" not in str(e.value)


def test_exit_on_loss_exits_3_with_the_loss_in_the_log(tmp_path, model_file, sources):
    u = _uid()
    proc = sources("--name", f"EEG-{u}", "--source-id", u, "--seedv-labels", "--n-channels", "62")
    log = tmp_path / "loss.jsonl"
    cmd = [sys.executable, "-m", "cmt_live.cli.live", "--headless", "--device", "cpu"]
    cmd += ["--threads", "1", "--eeg-stream", f"EEG-{u}", "--model", str(model_file)]
    cmd += ["--log", str(log), "--loss-limit", "1", "--exit-on-loss", "3", "--no-outlet"]
    live = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: _log_has_clean_prediction(log, 0.0, 0.0), 120, "a first prediction")
        stop_source(proc)
        _out, err = live.communicate(timeout=120)
    finally:
        if live.poll() is None:
            live.kill()
            live.communicate()
    assert live.returncode == 3, err[-2000:]
    assert f"stream 'EEG-{u}' away for" in err and "--exit-on-loss 3 s" in err
    rows = read_log(log)
    events = [r["event"] for r in rows if r["kind"] == "event"]
    assert "lost" in events and "exit_on_loss" in events
    assert events.index("lost") < events.index("exit_on_loss")
    assert rows[-1]["kind"] == "end"
