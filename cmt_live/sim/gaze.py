"""Simulated eye tracking: fixations, saccades, pupils, blinks, track losses and dropouts.

Gaze (~``gaze_rate`` Hz, timestamps jittered by ~1 ms), columns
:data:`cmt_live.channels.GAZE_CHANNELS`:

- x, y in degrees of visual angle from screen centre (+x right, +y up), a sequence of
  fixations (gamma-distributed durations, 200-600 ms typical, with slow drift and tremor)
  and saccades (amplitudes 1-15°, main-sequence durations 21 ms + 2.2 ms/°, minimum-jerk
  profile).
- pupil_1, pupil_2: left and right pupil diameter in **mm** (baseline 2.8-4.5 mm per subject,
  a small anisocoria), with an emotion-dependent arousal dilation (Fear > Happy > Disgust >
  Neutral > Sad) reached with a 2-s time constant, hippus (slow oscillation, stronger with
  arousal), a per-trial luminance offset and measurement noise.
- valid: 1.0 or 0.0. Blinks (100-400 ms, emotion- and subject-dependent rate) and track
  losses (0.3-2.5 s) give invalid samples whose x, y and pupils are NaN; dropouts (50-400 ms)
  give no samples at all.
- Emotion also shifts fixation duration (Sad longest, Fear shortest), saccade amplitude and
  rate, and blink rate and duration; subjects have their own multipliers of all of these.

The per-class tables below have 6 rows: classes 0..4 and rest (like Neutral). Synthetic, not a
model of real physiology. Pure numpy.
"""

from __future__ import annotations

import math

import numpy as np

from .profiles import SubjectProfile
from .randomness import (
    BLINKS,
    DROPOUT,
    GAZE_BLOCK,
    GAZE_EVENTS,
    TRACK_LOSS,
    TRIAL,
    EventProcess,
    keyed_rng,
    renewal,
)
from .schedule import Timeline

GAZE_UNITS = ("degrees", "degrees", "mm", "mm", "")

# Gaze parameters per class (index 5 = rest, like Neutral).
#: Arousal dilation of the pupils, mm.
PUPIL_AROUSAL_MM = np.array([0.2, 0.45, -0.1, 0.0, 0.3, 0.0])
#: Hippus amplitude multiplier.
HIPPUS_GAIN = np.array([1.2, 1.5, 0.8, 1.0, 1.3, 1.0])
#: Mean fixation duration, ms.
FIXATION_MS = np.array([330.0, 260.0, 440.0, 360.0, 300.0, 360.0])
#: Mean saccade amplitude, degrees.
SACCADE_AMP_DEG = np.array([4.5, 6.5, 3.0, 4.0, 5.5, 4.0])
#: Blink rate, per minute.
BLINKS_PER_MIN = np.array([22.0, 20.0, 12.0, 15.0, 17.0, 15.0])
#: Median blink duration, ms.
BLINK_MS = np.array([210.0, 160.0, 260.0, 200.0, 180.0, 200.0])


class EyeSimulator:
    """The eye-tracker half of a simulated session; also the source of blinks and EOG.

    Parameters
    ----------
    profile : SubjectProfile
    timeline : Timeline
        The session's schedule.
    key : tuple of int
        ``(seed, subject, session)``: the prefix of every RNG key.
    gaze_rate : float
        Nominal gaze rate, Hz.

    Notes
    -----
    Gaze sample ``i`` is nominally at ``i / gaze_rate`` s and stamped with jitter. Samples are
    made per second of nominal time (cached a few seconds), so any request order gives the
    same samples.
    """

    def __init__(
        self,
        profile: SubjectProfile,
        timeline: Timeline,
        key: tuple[int, int, int],
        gaze_rate: float,
    ):
        self.profile, self.timeline, self._key = profile, timeline, key
        self.gaze_rate = float(gaze_rate)
        #: Blinks: rows (start_s, duration_s, size); the EEG draws their EOG from the same rows.
        self.blinks = EventProcess(keyed_rng(*key, BLINKS), self._draw_blink, 3, 0.5)
        self._track_loss = EventProcess(
            keyed_rng(*key, TRACK_LOSS), renewal(90.0, 0.3, 2.5), 2, 2.5
        )
        self._dropouts = EventProcess(keyed_rng(*key, DROPOUT), renewal(120.0, 0.05, 0.4), 2, 0.4)
        self._events = EventProcess(keyed_rng(*key, GAZE_EVENTS), self._draw_gaze_event, 9, 2.0)
        self._state = [0.0, 0.0, True]  # x, y, next is a fixation
        self._blocks: dict[int, tuple[np.ndarray, ...]] = {}

    # --- events -----------------------------------------------------------------------
    def _draw_blink(self, rng, t):
        """Next blink after ``t`` s: (start_s, duration_s, size)."""
        cls = int(self.timeline.class_row(t))
        p = self.profile
        rate = BLINKS_PER_MIN[cls] * p.blink_scale * math.exp(p.gaze_class_jitter[cls, 2]) / 60
        t_next = t + rng.gamma(2.0, 0.5 / rate)
        dur = float(np.clip(rng.lognormal(math.log(BLINK_MS[cls] / 1000), 0.25), 0.1, 0.4))
        return (t_next, dur, float(rng.uniform(0.7, 1.3))), t_next + dur + 0.05

    def _draw_gaze_event(self, rng, t):
        """Next fixation or saccade: (start, dur, kind, x0, y0, x1, y1, vx, vy)."""
        p = self.profile
        cls = int(self.timeline.class_row(t))
        x, y, fixation = self._state
        if fixation:
            mean_s = FIXATION_MS[cls] / 1000 * p.fixation_scale
            mean_s *= math.exp(p.gaze_class_jitter[cls, 0])
            dur = float(np.clip(rng.gamma(4.0, mean_s / 4), 0.08, 2.0))
            vx, vy = rng.normal(0.0, 0.25, 2)  # drift, deg/s
            x1, y1 = x + vx * dur, y + vy * dur
            row = (t, dur, 0.0, x, y, x1, y1, vx, vy)
            self._state = [x1, y1, False]
        else:
            mean_a = SACCADE_AMP_DEG[cls] * p.saccade_scale * math.exp(p.gaze_class_jitter[cls, 1])
            amp = float(np.clip(rng.gamma(2.5, mean_a / 2.5), 1.0, 15.0))
            ang = rng.uniform(0, 2 * np.pi)
            turn = rng.normal(0.0, 0.5)
            x1, y1 = x + amp * math.cos(ang), y + amp * math.sin(ang)
            # Near the screen edges (±16°, ±10°) head back towards the centre.
            if abs(x1) > 16 or abs(y1) > 10:
                ang = math.atan2(-y, -x) + turn
                x1, y1 = x + amp * math.cos(ang), y + amp * math.sin(ang)
                x1, y1 = min(max(x1, -16.0), 16.0), min(max(y1, -10.0), 10.0)
                amp = max(math.hypot(x1 - x, y1 - y), 0.1)
            dur = (21.0 + 2.2 * amp) / 1000  # main sequence
            row = (t, dur, 1.0, x, y, x1, y1, 0.0, 0.0)
            self._state = [x1, y1, True]
        return row, t + dur

    def position(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Eye position at times ``t`` from the fixation/saccade sequence, without noise.

        Parameters
        ----------
        t : ndarray, shape (n,)
            Times, s (non-decreasing; the sequence is drawn up to ``t[-1]``).

        Returns
        -------
        x, y : ndarray, shape (n,)
            Degrees from screen centre (+x right, +y up).
        """
        ev = self._events.extend_to(float(t[-1]) + 0.01)
        i = np.clip(np.searchsorted(ev[:, 0], t, side="right") - 1, 0, len(ev) - 1)
        e = ev[i]
        tau = np.clip((t - e[:, 0]) / e[:, 1], 0.0, 1.0)
        sacc = e[:, 2] > 0.5
        # Fixation: linear drift; saccade: minimum-jerk profile.
        s = np.where(sacc, tau**3 * (10 - 15 * tau + 6 * tau**2), tau)
        return e[:, 3] + (e[:, 5] - e[:, 3]) * s, e[:, 4] + (e[:, 6] - e[:, 4]) * s

    # --- samples -------------------------------------------------------------------------
    def _block(self, b: int) -> tuple[np.ndarray, ...]:
        """Gaze samples with nominal time in second b: (t_nominal, stamp, x, y, p1, p2, valid)."""
        blk = self._blocks.get(b)
        if blk is not None:
            return blk
        p = self.profile
        i0, i1 = math.ceil(b * self.gaze_rate), math.ceil((b + 1) * self.gaze_rate)
        t = np.arange(i0, i1) / self.gaze_rate
        n = t.size
        r = keyed_rng(*self._key, GAZE_BLOCK, b)
        jitter = np.clip(r.normal(0.0, 0.001, n), -0.003, 0.003)
        x, y = self.position(t)
        x = x + r.normal(0.0, 0.02, n)  # tremor / measurement noise
        y = y + r.normal(0.0, 0.02, n)
        arousal = self.timeline.smoothed(PUPIL_AROUSAL_MM, t, 2.0) * p.arousal_gain
        hippus_gain = self.timeline.smoothed(HIPPUS_GAIN, t, 2.0)
        hip = sum(a * np.sin(2 * np.pi * f * t + ph) for f, a, ph in p.hippus) * hippus_gain
        g, _ = self.timeline.segment(t)
        # Clip luminance: one pupil offset per segment (not related to the emotion).
        uniq, inv = np.unique(g, return_inverse=True)
        lum = np.array([keyed_rng(*self._key, TRIAL, int(gi), 1).normal(0, 0.2) for gi in uniq])
        lum = lum[inv]
        p1 = p.pupil_mm + arousal + hip + lum + r.normal(0.0, 0.015, n)
        p2 = p1 * (1 + p.anisocoria) + r.normal(0.0, 0.015, n)
        valid = np.ones(n)
        for start, dur, *_ in self.blinks.overlapping(t[0], t[-1] + 1e-9):
            valid[(t >= start) & (t < start + dur)] = 0.0
        for start, dur in self._track_loss.overlapping(t[0], t[-1] + 1e-9):
            valid[(t >= start) & (t < start + dur)] = 0.0
        keep = np.ones(n, dtype=bool)
        for start, dur in self._dropouts.overlapping(t[0], t[-1] + 1e-9):
            keep &= ~((t >= start) & (t < start + dur))
        bad = valid == 0
        for a in (x, y, p1, p2):
            a[bad] = np.nan
        blk = tuple(a[keep] for a in (t, t + jitter, x, y, p1, p2, valid))
        if len(self._blocks) > 4:
            self._blocks.pop(min(self._blocks))
        self._blocks[b] = blk
        return blk

    def segment(self, t0: float, t1: float) -> tuple[np.ndarray, ...]:
        """Gaze samples with nominal time in ``[t0, t1)`` (random access).

        Returns
        -------
        timestamps : ndarray (n,)
            Seconds, jittered (monotonic).
        x, y : ndarray (n,)
            Degrees; NaN where invalid.
        pupil_1, pupil_2 : ndarray (n,)
            Left/right pupil diameter, mm; NaN where invalid.
        valid : ndarray (n,)
            1.0 or 0.0.
        """
        if not 0 <= t0 <= t1:
            raise ValueError(f"Need 0 <= t0 <= t1; got t0={t0}, t1={t1}.")
        parts = [self._block(b) for b in range(int(t0), math.ceil(t1) + 1)]
        cols = [np.concatenate([pt[c] for pt in parts]) for c in range(7)]
        m = (cols[0] >= t0) & (cols[0] < t1)
        return tuple(c[m] for c in cols[1:])
