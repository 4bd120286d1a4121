"""WindowCutter: windows on the EEG sample grid, gaze by LSL time, flags (synthetic buffers)."""

import numpy as np
import pytest

from cmt_live.records import Flag
from cmt_live.ring_buffer import RingBuffer
from cmt_live.windowing import WindowCutter, WindowSettings

SF = 200.0
T0 = 1000.0


def _eeg(n, *, jump_at=None, jump_s=1.5, cap=6000):
    buf = RingBuffer(2, cap, np.float64)
    ts = T0 + np.arange(n) / SF
    if jump_at is not None:
        ts[jump_at:] += jump_s
    data = np.column_stack([np.arange(n), np.arange(n) * 1e-6]).astype(np.float64)
    return buf, data, ts


def _gaze(t_from, t_to, rate=120.0, valid_frac=1.0):
    ts = np.arange(t_from, t_to, 1 / rate)
    g = np.zeros((ts.size, 5))
    g[:, 0] = ts  # x carries the time: a known answer for the alignment
    g[:, 2:4] = 3.0
    g[:, 4] = (np.arange(ts.size) % 100) < valid_frac * 100
    buf = RingBuffer(5, 20000, np.float64)
    buf.push(g, ts)
    return buf


def test_windows_sit_on_the_sample_grid_in_any_chunking():
    s = WindowSettings(window_s=4.0, step_s=1.0, sfreq=SF, max_behind=100)
    buf_a, data, ts = _eeg(2000)
    buf_a.push(data, ts)
    whole = WindowCutter(s).cut(buf_a)
    buf_b, _, _ = _eeg(2000)
    cutter, pieces, rng, k = WindowCutter(s), [], np.random.default_rng(0), 0
    while k < 2000:
        n = min(int(rng.integers(1, 90)), 2000 - k)
        buf_b.push(data[k : k + n], ts[k : k + n])
        pieces += cutter.cut(buf_b)
        k += n
    assert len(whole) == len(pieces) == 7  # ends at samples 800, 1000, ..., 2000
    for w, p, e in zip(whole, pieces, range(800, 2001, 200)):
        assert w.t_end == p.t_end == T0 + e / SF
        np.testing.assert_array_equal(w.eeg, p.eeg)
        np.testing.assert_array_equal(w.eeg[0], np.arange(e - 800, e))
        assert w.eeg.shape == (2, 800) and w.eeg_valid and w.sfreq == SF
        assert Flag.EYE_MISSING in w.flags and not w.eye_valid


def test_gaze_goes_with_the_window_by_time_and_is_waited_for():
    s = WindowSettings(window_s=4.0, step_s=1.0, sfreq=SF, gaze_sfreq=120.0, gaze_wait_s=0.25)
    eeg, data, ts = _eeg(840)  # EEG up to T0 + 4.2: less than gaze_wait_s past the end
    eeg.push(data, ts)
    cutter = WindowCutter(s)
    lagging = _gaze(T0, T0 + 3.9)  # gaze not yet at the first window's end (T0 + 4)
    assert cutter.cut(eeg, lagging) == []
    gaze = _gaze(T0 + 0.004, T0 + 4.02)  # off the EEG grid: no float ties at the edges
    (w,) = cutter.cut(eeg, gaze)
    assert w.gaze_timestamps.min() >= w.t_end - 4.0 and w.gaze_timestamps.max() < w.t_end
    assert w.gaze_timestamps.size == 480
    np.testing.assert_array_equal(w.gaze[:, 0], w.gaze_timestamps)
    assert w.eye_valid and not w.flags
    # Gaze that never comes: the window goes out once the EEG is gaze_wait_s past its end.
    eeg2, data2, ts2 = _eeg(1240)
    eeg2.push(data2, ts2)
    c2 = WindowCutter(s)
    ws = c2.cut(eeg2, _gaze(T0, T0 + 4.5))
    assert [round(w.t_end - T0, 6) for w in ws] == [4.0, 5.0]  # 6.0 waits: EEG ends at 6.2
    assert Flag.EYE_MISSING not in ws[1].flags
    assert ws[1].gaze_timestamps.max() < T0 + 4.5


def test_gaze_within_three_quarters_of_a_period_of_the_end_closes_the_window():
    """120 Hz gaze whose newest sample is 6 ms before the window end (< 3/4 of a period): the
    next one is due after the end, so the window closes now, with every gaze sample it can
    hold; 7.5 ms before (> 3/4 of a period) it still waits."""
    s = WindowSettings(window_s=4.0, step_s=1.0, sfreq=SF, gaze_sfreq=120.0, gaze_wait_s=0.25)
    eeg, data, ts = _eeg(820)
    eeg.push(data, ts)
    period = 1 / 120
    for newest_before_end, cut in ((0.0075, False), (0.006, True)):
        last = T0 + 4.0 - newest_before_end
        first = last - 479 * period  # 480 samples up to `last`
        (w,) = WindowCutter(s).cut(eeg, _gaze(first, last + period / 2)) or (None,)
        assert (w is not None) == cut
    assert w.gaze_timestamps.size == 480 and w.gaze_timestamps.max() < w.t_end


def test_a_gaze_sample_landing_in_a_window_already_cut_records_its_cut_off():
    """The window closed with gaze up to 6 ms before its end; the next sample comes stamped
    1 ms before the end (4 ms early: jitter). settle_gaze returns that window's cut-off (the
    gaze it used) once; a replay given it cuts the same 480 samples though it holds 481."""
    s = WindowSettings(window_s=4.0, step_s=1.0, sfreq=SF, gaze_sfreq=120.0, gaze_wait_s=0.25)
    eeg, data, ts = _eeg(820)
    eeg.push(data, ts)
    last = T0 + 4.0 - 0.006
    gaze = _gaze(last - 479 / 120, last + 1 / 240)
    cut_off = np.nextafter(gaze.newest_timestamp, np.inf)
    live = WindowCutter(s)
    (w,) = live.cut(eeg, gaze)
    assert w.gaze_end is None and w.gaze_timestamps.size == 480
    assert live.settle_gaze(np.array([T0 + 4.0 - 0.001])) == [(w.t_end, cut_off)]
    assert live.settle_gaze(np.array([T0 + 4.004])) == []  # settled: reported once
    gaze.push(np.array([[T0 + 3.999, 0, 3, 3, 1]]), np.array([T0 + 3.999]))
    (w_all,) = WindowCutter(s).cut(eeg, gaze)
    assert w_all.gaze_timestamps.size == 481
    (w_replay,) = WindowCutter(s, [(w.t_end, cut_off)]).cut(eeg, gaze)
    np.testing.assert_array_equal(w_replay.gaze_timestamps, w.gaze_timestamps)
    # On time (at or after the end): nothing to record.
    on_time = WindowCutter(s)
    on_time.cut(eeg, _gaze(last - 479 / 120, last + 1 / 240))
    assert on_time.settle_gaze(np.array([T0 + 4.0])) == []


def test_timestamp_jump_restarts_the_grid():
    s = WindowSettings(window_s=4.0, step_s=1.0, sfreq=SF, max_behind=100)
    buf, data, ts = _eeg(3000, jump_at=1000)
    buf.push(data, ts)
    cutter = WindowCutter(s)
    ws = cutter.cut(buf)
    ends = [int(w.eeg[0, -1]) + 1 for w in ws]
    assert ends == [800, 1000, 1800, 2000, 2200, 2400, 2600, 2800, 3000]
    assert cutter.n_restarts == 1
    for w in ws:  # no window spans the jump
        assert np.all(np.diff(w.eeg[0]) == 1) and (w.eeg[0, 0] >= 1000 or w.eeg[0, -1] < 1000)


def test_flags_gap_nonfinite_stale_coverage_faults():
    s = WindowSettings(window_s=4.0, step_s=1.0, sfreq=SF, gaze_sfreq=120.0)
    buf, data, ts = _eeg(800)
    data[100, 1] = np.nan
    buf.push(data, ts)
    gaze = _gaze(T0, T0 + 4.1, valid_frac=0.4)
    (w,) = WindowCutter(s).cut(
        buf,
        gaze,
        eeg_gaps=[(T0 + 1.0, T0 + 1.2)],
        gaze_gaps=[(T0 + 2.0, T0 + 2.6)],
        eeg_stale=True,
        eye_stale=True,
        timestamp_faults=[T0 + 3.0],
    )
    assert w.flags == {
        Flag.EEG_GAP,
        Flag.EEG_NONFINITE,
        Flag.EEG_STALE,
        Flag.EYE_STALE,
        Flag.EYE_LOW_COVERAGE,
        Flag.EYE_GAP,
        Flag.TIMESTAMP_FAULT,
    }
    assert not w.eeg_valid and not w.eye_valid
    # A gap that ends where the window starts does not overlap it.
    buf2, data2, ts2 = _eeg(800)
    buf2.push(data2, ts2)
    (w2,) = WindowCutter(s).cut(buf2, _gaze(T0, T0 + 4.1), eeg_gaps=[(T0 - 1.0, T0)])
    assert w2.flags == frozenset() and w2.eeg_valid and w2.eye_valid


def test_sparse_samples_flag_a_gap_without_restart():
    s = WindowSettings(window_s=4.0, step_s=1.0, sfreq=SF)
    buf, data, ts = _eeg(800)
    ts = T0 + np.arange(800) / SF * 1.1  # 10 % fewer samples than the time covered needs
    buf.push(data, ts)
    (w,) = WindowCutter(s).cut(buf)
    assert Flag.EEG_GAP in w.flags and not w.eeg_valid


def test_falling_behind_skips_to_the_newest_window():
    s = WindowSettings(window_s=4.0, step_s=1.0, sfreq=SF, max_behind=3)
    buf, data, ts = _eeg(3000)
    buf.push(data, ts)
    cutter = WindowCutter(s)
    ws = cutter.cut(buf)
    assert [int(w.eeg[0, -1]) + 1 for w in ws] == [3000]
    assert cutter.n_skipped == 11


def test_settings_errors():
    with pytest.raises(ValueError, match=r"window_s=4.003 s is 800.6 samples at 200 Hz"):
        WindowSettings(window_s=4.003)
    with pytest.raises(ValueError, match="step_s must be > 0"):
        WindowSettings(step_s=0)
    buf = RingBuffer(3, 10)
    with pytest.raises(ValueError, match="gaze buffer must have 5 columns"):
        WindowCutter(WindowSettings()).cut(RingBuffer(2, 10), buf)


def test_a_window_closed_by_the_gaze_wait_records_its_cut_off_and_a_replay_applies_it():
    """Gaze lags to T0 + 4.5 when the EEG reaches T0 + 6.2: window 5 (T0+1..T0+5) closes by
    gaze_wait_s with 420 gaze samples (T0+1 .. the last one before T0 + 4.5) and records
    gaze_end just past that stamp; window 4 saw all its gaze and records nothing. A replay with
    all the gaze at once and the recorded cut-off cuts the same 420 samples, without it 480."""
    s = WindowSettings(window_s=4.0, step_s=1.0, sfreq=SF, gaze_sfreq=120.0, gaze_wait_s=0.25)
    eeg, data, ts = _eeg(1240)
    eeg.push(data, ts)
    g_start = T0 + 0.004  # off the EEG grid: no float ties at the edges
    live = WindowCutter(s).cut(eeg, _gaze(g_start, T0 + 4.5))
    assert [w.gaze_end for w in live[:1]] == [None]
    w = live[1]
    last = g_start + (np.ceil((T0 + 4.5 - g_start) * 120) - 1) / 120
    assert w.gaze_end == np.nextafter(w.gaze_timestamps[-1], np.inf)
    assert w.gaze_timestamps[-1] == pytest.approx(last, abs=1e-9)
    assert w.gaze_timestamps.size == 420
    full = _gaze(g_start, T0 + 7.0)
    cutoffs = [(x.t_end, x.gaze_end) for x in live if x.gaze_end is not None]
    assert len(cutoffs) == 1
    plain = WindowCutter(s).cut(eeg, full)
    assert plain[1].gaze_timestamps.size == 480 and plain[1].gaze_end is None
    replay = WindowCutter(s, cutoffs).cut(eeg, full)
    assert [r.t_end for r in replay] == [p.t_end for p in plain]
    np.testing.assert_array_equal(replay[1].gaze_timestamps, w.gaze_timestamps)
    np.testing.assert_array_equal(replay[1].gaze, w.gaze)
    assert replay[1].gaze_end == w.gaze_end and replay[0].gaze_end is None
    assert replay[0].gaze_timestamps.size == 480
