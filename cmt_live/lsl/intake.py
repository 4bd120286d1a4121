"""From pulled samples to the ring buffer: volts, start-up backlog, timestamp checks, dejitter.

No LSL and no clock reads: :class:`cmt_live.lsl.inlet.StreamInput`'s reader thread pulls a
chunk and hands it to :meth:`Intake.push` with its arrival time; the other threads read the
checker's counters under :attr:`Intake.lock`. The order matters:

1. scale to volts (EEG) into a preallocated float64 array;
2. drop the start-up backlog (:class:`cmt_live.stream_checks.BacklogFilter`);
3. check the stamps (:class:`cmt_live.stream_checks.TimestampChecker`: backward/duplicate
   stamps dropped and counted, gaps recorded, NaN counted, huge offsets flagged) *before* any
   smoothing, which would hide faults;
4. EEG only: dejitter (:class:`cmt_live.stream_checks.Dejitterer`, restarted at every gap),
   never moving a stamp before the newest buffered one;
5. push to the :class:`cmt_live.ring_buffer.RingBuffer`.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

from cmt_live.ring_buffer import RingBuffer
from cmt_live.stream_checks import BacklogFilter, Dejitterer, TimestampChecker

#: Rate assumed to size the buffer of an irregular stream, Hz.
IRREGULAR_BUFFER_RATE = 500.0


class Intake:
    """Checks and buffers one stream's samples (single writer: the reader thread).

    Parameters
    ----------
    name : str
        Stream name, for messages.
    kind : ``"eeg"`` | ``"gaze"``
        Gaps and stamps are judged per kind; gaze is never dejittered.
    sfreq : float
        Nominal rate, Hz (0 for irregular).
    scale : array of shape (n_channels,)
        Factors applied to the pulled values (to volts for EEG; ones for gaze).
    buffer_s : float
        Seconds the ring buffer holds (irregular streams: at :data:`IRREGULAR_BUFFER_RATE`).
    max_chunk : int
        Largest chunk :meth:`push` takes, samples.
    t_open : float
        When the inlet opened, LSL seconds (start of the backlog filter).
    backlog_tolerance_s : float
        Samples stamped up to this long before ``t_open`` are not backlog, seconds.
    dejitter : bool
        EEG only: smooth the stamps after the checks.

    Attributes
    ----------
    buffer : RingBuffer
        ``(n, n_channels)`` float64 samples (EEG in volts), float64 LSL timestamps.
    checker : TimestampChecker
    dejitter : Dejitterer | None
    backlog : BacklogFilter
    lock : threading.Lock
        Held while the checker changes; hold it to read the checker from another thread.
    latency_s : float
        Arrival time minus the stamp of the newest accepted sample, seconds.
    """

    def __init__(
        self,
        *,
        name: str,
        kind: str,
        sfreq: float,
        scale: np.ndarray,
        buffer_s: float,
        max_chunk: int,
        t_open: float,
        backlog_tolerance_s: float = 0.5,
        dejitter: bool = True,
    ):
        if not buffer_s > 0:
            raise ValueError(f"buffer_s must be > 0 s; got {buffer_s}.")
        self.scale = np.asarray(scale, dtype=np.float64)
        n_ch = self.scale.size
        rate = sfreq if sfreq > 0 else IRREGULAR_BUFFER_RATE
        size = max(int(np.ceil(buffer_s * rate)), int(max_chunk))
        self.buffer = RingBuffer(n_ch, size, np.float64, name=name)
        self.checker = TimestampChecker(sfreq, kind=kind, name=name)
        self.dejitter = Dejitterer(sfreq) if (kind == "eeg" and dejitter) else None
        self.backlog = BacklogFilter(t_open, tolerance_s=backlog_tolerance_s, name=name)
        self.lock = threading.Lock()
        self.latency_s = 0.0
        # The buffer's newest stamp, kept here: this is the buffer's only writer (and nothing
        # clears it), so a push need not take the buffer's lock a second time to read it.
        self._newest: float | None = None
        self._scaled = np.zeros((int(max_chunk), n_ch), dtype=np.float64)
        self._faults: deque[float] = deque(maxlen=1000)

    @property
    def timestamp_faults(self) -> tuple[float, ...]:
        """Stamps of the samples dropped as backward/duplicate (the most recent 1000)."""
        with self.lock:
            return tuple(self._faults)

    def push(
        self, raw: np.ndarray, timestamps: np.ndarray, now: float
    ) -> tuple[bool, list[tuple[str, str, float]]]:
        """Check and buffer one pulled chunk.

        Parameters
        ----------
        raw : array of shape (n, n_channels)
            As pulled (the stream's dtype and unit).
        timestamps : array of shape (n,)
            LSL seconds, as pulled.
        now : float
            Arrival time, LSL seconds.

        Returns
        -------
        fed : bool
            False if the whole chunk was start-up backlog (nothing reached the checks).
        events : list of (kind, message, t)
            ``"timestamp_fault"`` (the first faults of the stream) and ``"gap"`` events.
        """
        data = self._scaled[: raw.shape[0]]
        np.multiply(raw, self.scale, out=data)
        data, ts = self.backlog.filter(data, timestamps, now)
        if ts.size == 0:
            return False, []
        with self.lock:
            n_faults_before = self.checker.n_timestamp_faults
            res = self.checker.check(data, ts, now)
            self._faults.extend(res.fault_timestamps.tolist())
            if res.timestamps.size:
                self.latency_s = now - float(res.timestamps[-1])
        events = []
        if self.checker.n_timestamp_faults and not n_faults_before:
            events.append(
                (
                    "timestamp_fault",
                    f"{res.n_backward} backward, {res.n_duplicate} duplicate stamps dropped",
                    now,
                )
            )
        for g0, g1 in res.gaps:
            events.append(("gap", f"gap of {g1 - g0:.3f} s from {g0:.3f} to {g1:.3f}", now))
        stamps = res.timestamps
        if self.dejitter is not None and stamps.size:
            stamps = self.dejitter.process(stamps, res.gaps)
            # Smoothing must not move a segment's first stamp before the previous one.
            newest = self._newest
            if newest is not None and stamps[0] <= newest:
                stamps = np.maximum(stamps, np.nextafter(newest, np.inf))
        self.buffer.push(res.data, stamps)
        if stamps.size:
            self._newest = float(stamps[-1])
        return True, events
