"""The model's context: the last L feature frames spaced ``window_s`` apart (DESIGN.md, "Time").

Live, a window ends every ``step_s`` (1 s), but the model was trained on sequences of
consecutive non-overlapping windows, i.e. windows ``window_s`` (4 s) apart. The context for a
frame ending at ``t`` is therefore the frames nearest to ``t, t - window_s, t - 2 window_s, ...``
(within ``tolerance_s``), oldest first, up to ``context_len`` of them. Frames are kept in a
time-indexed history, so the selection does not depend on how many steps were skipped or
cut: a slot with no frame near its time (an outage, a restarted window grid) is a masked row.

Masks (1 real, 0 missing) are per modality. Leading slots with neither modality are dropped,
so a sequence starts with its oldest usable window at position 0, as the training crops do.
When the newest frame lacks a modality, that modality is masked over the whole context: the
prediction is then EEG-only (or eye-only) and the gates show it, rather than mixing a lost
stream's older windows into "now".
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass

import numpy as np

from .records import FeatureFrame


@dataclass(frozen=True, eq=False)
class Context:
    """One model input sequence, oldest window first.

    Attributes
    ----------
    eeg : array of shape (T, n_eeg)
        Raw (unnormalised) features; masked rows hold zeros.
    eye : array of shape (T, n_eye)
    eeg_mask, eye_mask : array of shape (T,), float32
        1 real, 0 missing.
    t_ends : array of shape (T,)
        Slot times ``t - k * window_s`` (LSL seconds), oldest first.
    """

    eeg: np.ndarray
    eye: np.ndarray
    eeg_mask: np.ndarray
    eye_mask: np.ndarray
    t_ends: np.ndarray

    @property
    def n_valid(self) -> int:
        """Rows with at least one real modality."""
        return int(np.count_nonzero((self.eeg_mask > 0) | (self.eye_mask > 0)))

    @property
    def has_eeg(self) -> bool:
        return bool(self.eeg_mask.any())

    @property
    def has_eye(self) -> bool:
        return bool(self.eye_mask.any())


class ContextBuffer:
    """Time-indexed history of feature frames and context selection.

    Parameters
    ----------
    context_len : int
        L, the model contract's ``context_len`` (windows).
    window_s : float
        Spacing of the context, seconds (the contract's ``feature_spec.window_s``).
    n_eeg, n_eye : int
        Feature counts.
    tolerance_s : float | None
        Largest distance between a slot time and the frame used for it, seconds. Default:
        ``0.25 * window_s`` (with a 1 s step, windows land exactly on the slots unless the
        window grid restarted; a quarter window bounds the misalignment accepted then).
    """

    def __init__(
        self,
        context_len: int,
        window_s: float,
        n_eeg: int,
        n_eye: int,
        *,
        tolerance_s: float | None = None,
    ):
        if int(context_len) != context_len or context_len < 1:
            raise ValueError(f"context_len must be a positive integer; got {context_len!r}.")
        if not window_s > 0:
            raise ValueError(f"window_s must be > 0 s; got {window_s}.")
        if tolerance_s is None:
            tolerance_s = 0.25 * window_s
        if not 0 <= tolerance_s < window_s / 2:
            raise ValueError(
                f"tolerance_s={tolerance_s} must be in [0, window_s / 2 = {window_s / 2}) so "
                "that one frame cannot fill two slots."
            )
        self.context_len = int(context_len)
        self.window_s = float(window_s)
        self.n_eeg, self.n_eye = int(n_eeg), int(n_eye)
        self.tolerance_s = float(tolerance_s)
        # Frames older than the oldest slot of the newest context are never needed again.
        self.history_s = self.context_len * self.window_s + self.tolerance_s + 1.0
        self._times: deque[float] = deque()
        self._frames: deque[FeatureFrame] = deque()

    def __len__(self) -> int:
        return len(self._frames)

    def clear(self) -> None:
        self._times.clear()
        self._frames.clear()

    def push(self, frame: FeatureFrame) -> None:
        """Add a frame (frames arrive in time order; an older one is refused)."""
        if frame.eeg.shape != (self.n_eeg,) or frame.eye.shape != (self.n_eye,):
            raise ValueError(
                f"FeatureFrame has eeg {frame.eeg.shape} and eye {frame.eye.shape}; this context "
                f"expects ({self.n_eeg},) and ({self.n_eye},)."
            )
        if self._times and frame.t_end <= self._times[-1]:
            raise ValueError(
                f"FeatureFrame t_end={frame.t_end:.6f} is not after the previous frame's "
                f"{self._times[-1]:.6f}; frames must be pushed in time order (clear() after a "
                "clock reset)."
            )
        self._times.append(float(frame.t_end))
        self._frames.append(frame)
        while self._times and self._times[0] < frame.t_end - self.history_s:
            self._times.popleft()
            self._frames.popleft()

    def _nearest(self, t: float) -> FeatureFrame | None:
        times = self._times
        i = bisect_left(times, t)
        best, best_d = None, self.tolerance_s
        for j in (i - 1, i):
            if 0 <= j < len(times):
                d = abs(times[j] - t)
                if d <= best_d:
                    best, best_d = self._frames[j], d
        return best

    def context(self, t_end: float | None = None) -> Context:
        """The context for the frame ending at ``t_end`` (default: the newest frame).

        Returns
        -------
        Context
            At most ``context_len`` rows; zero rows when no slot has a usable modality.
        """
        if t_end is None:
            if not self._times:
                raise ValueError("the context is empty; push a FeatureFrame first.")
            t_end = self._times[-1]
        L = self.context_len
        slots = [t_end - k * self.window_s for k in range(L - 1, -1, -1)]
        frames = [self._nearest(t) for t in slots]
        eeg = np.zeros((L, self.n_eeg), np.float32)
        eye = np.zeros((L, self.n_eye), np.float32)
        em = np.zeros(L, np.float32)
        ym = np.zeros(L, np.float32)
        for k, f in enumerate(frames):
            if f is None:
                continue
            if f.eeg_valid:
                eeg[k], em[k] = f.eeg, 1.0
            if f.eye_valid:
                eye[k], ym[k] = f.eye, 1.0
        newest = frames[-1]
        if newest is None or not newest.eeg_valid:
            em[:] = 0.0
            eeg[:] = 0.0
        if newest is None or not newest.eye_valid:
            ym[:] = 0.0
            eye[:] = 0.0
        used = np.flatnonzero((em > 0) | (ym > 0))
        start = int(used[0]) if used.size else L
        return Context(
            eeg=eeg[start:],
            eye=eye[start:],
            eeg_mask=em[start:],
            eye_mask=ym[start:],
            t_ends=np.asarray(slots[start:], dtype=np.float64),
        )
