"""One LSL input stream: :class:`StreamInput` (inlet, reader thread, checks, ring buffer).

Call :func:`cmt_live.lsl.config.use_loopback_config` (or set ``LSLAPICFG``) before this module
imports ``pylsl``; it is imported lazily, inside the functions. Finding the stream is
:mod:`cmt_live.lsl.resolve` (import :func:`~cmt_live.lsl.resolve.resolve_stream` and
:class:`~cmt_live.lsl.resolve.StreamResolutionError` from there); the connection state is
:mod:`cmt_live.lsl.recovery`.

Typical use (the live loop)::

    from cmt_live.lsl.resolve import resolve_stream

    info = resolve_stream("EEG", stype="EEG", source_id=args.eeg_source_id, timeout=5)
    eeg = StreamInput(info, kind="eeg", buffer_s=30)     # starts its reader thread
    idx = match_channels(eeg.ch_names, contract_channels, args.channel_map)
    ...
    data, ts = eeg.read_new()      # (n, n_channels) volts, (n,) LSL s; each sample once
    h = eeg.health()               # StreamHealth for the sinks
    for kind, message, t in eeg.pop_events(): ...
    eeg.close()

What :class:`StreamInput` does about LSL.md's checklist:

- Postprocessing: ``proc_clocksync`` only (none for streams from this host, which already
  share its clock), so stamps are on this machine's LSL clock and the checks see what the
  sender stamped. Gaze is never dejittered (dejitter put jittery gaze stamps
  -31...+53 ms off here, and it is wrong for irregular streams). EEG stamps are dejittered
  *after* the checks (:mod:`cmt_live.lsl.intake`); liblsl's ``proc_dejitter`` was tried first
  and smeared a 1.5 s pause over the next samples (stamps 0.49 s in the future) and would
  hide backward stamps from the checks.
- One reader thread per inlet, pulling into a preallocated array with ``pull_chunk(dest_obj=)``
  (the stream's own dtype, shape ``(max_chunk, n_channels)``), handing each chunk to an
  :class:`~cmt_live.lsl.intake.Intake` (volts, start-up backlog, checks, dejitter, buffer).
- Watchdog and recovery (:mod:`cmt_live.lsl.recovery` decides, the reader acts): inlets are
  opened with ``recover=False``, so a vanished outlet raises ``LostError`` at once; no sample
  for ``stale_after_s`` (EEG: ``max(0.5 s, 10 periods)``; gaze: 1 s) -> ``"stale"``, well
  before liblsl's own 15 s watchdog; then re-resolution by the pinned identity (with backoff,
  for as long as the session runs) and a **fresh** inlet (never the old one reopened:
  sccn/liblsl#180). Outages end up in :attr:`StreamInput.gaps`; one longer than
  ``lost_after_s`` is told once as ``"lost"``.
- A stream that comes back with another channel count, nominal rate, channel format, channel
  labels or units is refused (:func:`cmt_live.lsl.resolve.format_change`,
  :func:`~cmt_live.lsl.resolve.description_change`); none of its data are fed.
- :meth:`StreamInput.close` is prompt: liblsl calls in the reader block at most
  :data:`~cmt_live.lsl.resolve.RERESOLVE_TIMEOUT_S` (opening a fresh inlet waits in slices of
  :data:`_OPEN_SLICE_S` and gives up when asked to stop).
- ``was_clock_reset()`` is polled after each pull; a reset is logged and counted (with
  ``proc_clocksync`` liblsl re-estimates the offset itself).
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from dataclasses import replace

import numpy as np

from cmt_live._logging import logger
from cmt_live.records import StreamHealth

from . import recovery as rec
from .description import read_meta
from .intake import Intake
from .recovery import RecoveryMachine, RecoverySettings
from .resolve import (
    KINDS,
    StreamFormat,
    StreamResolutionError,
    check_format,
    describe,
    description_change,
    find_again,
    format_change,
)

#: How often the reader looks again when it has no inlet, seconds.
_POLL_S = 0.05
#: Opening an inlet waits in slices this long, so a stop request is seen promptly, seconds.
_OPEN_SLICE_S = 0.25
#: Deadline for opening a fresh inlet during recovery (a resolved stream on this machine
#: answers in milliseconds), seconds.
_REOPEN_TIMEOUT_S = 2.0


class StreamInput:
    """One LSL input stream: inlet, reader thread, watchdog, checks and a ring buffer.

    Parameters
    ----------
    info : pylsl.StreamInfo
        From :func:`cmt_live.lsl.resolve.resolve_stream`.
    kind : ``"eeg"`` | ``"gaze"``
        Chooses postprocessing, gap/staleness rules and unit handling (see module docstring).
    buffer_s : float
        Seconds the ring buffer holds (at the nominal rate; irregular streams assume 500 Hz).
    unit : str | None
        EEG only: overrides the units declared in the description (``"uV"``, ``"V"``, ...).
        When neither declares one, microvolts are assumed and a warning is logged (most
        amplifiers send microvolts).
    ch_names : sequence of str | None
        Overrides the channel labels from the description.
    stale_after_s : float | None
        No sample for this long -> ``"stale"``, seconds. Default: EEG ``max(0.5, 10 / rate)``,
        gaze 1.0 s.
    reresolve_interval_s, reresolve_max_interval_s : float
        First and longest pause between re-resolution attempts, seconds
        (:class:`~cmt_live.lsl.recovery.RecoverySettings`).
    lost_after_s : float | None
        An outage longer than this is ``"lost"`` (event and status), seconds; None never.
    max_chunk : int
        Samples per pull (the preallocated pull buffer's length).
    backlog_tolerance_s : float
        Samples stamped earlier than the inlet's open time minus this are start-up backlog,
        seconds.
    open_timeout_s : float
        Deadline for fetching the full description and opening the stream at start-up,
        seconds (a fresh inlet during recovery gets :data:`_REOPEN_TIMEOUT_S`).
    dejitter : bool
        EEG only: smooth the stamps after the checks (:class:`~cmt_live.stream_checks.
        Dejitterer`, restarted at every gap).
    start : bool
        Start the reader thread now (else call :meth:`start`).

    Attributes
    ----------
    meta : StreamMeta
        Name, type, source_id, hostname, nominal rate, channel labels and units.
    format : StreamFormat
        Channel count, nominal rate and channel format a stream that comes back must match.
    intake : Intake
        Volts, backlog, checks, dejitter and the ring buffer (also as ``buffer``, ``checker``,
        ``dejitter``, ``scale``); ``intake.backlog.n_dropped`` counts the start-up backlog.
    recovery : RecoveryMachine
        The connection state and its ``settings``; driven only by the reader thread.
    """

    def __init__(
        self,
        info,
        *,
        kind: str = "eeg",
        buffer_s: float = 30.0,
        unit: str | None = None,
        ch_names=None,
        stale_after_s: float | None = None,
        reresolve_interval_s: float = 0.125,
        reresolve_max_interval_s: float = 0.25,
        lost_after_s: float | None = None,
        max_chunk: int = 1024,
        backlog_tolerance_s: float = 0.5,
        open_timeout_s: float = 5.0,
        dejitter: bool = True,
        start: bool = True,
    ):
        import pylsl
        from pylsl.util import LostError
        from pylsl.util import TimeoutError as LSLTimeoutError

        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got {kind!r}.")
        check_format(info, kind)
        self.kind = kind
        self._pylsl = pylsl
        # Imported once here, not at every pull of the reader's hot path.
        self._lost_error = LostError
        self._timeout_error = LSLTimeoutError
        # Clock sync only: liblsl's dejitter hides timestamp faults and smears gaps (see
        # stream_checks.Dejitterer); EEG stamps are smoothed after the checks instead. A
        # stream from this host is stamped on our own clock already: its offset is 0 and
        # liblsl's estimate of it only adds microseconds of noise, so no sync there.
        local = info.hostname() == socket.gethostname()
        self._flags = 0 if local else pylsl.proc_clocksync
        self.max_chunk = int(max_chunk)
        self._stop = threading.Event()
        self._inlet = None
        self._inlet, full = self._open_inlet(info, float(open_timeout_s))
        try:
            self._uid = full.uid()
            self.format = StreamFormat.of(full)
            sfreq = self.format.sfreq
            self._unit, self._ch_names = unit, ch_names  # re-applied to a stream that comes back
            self.meta, self.scale = read_meta(full, kind, unit=unit, ch_names=ch_names)
            if stale_after_s is None:
                stale_after_s = max(0.5, 10.0 / sfreq) if (kind == "eeg" and sfreq > 0) else 1.0
            settings = RecoverySettings(
                stale_after_s=float(stale_after_s),
                reresolve_interval_s=float(reresolve_interval_s),
                reresolve_max_interval_s=float(reresolve_max_interval_s),
                lost_after_s=None if lost_after_s is None else float(lost_after_s),
            )
            self._t_open = pylsl.local_clock()
            self.intake = Intake(
                name=self.meta.name,
                kind=kind,
                sfreq=sfreq,
                scale=self.scale,
                buffer_s=buffer_s,
                max_chunk=self.max_chunk,
                t_open=self._t_open,
                backlog_tolerance_s=backlog_tolerance_s,
                dejitter=dejitter,
            )
        except BaseException:
            self._drop_inlet()  # refused (units, settings): nothing else would close it
            raise
        self.buffer = self.intake.buffer
        self.checker = self.intake.checker
        self.dejitter = self.intake.dejitter
        # liblsl writes the stream's dtype here; a stream that comes back in another format
        # is refused, so the dtype never changes.
        self._dest = np.zeros((self.max_chunk, self.format.n_channels), self._inlet.np_dtype)
        self._events: deque[tuple[str, str, float]] = deque(maxlen=1000)
        self.recovery = RecoveryMachine(settings, t=self._t_open)
        self._clock_offset_s = 0.0
        self._t_next_offset = 0.0
        self.n_clock_resets = 0
        self.n_reconnects = 0  # fresh inlets opened after an outage
        self.error: BaseException | None = None  # an unexpected error that ended the thread
        self._thread = threading.Thread(
            target=self._run, name=f"cmt-inlet-{self.meta.name}", daemon=True
        )
        if start:
            self.start()

    # --- construction helpers ----------------------------------------------------------------
    def _open_inlet(self, info, timeout_s: float):
        """A new inlet on ``info`` and its full description; waits in slices of
        :data:`_OPEN_SLICE_S` up to ``timeout_s``, giving up early when asked to stop.

        Raises
        ------
        StreamResolutionError
            No answer within ``timeout_s``, or a stop request; the inlet is closed.
        """
        pylsl = self._pylsl
        # recover=False: a vanished outlet raises LostError at once and this object reopens a
        # fresh inlet itself (see cmt_live.lsl.recovery).
        inlet = pylsl.StreamInlet(
            info, max_buflen=60, max_chunklen=0, recover=False, processing_flags=self._flags
        )
        deadline = pylsl.local_clock() + timeout_s
        try:
            full = self._sliced(lambda t: inlet.info(timeout=t), deadline)
            self._sliced(lambda t: inlet.open_stream(timeout=t), deadline)
        except BaseException as e:
            inlet.close_stream()
            del inlet
            if isinstance(e, (self._timeout_error, self._lost_error)):
                why = "stopped" if self._stop.is_set() else f"no answer within {timeout_s:g} s"
                raise StreamResolutionError(
                    f"Stream {info.name()!r} was found but could not be opened ({why}: {e}); "
                    "is the source still running?"
                ) from e
            raise
        return inlet, full

    def _sliced(self, call, deadline: float):
        """``call(timeout)`` retried in slices until it answers, the deadline or a stop."""
        while True:
            left = deadline - self._pylsl.local_clock()
            try:
                return call(max(0.01, min(_OPEN_SLICE_S, left)))
            except self._timeout_error:
                if self._stop.is_set() or left <= _OPEN_SLICE_S:
                    raise

    # --- public API ----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def sfreq(self) -> float:
        """Nominal rate, Hz (0 for irregular)."""
        return self.meta.sfreq

    @property
    def ch_names(self) -> tuple[str, ...]:
        return self.meta.ch_names

    @property
    def n_channels(self) -> int:
        return self.buffer.n_channels

    @property
    def stale_after_s(self) -> float:
        """No sample for this long -> ``"stale"``, seconds."""
        return self.recovery.settings.stale_after_s

    @property
    def n_recoveries(self) -> int:
        """Outages that ended with samples flowing again."""
        return self.recovery.n_recoveries

    @property
    def status(self) -> str:
        """``"connected"``, ``"stale"``, ``"recovering"``, ``"absent"``, ``"refused"`` or
        ``"lost"`` (:mod:`cmt_live.lsl.recovery`)."""
        # Written by the reader thread only; reading one attribute needs no lock.
        return self.recovery.status

    @property
    def newest_timestamp(self) -> float | None:
        """Stamp of the newest buffered sample, LSL seconds (None before the first)."""
        return self.buffer.newest_timestamp

    @property
    def gaps(self) -> tuple[tuple[float, float], ...]:
        """Recorded gaps ``(t_last_before, t_first_after)``, LSL seconds, oldest first."""
        with self.intake.lock:
            return tuple(self.checker.gaps)

    @property
    def timestamp_faults(self) -> tuple[float, ...]:
        """Stamps of the samples dropped as backward/duplicate (the most recent 1000)."""
        return self.intake.timestamp_faults

    def start(self) -> StreamInput:
        """Start the reader thread (once)."""
        if not self._thread.is_alive() and not self._stop.is_set():
            # Staleness counts from now: a late start() is not an outage. Samples queued in
            # liblsl since the inlet opened are kept (they are stamped after t_open).
            now = self._pylsl.local_clock()
            self.recovery.begin(now)
            self.intake.backlog.restart(now)
            self._thread.start()
        return self

    def get(self, t_start: float, t_end: float) -> tuple[np.ndarray, np.ndarray]:
        """Buffered samples with ``t_start <= t < t_end``: ``(data (n, n_channels), ts (n,))``."""
        return self.buffer.get_range(t_start, t_end)

    def read_new(self) -> tuple[np.ndarray, np.ndarray]:
        """Samples not read before (single consumer): ``(data (n, n_channels), ts (n,))``."""
        return self.buffer.read_new()

    def pop_events(self) -> list[tuple[str, str, float]]:
        """Drain the queued stream events ``(kind, message, t)`` (t in LSL seconds).

        Kinds: ``"stale"``, ``"recovering"``, ``"absent"``, ``"connected"`` (data flows again),
        ``"reconnected"`` (a fresh inlet was opened on a stream that passed the checks),
        ``"refused"`` (the stream came back with another channel count, rate, format, labels
        or units; the message names both values and the fix), ``"lost"`` (away longer than
        ``lost_after_s``), ``"gap"``, ``"clock_reset"``, ``"timestamp_fault"``, ``"error"``.
        """
        out = []
        while True:
            try:
                out.append(self._events.popleft())
            except IndexError:
                return out

    def health(self) -> StreamHealth:
        """A snapshot for the sinks (:class:`cmt_live.records.StreamHealth`)."""
        now = self._pylsl.local_clock()
        with self.intake.lock:
            c = self.checker
            return StreamHealth(
                name=self.meta.name,
                status=self.recovery.status,
                nominal_rate=self.meta.sfreq,
                effective_rate=c.effective_rate(now),
                clock_offset_s=self._clock_offset_s,
                latency_s=self.intake.latency_s,
                n_samples=c.n_samples,
                n_dropped=self.buffer.n_overwritten_unread,
                n_timestamp_faults=c.n_timestamp_faults,
                gaps=tuple(list(c.gaps)[-20:]),
                t=now,
            )

    def close(self, timeout_s: float = 2.0) -> bool:
        """Stop the reader thread within ``timeout_s`` seconds and drop the inlet.

        Returns
        -------
        stopped : bool
            False if the thread was still blocked in liblsl at the deadline (it is a daemon
            thread and ends at the next liblsl timeout: at most a re-resolution,
            :data:`~cmt_live.lsl.resolve.RERESOLVE_TIMEOUT_S`, or one open slice).
        """
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        alive = self._thread.is_alive()
        if not alive:
            self._drop_inlet()
        else:
            logger.warning(
                "stream %r: reader thread did not stop within %.1f s.", self.name, timeout_s
            )
        return not alive

    def __enter__(self) -> StreamInput:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- reader thread -------------------------------------------------------------------------
    def _event(self, kind: str, message: str, t: float, level: int | None = None) -> None:
        self._events.append((kind, message, t))
        if level is not None:
            logger.log(level, "stream %r: %s", self.meta.name, message)

    def _drop_inlet(self) -> None:
        inlet, self._inlet = self._inlet, None
        if inlet is not None:
            inlet.close_stream()
            del inlet

    def _run(self) -> None:
        pylsl = self._pylsl
        try:
            while not self._stop.is_set():
                if self._inlet is not None:
                    self._pull_once()
                    continue
                now = pylsl.local_clock()
                self._apply(self.recovery.tick(now))
                if self._inlet is None:
                    self._stop.wait(_POLL_S)
        except Exception as e:  # reported, not swallowed: status, event and log
            self.error = e
            now = pylsl.local_clock()
            for kind, message, t in self.recovery.failed(now, repr(e)).events:
                self._events.append((kind, message, t))
            logger.exception("stream %r: reader thread stopped", self.meta.name)

    def _pull_once(self) -> None:
        pylsl = self._pylsl
        try:
            _, ts = self._inlet.pull_chunk(
                timeout=0.05,
                max_samples=self.max_chunk,
                dest_obj=self._dest,
                min_samples=1,
                as_numpy=True,
            )
        except self._lost_error:
            # The outlet is gone (recover=False): drop this inlet, never reopen it.
            self._drop_inlet()
            self._apply(self.recovery.lost(pylsl.local_clock()))
            return
        except self._timeout_error:
            # With clock sync, a pull may time out on the offset estimate while the outlet
            # is gone; nothing was pulled.
            ts = self._dest[:0, 0]
        now = pylsl.local_clock()
        n = ts.shape[0]
        if n == 0:
            self._apply(self.recovery.tick(now))
            return
        if self._inlet.was_clock_reset():
            self.n_clock_resets += 1
            self._event("clock_reset", "the sender's clock was reset (restart/hot-swap)", now, 20)
        fed, events = self.intake.push(self._dest[:n], ts, now)
        for kind, message, t in events:
            self._event(kind, message, t)
        if not fed:
            return
        self._apply(self.recovery.data(now))
        if now >= self._t_next_offset:
            self._t_next_offset = now + 1.0
            try:
                self._clock_offset_s = float(self._inlet.time_correction(timeout=0.0))
            except (self._timeout_error, self._lost_error):
                pass  # no estimate yet / lost: the last known offset stays in health()

    # --- recovery: do what the state machine asks ------------------------------------------
    def _apply(self, step: rec.Step, info=None) -> None:
        """Queue ``step``'s events and do its action. ``info``: the outlet the re-resolution
        just found (OPEN follows only ``resolved()``, which passes it)."""
        for kind, message, t in step.events:
            self._event(kind, message, t, rec.EVENT_LEVELS.get(kind))
        if self._stop.is_set():
            return  # closing: no new liblsl calls
        if step.action == rec.RESOLVE:
            outcome, detail, info = find_again(self.meta, uid=self._uid, fmt=self.format)
            self._apply(self.recovery.resolved(self._pylsl.local_clock(), outcome, detail), info)
        elif step.action == rec.OPEN:
            self._open_fresh(info)

    def _open_fresh(self, info) -> None:
        """A fresh inlet on ``info``, checked against the session's stream before any pull."""
        try:
            inlet, full = self._open_inlet(info, _REOPEN_TIMEOUT_S)
        except StreamResolutionError as e:
            self._apply(self.recovery.open_failed(self._pylsl.local_clock(), str(e)))
            return
        now = self._pylsl.local_clock()
        problem = format_change(self.format, StreamFormat.of(full))
        if problem is None:
            try:
                meta, scale = read_meta(full, self.kind, unit=self._unit, ch_names=self._ch_names)
                problem = description_change(self.meta, meta, self.scale, scale)
            except ValueError as e:  # units it cannot read: refused like a changed stream
                problem = f"came back with a description that cannot be used: {e}"
        if problem is not None:
            inlet.close_stream()
            del inlet
            self._apply(self.recovery.resolved(now, rec.REFUSED, f"{problem} ({describe(full)})"))
            return
        self._drop_inlet()
        self._inlet = inlet
        # The new outlet's uid tells it from later ones; host and creation time go to meta
        # (a restarted source may run elsewhere). Name, type, source_id and format match.
        self._uid = full.uid()
        self.meta = replace(
            self.meta, created_at=float(full.created_at()), hostname=full.hostname()
        )
        self.n_reconnects += 1
        self._apply(self.recovery.opened(now, describe(full)))
