"""A simulated SEED-V-like session: 62-channel EEG, gaze and emotion markers of one subject.

Everything here is **synthetic**: a plausible signal model for testing the pipeline end to
end without the licensed data, not a model of real emotion physiology. Pure numpy.

:class:`SessionSimulator` is the public face; the signal model is described where it lives:

- :mod:`cmt_live.sim.eeg`: background rhythms, emotion signatures, subject shifts, artefacts;
- :mod:`cmt_live.sim.gaze`: fixations, saccades, pupils, blinks, track losses, dropouts;
- :mod:`cmt_live.sim.profiles`: what differs between subjects;
- :mod:`cmt_live.sim.schedule`: SEED-V's clip order and durations;
- :mod:`cmt_live.sim.randomness`: why any request order gives the same samples.

Time starts at 0 with the first sample of the session; the schedule repeats cyclically.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .eeg import EegSimulator
from .gaze import EyeSimulator
from .profiles import SubjectProfile
from .schedule import Timeline, seedv_schedule


class SessionSimulator:
    """Continuous EEG and gaze of one simulated subject following a schedule of emotions.

    Parameters
    ----------
    subject : int
    seed : int
        Same ``(subject, seed, session, sfreq, gaze_rate, schedule)`` -> same signals.
    sfreq : float
        EEG rate, Hz; a whole number (200 as SEED-V's features, 1000 as its raw files).
    gaze_rate : float
        Nominal gaze rate, Hz.
    schedule : list of (label or None, duration_s) | None
        Emotion per segment, repeated cyclically; default ``seedv_schedule(session)``.
    session : int
        Session number: a different recording day of the same subject (new noise, small
        extra gains).
    profile : SubjectProfile | None
        Default ``SubjectProfile.from_seed(subject, seed)``.

    Notes
    -----
    Sample ``n`` of the EEG is at ``t = n / sfreq`` seconds; gaze sample ``i`` is nominally at
    ``i / gaze_rate`` and stamped with jitter.
    """

    def __init__(
        self,
        subject: int,
        seed: int = 0,
        *,
        sfreq: float = 200.0,
        gaze_rate: float = 120.0,
        schedule: Sequence | None = None,
        session: int = 1,
        profile: SubjectProfile | None = None,
    ):
        if not (sfreq >= 100 and float(sfreq).is_integer()):
            raise ValueError(
                f"sfreq={sfreq!r} must be a whole number of Hz >= 100 (e.g. 200 or 1000); "
                "the 1-50 Hz bands need it."
            )
        if not 10 <= gaze_rate <= 2000:
            raise ValueError(f"gaze_rate={gaze_rate!r} Hz is out of range; use 10..2000.")
        self.subject, self.seed, self.session = int(subject), int(seed), int(session)
        self.sfreq, self.gaze_rate = float(sfreq), float(gaze_rate)
        self.profile = profile or SubjectProfile.from_seed(subject, seed)
        self._timeline = Timeline(schedule if schedule is not None else seedv_schedule(session))
        #: The schedule, as ``(label or None, duration_s)`` segments.
        self.schedule = self._timeline.schedule
        #: Length of one cycle of the schedule, s.
        self.period_s = self._timeline.period_s
        key = (self.seed, self.subject, self.session)
        self._eyes = EyeSimulator(self.profile, self._timeline, key, self.gaze_rate)
        self._eeg = EegSimulator(self.profile, self._timeline, key, self.sfreq, self._eyes)
        self._eeg_pos = 0
        self._gaze_t = 0.0

    # --- schedule ---------------------------------------------------------------------
    def label_at(self, t: float) -> int | None:
        """Emotion code 0..4 at time ``t`` seconds (None during rest)."""
        return self._timeline.label_at(t)

    def segment_starts(self, t0: float, t1: float) -> list[tuple[float, int | None]]:
        """Segment starts in ``[t0, t1)`` s: ``(t_start_s, label or None)``, in time order."""
        return self._timeline.segment_starts(t0, t1)

    # --- EEG --------------------------------------------------------------------------
    def eeg_segment(self, start: int, n_samples: int) -> np.ndarray:
        """EEG samples ``[start, start + n_samples)`` (random access), shape (62, n), volts."""
        return self._eeg.segment(start, n_samples)

    def eeg(self, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` of EEG, shape (62, n_samples), volts."""
        x = self._eeg.segment(self._eeg_pos, int(n_samples))
        self._eeg_pos += int(n_samples)
        return x

    @property
    def eeg_samples_done(self) -> int:
        """EEG samples returned by :meth:`eeg` so far."""
        return self._eeg_pos

    # --- gaze -------------------------------------------------------------------------
    def gaze_segment(self, t0: float, t1: float) -> tuple[np.ndarray, ...]:
        """Gaze samples with nominal time in ``[t0, t1)`` s (random access).

        Returns
        -------
        timestamps : ndarray, shape (n,)
            Seconds, jittered (monotonic).
        x, y : ndarray, shape (n,)
            Degrees; NaN where invalid.
        pupil_1, pupil_2 : ndarray, shape (n,)
            Left/right pupil diameter, mm; NaN where invalid.
        valid : ndarray, shape (n,)
            1.0 or 0.0.
        """
        return self._eyes.segment(t0, t1)

    def gaze_until(self, t: float) -> tuple[np.ndarray, ...]:
        """Gaze samples from where the last call stopped up to nominal time ``t`` s (exclusive).

        Returns ``(timestamps, x, y, pupil_1, pupil_2, valid)`` as :meth:`gaze_segment`.
        """
        t = float(t)
        if t <= self._gaze_t:
            return tuple(np.zeros(0) for _ in range(6))
        out = self._eyes.segment(self._gaze_t, t)
        self._gaze_t = t
        return out

    def blinks(self, t0: float, t1: float) -> np.ndarray:
        """Blinks starting in ``[t0, t1)`` s: rows (start_s, duration_s, size), for tests."""
        ev = self._eyes.blinks.extend_to(t1)
        return ev[(ev[:, 0] >= t0) & (ev[:, 0] < t1)] if len(ev) else ev
