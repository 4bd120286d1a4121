"""Eye features from a tracker's event tables (SEED-V's Eye_raw): known answers, the BeGaze
sheet reader, and agreement with the live features on the same events."""

from __future__ import annotations

import numpy as np
import pytest

from features.constants import EYE_FEATURE_NAMES
from features.eye import eye_features_at
from features.eye_events import check_gaze, detect_in_range
from features.eye_from_events import (
    NEVER_DERIVABLE,
    EventTables,
    absent_columns,
    eye_features_from_events,
)

COL = {n: i for i, n in enumerate(EYE_FEATURE_NAMES)}


def _tables(onsets=True, blinks=True):
    return EventTables(
        fixation_duration_ms=[300, 200, 500, 250, 350],
        saccade_duration_ms=[40, 50, 30, 20],
        saccade_amplitude_deg=[2, 4, 6, 8],
        pupil_x_px=[10, 20, 30, 40, 50],
        pupil_y_px=[12, 22, 32, 42, 52],
        dispersion_x_px=[20, 40, 60, 10, 30],
        dispersion_y_px=[10, 10, 20, 30, 50],
        blink_duration_ms=[100, 15, 600] if blinks else None,
        fixation_start_s=[100.1, 100.5, 104.2, 108.0, 108.6] if onsets else None,
        saccade_start_s=[100.45, 100.9, 104.9, 108.5] if onsets else None,
        blink_start_s=[101.0, 109.0, 109.5] if onsets and blinks else None,
    )


def test_known_answer_with_onsets():
    x, absent = eye_features_from_events(_tables(), 100.0, 113.9, px_per_deg=20.0, pupil_scale=0.5)
    assert x.shape == (3, 33)  # floor(13.9 / 4) windows
    assert absent == NEVER_DERIVABLE and len(absent) == 10
    assert np.isnan(x[:, [COL[n] for n in absent]]).all()
    w0, w1, w2 = (dict(zip(EYE_FEATURE_NAMES, row)) for row in x)
    # window 0: fixations 300, 200 ms; saccades 40, 50 ms / 2, 4 deg at 0.45, 0.9 s; a 100-ms blink
    assert (w0["fixation_duration_mean_ms"], w0["fixation_duration_std_ms"]) == (250, 50)
    assert w0["fixation_duration_max_ms"] == 300 and w0["fixation_frequency_hz"] == 0.5
    assert (w0["dispersion_x_mean"], w0["dispersion_x_std"]) == (1.5, 0.5)  # 1, 2 deg
    assert (w0["dispersion_y_mean"], w0["dispersion_y_std"]) == (0.5, 0.0)
    assert w0["fixation_dispersion_total"] == 4.0 and w0["fixation_dispersion_max"] == 2.5
    assert w0["pupil1_mean"] == pytest.approx((10 * 300 + 20 * 200) / 500 * 0.5)
    assert w0["pupil2_mean"] == pytest.approx((12 * 300 + 22 * 200) / 500 * 0.5)
    assert (w0["saccade_duration_mean_ms"], w0["saccade_duration_std_ms"]) == (45, 5)
    assert (w0["saccade_amplitude_mean_deg"], w0["saccade_amplitude_std_deg"]) == (3, 1)
    assert w0["saccade_duration_avg_ms"] == 45 and w0["saccade_amplitude_avg_deg"] == 3
    assert w0["saccade_frequency_hz"] == 0.5
    assert w0["saccade_latency_avg_ms"] == pytest.approx(450)
    assert (w0["blink_duration_mean_ms"], w0["blink_frequency_hz"]) == (100, 0.25)
    # window 1: one fixation, one saccade (latency needs two), no blink
    assert w1["fixation_duration_mean_ms"] == 500 and w1["fixation_duration_std_ms"] == 0
    assert w1["saccade_latency_avg_ms"] == 0 and w1["blink_frequency_hz"] == 0
    # window 2: the 15-ms blink is no blink and the 600-ms one a track loss, as live
    assert w2["blink_frequency_hz"] == 0 and w2["blink_duration_mean_ms"] == 0
    assert w2["fixation_duration_mean_ms"] == 300 and w2["saccade_amplitude_mean_deg"] == 8


def test_without_onsets_events_are_split_in_equal_count_chunks():
    x, absent = eye_features_from_events(_tables(onsets=False, blinks=False), 0.0, 12.0)
    assert set(absent) == set(NEVER_DERIVABLE) | {
        "pupil1_mean", "pupil2_mean", "saccade_latency_avg_ms",
        "blink_duration_mean_ms", "blink_duration_std_ms", "blink_frequency_hz",
        "dispersion_x_mean", "dispersion_x_std", "dispersion_y_mean", "dispersion_y_std",
        "fixation_dispersion_total", "fixation_dispersion_max",
    }  # fmt: skip
    assert absent == absent_columns(_tables(onsets=False, blinks=False))
    keep = [i for i, n in enumerate(EYE_FEATURE_NAMES) if n not in absent]
    assert np.isfinite(x[:, keep]).all() and np.isnan(np.delete(x, keep, axis=1)).all()
    # 5 fixations over 3 windows: [300, 200], [500, 250], [350]; 4 saccades: [40, 50], [30], [20]
    np.testing.assert_array_equal(x[:, COL["fixation_duration_mean_ms"]], [250, 375, 350])
    np.testing.assert_array_equal(x[:, COL["saccade_duration_mean_ms"]], [45, 30, 20])
    np.testing.assert_array_equal(x[:, COL["fixation_frequency_hz"]], [0.5, 0.5, 0.25])


def test_begaze_sheet_reads_like_the_tables():
    nan = np.nan
    sheet = {
        " Fixation Duration [ms] ": [300, 200, nan, 500, "-", 250, 350, nan],
        "Fixation Start [ms]": [100100, 100500, nan, 104200, nan, 108000, 108600, nan],
        "Average Pupil Size [px] X": [10, 20, nan, 30, nan, 40, 50, nan],
        "Average Pupil Size [px] Y": [12, 22, nan, 32, nan, 42, 52, nan],
        "Dispersion X": [20, 40, nan, 60, nan, 10, 30, nan],
        "Dispersion Y": [10, 10, nan, 20, nan, 30, 50, nan],
        "Saccade Duration [ms]": [nan, nan, 40, nan, 50, 30, nan, 20],
        "Saccade Start [ms]": [nan, nan, 100450, nan, 100900, 104900, nan, 108500],
        "Amplitude [°]": [nan, nan, 2, nan, 4, 6, nan, 8],
        "Blink Duration [ms]": [100, nan, nan, nan, nan, 15, nan, 600],
        "Blink Start [ms]": [101000, nan, nan, nan, nan, 109000, nan, 109500],
    }
    kw = dict(px_per_deg=20.0, pupil_scale=0.5)
    got, _ = eye_features_from_events(EventTables.from_begaze(sheet), 100.0, 113.9, **kw)
    want, _ = eye_features_from_events(_tables(), 100.0, 113.9, **kw)
    np.testing.assert_allclose(got, want)
    with pytest.raises(ValueError, match=r"no 'Amplitude \[°\]' column"):
        EventTables.from_begaze({k: v for k, v in sheet.items() if k != "Amplitude [°]"})


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="pupil_x_px has 2 rows but its events have 1"):
        EventTables([300], [40], [2], pupil_x_px=[1, 2])
    with pytest.raises(ValueError, match="onsets for every kind"):
        EventTables([300], [40], [2], fixation_start_s=[0.1])
    with pytest.raises(ValueError, match="NaN"):
        EventTables([300, np.nan], [40], [2])
    with pytest.raises(ValueError, match=r"shorter than one 4\.0-s window"):
        eye_features_from_events(_tables(), 0.0, 3.0)
    with pytest.raises(ValueError, match="px_per_deg=0"):
        eye_features_from_events(_tables(), 0.0, 8.0, px_per_deg=0)


def test_agrees_with_live_features_on_the_same_events():
    """Events detected from simulated gaze, window by window as live does, written as event
    tables (dispersions in degrees: px_per_deg=1), give the live features' columns."""
    from cmt_live.sim.streams import SimSessionSettings

    sim = SimSessionSettings(subject=3, seed=1, gaze_rate=120.0).simulator()
    ts, gx, gy, p1, p2, valid = sim.gaze_until(40.0)
    t, x, y, _, _, ok = check_gaze(ts, gx, gy, valid > 0, pupil_1=p1, pupil_2=p2)
    t0, w, n_win = float(t[0]), 4.0, 9
    starts = t0 + w * np.arange(n_win)
    live = eye_features_at(ts, gx, gy, p1, p2, valid > 0, starts, window_s=w)
    cols = {k: [] for k in ("fd", "f0", "dx", "dy", "sd", "s0", "amp", "bd", "b0")}
    for s in starts:
        i0, i1 = np.searchsorted(t, [s, s + w])
        ev, _ = detect_in_range(t[i0:i1], x[i0:i1], y[i0:i1], ok[i0:i1], s, s + w)
        for key, a in zip(cols, (ev.fixation_duration_ms, ev.fixation_onset_s,
                                 ev.fixation_dispersion_x_deg, ev.fixation_dispersion_y_deg,
                                 ev.saccade_duration_ms, ev.saccade_onset_s,
                                 ev.saccade_amplitude_deg, ev.blink_duration_ms,
                                 ev.blink_onset_s)):  # fmt: skip
            cols[key].append(a)
    c = {k: np.concatenate(v) for k, v in cols.items()}
    assert c["fd"].size > 20 and c["sd"].size > 20 and c["bd"].size >= 1
    tables = EventTables(
        c["fd"], c["sd"], c["amp"], dispersion_x_px=c["dx"], dispersion_y_px=c["dy"],
        blink_duration_ms=c["bd"], fixation_start_s=c["f0"], saccade_start_s=c["s0"],
        blink_start_s=c["b0"],
    )  # fmt: skip
    got, absent = eye_features_from_events(tables, t0, t0 + n_win * w + 0.5, px_per_deg=1.0)
    assert set(absent) == set(NEVER_DERIVABLE) | {"pupil1_mean", "pupil2_mean"}
    keep = [i for i, n in enumerate(EYE_FEATURE_NAMES) if n not in absent]
    assert len(keep) == 21
    np.testing.assert_allclose(got[:, keep], live[:, keep], rtol=1e-9, atol=1e-9)


def _sheet(n_fix, n_sac, rng, blinks=True):
    """A BeGaze-like sheet: each kind's rows first, blank (NaN) below."""
    n = max(n_fix, n_sac)

    def pad(a):
        return np.concatenate([a, np.full(n - a.size, np.nan)])

    sheet = {
        "Fixation Duration [ms]": pad(rng.uniform(100, 600, n_fix)),
        "Average Pupil Size [px] X": pad(rng.uniform(30, 40, n_fix)),
        "Average Pupil Size [px] Y": pad(rng.uniform(30, 40, n_fix)),
        "Dispersion X": pad(rng.uniform(5, 50, n_fix)),
        "Dispersion Y": pad(rng.uniform(5, 50, n_fix)),
        "Saccade Duration [ms]": pad(rng.uniform(20, 80, n_sac)),
        "Amplitude [°]": pad(rng.uniform(1, 10, n_sac)),
    }
    if blinks:
        sheet["Blink Duration [ms]"] = pad(rng.uniform(60, 300, 3))
    return sheet


def test_seedv_session_rows_match_the_eeg_windows_and_absent_columns_are_a_union():
    from features.eye_from_events import seedv_session_eye_features
    from features.seedv import seedv_trial_windows

    rng = np.random.default_rng(0)
    sheets = [_sheet(120, 100, rng, blinks=k != 3) for k in range(15)]
    feats, absent = seedv_session_eye_features(sheets, 1, px_per_deg=30.0, pupil_scale=0.05)
    assert [x.shape[0] for x in feats] == list(seedv_trial_windows(1))
    assert set(absent) == set(NEVER_DERIVABLE) | {
        "saccade_latency_avg_ms",
        "blink_duration_mean_ms",
        "blink_duration_std_ms",
        "blink_frequency_hz",
    }  # trial 4 has no blink column: blinks absent in every trial
    idx = [COL[n] for n in absent]
    keep = np.setdiff1d(np.arange(33), idx)
    for x in feats:
        assert np.isnan(x[:, idx]).all() and np.isfinite(x[:, keep]).all()
    smooth, _ = seedv_session_eye_features(
        sheets, 1, px_per_deg=30.0, pupil_scale=0.05, smoothing="lds"
    )
    x, s = feats[0][:, keep], smooth[0][:, keep]
    assert np.isnan(smooth[0][:, idx]).all()
    assert (np.diff(s, axis=0).std(axis=0) < np.diff(x, axis=0).std(axis=0)).all()
    with pytest.raises(ValueError, match="14 eye sheets"):
        seedv_session_eye_features(sheets[:14], 1)
    bad = [*sheets[:5], {"Fixation Duration [ms]": [1.0]}, *sheets[6:]]
    with pytest.raises(ValueError, match=r"Session 2, trial 6: .*no 'Saccade Duration \[ms\]'"):
        seedv_session_eye_features(bad, 2)
