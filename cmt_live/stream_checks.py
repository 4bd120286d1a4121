"""Timestamp sanity checks for one stream (pure: no LSL, no threads, no clock reads).

:class:`TimestampChecker` sees every pulled chunk before it reaches the ring buffer and
returns what may go in, plus counts of what was wrong (LSL.md §6):

- **Backward jumps and duplicates**: a sample stamped at or before the newest accepted stamp is
  *dropped* and counted, for EEG and gaze alike. Re-stamping (moving the sample to just after
  the previous one) was rejected: it invents a time the device never reported, and windows are
  aligned across streams by time, so a wrong stamp is worse than a missing sample. Dropping
  keeps the buffer monotonic, which :meth:`cmt_live.ring_buffer.RingBuffer.get_range` needs.
  A duplicate run from an eye tracker that stamps on write (PyGaze#173) loses its repeats only.
- **Huge offsets**: ``|t - now| > offset_limit_s`` (default 60 s) means the sender stamps with
  another clock (OpenBCI_GUI#775). Such samples are kept (EEG windows only need self-consistent
  stamps) but counted, and logged once per stream; gaze alignment will then fail visibly
  (no gaze in the EEG windows), which is the honest outcome.
- **Gaps**: for a regular stream (EEG) an inter-sample interval above ``gap_periods`` (default 3)
  nominal periods; for an irregular or jittery one (gaze) above ``gap_s`` (default 0.5 s).
  Each gap is recorded as ``(t_last_before, t_first_after)`` in LSL seconds.
- **Non-finite samples** pass through (the windows decide what to do) but are counted.
- **Effective rate**: samples per second *stamped* within the last ``rate_window_s`` (default
  5 s) of the caller's clock, so it falls to 0 while a stream is silent and a start-up backlog
  pulled at once counts over the time it covers, not as one burst (it read 22,249 Hz).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ._logging import logger


@dataclass(frozen=True)
class CheckResult:
    """What :meth:`TimestampChecker.check` made of one chunk.

    Parameters
    ----------
    data : array of shape (n_kept, n_channels)
        Samples to buffer (the input minus dropped ones; a view when nothing was dropped).
    timestamps : array of shape (n_kept,), float64
        Strictly increasing LSL seconds.
    n_backward : int
        Samples dropped because their stamp went backwards (before the newest accepted one).
    n_duplicate : int
        Samples dropped because their stamp equalled the newest accepted one.
    n_offset : int
        Kept samples more than ``offset_limit_s`` away from ``now``.
    n_nonfinite : int
        Kept samples with at least one NaN/Inf value.
    gaps : tuple of (float, float)
        Gaps found in this chunk (including the one before its first sample).
    fault_timestamps : array of shape (n_backward + n_duplicate,)
        The stamps of the dropped samples, LSL seconds.
    """

    data: np.ndarray
    timestamps: np.ndarray
    n_backward: int = 0
    n_duplicate: int = 0
    n_offset: int = 0
    n_nonfinite: int = 0
    gaps: tuple[tuple[float, float], ...] = field(default_factory=tuple)
    fault_timestamps: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def n_dropped(self) -> int:
        return self.n_backward + self.n_duplicate


class TimestampChecker:
    """Stateful per-stream timestamp checker (see the module docstring for the policy).

    Parameters
    ----------
    nominal_srate : float
        Declared rate in Hz; 0 for irregular streams.
    kind : ``"eeg"`` | ``"gaze"``
        EEG gaps are measured in nominal periods, gaze gaps in seconds.
    gap_periods : float
        EEG: an interval longer than this many nominal periods is a gap.
    gap_s : float
        Gaze (or any irregular stream): an interval longer than this is a gap, seconds.
    offset_limit_s : float
        A stamp further than this from ``now`` counts as a huge offset, seconds.
    rate_window_s : float
        Span of the effective-rate estimate, seconds of the caller's clock.
    max_gaps : int
        Gaps remembered (the oldest are forgotten; :attr:`n_gaps` keeps counting).
    name : str
        For log messages.
    """

    def __init__(
        self,
        nominal_srate: float,
        *,
        kind: str = "eeg",
        gap_periods: float = 3.0,
        gap_s: float = 0.5,
        offset_limit_s: float = 60.0,
        rate_window_s: float = 5.0,
        max_gaps: int = 100,
        name: str = "",
    ):
        if kind not in ("eeg", "gaze"):
            raise ValueError(f"kind must be 'eeg' or 'gaze'; got {kind!r}.")
        if not nominal_srate >= 0:
            raise ValueError(f"nominal_srate must be >= 0 Hz (0 = irregular); got {nominal_srate}.")
        if kind == "eeg" and nominal_srate <= 0:
            raise ValueError(
                "An EEG stream needs a regular nominal rate (> 0 Hz); this one declares "
                f"{nominal_srate}. Fix the outlet's nominal_srate."
            )
        for arg, v in (("gap_periods", gap_periods), ("gap_s", gap_s)):
            if not v > 0:
                raise ValueError(f"{arg} must be > 0; got {v}.")
        self.kind = kind
        self.nominal_srate = float(nominal_srate)
        self.name = name
        if kind == "eeg":
            self.gap_threshold_s = gap_periods / self.nominal_srate
        else:
            self.gap_threshold_s = float(gap_s)
        self.offset_limit_s = float(offset_limit_s)
        self.rate_window_s = float(rate_window_s)
        self._arrivals: deque[np.ndarray] = deque()  # accepted stamps, one array per chunk
        self._t_first_stamp: float | None = None
        self.last_timestamp: float | None = None
        self.gaps: deque[tuple[float, float]] = deque(maxlen=max_gaps)
        self.n_gaps = 0
        self.n_samples = 0  # accepted
        self.n_backward = 0
        self.n_duplicate = 0
        self.n_offset = 0
        self.n_nonfinite = 0
        self._offset_logged = False
        self._backward_logged = False

    @property
    def n_timestamp_faults(self) -> int:
        """Backward jumps plus duplicate stamps seen so far (samples)."""
        return self.n_backward + self.n_duplicate

    def check(self, data: np.ndarray, timestamps: np.ndarray, now: float) -> CheckResult:
        """Check one chunk and update the counters.

        Parameters
        ----------
        data : array of shape (n_samples, n_channels)
        timestamps : array of shape (n_samples,)
            LSL seconds as pulled (after clock correction).
        now : float
            The caller's LSL clock (``pylsl.local_clock()``), for offsets and the rate.

        Returns
        -------
        result : CheckResult
        """
        data = np.asarray(data)
        ts = np.asarray(timestamps, dtype=np.float64)
        if ts.ndim != 1 or data.shape[:1] != ts.shape:
            raise ValueError(
                f"check needs data (n_samples, n_channels) and timestamps (n_samples,); got "
                f"{data.shape} and {ts.shape}."
            )
        n = ts.shape[0]
        if n == 0:
            self._note_arrival(now)
            return CheckResult(data, ts)
        # A sample is kept when its stamp exceeds every stamp accepted before it. The running
        # maximum makes that one vectorised comparison.
        prev = -np.inf if self.last_timestamp is None else self.last_timestamp
        run_max = np.maximum.accumulate(np.concatenate(([prev], ts)))[:-1]
        keep = ts > run_max
        n_dup = int(np.count_nonzero(ts == run_max))
        n_back = int(np.count_nonzero(ts < run_max))
        faults = np.empty(0)
        if n_dup or n_back:
            faults = ts[~keep]
            self.n_duplicate += n_dup
            self.n_backward += n_back
            if not self._backward_logged:
                logger.warning(
                    "stream %r: %d backward and %d duplicate timestamps dropped (first at "
                    "%.6f s); further ones are counted in the stream health.",
                    self.name,
                    n_back,
                    n_dup,
                    float(ts[~keep][0]),
                )
                self._backward_logged = True
            data, ts = data[keep], ts[keep]
        gaps: list[tuple[float, float]] = []
        if ts.size:
            full = ts if self.last_timestamp is None else np.concatenate(([prev], ts))
            d = np.diff(full)
            for i in np.flatnonzero(d > self.gap_threshold_s):
                gaps.append((float(full[i]), float(full[i + 1])))
            self.gaps.extend(gaps)
            self.n_gaps += len(gaps)
            self.last_timestamp = float(ts[-1])
        n_off = int(np.count_nonzero(np.abs(ts - now) > self.offset_limit_s))
        if n_off:
            self.n_offset += n_off
            if not self._offset_logged:
                logger.warning(
                    "stream %r: timestamps %.1f s away from this machine's LSL clock (limit "
                    "%.0f s); the sender may stamp with a non-LSL clock.",
                    self.name,
                    float(ts[-1] - now),
                    self.offset_limit_s,
                )
                self._offset_logged = True
        n_nonfinite = 0
        if ts.size and np.issubdtype(data.dtype, np.floating):
            n_nonfinite = int(np.count_nonzero(~np.isfinite(data).all(axis=1)))
        self.n_nonfinite += n_nonfinite
        self.n_samples += int(ts.size)
        self._note_arrival(now, ts)
        return CheckResult(data, ts, n_back, n_dup, n_off, n_nonfinite, tuple(gaps), faults)

    def _note_arrival(self, now: float, ts: np.ndarray | None = None) -> None:
        if ts is not None and ts.size:
            if self._t_first_stamp is None:
                self._t_first_stamp = float(ts[0])
            self._arrivals.append(ts.copy())
        while self._arrivals and self._arrivals[0][-1] <= now - self.rate_window_s:
            self._arrivals.popleft()

    def effective_rate(self, now: float) -> float:
        """Samples per second stamped within the last ``rate_window_s`` (0 before any sample).

        Over the first seconds the span starts at the first sample's stamp, so the estimate is
        not diluted by the empty time before the stream started, and samples that waited in
        the inlet before the first pull count over the time they cover.
        """
        self._note_arrival(now)
        if self._t_first_stamp is None:
            return 0.0
        lo = max(now - self.rate_window_s, self._t_first_stamp)
        if now - lo <= 0:
            return 0.0
        total = sum(int(np.count_nonzero(a > lo)) for a in self._arrivals)
        return total / (now - lo)

    def note_gap(self, t0: float, t1: float) -> None:
        """Record a gap found elsewhere (e.g. the watchdog's outage span), LSL seconds."""
        self.gaps.append((float(t0), float(t1)))
        self.n_gaps += 1


class Dejitterer:
    """Smooth the stamps of a regular stream, restarting at every gap (pure, stateful).

    liblsl's own dejitter (``proc_dejitter``) is not used: it fits ``stamp = a + b * count``
    by RLS with a 90 s half-time and does not know about gaps, so a 1.5 s pause at the source
    was smeared over the following samples (stamps up to 0.49 s in the future and dozens of
    phantom 15-25 ms "gaps", measured on loopback), and backward stamps vanish into the fit
    before anyone can count them. Here the checks see the clock-corrected raw stamps first,
    then this smoother maps sample ``n`` of the current segment (since the last gap) to
    ``t0 + n / sfreq + offset``, ``offset`` being an exponentially weighted mean of the raw
    residuals (half-time ``halftime_s``). The nominal rate is trusted: a 50 ppm clock drift
    biases stamps by ``50e-6 * halftime_s`` (0.5 ms at 10 s).

    Parameters
    ----------
    sfreq : float
        Nominal rate, Hz (> 0).
    halftime_s : float
        Half-time of the offset average, seconds.
    """

    def __init__(self, sfreq: float, *, halftime_s: float = 10.0):
        if not sfreq > 0 or not halftime_s > 0:
            raise ValueError(
                f"Dejitterer needs sfreq > 0 and halftime_s > 0; got {sfreq}, {halftime_s}."
            )
        self.sfreq = float(sfreq)
        self.decay = 0.5 ** (1.0 / (halftime_s * self.sfreq))
        self.reset()

    def reset(self) -> None:
        """Start a new segment at the next sample (after a gap)."""
        self._t0: float | None = None
        self._n = 0  # samples in the segment so far
        self._sw = 0.0  # weighted count
        self._sr = 0.0  # weighted sum of residuals

    def process(self, timestamps: np.ndarray, gaps=()) -> np.ndarray:
        """Smoothed stamps for consecutive samples (after the checks dropped faulty ones).

        Parameters
        ----------
        timestamps : array of shape (n,)
            Strictly increasing raw (clock-corrected) LSL seconds.
        gaps : iterable of (float, float)
            The gaps :class:`TimestampChecker` found in this chunk; each restarts the segment
            at the sample stamped ``t_first_after``.

        Returns
        -------
        smoothed : array of shape (n,), float64
        """
        ts = np.asarray(timestamps, dtype=np.float64)
        out = np.empty_like(ts)
        restart_at = {g1 for _, g1 in gaps}
        period, decay = 1.0 / self.sfreq, self.decay
        # A Python loop over stamps only (not channels): ~1 us per sample.
        for i, t in enumerate(ts.tolist()):
            if self._t0 is None or t in restart_at:
                self.reset()
                self._t0 = t
            r = t - (self._t0 + self._n * period)
            self._sw = decay * self._sw + 1.0
            self._sr = decay * self._sr + r
            out[i] = self._t0 + self._n * period + self._sr / self._sw
            self._n += 1
        return out


class BacklogFilter:
    """Drop a fresh inlet's start-up backlog: samples stamped before it opened (pure).

    An outlet may hand a new inlet what it buffered before the connection; those samples are
    older than the session and would open it with a burst of stale data. Until the first
    sample stamped at or after ``t_open - tolerance_s`` arrives, or until ``max_wait_s`` after
    :meth:`restart` (caller's clock), older samples are dropped and counted; after that the
    filter is off for good.

    Parameters
    ----------
    t_open : float
        When the inlet opened, LSL seconds.
    tolerance_s : float
        Samples stamped up to this long before ``t_open`` are kept, seconds.
    max_wait_s : float
        The filter turns itself off this long after :meth:`restart`, seconds.
    name : str
        Stream name, for the log.
    """

    def __init__(
        self,
        t_open: float,
        *,
        tolerance_s: float = 0.5,
        max_wait_s: float = 2.0,
        name: str = "",
    ):
        self.name = name
        self.t_open = float(t_open)
        self.tolerance_s = float(tolerance_s)
        self.max_wait_s = float(max_wait_s)
        self.n_dropped = 0
        self._until: float | None = self.t_open + self.max_wait_s

    @property
    def active(self) -> bool:
        return self._until is not None

    def restart(self, now: float) -> None:
        """The reader starts at ``now``: the ``max_wait_s`` deadline counts from here."""
        if self._until is not None:
            self._until = float(now) + self.max_wait_s

    def filter(
        self, data: np.ndarray, timestamps: np.ndarray, now: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(data (n_kept, n_channels), timestamps (n_kept,))`` without the backlog."""
        if self._until is None:
            return data, timestamps
        keep = timestamps >= self.t_open - self.tolerance_s
        if not keep.all():
            self.n_dropped += int(np.count_nonzero(~keep))
            data, timestamps = data[keep], timestamps[keep]
        if keep.any() or now > self._until:
            if self.n_dropped:
                logger.info(
                    "stream %r: dropped %d start-up backlog samples.", self.name, self.n_dropped
                )
            self._until = None
        return data, timestamps
