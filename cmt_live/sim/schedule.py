"""What a simulated session shows when: SEED-V's schedule, and time -> segment lookups.

A schedule is a list of ``(label or None, duration_s)`` segments: an emotion code 0..4 (the
order of :data:`features.seedv.CLASS_NAMES`) or None for rest. Time starts at 0 with the first
sample of the session, and the schedule repeats cyclically.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from features.seedv import (
    CLASS_NAMES,
    N_CLASSES,
    SEEDV_LABELS,
    SEEDV_TRIAL_TIMES,
    WINDOW_S,
    check_session,
)

#: Shortest simulated trial, s: two 4-s windows, so every trial keeps a sequence.
MIN_TRIAL_S = 2 * WINDOW_S
#: Row of rest in the per-class tables (after the classes 0..4).
REST = N_CLASSES

Schedule = list[tuple["int | None", float]]


def seedv_schedule(session: int, trial_scale: float = 1.0, *, rest: bool = False) -> Schedule:
    """SEED-V's label order and clip durations for one session.

    Parameters
    ----------
    session : int
        1, 2 or 3.
    trial_scale : float
        Multiplies every duration (0.1 = a tenth, for tests); trials never get shorter than
        :data:`MIN_TRIAL_S` (two 4-s windows).
    rest : bool
        Also include the gaps of the recording (the 30-s lead-in, intros, self-assessment and
        rest between clips) as ``(None, duration_s)`` segments, so that at ``trial_scale=1``
        every clip starts at its published second.

    Returns
    -------
    list of (label or None, duration_s)
        Durations are ``end - start`` seconds, so ``floor(duration_s / 4)`` is SEED-V's
        window count at ``trial_scale=1``.
    """
    check_session(session)
    if not trial_scale > 0:
        raise ValueError(f"trial_scale={trial_scale!r} must be > 0 (1.0 = SEED-V's lengths).")
    out: Schedule = []
    starts, ends = SEEDV_TRIAL_TIMES[session - 1]
    prev_end = 0
    for label, start, end in zip(SEEDV_LABELS[session - 1], starts, ends):
        if rest:
            out.append((None, (start - prev_end) * trial_scale))
        out.append((label, max(float(end - start) * trial_scale, MIN_TRIAL_S)))
        prev_end = end
    return out


def _check_schedule(schedule: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Labels (-1 for rest) and durations (s) of a schedule, or a ValueError naming the item."""
    labels, durs = [], []
    for i, item in enumerate(schedule):
        try:
            label, dur = item
        except (TypeError, ValueError):
            raise ValueError(
                f"schedule[{i}] = {item!r}; expected (label 0..4 or None, duration_s)."
            ) from None
        if label is not None and (
            not isinstance(label, (int, np.integer)) or not 0 <= label < N_CLASSES
        ):
            raise ValueError(
                f"schedule[{i}] has label {label!r}; use 0..{N_CLASSES - 1} "
                f"({', '.join(CLASS_NAMES)}) or None for rest."
            )
        if not (isinstance(dur, (int, float, np.floating, np.integer)) and dur > 0):
            raise ValueError(f"schedule[{i}] has duration {dur!r}; durations must be > 0 s.")
        labels.append(-1 if label is None else int(label))
        durs.append(float(dur))
    if not labels:
        raise ValueError("schedule is empty; give at least one (label, duration_s).")
    return np.array(labels), np.array(durs)


class Timeline:
    """A schedule repeated cyclically: which segment, and which emotion, at any time.

    Segments are numbered globally: segment ``g`` is item ``g % n`` of the schedule in cycle
    ``g // n``, so clip-specific randomness (keyed by ``g``) differs between cycles.

    Parameters
    ----------
    schedule : list of (label or None, duration_s)
        Checked here; a ValueError names the bad item.
    """

    def __init__(self, schedule: Sequence):
        self.schedule = list(schedule)
        self.labels, durs = _check_schedule(self.schedule)
        #: Start of each segment within a cycle, s; the last entry is the cycle length.
        self.starts = np.concatenate([[0.0], np.cumsum(durs)])
        #: Length of one cycle of the schedule, s.
        self.period_s = float(self.starts[-1])

    def segment(self, t: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Global segment index and cycle number of times ``t`` >= 0 s."""
        t = np.asarray(t, dtype=np.float64)
        cycle = np.floor(t / self.period_s)
        local = t - cycle * self.period_s
        idx = np.searchsorted(self.starts, local, side="right") - 1
        idx = np.clip(idx, 0, len(self.labels) - 1)
        return idx + cycle.astype(np.int64) * len(self.labels), cycle

    def segment_start(self, g: np.ndarray | int) -> np.ndarray | float:
        """Start time (s) of global segment(s) ``g``."""
        n = len(self.labels)
        return (g // n) * self.period_s + self.starts[g % n]

    def class_row(self, t: np.ndarray | float) -> np.ndarray:
        """Row of the per-class tables at times ``t`` (s): the class 0..4, or :data:`REST`."""
        g, _ = self.segment(np.maximum(t, 0.0))
        lab = self.labels[g % len(self.labels)]
        return np.where(lab < 0, REST, lab)

    def label_at(self, t: float) -> int | None:
        """Emotion code 0..4 at time ``t`` seconds (None during rest)."""
        if not t >= 0:
            raise ValueError(f"t={t!r} must be >= 0 s (the session starts at 0).")
        lab = int(self.class_row(t))
        return None if lab == REST else lab

    def segment_starts(self, t0: float, t1: float) -> list[tuple[float, int | None]]:
        """Segment starts in ``[t0, t1)`` s: ``(t_start_s, label or None)``, in time order."""
        out = []
        n = len(self.labels)
        g = int(self.segment(max(t0, 0.0))[0])
        while True:
            t = self.segment_start(g)
            if t >= t1:
                break
            if t >= t0:
                lab = int(self.labels[g % n])
                out.append((float(t), None if lab < 0 else lab))
            g += 1
        return out

    def smoothed(self, per_class: np.ndarray, t: np.ndarray, tau_s: float) -> np.ndarray:
        """A per-class level that approaches each segment's value exponentially.

        Parameters
        ----------
        per_class : ndarray, shape (6,)
            Level per class row (0..4, then :data:`REST`).
        t : ndarray, shape (n,)
            Times, s.
        tau_s : float
            Time constant, s, from the previous segment's level.

        Returns
        -------
        ndarray, shape (n,)
        """
        g, _ = self.segment(np.maximum(t, 0.0))
        n = len(self.labels)
        lab = self.class_row(t)
        prev = self.labels[(g - 1) % n]
        prev = np.where((prev < 0) | (g == 0), REST, prev)
        w = np.exp(-(np.asarray(t) - self.segment_start(g)) / tau_s)
        return per_class[lab] * (1 - w) + per_class[prev] * w
