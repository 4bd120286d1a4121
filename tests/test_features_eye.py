"""Eye events and the 33 eye features: known answers, batch == streaming, coverage, errors."""

from __future__ import annotations

import numpy as np
import pytest

from features import EYE_FEATURE_NAMES, detect_events, eye_features, pixels_to_degrees
from features.eye import eye_features_window
from features.eye_events import SACCADE_VELOCITY_DEG_S, velocity_half_span

COL = {name: i for i, name in enumerate(EYE_FEATURE_NAMES)}

# A scripted 8-s recording: (kind, t_on, t_off, target). Saccades move linearly (constant
# speed) from the previous target to theirs; blinks and the track loss are invalid samples.
SCHEDULE = [
    ("fix", 0.00, 0.50, (0.0, 0.0)),
    ("sac", 0.50, 0.54, (10.0, 0.0)),
    ("fix", 0.54, 1.20, (10.0, 0.0)),
    ("blink", 1.20, 1.35, None),
    ("fix", 1.35, 1.80, (10.0, 0.0)),
    ("sac", 1.80, 1.83, (10.0, 5.0)),
    ("fix", 1.83, 2.60, (10.0, 5.0)),
    ("sac", 2.60, 2.65, (-5.0, 5.0)),
    ("fix", 2.65, 3.20, (-5.0, 5.0)),
    ("loss", 3.20, 3.90, None),
    ("fix", 3.90, 4.40, (-5.0, 5.0)),  # crosses the 4-s window edge
    ("sac", 4.40, 4.44, (-5.0, -5.0)),
    ("fix", 4.44, 5.00, (-5.0, -5.0)),
    ("blink", 5.00, 5.20, None),
    ("fix", 5.20, 5.70, (-5.0, -5.0)),
    ("sac", 5.70, 5.745, (7.0, -5.0)),
    ("fix", 5.745, 6.60, (7.0, -5.0)),
    ("blink", 6.60, 6.70, None),
    ("fix", 6.70, 8.00, (7.0, -5.0)),
]


def _true(kind):
    return [(a, b, tgt) for k, a, b, tgt in SCHEDULE if k == kind]


def scripted_gaze(rate, seed=0, *, jitter=0.1, drop=0.02, noise_deg=0.02, duration=8.0):
    """Gaze following SCHEDULE at ``rate`` Hz: jittered stamps (± jitter periods), dropped
    samples (fraction ``drop``), white position noise; pupils are sinusoids."""
    rng = np.random.default_rng(seed)
    n = round(duration * rate)
    t = np.arange(n) / rate + rng.uniform(-jitter, jitter, n) / rate
    keep = rng.random(n) >= drop
    keep[0] = True
    t = t[keep]
    x = np.full(t.size, np.nan)
    y = np.full(t.size, np.nan)
    valid = np.ones(t.size, dtype=bool)
    prev = (0.0, 0.0)
    for kind, a, b, tgt in SCHEDULE:
        m = (t >= a) & (t < b)
        if kind == "fix":
            x[m], y[m] = tgt
            prev = tgt
        elif kind == "sac":
            f = (t[m] - a) / (b - a)
            x[m] = prev[0] + f * (tgt[0] - prev[0])
            y[m] = prev[1] + f * (tgt[1] - prev[1])
            prev = tgt
        else:
            valid[m] = False
    x += rng.normal(0, noise_deg, t.size)
    y += rng.normal(0, noise_deg, t.size)
    p1 = 3.5 + 0.3 * np.sin(2 * np.pi * 0.5 * t) + rng.normal(0, 0.01, t.size)
    p2 = 3.2 + 0.1 * np.sin(2 * np.pi * 0.9 * t) + rng.normal(0, 0.01, t.size)
    for arr in (x, y, p1, p2):
        arr[~valid] = np.nan
    return t, x, y, p1, p2, valid


def _speed(a, b, tgt_from, tgt_to):
    return np.hypot(tgt_to[0] - tgt_from[0], tgt_to[1] - tgt_from[1]) / (b - a)


def _spacing(t, edge_s, period, cross_s=0.0):
    """Largest spacing of the two samples around ``edge_s``, ``edge_s - cross_s`` and
    ``edge_s + cross_s`` (one period unless a sample was dropped; before the first or after
    the last sample, twice the distance to it)."""
    out = period
    for e in (edge_s - cross_s, edge_s, edge_s + cross_s):
        k = np.searchsorted(t, e)
        if k == 0:
            out = max(out, 2 * (t[0] - e))
        elif k == t.size:
            out = max(out, 2 * (e - t[-1]))
        else:
            out = max(out, t[k] - t[k - 1])
    return out


@pytest.mark.parametrize("rate", [60.0, 120.0, 250.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_events_known_answer(rate, seed):
    """Counts exact; each edge within half the local sample spacing (half a period, or one
    period next to a dropped sample), plus, for saccade edges, the reach of the centred
    velocity filter (``span``: its samples on each side, one more next to a dropped sample):
    a ramp is fast up to that much before it starts and after it ends."""
    t, x, y, _, _, valid = scripted_gaze(rate, seed)
    ev = detect_events(t, x, y, valid)
    period = 1 / rate
    assert (ev.n_fixations, ev.n_saccades, ev.n_blinks, ev.n_track_losses) == (10, 5, 3, 1)

    def tol_ms(a, b, cross_s=0.0):
        spacings = _spacing(t, a, period, cross_s) + _spacing(t, b, period, cross_s)
        return 1e3 * (spacings / 2 + 2 * cross_s)

    for i, (a, b, _) in enumerate(_true("blink")):
        assert ev.blink_onset_s[i] == pytest.approx(a, abs=_spacing(t, a, period) / 2)
        assert ev.blink_duration_ms[i] == pytest.approx(1e3 * (b - a), abs=tol_ms(a, b))
    ((a, b, _),) = _true("loss")
    assert ev.track_loss_duration_ms[0] == pytest.approx(1e3 * (b - a), abs=tol_ms(a, b))

    targets = [(0.0, 0.0)] + [tgt for k, *_, tgt in SCHEDULE if k == "sac"]
    span = (velocity_half_span(period) + 1) * period  # one more period: a dropped neighbour
    for i, (a, b, tgt) in enumerate(_true("sac")):
        assert ev.saccade_duration_ms[i] == pytest.approx(1e3 * (b - a), abs=tol_ms(a, b, span))
        # The samples just outside a saccade are slow, so they moved < threshold * span.
        amp = np.hypot(tgt[0] - targets[i][0], tgt[1] - targets[i][1])
        assert ev.saccade_amplitude_deg[i] == pytest.approx(
            amp, abs=2 * SACCADE_VELOCITY_DEG_S * span + 0.1
        )

    for i, (a, b, _) in enumerate(_true("fix")):
        assert ev.fixation_duration_ms[i] == pytest.approx(1e3 * (b - a), abs=tol_ms(a, b, span))
    # Noise (0.02 deg) plus the edge samples, which may have moved < threshold * span.
    assert np.all(ev.fixation_dispersion_x_deg < 2 * SACCADE_VELOCITY_DEG_S * span + 0.15)
    assert np.median(ev.fixation_dispersion_y_deg) < 0.2


def test_window_features_known_counts_and_edge_rule():
    t, x, y, p1, p2, valid = scripted_gaze(120.0)
    f = eye_features(t, x, y, p1, p2, valid=valid)
    assert f.shape == (2, 33) and np.isfinite(f).all()
    # Window 0 [0, 4): blink at 1.2 (the 0.7-s loss is not a blink); fixations 0-0.5,
    # 0.54-1.2, 1.35-1.8, 1.83-2.6, 2.65-3.2 and the in-window 100 ms of 3.9-4.4.
    assert f[0, COL["blink_frequency_hz"]] == pytest.approx(1 / 4)
    assert f[0, COL["fixation_frequency_hz"]] == pytest.approx(6 / 4)
    assert f[0, COL["saccade_frequency_hz"]] == pytest.approx(3 / 4)
    assert f[0, COL["blink_duration_mean_ms"]] == pytest.approx(150, abs=1e3 / 120)
    assert f[0, COL["blink_duration_std_ms"]] == 0.0
    assert f[0, COL["fixation_duration_max_ms"]] == pytest.approx(770, abs=1e3 / 60)
    # Window 1 [4, 8): two blinks (200 and 100 ms), five fixations, two saccades.
    assert f[1, COL["blink_frequency_hz"]] == pytest.approx(2 / 4)
    assert f[1, COL["blink_duration_mean_ms"]] == pytest.approx(150, abs=1e3 / 120)
    assert f[1, COL["blink_duration_std_ms"]] == pytest.approx(50, abs=1e3 / 120)
    assert f[1, COL["fixation_frequency_hz"]] == pytest.approx(5 / 4)
    assert f[1, COL["saccade_frequency_hz"]] == pytest.approx(2 / 4)
    assert f[1, COL["saccade_amplitude_mean_deg"]] == pytest.approx(11.0, abs=0.15)
    assert f[1, COL["saccade_amplitude_std_deg"]] == pytest.approx(1.0, abs=0.15)
    # Latency: mean interval between consecutive saccade onsets (4.40 -> 5.70 s).
    assert f[1, COL["saccade_latency_avg_ms"]] == pytest.approx(1300, abs=2e3 / 120)
    assert f[1, COL["saccade_duration_avg_ms"]] == f[1, COL["saccade_duration_mean_ms"]]


@pytest.mark.parametrize("rate", [60.0, 250.0])
def test_batch_equals_streaming_window(rate):
    t, x, y, p1, p2, valid = scripted_gaze(rate, seed=3, duration=8.0)
    # Some extra non-window data to show windows ignore samples outside them.
    batch = eye_features(t, x, y, p1, p2, valid=valid)
    window_s = 4.0
    for k in range(batch.shape[0]):
        t_start = t[0] + k * window_s
        m = (t >= t_start) & (t < t_start + window_s)
        row, cov = eye_features_window(
            t[m], x[m], y[m], p1[m], p2[m], valid[m], t_start=t_start, window_s=window_s
        )
        np.testing.assert_array_equal(row, batch[k])
        whole, cov2 = eye_features_window(
            t, x, y, p1, p2, valid, t_start=t_start, window_s=window_s
        )
        np.testing.assert_array_equal(whole, batch[k])
        assert cov == cov2 and 0 < cov < 1


def test_valid_flags_numeric_equals_bool_and_nan_only():
    t, x, y, p1, p2, valid = scripted_gaze(120.0)
    a = eye_features(t, x, y, p1, p2, valid=valid)
    b = eye_features(t, x, y, p1, p2, valid=valid.astype(float))
    c = eye_features(t, x, y, p1, p2)  # validity from NaN in x/y
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize(("freq_hz", "band"), [(0.25, 1), (0.5, 2), (0.75, 3)])
def test_pupil_sinusoid_peaks_in_its_band(freq_hz, band):
    rng = np.random.default_rng(0)
    rate = 120.0
    t = np.arange(int(8 * rate)) / rate + rng.uniform(-0.1, 0.1, int(8 * rate)) / rate
    x = rng.normal(0, 0.02, t.size)
    y = rng.normal(0, 0.02, t.size)
    p1 = 3.5 + 0.2 * np.sin(2 * np.pi * freq_hz * t) + rng.normal(0, 0.01, t.size)
    p2 = np.full(t.size, 3.0)  # flat: finite floor DE
    f = eye_features(t, x, y, p1, p2)
    de1 = f[:, [COL[f"pupil1_de_{lo:.1f}_{hi:.1f}hz"] for lo, hi in
                ((0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 1.0))]]  # fmt: skip
    assert (de1.argmax(axis=1) == band).all(), de1
    assert f[0, COL["pupil1_mean"]] == pytest.approx(3.5, abs=0.02)
    assert f[0, COL["pupil1_std"]] == pytest.approx(0.2 / np.sqrt(2), rel=0.05)
    assert f[0, COL["pupil2_std"]] == pytest.approx(0.0, abs=1e-12)
    assert np.isfinite(f).all() and (f[:, COL["pupil2_de_0.4_0.6hz"]] < -30).all()


def test_pupil_de_survives_a_blink():
    t, x, y, p1, p2, valid = scripted_gaze(120.0)
    f = eye_features(t, x, y, p1, p2, valid=valid)  # p1 at 0.5 Hz, p2 at 0.9 Hz, with blinks
    names = [f"pupil1_de_{b}hz" for b in ("0.0_0.2", "0.2_0.4", "0.4_0.6", "0.6_1.0")]
    assert (f[:, [COL[n] for n in names]].argmax(axis=1) == 2).all()
    names2 = [n.replace("pupil1", "pupil2") for n in names]
    assert (f[:, [COL[n] for n in names2]].argmax(axis=1) == 3).all()


def test_fixation_dispersion_known_spread():
    rate = 250.0
    t = np.arange(int(4 * rate)) / rate
    x = 2.0 + 0.4 * t / 4.0  # drift of 0.1 deg/s, far below the saccade threshold
    y = -1.0 + 0.1 * np.sin(2 * np.pi * 3.0 * t)  # tremor of ±0.1 deg
    p = np.full(t.size, 3.0)
    f = eye_features(t, x, y, p, p)
    assert f[0, COL["fixation_frequency_hz"]] == pytest.approx(1 / 4)
    assert f[0, COL["dispersion_x_mean"]] == pytest.approx(0.4, abs=0.4 / t.size * 2)
    assert f[0, COL["dispersion_y_mean"]] == pytest.approx(0.2, abs=1e-3)
    assert f[0, COL["dispersion_x_std"]] == 0.0
    assert f[0, COL["fixation_dispersion_total"]] == pytest.approx(0.6, abs=2e-3)
    assert f[0, COL["fixation_dispersion_max"]] == pytest.approx(0.6, abs=2e-3)
    assert f[0, COL["fixation_duration_mean_ms"]] == pytest.approx(4000, abs=1e3 / rate)
    assert f[0, COL["saccade_frequency_hz"]] == 0.0


def test_coverage_track_loss_all_invalid_and_empty():
    rate = 120.0
    rng = np.random.default_rng(1)
    t = np.arange(int(4 * rate)) / rate + rng.uniform(-0.1, 0.1, int(4 * rate)) / rate
    x = rng.normal(0, 0.02, t.size)
    y = rng.normal(0, 0.02, t.size)
    p = 3.0 + rng.normal(0, 0.01, t.size)
    valid = ~((t >= 1.5) & (t < 2.5))  # a 1-s track loss
    values, cov = eye_features_window(t, x, y, p, p, valid, t_start=0.0, window_s=4.0)
    assert cov == pytest.approx(0.75, abs=2 / rate / 4)  # +- a sample at 3 edges
    assert values[COL["blink_frequency_hz"]] == 0.0  # 1 s is a track loss, not a blink
    assert np.isfinite(values).all()

    values, cov = eye_features_window(
        t, x, y, p, p, np.zeros(t.size, bool), t_start=0.0, window_s=4.0
    )
    assert cov == 0.0 and np.isfinite(values).all()
    np.testing.assert_array_equal(values, np.zeros(33))  # all undefined -> documented 0

    values, cov = eye_features_window(t, x, y, p, p, valid, t_start=100.0, window_s=4.0)
    assert cov == 0.0 and np.isfinite(values).all()  # no samples in the window at all


def test_gap_is_missing_data_not_a_blink():
    rate = 120.0
    t = np.arange(int(4 * rate)) / rate
    keep = ~((t >= 2.0) & (t < 2.2))  # 200 ms with no samples (a dropout)
    t = t[keep]
    x = np.zeros(t.size)
    p = np.full(t.size, 3.0)
    ev = detect_events(t, x, x)
    assert ev.n_blinks == 0 and ev.n_track_losses == 0
    assert ev.n_fixations == 2  # the gap splits the fixation: no data inside it
    _, cov = eye_features_window(t, x, x, p, p, t_start=0.0, window_s=4.0)
    assert cov == pytest.approx(0.95, abs=2 / rate / 4)


def test_noise_makes_no_saccades_at_high_rates():
    for rate in (250.0, 500.0):
        rng = np.random.default_rng(2)
        n = int(8 * rate)
        t = np.arange(n) / rate + rng.uniform(-0.1, 0.1, n) / rate
        ev = detect_events(t, rng.normal(0, 0.05, n), rng.normal(0, 0.05, n))
        assert ev.n_saccades == 0 and ev.n_fixations == 1


def test_clip_event_stats_repeat_whole_input_statistics():
    t, x, y, p1, p2, valid = scripted_gaze(120.0)
    win = eye_features(t, x, y, p1, p2, valid=valid)
    clip = eye_features(t, x, y, p1, p2, valid=valid, event_stats="clip")
    np.testing.assert_array_equal(clip[:, :24], win[:, :24])
    assert (clip[0, 24:] == clip[1, 24:]).all()
    assert clip[0, COL["blink_frequency_hz"]] == pytest.approx(3 / 8)
    assert clip[0, COL["saccade_frequency_hz"]] == pytest.approx(5 / 8)
    # Clip-wide events are not cut at 4 s: 9 fixations (3.9-4.4 is one) over 8 s... plus the
    # first one: 10 in all.
    assert clip[0, COL["fixation_frequency_hz"]] == pytest.approx(10 / 8)
    ev = detect_events(t, x, y, valid)
    assert clip[0, COL["saccade_latency_avg_ms"]] == pytest.approx(
        1e3 * np.diff(ev.saccade_onset_s).mean()
    )


def test_pixels_to_degrees_known_answers():
    x, y = pixels_to_degrees(
        [960.0, 1920.0, 960.0, np.nan],
        [540.0, 540.0, 0.0, 0.0],
        screen_w_px=1920,
        screen_h_px=1080,
        screen_w_cm=60.0,
        distance_cm=30.0,
    )
    np.testing.assert_allclose(x[:3], [0.0, 45.0, 0.0], atol=1e-12)
    assert y[2] == pytest.approx(np.degrees(np.arctan(540 * 60 / 1920 / 30)))  # up is +
    assert np.isnan(x[3])
    with pytest.raises(ValueError, match=r"distance_cm=0 is invalid"):
        pixels_to_degrees([0], [0], screen_w_px=1, screen_h_px=1, screen_w_cm=1, distance_cm=0)


def test_bad_input_errors():
    t, x, y, p1, p2, _ = scripted_gaze(60.0)
    with pytest.raises(ValueError, match=rf"differ in length.*'y': {t.size - 1}"):
        eye_features(t, x, y[:-1], p1, p2)
    t_bad = t.copy()
    t_bad[[10, 20]] = t_bad[[10, 20]] - 1.0
    with pytest.raises(ValueError, match=r"backwards at 2 steps \(first at index 10.*argsort"):
        eye_features(t_bad, x, y, p1, p2)
    with pytest.raises(
        ValueError, match=rf"spanning {t[59] - t[0]:.3f} s, less than one window_s=4.0"
    ):
        eye_features(t[:60], x[:60], y[:60], p1[:60], p2[:60])
    with pytest.raises(ValueError, match=r"event_stats='trial' is invalid"):
        eye_features(t, x, y, p1, p2, event_stats="trial")
    with pytest.raises(ValueError, match=r"window_s=0.5 is invalid"):
        eye_features(t, x, y, p1, p2, window_s=0.5)
    with pytest.raises(ValueError, match=r"x must be 1-D"):
        eye_features(t, np.c_[x, x], y, p1, p2)
    t_nan = t.copy()
    t_nan[5] = np.nan
    with pytest.raises(ValueError, match=r"timestamps has 1 non-finite"):
        eye_features_window(t_nan, x, y, p1, p2, t_start=0.0, window_s=4.0)


def test_eye_features_at_equals_the_window_function_per_start():
    from cmt_live.sim.session import SessionSimulator
    from features.eye import eye_features_at

    ts, x, y, p1, p2, valid = SessionSimulator(2, 0).gaze_segment(0.0, 20.0)
    starts = np.array([0.3, 2.0, 9.7, 15.5])  # overlapping and gapped windows alike
    got = eye_features_at(ts, x, y, p1, p2, valid > 0, starts, window_s=4.0)
    for row, t0 in zip(got, starts):
        ref, _ = eye_features_window(ts, x, y, p1, p2, valid > 0, t_start=t0, window_s=4.0)
        np.testing.assert_array_equal(row, ref)
    assert not np.allclose(got[0], got[1])  # different windows, different numbers
