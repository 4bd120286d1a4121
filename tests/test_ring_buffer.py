"""RingBuffer: circular storage, time/index reads, overflow policy, counter integrity."""

import logging
import threading

import numpy as np
import pytest

from cmt_live.lsl.intake import Intake
from cmt_live.ring_buffer import BufferOverflowError, RingBuffer
from cmt_live.stream_checks import BacklogFilter, Dejitterer, TimestampChecker


def _counter(i0, n, sfreq=100.0):
    idx = np.arange(i0, i0 + n)
    return np.column_stack([idx, -idx]).astype(np.float64), idx / sfreq


def test_counter_survives_wraparound_with_random_chunks():
    rng = np.random.default_rng(0)
    buf = RingBuffer(2, 97, np.float64)
    got, k = [], 0
    while k < 5000:
        n = int(rng.integers(1, 40))
        buf.push(*_counter(k, n))
        k += n
        if rng.random() < 0.5 or buf.n_new_samples > 97 - 40:  # reads in random rhythm
            d, _ = buf.read_new()
            got.append(d)
    got.append(buf.read_new()[0])
    d = np.concatenate(got)
    assert buf.n_overwritten_unread == 0
    np.testing.assert_array_equal(d[:, 0], np.arange(k))
    np.testing.assert_array_equal(d[:, 1], -np.arange(k))


def test_get_range_is_half_open_by_time_across_the_wrap():
    buf = RingBuffer(2, 50, np.float64)
    buf.push(*_counter(0, 130))  # holds samples 80..129, wrapped
    d, ts = buf.get_range(0.9, 1.2)
    np.testing.assert_array_equal(d[:, 0], np.arange(90, 120))
    np.testing.assert_allclose(ts, np.arange(90, 120) / 100)
    d, _ = buf.get_range(0.0, 0.85)  # before the oldest held: only what is held
    np.testing.assert_array_equal(d[:, 0], np.arange(80, 85))
    assert buf.get_range(2.0, 3.0)[0].shape == (0, 2)
    np.testing.assert_array_equal(buf.latest(3)[0][:, 0], [127, 128, 129])
    np.testing.assert_array_equal(buf.get_index_range(100, 103)[0][:, 0], [100, 101, 102])
    assert buf.first_index == 80 and buf.n_total == 130 and buf.size == 50
    assert buf.oldest_timestamp == pytest.approx(0.8) and buf.newest_timestamp == 1.29
    with pytest.raises(IndexError, match=r"holds absolute indices \[80, 130\)"):
        buf.get_index_range(10, 20)


def test_overwrite_oldest_counts_unread_losses_and_logs_once(caplog):
    buf = RingBuffer(2, 10, np.float64, name="eeg")
    with caplog.at_level(logging.WARNING, logger="cmt_live"):
        for k in range(0, 40, 4):  # nobody reads: 40 pushed into 10
            buf.push(*_counter(k, 4))
    assert buf.n_overwritten_unread == 30
    warnings = [r for r in caplog.records if "overflowed" in r.getMessage()]
    assert len(warnings) == 1
    # The reader catches up; the next push loses nothing and closes the episode.
    buf.read_new()
    with caplog.at_level(logging.WARNING, logger="cmt_live"):
        buf.push(*_counter(40, 4))
    assert "30 unread samples lost" in caplog.records[-1].getMessage()
    assert buf.n_new_samples == 4


def test_raise_policy_refuses_and_leaves_the_buffer_unchanged():
    buf = RingBuffer(2, 10, np.float64, overflow="raise", name="gaze")
    buf.push(*_counter(0, 8))
    with pytest.raises(BufferOverflowError, match="overwrite 3 samples nobody has read"):
        buf.push(*_counter(8, 5))
    assert buf.n_total == 8
    buf.read_new()
    buf.push(*_counter(8, 5))  # overwriting read samples is normal
    np.testing.assert_array_equal(buf.latest(10)[0][:, 0], np.arange(3, 13))


def test_push_errors_name_the_problem():
    buf = RingBuffer(2, 10)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        buf.push(np.zeros((3, 3)), np.zeros(3))
    buf.push(np.zeros((2, 2)), [1.0, 2.0])
    with pytest.raises(ValueError, match="before the newest buffered sample"):
        buf.push(np.zeros((1, 2)), [1.5])
    with pytest.raises(ValueError, match="must not decrease"):
        buf.push(np.zeros((2, 2)), [5.0, 4.0])
    with pytest.raises(ValueError, match="capacity must be a positive integer"):
        RingBuffer(2, 0)
    with pytest.raises(ValueError, match="overflow must be one of"):
        RingBuffer(2, 5, overflow="drop")


def test_concurrent_writer_and_reader_keep_order():
    buf = RingBuffer(2, 64, np.float64)
    n_total = 20000

    def writer():
        k = 0
        rng = np.random.default_rng(1)
        while k < n_total:
            n = min(int(rng.integers(1, 16)), n_total - k)
            while buf.n_new_samples + n > 64:  # back-pressure: never lose unread samples
                pass
            buf.push(*_counter(k, n))
            k += n

    t = threading.Thread(target=writer)
    t.start()
    got = []
    while sum(len(g) for g in got) < n_total:
        got.append(buf.read_new()[0][:, 0])
    t.join(5)
    np.testing.assert_array_equal(np.concatenate(got), np.arange(n_total))


def test_checker_drops_backward_and_duplicates_and_records_gaps():
    c = TimestampChecker(100.0, kind="eeg", name="e")
    ts = np.array([0.00, 0.01, 0.02, 0.02, 0.015, 0.03, 0.08, 0.09])
    data = np.arange(8.0)[:, None].repeat(2, 1)
    data[5, 1] = np.nan
    r = c.check(data, ts, now=0.1)
    np.testing.assert_array_equal(r.timestamps, [0.00, 0.01, 0.02, 0.03, 0.08, 0.09])
    assert (r.n_backward, r.n_duplicate, r.n_nonfinite) == (1, 1, 1)
    np.testing.assert_array_equal(r.fault_timestamps, [0.02, 0.015])
    assert r.gaps == ((0.03, 0.08),)  # 50 ms > 3 periods of 10 ms
    # State carries over: the next chunk's first sample is compared with 0.09.
    r = c.check(np.zeros((2, 2)), np.array([0.09, 0.2]), now=0.2)
    assert r.n_duplicate == 1 and r.gaps == ((0.09, 0.2),)
    assert c.n_timestamp_faults == 3 and c.n_gaps == 2
    assert c.check(np.zeros((1, 2)), [1000.0], now=0.3).n_offset == 1


def test_checker_gaze_gaps_in_seconds_and_rate():
    c = TimestampChecker(0.0, kind="gaze")
    ts = np.concatenate([np.arange(0, 1, 1 / 120), 1.7 + np.arange(0, 1, 1 / 120)])
    c.check(np.zeros((ts.size, 5)), ts, now=0.0)
    assert len(c.gaps) == 1 and c.gaps[0][1] == 1.7
    c2 = TimestampChecker(100.0, rate_window_s=2.0)
    for i in range(1, 51):  # 10 samples every 0.1 s for 5 s
        c2.check(np.zeros((10, 1)), i * 0.1 - 0.09 + np.arange(10) / 100, now=i * 0.1)
    assert c2.effective_rate(5.0) == pytest.approx(100.0, rel=0.06)
    assert c2.effective_rate(8.0) == 0.0  # silent for longer than the window
    with pytest.raises(ValueError, match="needs a regular nominal rate"):
        TimestampChecker(0.0, kind="eeg")


def test_checker_rate_counts_a_start_up_backlog_over_the_time_it_covers():
    # 3 s of 200 Hz waited in the inlet and arrive in one pull at t=3; then 0.1-s chunks.
    c = TimestampChecker(200.0, rate_window_s=5.0)
    c.check(np.zeros((600, 1)), np.arange(600) / 200, now=3.0)
    assert c.effective_rate(3.0) == pytest.approx(200.0, rel=0.01)  # was 600 / one chunk
    for i in range(1, 41):
        c.check(np.zeros((20, 1)), 3.0 + (i - 1) * 0.1 + np.arange(1, 21) / 200, now=3.0 + i * 0.1)
        assert c.effective_rate(3.0 + i * 0.1) == pytest.approx(200.0, rel=0.01)


def test_dejitterer_removes_jitter_and_restarts_at_gaps():
    rng = np.random.default_rng(0)
    sfreq = 200.0
    true = 100.0 + np.arange(4000) / sfreq
    true[2000:] += 1.5  # a pause
    raw = true + rng.uniform(-2e-3, 2e-3, true.size)
    dj = Dejitterer(sfreq, halftime_s=2.0)
    out = np.concatenate(
        [
            dj.process(raw[i : i + 37], [(raw[1999], raw[2000])] if i <= 2000 < i + 37 else ())
            for i in range(0, raw.size, 37)
        ]
    )
    err = np.abs(out - true)
    assert err[500:2000].max() < 0.5e-3 and err[2500:].max() < 0.5e-3  # jitter was 2 ms
    assert np.all(np.diff(out) > 0)
    assert out[2000] - out[1999] > 1.4  # the gap stays a gap


def test_backlog_filter_drops_old_samples_until_a_fresh_one_or_the_deadline():
    f = BacklogFilter(10.0, tolerance_s=0.5)  # keeps stamps >= 9.5
    d, t = f.filter(np.arange(3.0)[:, None], np.array([9.0, 9.4, 9.6]), now=10.1)
    np.testing.assert_array_equal(t, [9.6])
    np.testing.assert_array_equal(d, [[2.0]])
    assert f.n_dropped == 2 and not f.active
    # Off for good: later old stamps pass (the checks judge them from here on).
    _, t = f.filter(np.zeros((1, 1)), np.array([9.0]), now=10.2)
    np.testing.assert_array_equal(t, [9.0])
    assert f.n_dropped == 2

    # Only backlog: dropped until max_wait_s after restart(), then the filter turns off.
    f = BacklogFilter(10.0, tolerance_s=0.5, max_wait_s=2.0)
    f.restart(11.0)  # deadline 13.0
    _, t = f.filter(np.zeros((2, 1)), np.array([9.0, 9.1]), now=12.5)
    assert t.size == 0 and f.n_dropped == 2 and f.active
    _, t = f.filter(np.zeros((1, 1)), np.array([9.2]), now=13.25)
    assert t.size == 0 and f.n_dropped == 3 and not f.active


def test_intake_keeps_dejittered_stamps_after_the_newest_buffered_one():
    # Residuals climb (spacing just under the 30 ms gap), then fall: the smoothed stamps end
    # ahead of the raw ones, and the next segment (after a gap) starts at a raw stamp before
    # the newest buffered stamp. It must be moved after it, across pushes.
    up = 100.0 + np.r_[0.0, np.cumsum(np.full(49, 0.029))]
    ts1 = np.r_[up, up[-1] + np.cumsum(np.full(60, 0.001))]
    intake = Intake(
        name="e",
        kind="eeg",
        sfreq=100.0,
        scale=np.ones(1),
        buffer_s=10,
        max_chunk=256,
        t_open=100.0,
    )
    assert intake.push(np.zeros((ts1.size, 1)), ts1, now=ts1[-1])[0]
    newest = intake.buffer.newest_timestamp
    assert newest > ts1[-1] + 0.03
    ts2 = ts1[-1] + 0.031 + np.arange(5) / 100.0  # a gap, then the next segment
    fed, events = intake.push(np.ones((5, 1)), ts2, now=ts2[-1])
    assert fed and [k for k, _, _ in events] == ["gap"]
    d, ts = intake.buffer.latest(5)
    np.testing.assert_array_equal(d, np.ones((5, 1)))
    assert ts[0] > newest and np.all(np.diff(ts) >= 0)
