"""Eye events on realistic gaze at 60-1000 Hz: known answers that mimic a real tracker.

What the real EyeLink recording showed (``bench/validate_eye_events.py``): 1-2 deg saccades
last 15-20 ms and peak near 100 deg/s; blinks of 20-40 ms of pupil loss are common; noise of a
few hundredths of a degree. The trace below has main-sequence saccades with a smooth
(raised-cosine) velocity profile, instantaneous one-sample steps, 20-ms blinks inside
fixations, white noise and slow drift, sampled with jittered timestamps at each rate.
"""

from __future__ import annotations

import numpy as np
import pytest

from features import detect_events, eye_features

RATES = [60.0, 120.0, 250.0, 500.0, 1000.0]
#: Velocity filter reach the detector documents (features.eye_events): at most ~8 ms, or
#: one sample period, on each side.
REACH_MS = 8.0
AMPLITUDES = [1.0, 1.5, 2.0, 1.2, 5.0, 1.8, 10.0, 1.0]


def saccade_ms(amplitude_deg: float) -> float:
    """Main-sequence duration: 15.2 ms at 1 deg, 17.4 at 2, 35 at 10 (2.2 ms/deg + 13)."""
    return 2.2 * amplitude_deg + 13.0


def realistic_gaze(rate: float, seed: int = 0, noise_deg: float = 0.02):
    """A 12-s trace; returns ``t, x, y, valid`` and the true events.

    Events: ``sacc`` (onset_s, offset_s, amplitude_deg; ``offset == onset`` for a one-sample
    step), ``fix`` (onset_s, offset_s), ``blink`` (onset_s, offset_s).
    """
    rng = np.random.default_rng(seed)
    plan = []  # (kind, duration_s, amplitude)
    for i, amp in enumerate(AMPLITUDES):
        plan.append(("fix", 0.30 + 0.05 * (i % 3), 0.0))
        plan.append(("sac", saccade_ms(amp) / 1e3, amp))
        if i % 3 == 1:
            plan.append(("fix", 0.50, 0.0))
            plan.append(("step", 0.0, 5.0))  # a one-sample jump: no sample inside it
    for _ in range(3):  # 600-ms fixations with a 20-ms blink in the middle
        plan.append(("fix", 0.29, 0.0))
        plan.append(("blink", 0.02, 0.0))
        plan.append(("fix", 0.29, 0.0))
        plan.append(("sac", saccade_ms(1.5) / 1e3, 1.5))
    plan.append(("fix", 0.40, 0.0))

    # Timestamps: jittered, with the first sample at a random phase.
    duration = sum(d for _, d, _ in plan) + 0.5
    n = int(duration * rate)
    t = (np.arange(n) + rng.uniform(0, 1)) / rate + rng.uniform(-0.05, 0.05, n) / rate
    x = np.zeros(n)
    y = np.zeros(n)
    valid = np.ones(n, dtype=bool)
    truth = {"sacc": [], "fix": [], "blink": []}
    pos = np.zeros(2)
    now = float(t[0])
    angle = 0.0
    fix_on = now
    for kind, dur, amp in plan:
        end = now + dur
        after = t >= now
        if kind in ("sac", "step"):
            angle += 2.4  # a new direction each time
            direction = np.array([np.cos(angle), np.sin(angle)])
            truth["fix"].append((fix_on, now))
            if kind == "step":  # jump between two samples
                k = np.searchsorted(t, now)
                end = now = 0.5 * (t[k - 1] + t[k])
                after = t >= now
            else:
                m = (t >= now) & (t < end)
                tau = (t[m] - now) / dur
                prof = tau - np.sin(2 * np.pi * tau) / (2 * np.pi)  # raised-cosine speed
                x[m] = pos[0] + amp * prof * direction[0]
                y[m] = pos[1] + amp * prof * direction[1]
                after = t >= end
            truth["sacc"].append((now, end, amp))
            pos = pos + amp * direction
            fix_on = end
        elif kind == "blink":
            truth["fix"].append((fix_on, now))
            valid[(t >= now) & (t < end)] = False
            truth["blink"].append((now, end))
            fix_on = end
        x[after] = pos[0]
        y[after] = pos[1]
        now = end
    truth["fix"].append((fix_on, t[-1]))
    truth["fix"] = [f for f in truth["fix"] if f[0] >= t[0]]
    # Drift (<= 0.3 deg/s) and white noise.
    x += 0.2 * np.sin(2 * np.pi * 0.3 * t) / (2 * np.pi * 0.3) * 0.3 / 0.2
    x += rng.normal(0, noise_deg, n)
    y += rng.normal(0, noise_deg, n)
    x[~valid] = np.nan
    y[~valid] = np.nan
    return t, x, y, valid, truth


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("seed", [0, 1])
def test_realistic_saccades_steps_and_blinks(rate, seed):
    """Every saccade (1-2 deg of 15-20 ms included) and every one-sample step is one
    saccade; every fixation is found, split by steps and blinks; every 20-ms blink is a
    blink. Edges within the velocity filter's reach plus a sample period."""
    t, x, y, valid, truth = realistic_gaze(rate, seed)
    ev = detect_events(t, x, y, valid)
    period_ms = 1e3 / rate
    reach_ms = max(REACH_MS, period_ms) + period_ms  # filter reach, plus a jittered sample

    sacc = np.array(truth["sacc"])
    assert ev.n_saccades == len(sacc)
    true_ms = (sacc[:, 1] - sacc[:, 0]) * 1e3
    np.testing.assert_allclose(ev.saccade_onset_s, sacc[:, 0], atol=reach_ms / 1e3)
    np.testing.assert_allclose(ev.saccade_duration_ms, true_ms, atol=2 * reach_ms)
    # At 60 Hz a 1-deg saccade moves at the 30 deg/s threshold over two periods: when a
    # sample falls inside it, only the faster of its two steps may count (half the move).
    amp_tol = 0.25 if rate > 100 else 0.5
    np.testing.assert_allclose(ev.saccade_amplitude_deg, sacc[:, 2], atol=amp_tol)

    fix = np.array(truth["fix"])
    assert ev.n_fixations == len(fix)
    np.testing.assert_allclose(
        ev.fixation_duration_ms, (fix[:, 1] - fix[:, 0]) * 1e3, atol=2 * reach_ms
    )

    blink = np.array(truth["blink"])
    assert ev.n_blinks == len(blink) and ev.n_track_losses == 0
    np.testing.assert_allclose(ev.blink_onset_s, blink[:, 0], atol=period_ms / 1e3)
    np.testing.assert_allclose(ev.blink_duration_ms, 20.0, atol=1.2 * period_ms)  # jitter


@pytest.mark.parametrize("rate", RATES)
def test_noisy_tracker_noise_is_no_event_and_events_stay(rate):
    """White noise of 0.05-0.2 deg (a noisy tracker) makes no saccade and no split: the
    threshold rises above the noise (Engbert & Kliegl's median rule); with 0.08 deg of noise
    the realistic trace still gives every saccade, fixation and blink."""
    rng = np.random.default_rng(7)
    n = int(8 * rate)
    t = np.arange(n) / rate + rng.uniform(-0.1, 0.1, n) / rate
    for sd in (0.05, 0.1, 0.2):
        ev = detect_events(t, rng.normal(0, sd, n), rng.normal(0, sd, n))
        assert (ev.n_saccades, ev.n_fixations) == (0, 1), sd
    t, x, y, valid, truth = realistic_gaze(rate, 0, noise_deg=0.08)
    ev = detect_events(t, x, y, valid)
    counts = (ev.n_saccades, ev.n_fixations, ev.n_blinks)
    assert counts == (len(truth["sacc"]), len(truth["fix"]), len(truth["blink"]))


def test_one_sample_steps_split_fixations_at_120_hz():
    """500-ms fixations separated by 5-deg one-sample jumps (the issue's synthetic case:
    the old detector merged them into a mean fixation of 992 ms; pymovements' I-VT: 476)."""
    rate = 120.0
    n = int(10 * rate)
    t = np.arange(n) / rate
    x = 5.0 * np.floor(t / 0.5 + 0.5 / rate)  # a new position every 500 ms, between samples
    y = np.zeros(n)
    ev = detect_events(t, x, y)
    assert ev.n_saccades == 19
    assert ev.n_fixations == 20
    assert np.mean(ev.fixation_duration_ms) == pytest.approx(500, abs=2e3 / rate)


@pytest.mark.parametrize("rate", RATES)
def test_window_features_count_the_realistic_events(rate):
    """The per-window features see the same events: total saccades over all windows equal
    the truth when no saccade straddles a window edge (windows start at the first sample)."""
    t, x, y, valid, truth = realistic_gaze(rate, 3)
    p = np.full(t.size, 3.0)
    feats = eye_features(t, x, y, p, p, valid=valid, window_s=4.0)
    from features import EYE_FEATURE_NAMES

    col = EYE_FEATURE_NAMES.index
    edges = t[0] + 4.0 * np.arange(1, feats.shape[0] + 1)
    sacc = np.array(truth["sacc"])
    inside = ~np.any((sacc[:, :1] - 0.01 < edges) & (sacc[:, 1:2] + 0.01 > edges), axis=1)
    in_windows = sacc[:, 1] < edges[-1]
    assert inside[in_windows].all(), "test setup: a saccade straddles a window edge"
    n_win = (feats[:, col("saccade_frequency_hz")] * 4.0).round().sum()
    assert n_win == in_windows.sum()
    n_blinks = (feats[:, col("blink_frequency_hz")] * 4.0).round().sum()
    blink = np.array(truth["blink"])
    assert n_blinks == (blink[:, 1] < edges[-1]).sum()
