"""Where the simulator's randomness comes from: keyed RNG streams and lazily drawn events.

Determinism: every random draw is keyed by ``(seed, subject, session, purpose, index)`` (a
counter-based scheme: the index is the second, the block or the event number), and event
sequences are generated one event at a time from their own streams, so the same arguments give
the same signals regardless of how they are requested (chunk sizes, or random access with
:meth:`cmt_live.sim.session.SessionSimulator.eeg_segment`).

The purposes below are the fourth element of a session's keys; their values are part of the
simulated data (changing one changes every dataset), so they never move.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Purposes: the element after (seed, subject, session) in every session RNG key.
EEG_BLOCK, SENSOR, TRIAL, BLINKS, MUSCLE, GAZE_EVENTS, GAZE_BLOCK = range(7)
TRACK_LOSS, DROPOUT, MUSCLE_WAVE = range(7, 10)
#: Keys outside the purposes above: a subject's profile ``(seed, subject, PROFILE)`` and a
#: session's cap placement ``(seed, subject, session, SESSION_GAIN)``.
PROFILE, SESSION_GAIN = 0xC0FFEE, 0x5E55

#: ``draw(rng, t) -> (row or None, t_next)``: see :class:`EventProcess`.
Draw = Callable[[np.random.Generator, float], tuple]


def keyed_rng(*key: int) -> np.random.Generator:
    """A generator seeded by ``key`` (each element taken modulo 2**32)."""
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in key])


class EventProcess:
    """A lazily extended sequence of events drawn one at a time from its own RNG stream.

    Parameters
    ----------
    rng : numpy.random.Generator
        This sequence's own stream.
    draw : callable
        ``draw(rng, t) -> (row, t_next)`` gives the next event after time ``t`` (s): a tuple of
        ``n_fields`` floats starting with ``(start_s, duration_s)``, or None, and the time (s)
        from which to continue.
    n_fields : int
        Length of a row.
    max_dur_s : float
        Longest possible duration, s (used to find overlaps quickly).

    Notes
    -----
    Extending further never changes events already drawn, so the sequence is the same however
    far ahead, and in what steps, it is requested.
    """

    def __init__(self, rng: np.random.Generator, draw: Draw, n_fields: int, max_dur_s: float):
        self._rng, self._draw, self._max_dur = rng, draw, max_dur_s
        self._buf = np.zeros((256, n_fields))
        self._n = 0
        self._t_next = 0.0

    def extend_to(self, t: float) -> np.ndarray:
        """All events with start <= ``t`` s (at least), shape (n_events, n_fields)."""
        while self._t_next <= t:
            row, self._t_next = self._draw(self._rng, self._t_next)
            if row is None:
                continue
            if self._n == len(self._buf):  # amortised growth, not a copy per event
                self._buf = np.concatenate([self._buf, np.zeros_like(self._buf)])
            self._buf[self._n] = row
            self._n += 1
        return self._buf[: self._n]

    def overlapping(self, t0: float, t1: float) -> np.ndarray:
        """Events whose span ``[start, start + duration)`` meets ``[t0, t1)`` (s)."""
        ev = self.extend_to(t1)
        i0 = np.searchsorted(ev[:, 0], t0 - self._max_dur, side="left")
        i1 = np.searchsorted(ev[:, 0], t1, side="left")
        ev = ev[i0:i1]
        return ev[ev[:, 0] + ev[:, 1] > t0]


def renewal(mean_interval_s: float, dur_lo_s: float, dur_hi_s: float) -> Draw:
    """A :data:`Draw` of ``(start_s, duration_s)`` events at exponential intervals.

    Parameters
    ----------
    mean_interval_s : float
        Mean time from the end of one event to the start of the next, s.
    dur_lo_s, dur_hi_s : float
        Durations are uniform in ``[dur_lo_s, dur_hi_s)``, s.
    """

    def draw(rng, t):
        t_next = t + rng.exponential(mean_interval_s)
        dur = float(rng.uniform(dur_lo_s, dur_hi_s))
        return (t_next, dur), t_next + dur

    return draw
