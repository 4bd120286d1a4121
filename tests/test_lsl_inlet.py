"""StreamInput and resolve_stream against real LSL outlets in subprocesses (loopback only)."""

import time
import uuid

import numpy as np
import pytest
from lsl_sources import start_source, stop_source

from cmt_live.channels import match_channels
from cmt_live.lsl.inlet import StreamInput
from cmt_live.lsl.resolve import StreamResolutionError, resolve_stream
from features.constants import SEEDV_CHANNELS

pytestmark = pytest.mark.lsl


@pytest.fixture
def sources():
    procs = []

    def start(*args):
        proc, t0 = start_source(*args)
        procs.append(proc)
        return proc, t0

    yield start
    for p in procs:
        stop_source(p)


def _uid():
    return uuid.uuid4().hex[:10]


#: Deadline of a condition wait: generous for a loaded 2-core machine (a met condition returns
#: at once; the timings under test are asserted on their own, e.g. ``t_stale < 1.0``).
WAIT_S = 30.0


def _wait(cond, timeout_s):
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_happy_path_counter_units_labels_health(sources):
    name, sid = f"EEG-{_uid()}", _uid()
    sources(
        "--name",
        name,
        "--source-id",
        sid,
        "--counter",
        "--n-channels",
        "3",
        "--labels",
        "Fp1,Cz,O2",
        "--unit",
        "microvolts",
    )
    info = resolve_stream(name, stype="EEG", timeout=5)
    with StreamInput(info, kind="eeg") as s:
        assert s.ch_names == ("Fp1", "Cz", "O2") and s.sfreq == 200.0
        assert s.meta.source_id == sid and s.meta.units == ("microvolts",) * 3
        assert _wait(lambda: s.buffer.n_total >= 300, WAIT_S)
        d1, t1 = s.read_new()
        n1 = s.buffer.n_total
        assert _wait(lambda: s.buffer.n_total >= n1 + 60, WAIT_S)
        d2, t2 = s.read_new()
        h = s.health()
    d, ts = np.concatenate([d1, d2]), np.concatenate([t1, t2])
    counter = np.round(d[:, 0] / 1e-6)  # declared microvolts -> volts in the buffer
    np.testing.assert_array_equal(np.diff(counter), 1)
    # The sine channels arrive in volts: amplitude 10 uV.
    assert 9e-6 < np.abs(d[:, 1]).max() <= 10e-6
    assert np.all(np.diff(ts) > 0)
    np.testing.assert_allclose(np.diff(ts), 1 / 200, atol=2e-4)  # dejittered
    assert h.status == "connected" and h.n_timestamp_faults == 0 and h.gaps == ()
    assert 150 < h.effective_rate < 260 and 0 <= h.latency_s < 0.2
    assert h.n_samples >= 300


def test_counter_through_inlet_and_ring_buffer_at_1000_hz(sources):
    name = f"EEG-{_uid()}"
    sources(
        "--name",
        name,
        "--source-id",
        _uid(),
        "--counter",
        "--n-channels",
        "64",
        "--sfreq",
        "1000",
        "--unit",
        "V",
        "--duration",
        "3.5",
        "--wait-consumer",
        "--chunk-ms",
        "7",
    )
    with StreamInput(resolve_stream(name, timeout=5), kind="eeg", buffer_s=0.3) as s:
        assert s.stale_after_s == 0.5
        got = []
        t_end = time.monotonic() + 6
        while time.monotonic() < t_end and not (got and got[-1].size and got[-1][-1] == 3500):
            time.sleep(0.05)  # read often enough for a 0.3 s buffer
            got.append(s.read_new()[0][:, 0])
        counter = np.concatenate(got)
        assert s.buffer.n_overwritten_unread == 0
    # Every sample, from the first to the last, in order.
    np.testing.assert_array_equal(counter, np.arange(3501))


def test_outage_stale_then_recovered_with_same_source_id(sources):
    import pylsl

    name, sid = f"EEG-{_uid()}", _uid()
    proc, _ = sources("--name", name, "--source-id", sid, "--counter", "--unit", "V")
    s = StreamInput(resolve_stream(name, timeout=5), kind="eeg")
    try:
        assert _wait(lambda: s.buffer.n_total > 100, WAIT_S)
        created0 = s.meta.created_at
        stop_source(proc)  # a crash
        t_kill = time.monotonic()
        assert _wait(lambda: s.status != "connected", WAIT_S)
        t_stale = time.monotonic() - t_kill
        assert s.status in ("stale", "recovering", "absent")
        t_last = s.newest_timestamp
        lsl_restart = pylsl.local_clock()  # outlets stamp created_at on this same clock
        sources(
            "--name",
            name,
            "--source-id",
            sid,
            "--counter",
            "--unit",
            "V",
            "--start-index",
            "100000",
        )
        t_restart = time.monotonic()
        assert _wait(lambda: s.status == "connected" and s.newest_timestamp > t_last + 0.5, WAIT_S)
        t_recovery = time.monotonic() - t_restart
        # The restarted outlet's identity was taken (adopted or opened fresh).
        assert created0 < lsl_restart < s.meta.created_at
        print(f"stale after {t_stale:.2f} s; data back {t_recovery:.2f} s after the restart")
        assert t_stale < 1.0
        gaps = s.gaps
        assert any(g0 == pytest.approx(t_last, abs=1e-3) and g1 - g0 > 0.5 for g0, g1 in gaps)
        d, _ = s.buffer.latest(10)
        assert d[-1, 0] >= 100000
        kinds = [k for k, _, _ in s.pop_events()]
        # A crash closes the connection: LostError at once (recover=False), not a timeout.
        assert kinds[0] == "recovering" and "connected" in kinds and "gap" in kinds
        assert s.n_recoveries == 1
    finally:
        assert s.close(timeout_s=2.0)


def test_stream_back_at_another_rate_is_refused_then_the_right_one_accepted(sources):
    # Same name, type and source_id, so liblsl's own recovery (which leaves the rate out of
    # its query) moves the inlet to the new outlet; the data it queues must never be fed.
    import pylsl

    name, sid = f"EEG-{_uid()}", _uid()
    proc, _ = sources("--name", name, "--source-id", sid, "--counter", "--unit", "V")
    s = StreamInput(resolve_stream(name, timeout=5), kind="eeg")
    events = []

    def saw(kind):
        events.extend(s.pop_events())
        return any(k == kind for k, _, _ in events)

    try:
        assert _wait(lambda: s.buffer.n_total > 100, WAIT_S)
        created0 = s.meta.created_at
        stop_source(proc)
        assert _wait(lambda: s.status != "connected", WAIT_S)
        args = ("--name", name, "--source-id", sid, "--counter", "--unit", "V")
        wrong, _ = sources(*args, "--sfreq", "100", "--start-index", "100000")
        assert _wait(lambda: saw("refused"), WAIT_S)
        (msg,) = [m for k, m, _ in events if k == "refused"]
        assert "a nominal rate of 100 Hz instead of 200 Hz" in msg
        assert "restart cmt-live with a model and stream that match" in msg
        # Let the reader go round several more re-resolutions: still nothing fed.
        n = s.recovery.n_resolves
        assert _wait(lambda: s.recovery.n_resolves >= n + 3, WAIT_S)
        assert s.status != "connected" and s.buffer.latest(1)[0][0, 0] < 100000
        assert [k for k, _, _ in events].count("refused") == 1
        assert s.meta.created_at == created0  # the refused outlet's identity was not taken
        # The right stream back: accepted on a fresh inlet, the refusal was not for good.
        stop_source(wrong)
        lsl_right = pylsl.local_clock()  # outlets stamp created_at on this same clock
        sources(*args, "--start-index", "200000")
        assert _wait(lambda: s.status == "connected" and s.buffer.latest(1)[0][0, 0] >= 2e5, WAIT_S)
        d, _ = s.buffer.latest(10**5)
        assert not ((d[:, 0] >= 100000) & (d[:, 0] < 200000)).any()
        assert s.meta.created_at > lsl_right  # the right outlet's identity, not the refused one's
    finally:
        assert s.close(timeout_s=2.0)


def test_outage_without_source_id_reresolves_a_fresh_inlet(sources):
    name = f"EEG-{_uid()}"
    proc, _ = sources("--name", name, "--counter", "--unit", "V")
    s = StreamInput(resolve_stream(name, timeout=5), kind="eeg")
    try:
        assert _wait(lambda: s.buffer.n_total > 100, WAIT_S)
        stop_source(proc)
        assert _wait(lambda: s.status != "connected", WAIT_S)
        sources("--name", name, "--counter", "--unit", "V", "--start-index", "5000")
        assert _wait(
            lambda: s.status == "connected" and s.buffer.latest(1)[0][0, 0] >= 5000, WAIT_S
        )
        assert s.n_reconnects == 1
        assert "reconnected" in [k for k, _, _ in s.pop_events()]
    finally:
        assert s.close(timeout_s=2.0)


def test_duplicate_names_are_refused_with_candidates(sources):
    name, a, b = f"EEG-{_uid()}", _uid(), _uid()
    sources("--name", name, "--source-id", a)
    sources("--name", name, "--source-id", b)
    with pytest.raises(StreamResolutionError, match="2 LSL streams match") as e:
        resolve_stream(name, timeout=5)
    msg = str(e.value)
    assert a in msg and b in msg and "created_at=" in msg and "--eeg-source-id" in msg
    assert resolve_stream(name, source_id=b, timeout=5).source_id() == b
    with pytest.raises(StreamResolutionError, match="--eye-source-id"):
        resolve_stream(name, timeout=5, kind="gaze")


def test_nothing_found_lists_visible_streams(sources):
    other = f"Other-{_uid()}"
    sources("--name", other, "--type", "Gaze")
    with pytest.raises(StreamResolutionError, match=r"No LSL stream matched name='EEG-none'") as e:
        resolve_stream("EEG-none", timeout=1.0)
    assert other in str(e.value) and "Visible streams" in str(e.value)


def test_string_stream_named_eeg_is_refused(sources):
    name = f"EEG-{_uid()}"
    sources("--name", name, "--format", "string", "--n-channels", "1")
    with pytest.raises(StreamResolutionError, match="carries strings, but EEG must be numeric"):
        resolve_stream(name, timeout=5)


def test_missing_channels_are_named_for_a_short_stream(sources):
    name = f"EEG-{_uid()}"
    sources("--name", name, "--n-channels", "8", "--seedv-labels")
    with StreamInput(resolve_stream(name, timeout=5), kind="eeg") as s:
        assert s.n_channels == 8
        with pytest.raises(ValueError, match=r"lacks 54 of the model's 62 channels: F1, FZ"):
            match_channels(s.ch_names, SEEDV_CHANNELS)


def test_nan_bursts_and_backward_and_duplicate_stamps_are_counted(sources):
    name = f"EEG-{_uid()}"
    sources(
        "--name",
        name,
        "--counter",
        "--unit",
        "V",
        "--nan-at",
        "0.3",
        "--nan-n",
        "10",
        "--backward-at",
        "0.6",
        "--backward-n",
        "5",
        "--duplicate-at",
        "0.9",
        "--duplicate-n",
        "3",
        "--duration",
        "1.5",
        "--wait-consumer",
    )
    with StreamInput(resolve_stream(name, timeout=5), kind="eeg") as s:
        c = s.checker
        faults = lambda: (c.n_backward, c.n_duplicate, c.n_nonfinite)  # noqa: E731
        assert _wait(lambda: c.n_samples >= 301 - 8 and faults() == (5, 3, 10), WAIT_S), faults()
        d, ts = s.buffer.latest(10**5)
        h = s.health()
    assert h.n_timestamp_faults == 8 and len(s.timestamp_faults) == 8
    assert np.all(np.diff(ts) > 0)
    # Exactly the faulty samples are missing: 120..124 (0.6 s) and 180..182 (0.9 s).
    expected = np.setdiff1d(np.arange(301), np.r_[120:125, 180:183])
    np.testing.assert_array_equal(d[:, 0], expected)
    assert np.isnan(d[(d[:, 0] >= 60) & (d[:, 0] < 70), 1]).all()


def test_gaze_is_not_dejittered_and_goes_stale_after_a_second(sources):
    name = f"Gaze-{_uid()}"
    proc, _ = sources(
        "--name",
        name,
        "--source-id",
        _uid(),
        "--type",
        "Gaze",
        "--n-channels",
        "5",
        "--sfreq",
        "120",
        "--jitter-ms",
        "2",
        "--unit",
        "",
        "--pause-at",
        "2",
        "--pause-s",
        "5",
        "--wait-consumer",
    )
    import pylsl

    with StreamInput(resolve_stream(name, kind="gaze", timeout=5), kind="gaze") as s:
        assert s.dejitter is None and s.stale_after_s == 1.0
        assert _wait(lambda: s.buffer.n_total > 120, WAIT_S)
        _, ts = s.buffer.latest(100)
        assert np.std(np.diff(ts)) > 5e-4  # the 2 ms jitter is kept
        # The source pauses (its outlet stays up): stale a second after the last sample.
        assert _wait(lambda: s.status != "connected", 8)
        silent = pylsl.local_clock() - s.newest_timestamp
        assert 0.95 < silent < 2.0
        # A re-resolution finds the same outlet: still "stale", the inlet is kept.
        assert _wait(lambda: s.recovery.n_resolves >= 2 and s.status == "stale", WAIT_S)
        assert s.n_reconnects == 0
        # The source resumes: connected again, on the same inlet.
        assert _wait(lambda: s.status == "connected", WAIT_S)
        assert s.n_reconnects == 0 and s.n_recoveries == 1
    stop_source(proc)
