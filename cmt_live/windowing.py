"""Cut :class:`cmt_live.records.Window` s from the EEG and gaze ring buffers (pure: no LSL).

Division of labour with the live loop (``cmt_live.pipeline``): :class:`cmt_live.lsl.inlet.
StreamInput` delivers raw samples in volts at the stream's rate; the loop picks the model's
channels (:func:`cmt_live.channels.match_channels`), runs them through
``features.preprocess.StreamingPreprocessor`` and pushes the result, with one timestamp per
output sample, into an EEG :class:`~cmt_live.ring_buffer.RingBuffer` **at the model's sfreq, in
model channel order**. :class:`WindowCutter` cuts from that buffer. Gaze is not resampled: its
buffer holds the raw samples (columns ``x_deg, y_deg, pupil_1, pupil_2, valid``) with their own
clock-corrected stamps.

Windows sit on the EEG **sample grid** (so any chunking of the same samples gives the same
windows, bit for bit): with ``n_window = window_s * sfreq`` and ``n_step = step_s * sfreq``
samples, the k-th window holds absolute buffer indices ``[e_k - n_window, e_k)`` with
``e_k = i0 + n_window + k * n_step``, where ``i0`` is the first sample the cutter saw (or the
first sample after a restart, below). Its end time is ``t_end = ts[e_k - 1] + 1 / sfreq`` so
that the half-open span ``[t_end - window_s, t_end)`` covers exactly its samples; gaze samples
with stamps in that span go with it (by LSL time, never by arrival).

Every due window is cut, oldest first (a late caller catches up); if more than ``max_behind``
are due at once, the older ones are skipped and that is logged. A window is held back until the
gaze buffer has reached its end (gaze arrives with its own latency) or until the EEG is
``gaze_wait_s`` past it, so the gaze of a window does not depend on arrival timing either; a
window closed by that bound takes the gaze that had arrived and says so in
:attr:`Window.gaze_end`, which the session log records and a replay given those cut-offs
(``WindowCutter(gaze_cutoffs=...)``) applies, so it cuts the same gaze.
"Reached" means, for a stream with a nominal rate, a sample within ``GAZE_PASSED_PERIODS`` (3/4)
of a period of the end: the next one is then due a quarter period after the end, so waiting for
it would add up to a period (8 ms at 120 Hz) to the latency and change nothing. A sample that
still lands inside a window already cut (stamped more than a quarter period early: jitter) is
not lost from the record: :meth:`WindowCutter.settle_gaze` returns that window's cut-off (the
gaze it used), which the session log records like the cut-offs above.

An EEG inter-sample interval above ``restart_gap_periods`` periods inside a would-be window
(an outage, a reconnect, a reset preprocessor) restarts the grid at the first sample after it:
no window ever spans such a jump. Flags (:class:`cmt_live.records.Flag`):

``EEG_GAP``
    The window overlaps a recorded gap of the raw stream (``eeg_gaps``), or its samples cover
    more time than ``n_window / min_eeg_fraction`` periods (fewer samples than expected).
``EEG_STALE`` / ``EYE_STALE``
    The caller says the stream is stale (watchdog).
``EEG_NONFINITE``
    A NaN/Inf value in the window's EEG.
``EYE_MISSING``
    No gaze buffer, or no gaze sample in the window.
``EYE_LOW_COVERAGE``
    Valid gaze samples below ``min_eye_coverage`` of the expected count
    (``window_s * gaze_sfreq``; for an irregular stream, of the samples received).
``EYE_GAP``
    The window overlaps a recorded gaze gap (informative; coverage decides validity).
``TIMESTAMP_FAULT``
    A dropped backward/duplicate stamp (``timestamp_faults``) falls in the window.

``eeg_valid`` is false with EEG_GAP, EEG_STALE or EEG_NONFINITE; ``eye_valid`` is false with
EYE_MISSING, EYE_STALE or EYE_LOW_COVERAGE.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ._logging import logger
from .records import Flag, Window
from .ring_buffer import RingBuffer

#: Columns of the gaze buffer.
GAZE_COLUMNS: tuple[str, ...] = ("x_deg", "y_deg", "pupil_1", "pupil_2", "valid")

_EEG_INVALID = {Flag.EEG_GAP, Flag.EEG_STALE, Flag.EEG_NONFINITE}
_EYE_INVALID = {Flag.EYE_MISSING, Flag.EYE_STALE, Flag.EYE_LOW_COVERAGE}


@dataclass(frozen=True)
class WindowSettings:
    """Frozen, validated windowing settings.

    Parameters
    ----------
    window_s : float
        Window length, seconds (the model contract's ``feature_spec.window_s``).
    step_s : float
        Time between window ends, seconds (default 1 s).
    sfreq : float
        Rate of the EEG buffer, Hz (the model's sfreq). ``window_s * sfreq`` and
        ``step_s * sfreq`` must be whole sample counts.
    gaze_sfreq : float
        Nominal gaze rate, Hz, for the coverage; 0 for irregular streams.
    min_eeg_fraction : float
        Below this fraction of the expected samples per covered time: EEG_GAP.
    min_eye_coverage : float
        Below this valid-gaze coverage: EYE_LOW_COVERAGE.
    restart_gap_periods : float
        An EEG interval longer than this many periods restarts the window grid.
    max_behind : int
        More due windows than this at once: skip to the newest and log it.
    gaze_wait_s : float
        How long (EEG time) a due window waits for gaze to reach its end, seconds.
    """

    window_s: float = 4.0
    step_s: float = 1.0
    sfreq: float = 200.0
    gaze_sfreq: float = 0.0
    min_eeg_fraction: float = 0.95
    min_eye_coverage: float = 0.5
    restart_gap_periods: float = 3.0
    max_behind: int = 5
    gaze_wait_s: float = 0.25

    def __post_init__(self) -> None:
        for name in ("window_s", "step_s", "sfreq"):
            v = getattr(self, name)
            if not v > 0:
                raise ValueError(f"WindowSettings.{name} must be > 0; got {v}.")
        for name in ("window_s", "step_s"):
            n = getattr(self, name) * self.sfreq
            if abs(n - round(n)) > 1e-6:
                raise ValueError(
                    f"WindowSettings.{name}={getattr(self, name)} s is {n:g} samples at "
                    f"{self.sfreq:g} Hz; it must be a whole number of samples. Pick a "
                    f"multiple of {1 / self.sfreq:g} s."
                )
        if not 0 < self.min_eeg_fraction <= 1 or not 0 <= self.min_eye_coverage <= 1:
            raise ValueError(
                "min_eeg_fraction must be in (0, 1] and min_eye_coverage in [0, 1]; got "
                f"{self.min_eeg_fraction} and {self.min_eye_coverage}."
            )
        if self.gaze_sfreq < 0 or self.gaze_wait_s < 0 or self.restart_gap_periods <= 1:
            raise ValueError(
                "gaze_sfreq and gaze_wait_s must be >= 0 and restart_gap_periods > 1; got "
                f"{self.gaze_sfreq}, {self.gaze_wait_s}, {self.restart_gap_periods}."
            )
        if int(self.max_behind) != self.max_behind or self.max_behind < 1:
            raise ValueError(f"max_behind must be a positive integer; got {self.max_behind}.")

    @property
    def n_window(self) -> int:
        """Samples per window."""
        return round(self.window_s * self.sfreq)

    @property
    def n_step(self) -> int:
        """Samples between window ends."""
        return round(self.step_s * self.sfreq)


def _overlaps(gaps: Iterable[tuple[float, float]], t0: float, t1: float) -> bool:
    # A gap (g0, g1) is the open interval between two samples; it overlaps [t0, t1) when it
    # has any part inside.
    return any(g0 < t1 and g1 > t0 for g0, g1 in gaps)


#: Gaze has passed a window's end once a sample lies within this many periods of it.
GAZE_PASSED_PERIODS = 0.75


class WindowCutter:
    """Cuts windows on the EEG sample grid (see the module docstring).

    Parameters
    ----------
    settings : WindowSettings
    gaze_cutoffs : iterable of (t_end, gaze_end)
        A replay's recorded gaze cut-offs (LSL seconds; :attr:`Window.gaze_end`): the window
        ending at ``t_end`` (within half an EEG period) takes only gaze stamped before
        ``gaze_end``, as the recorded session did.

    Attributes
    ----------
    next_end_index : int | None
        Absolute EEG buffer index one past the next window's last sample (None before the
        first call or after :meth:`reset`).
    n_skipped : int
        Windows skipped because the caller fell behind or the buffer overwrote them.
    n_restarts : int
        Grid restarts after EEG timestamp jumps.
    """

    def __init__(self, settings: WindowSettings, gaze_cutoffs: Iterable[tuple[float, float]] = ()):
        self.settings = settings
        cut = sorted((float(t), float(g)) for t, g in gaze_cutoffs)
        self._cutoff_t = np.array([t for t, _ in cut])
        self._cutoff_g = np.array([g for _, g in cut])
        self.next_end_index: int | None = None
        self.n_skipped = 0
        self.n_restarts = 0
        # (t_end, newest gaze stamp) of windows cut before a gaze sample at or after their end.
        self._unsettled: list[tuple[float, float]] = []

    def recorded_gaze_end(self, t_end: float) -> float | None:
        """The gaze cut-off recorded for the window ending at ``t_end`` (within half an EEG
        period), or None."""
        i = int(np.searchsorted(self._cutoff_t, t_end))
        for j in (i - 1, i):
            if (
                0 <= j < self._cutoff_t.size
                and abs(self._cutoff_t[j] - t_end) < 0.5 / self.settings.sfreq
            ):
                return float(self._cutoff_g[j])
        return None

    def settle_gaze(self, timestamps: np.ndarray) -> list[tuple[float, float]]:
        """Cut-offs ``(t_end, gaze_end)`` of the windows already cut that the first of these
        new gaze samples falls into (see the module docstring); empty in the usual case.

        Parameters
        ----------
        timestamps : array of shape (n_samples,)
            Stamps of gaze samples newer than any in the buffer, LSL seconds, increasing.
        """
        if not self._unsettled or not len(timestamps):
            return []
        first = float(timestamps[0])
        late = [(t, float(np.nextafter(g, np.inf))) for t, g in self._unsettled if first < t]
        self._unsettled.clear()  # newer gaze than any cut window saw: each is settled now
        return late

    def reset(self) -> None:
        """Start the grid over at the oldest sample held at the next :meth:`cut` call."""
        self.next_end_index = None

    def cut(
        self,
        eeg: RingBuffer,
        gaze: RingBuffer | None = None,
        *,
        eeg_gaps: Iterable[tuple[float, float]] = (),
        gaze_gaps: Iterable[tuple[float, float]] = (),
        eeg_stale: bool = False,
        eye_stale: bool = False,
        timestamp_faults: Iterable[float] = (),
    ) -> list[Window]:
        """Cut every window that is due now, oldest first.

        Parameters
        ----------
        eeg : RingBuffer
            Model channels, volts, at ``settings.sfreq``.
        gaze : RingBuffer | None
            Five columns (:data:`GAZE_COLUMNS`); None when there is no gaze stream.
        eeg_gaps, gaze_gaps : iterable of (float, float)
            Gaps recorded by the inlets, LSL seconds.
        eeg_stale, eye_stale : bool
            Current watchdog status of each stream.
        timestamp_faults : iterable of float
            Stamps of dropped backward/duplicate samples, LSL seconds.

        Returns
        -------
        windows : list of Window
        """
        s = self.settings
        if eeg.n_channels < 1:
            raise ValueError("the EEG buffer has no channels.")
        if gaze is not None and gaze.n_channels != len(GAZE_COLUMNS):
            raise ValueError(
                f"the gaze buffer must have {len(GAZE_COLUMNS)} columns {GAZE_COLUMNS}; it has "
                f"{gaze.n_channels}."
            )
        eeg_gaps, gaze_gaps = list(eeg_gaps), list(gaze_gaps)
        faults = np.asarray(list(timestamp_faults), dtype=np.float64)
        n_win, n_step, period = s.n_window, s.n_step, 1.0 / s.sfreq
        gaze_margin = GAZE_PASSED_PERIODS / s.gaze_sfreq if s.gaze_sfreq > 0 else 0.0
        out: list[Window] = []
        total = eeg.n_total
        if self.next_end_index is None:
            if total == 0:
                return out
            self.next_end_index = eeg.first_index + n_win
        while self.next_end_index <= total:
            due = (total - self.next_end_index) // n_step + 1
            if due > s.max_behind:
                skip = due - 1
                self.next_end_index += skip * n_step
                self.n_skipped += skip
                logger.warning(
                    "windowing fell %d windows behind; skipped %d to stay current.", due, skip
                )
            i1 = self.next_end_index
            i0 = i1 - n_win
            first = eeg.first_index
            if i0 < first:
                # Overwritten already: the buffer is too small for this lag.
                skip = -(-(first - i0) // n_step)
                self.next_end_index += skip * n_step
                self.n_skipped += skip
                logger.warning(
                    "EEG buffer overwrote %d due windows before they were cut; skipped them.",
                    skip,
                )
                continue
            data, ts = eeg.get_index_range(i0, i1)
            jumps = np.flatnonzero(np.diff(ts) > s.restart_gap_periods * period)
            if jumps.size:
                restart = i0 + int(jumps[-1]) + 1
                self.next_end_index = restart + n_win
                self.n_restarts += 1
                logger.info(
                    "EEG timestamps jump %.3f s at %.3f; window grid restarts after it.",
                    float(ts[jumps[-1] + 1] - ts[jumps[-1]]),
                    float(ts[jumps[-1]]),
                )
                continue
            t_end = float(ts[-1]) + period
            t_start = t_end - s.window_s
            gaze_end = self.recorded_gaze_end(t_end) if self._cutoff_t.size else None
            if gaze is not None and not eye_stale:
                g_newest = gaze.newest_timestamp
                eeg_newest = eeg.newest_timestamp
                # A replay waits only for the gaze the recorded session had.
                need = t_end if gaze_end is None else min(t_end, gaze_end)
                passed = g_newest is not None and g_newest >= need - gaze_margin
                if not passed and eeg_newest < t_end + s.gaze_wait_s:
                    break  # gaze has not caught up yet; try again on the next call
                if gaze_end is None and not passed:
                    # Closed by gaze_wait_s with the gaze that had arrived: recorded so a
                    # replay (all gaze there at once) cuts the same samples.
                    gaze_end = (
                        t_start if g_newest is None else float(np.nextafter(g_newest, np.inf))
                    )
                elif gaze_end is None and g_newest < t_end:
                    self._unsettled.append((t_end, g_newest))
            flags: set[str] = set()
            if eeg_stale:
                flags.add(Flag.EEG_STALE)
            covered = float(ts[-1] - ts[0]) + period
            if n_win * period < s.min_eeg_fraction * covered or _overlaps(eeg_gaps, t_start, t_end):
                flags.add(Flag.EEG_GAP)
            if not np.isfinite(data).all():
                flags.add(Flag.EEG_NONFINITE)
            if faults.size and np.any((faults >= t_start) & (faults < t_end)):
                flags.add(Flag.TIMESTAMP_FAULT)
            g_stop = t_end if gaze_end is None else max(t_start, min(t_end, gaze_end))
            g, gts = self._gaze_part(gaze, t_start, g_stop, eye_stale, gaze_gaps, flags)
            out.append(
                Window(
                    t_end=t_end,
                    window_s=s.window_s,
                    eeg=data.T,
                    sfreq=s.sfreq,
                    gaze_timestamps=gts,
                    gaze=g,
                    eeg_valid=not (flags & _EEG_INVALID),
                    eye_valid=gaze is not None and not (flags & _EYE_INVALID),
                    flags=frozenset(flags),
                    gaze_end=gaze_end,
                )
            )
            self.next_end_index += n_step
        return out

    def _gaze_part(self, gaze, t_start, t_end, eye_stale, gaze_gaps, flags: set[str]):
        """Gaze samples of ``[t_start, t_end)`` by timestamp; adds the eye flags."""
        s = self.settings
        if gaze is None:
            g, gts = np.empty((0, len(GAZE_COLUMNS))), np.empty(0)
        else:
            g, gts = gaze.get_range(t_start, t_end)
        if eye_stale:
            flags.add(Flag.EYE_STALE)
        if gts.size == 0:
            flags.add(Flag.EYE_MISSING)
        else:
            valid = (g[:, 4] > 0.5) & np.isfinite(g[:, 0]) & np.isfinite(g[:, 1])
            n_valid = int(np.count_nonzero(valid))
            expected = s.window_s * s.gaze_sfreq if s.gaze_sfreq > 0 else gts.size
            if min(1.0, n_valid / expected) < s.min_eye_coverage:
                flags.add(Flag.EYE_LOW_COVERAGE)
            if _overlaps(gaze_gaps, t_start, t_end):
                flags.add(Flag.EYE_GAP)
        return g, gts

    def cut_eye_only(
        self, gaze: RingBuffer, *, after: float, gaze_gaps: Iterable[tuple[float, float]] = ()
    ) -> list[Window]:
        """Windows from gaze alone while the EEG is stale: every ``step_s`` after ``after``.

        The EEG sample grid stops with the EEG, so these windows step on the gaze clock from
        the last window end; they carry no EEG (flags ``eeg_stale``, ``eeg_missing``) and give
        eye-only predictions. When the EEG returns, :meth:`cut` restarts its grid after the gap.
        """
        s = self.settings
        out: list[Window] = []
        newest = gaze.newest_timestamp
        if newest is None:
            return out
        t_end = after + s.step_s
        n_due = int((newest - t_end) // s.step_s) + 1 if newest >= t_end else 0
        if n_due > s.max_behind:
            t_end += (n_due - 1) * s.step_s
        gaze_gaps = list(gaze_gaps)
        while t_end <= newest:
            flags = {Flag.EEG_STALE, Flag.EEG_MISSING}
            g, gts = self._gaze_part(gaze, t_end - s.window_s, t_end, False, gaze_gaps, flags)
            out.append(
                Window(
                    t_end=t_end,
                    window_s=s.window_s,
                    eeg=None,
                    sfreq=s.sfreq,
                    gaze_timestamps=gts,
                    gaze=g,
                    eeg_valid=False,
                    eye_valid=not (flags & _EYE_INVALID),
                    flags=frozenset(flags),
                )
            )
            t_end += s.step_s
        return out
