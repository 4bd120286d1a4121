"""The raw-signal simulator: determinism, chunking invariance, schedule, signal properties."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from cmt_live.sim.gaze import BLINKS_PER_MIN
from cmt_live.sim.profiles import SubjectProfile
from cmt_live.sim.scalp import channel_positions
from cmt_live.sim.schedule import MIN_TRIAL_S, seedv_schedule
from cmt_live.sim.session import SessionSimulator
from features.constants import SEEDV_CHANNELS

CH = {name: i for i, name in enumerate(SEEDV_CHANNELS)}


def test_seedv_schedule_matches_published_windows():
    from features.seedv import SEEDV_LABELS, seedv_trial_windows

    for session in (1, 2, 3):
        sched = seedv_schedule(session)
        assert [lab for lab, _ in sched] == list(SEEDV_LABELS[session - 1])
        assert [int(d // 4) for _, d in sched] == list(seedv_trial_windows(session))
        with_rest = seedv_schedule(session, rest=True)
        starts = np.cumsum([0.0] + [d for _, d in with_rest])[:-1]
        clip_starts = [s for s, (lab, _) in zip(starts, with_rest) if lab is not None]
        assert clip_starts[0] == 30.0  # every session's first clip starts at 30 s
    small = seedv_schedule(1, 0.05)
    assert min(d for _, d in small) == MIN_TRIAL_S and all(d // 4 >= 2 for _, d in small)
    with pytest.raises(ValueError, match="session=4"):
        seedv_schedule(4)
    with pytest.raises(ValueError, match="trial_scale=0"):
        seedv_schedule(1, 0)


def test_profiles_are_seeded_and_differ_between_subjects():
    a, b = SubjectProfile.from_seed(3, 7), SubjectProfile.from_seed(3, 7)
    np.testing.assert_array_equal(a.mixing, b.mixing)
    np.testing.assert_array_equal(a.effects, b.effects)
    c = SubjectProfile.from_seed(4, 7)
    assert not np.allclose(a.log_gain, c.log_gain)
    assert not np.allclose(a.mixing, c.mixing)
    assert a.pupil_mm != SubjectProfile.from_seed(3, 8).pupil_mm


def test_eeg_chunking_invariant_and_random_access():
    sim = SessionSimulator(2, 5)
    whole = sim.eeg(200 * 7)
    other = SessionSimulator(2, 5)
    parts = np.concatenate([other.eeg(n) for n in (1, 199, 37, 400, 3, 700)], axis=1)
    np.testing.assert_array_equal(parts, whole[:, : parts.shape[1]])
    np.testing.assert_array_equal(SessionSimulator(2, 5).eeg_segment(333, 500), whole[:, 333:833])
    assert sim.eeg_samples_done == 1400
    assert not np.allclose(SessionSimulator(2, 6).eeg(200), whole[:, :200])


def test_gaze_chunking_invariant():
    a = SessionSimulator(1, 0).gaze_until(9.0)
    sim = SessionSimulator(1, 0)
    parts = [sim.gaze_until(t) for t in (0.01, 0.5, 0.5, 3.333, 8.0, 9.0)]
    for col in range(6):
        joined = np.concatenate([p[col] for p in parts])
        np.testing.assert_array_equal(joined, a[col])


def test_eeg_scale_spectrum_and_line_noise():
    sim = SessionSimulator(1, 0, schedule=[(3, 60.0)])
    x = sim.eeg(200 * 60)
    assert x.shape == (62, 12000)
    rms_uv = np.sqrt((x**2).mean(axis=1)) * 1e6
    assert np.all(rms_uv > 5) and np.median(rms_uv) < 60
    f, pxx = signal.welch(x[CH["OZ"]], fs=200, nperseg=800)
    alpha = pxx[(f >= 8) & (f < 13)].mean()
    assert alpha > 2 * pxx[(f >= 14) & (f < 20)].mean()  # posterior alpha peak
    assert pxx[(f >= 2) & (f < 4)].mean() > pxx[(f >= 30) & (f < 45)].mean()  # 1/f
    line = pxx[np.argmin(np.abs(f - 50))]
    assert line > 5 * np.median(pxx[(f > 40) & (f < 48)])  # 50 Hz line noise


def _log_band_power(x, sfreq, lo, hi):
    f, pxx = signal.welch(x, fs=sfreq, nperseg=int(2 * sfreq), axis=-1)
    return np.log(pxx[..., (f >= lo) & (f < hi)].mean(axis=-1))


def test_emotion_signatures_in_the_eeg():
    # Happy raises temporal gamma; Neutral raises posterior alpha (EMOTION_EEG_EFFECTS).
    p = {}
    for label in (3, 4):
        sim = SessionSimulator(1, 0, schedule=[(label, 120.0)])
        x = sim.eeg(200 * 120)
        p[label] = (
            _log_band_power(x[[CH["T7"], CH["T8"]]], 200, 31, 45).mean(),
            _log_band_power(x[[CH["O1"], CH["OZ"], CH["O2"]]], 200, 8, 13).mean(),
        )
    assert p[4][0] - p[3][0] > 0.2
    assert p[3][1] - p[4][1] > 0.2


def test_blinks_are_in_gaze_and_frontal_eeg():
    sim = SessionSimulator(1, 0, schedule=[(3, 120.0)])
    blinks = sim.blinks(0.0, 120.0)
    rate_per_min = len(blinks) / 2
    expected = BLINKS_PER_MIN[3] * sim.profile.blink_scale
    assert 0.4 * expected < rate_per_min < 2.5 * expected
    assert np.all((blinks[:, 1] >= 0.1) & (blinks[:, 1] <= 0.4))
    ts, _x, _y, p1, _p2, valid = sim.gaze_until(120.0)
    start, dur, _ = blinks[len(blinks) // 2]
    during = (ts >= start + 0.02) & (ts < start + dur - 0.02)
    assert during.any() and np.all(valid[during] == 0) and np.all(np.isnan(p1[during]))
    # A blink is a large positive wave at FP1, much smaller at Oz.
    eeg = SessionSimulator(1, 0, schedule=[(3, 120.0)]).eeg(200 * 120)
    n = int((start + dur / 2) * 200)
    fp1 = eeg[CH["FP1"], n - 10 : n + 10].mean() - np.median(eeg[CH["FP1"]])
    oz = eeg[CH["OZ"], n - 10 : n + 10].mean() - np.median(eeg[CH["OZ"]])
    assert fp1 > 30e-6 and abs(oz) < fp1 / 3


def test_gaze_rate_jitter_units_and_events():
    sim = SessionSimulator(4, 1, gaze_rate=120.0, schedule=[(1, 300.0)])
    ts, x, y, p1, _p2, valid = sim.gaze_until(300.0)
    d = np.diff(ts)
    assert np.all(d > 0)
    assert abs(np.median(d) - 1 / 120) < 2e-4 and d[d < 0.02].std() > 2e-4  # jitter
    assert 0.8 < len(ts) / (300 * 120) <= 1.0  # some dropouts, no extra samples
    ok = valid > 0
    assert 0.7 < ok.mean() < 0.99
    assert 2.0 < np.nanmedian(p1) < 7.0 and np.nanmax(np.abs(x)) < 20 and np.nanmax(np.abs(y)) < 14
    # Saccades: velocity peaks well above 30 deg/s, fixations much slower.
    speed = np.hypot(np.diff(x), np.diff(y)) / d
    good = ok[1:] & ok[:-1]
    assert np.nanpercentile(speed[good], 99) > 100 and np.nanmedian(speed[good]) < 10


def test_pupil_tracks_arousal():
    def mean_pupil(label):
        sim = SessionSimulator(2, 0, schedule=[(label, 60.0)])
        return np.nanmean(sim.gaze_until(60.0)[3][120 * 10 :])

    assert mean_pupil(1) > mean_pupil(2) + 0.2  # Fear dilates relative to Sad


def test_labels_and_segment_starts():
    sim = SessionSimulator(1, 0, schedule=[(4, 10.0), (None, 2.0), (0, 8.0)])
    assert sim.label_at(0.0) == 4 and sim.label_at(10.5) is None and sim.label_at(12.0) == 0
    assert sim.label_at(20.0) == 4  # cyclic
    assert sim.segment_starts(0.0, 25.0) == [(0.0, 4), (10.0, None), (12.0, 0), (20.0, 4)]
    with pytest.raises(ValueError, match="t=-1"):
        sim.label_at(-1)


@pytest.mark.parametrize(
    ("schedule", "match"),
    [([], "empty"), ([(7, 1.0)], "label 7"), ([(1, 0.0)], "duration 0.0"), ([1], "schedule")],
)
def test_bad_schedules(schedule, match):
    with pytest.raises(ValueError, match=match):
        SessionSimulator(1, 0, schedule=schedule)


def test_bad_rates():
    with pytest.raises(ValueError, match=r"sfreq=250\.5"):
        SessionSimulator(1, 0, sfreq=250.5)
    with pytest.raises(ValueError, match="gaze_rate=5"):
        SessionSimulator(1, 0, gaze_rate=5)


def test_1000_hz_matches_nominal_rate():
    sim = SessionSimulator(1, 0, sfreq=1000.0)
    x = sim.eeg(3000)
    assert x.shape == (62, 3000) and np.isfinite(x).all()


def test_positions_left_right():
    pos = channel_positions()
    assert pos[CH["F3"], 0] < 0 < pos[CH["F4"], 0]
    assert pos[CH["FPZ"], 1] > pos[CH["CZ"], 1] > pos[CH["OZ"], 1]


def test_output_is_pinned_to_known_values():
    # Values the simulator gave before it was split into modules (commit aeef6b7): renumbering
    # an RNG purpose, reordering a key or changing a draw changes every dataset built since.
    s = SessionSimulator(1, 0)
    eeg = s.eeg(400)
    np.testing.assert_allclose(
        eeg[[0, 30, 61], [0, 199, 399]],
        [-2.0389531185839008e-05, -4.8045714153802242e-05, -1.8372960984138449e-05],
        rtol=1e-12,
    )
    ts, x, _, pupil_1, _, _ = s.gaze_until(2.0)
    assert len(ts) == 240
    np.testing.assert_allclose(
        np.asarray(ts)[[0, 100]], [4.657759600706355e-04, 0.8339652601935449], rtol=1e-12
    )
    np.testing.assert_allclose(
        np.asarray(x)[[0, 100]], [0.0165192329135853, -10.763158968276919], rtol=1e-12
    )
    np.testing.assert_allclose(
        np.asarray(pupil_1)[[0, 100]], [4.551696757652378, 4.777864100109284], rtol=1e-12
    )
    assert s.segment_starts(0.0, 200.0)[:3] == [(0.0, 4), (72.0, 1), (168.0, 3)]


def test_fixed_length_trials_check_the_session_too():
    from cmt_live.sim.streams import SimSessionSettings

    with pytest.raises(ValueError, match="sessions 1, 2 and 3"):
        SimSessionSettings(session=0, trial_s=5.0).simulator()
