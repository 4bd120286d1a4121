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
- Watchdog and recovery (:mod:`cmt_live.lsl.recovery` decides, the reader acts): no sample for
  ``stale_after_s`` (EEG: ``max(0.5 s, 10 periods)``; gaze: 1 s) -> ``"stale"``, well before
  liblsl's own 15 s watchdog; then re-resolution by the pinned identity and a **fresh** inlet
  (never the old one reopened: sccn/liblsl#180). Outages end up in :attr:`StreamInput.gaps`.
- A stream that comes back with another channel count, nominal rate or channel format is
  refused (:func:`cmt_live.lsl.resolve.format_change`); none of its data are fed.
- ``was_clock_reset()`` is polled after each pull; a reset is logged and counted (with
  ``proc_clocksync`` liblsl re-estimates the offset itself).
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from cmt_live._logging import logger
from cmt_live.records import StreamHealth

from . import recovery as rec
from .description import read_meta
from .intake import Intake
from .recovery import RecoveryMachine, RecoverySettings
from .resolve import KINDS, StreamFormat, StreamResolutionError, check_format, describe, find_again

#: How often the reader looks again when it has no inlet or holds queued data, seconds.
_POLL_S = 0.05


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
    recover : bool
        Passed to liblsl (its silent recovery for streams with a source_id).
    unit : str | None
        EEG only: overrides the units declared in the description (``"uV"``, ``"V"``, ...).
        When neither declares one, microvolts are assumed and a warning is logged (most
        amplifiers send microvolts).
    ch_names : sequence of str | None
        Overrides the channel labels from the description.
    stale_after_s : float | None
        No sample for this long -> ``"stale"``, seconds. Default: EEG ``max(0.5, 10 / rate)``,
        gaze 1.0 s.
    liblsl_recovery_s : float
        With a source_id and ``recover``, how long liblsl's own recovery may take before this
        object re-resolves and opens a fresh inlet, seconds (counted from the last sample).
    reresolve_interval_s : float
        Pause between re-resolution attempts, seconds.
    max_chunk : int
        Samples per pull (the preallocated pull buffer's length).
    backlog_tolerance_s : float
        Samples stamped earlier than the inlet's open time minus this are start-up backlog,
        seconds.
    open_timeout_s : float
        Deadline for fetching the full description and opening the stream, seconds.
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
        recover: bool = True,
        unit: str | None = None,
        ch_names=None,
        stale_after_s: float | None = None,
        liblsl_recovery_s: float = 5.0,
        reresolve_interval_s: float = 0.5,
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
        self.recover = bool(recover)
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
        self._open_timeout_s = float(open_timeout_s)
        self.max_chunk = int(max_chunk)
        #: Called (reader thread) after new samples reach the buffer: wakes a waiting consumer.
        self.on_data: Callable[[], None] | None = None
        self._inlet, full = self._open_inlet(info)
        self._uid = full.uid()
        self.format = StreamFormat.of(full)
        sfreq = self.format.sfreq
        self.meta, self.scale = read_meta(full, kind, unit=unit, ch_names=ch_names)
        if stale_after_s is None:
            stale_after_s = max(0.5, 10.0 / sfreq) if (kind == "eeg" and sfreq > 0) else 1.0
        settings = RecoverySettings(
            stale_after_s=float(stale_after_s),
            liblsl_recovery_s=float(liblsl_recovery_s),
            reresolve_interval_s=float(reresolve_interval_s),
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
        self.buffer = self.intake.buffer
        self.checker = self.intake.checker
        self.dejitter = self.intake.dejitter
        # liblsl writes the stream's dtype here; a stream that comes back in another format
        # is refused, so the dtype never changes.
        self._dest = np.zeros((self.max_chunk, self.format.n_channels), self._inlet.np_dtype)
        self._events: deque[tuple[str, str, float]] = deque(maxlen=1000)
        # liblsl recovers only inlets with a source_id (src/inlet_connection.cpp).
        self.recovery = RecoveryMachine(
            settings, t=self._t_open, recoverable=self.recover and bool(self.meta.source_id)
        )
        self._clock_offset_s = 0.0
        self._t_next_offset = 0.0
        self.n_clock_resets = 0
        self.n_reconnects = 0  # fresh inlets opened after an outage
        self.error: BaseException | None = None  # an unexpected error that ended the thread
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"cmt-inlet-{self.meta.name}", daemon=True
        )
        if start:
            self.start()

    # --- construction helpers ----------------------------------------------------------------
    def _open_inlet(self, info):
        pylsl = self._pylsl
        inlet = pylsl.StreamInlet(
            info,
            max_buflen=60,
            max_chunklen=0,
            recover=self.recover,
            processing_flags=self._flags,
        )
        try:
            full = inlet.info(timeout=self._open_timeout_s)
            inlet.open_stream(timeout=self._open_timeout_s)
        except self._timeout_error as e:
            raise StreamResolutionError(
                f"Stream {info.name()!r} was found but did not answer within "
                f"{self._open_timeout_s:g} s ({e}); is the source still running?"
            ) from e
        return inlet, full

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
        """``"connected"``, ``"stale"``, ``"recovering"`` or ``"absent"``."""
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
        ``"reconnected"`` (a fresh inlet was opened, or liblsl moved the inlet to a new
        outlet that passed the checks), ``"refused"`` (the stream came back with another
        channel count, rate or format; the message names both values and the fix), ``"gap"``,
        ``"clock_reset"``, ``"timestamp_fault"``, ``"error"``.
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
            thread and ends at the next liblsl timeout, at most ``open_timeout_s``).
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
                if self._inlet is not None and not self.recovery.needs_check:
                    self._pull_once()
                    continue
                # No inlet, or its queued data must wait until we know which outlet sent them
                # (they stay in liblsl's queue meanwhile, nothing is lost).
                queued = self._inlet is not None and self._inlet.samples_available() > 0
                now = pylsl.local_clock()
                self._apply(self.recovery.tick(now, queued=queued), now)
                if self._inlet is None or self.recovery.needs_check:
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
            # recover=False, or no source_id: liblsl gives up on this inlet. Never reopen it.
            now = pylsl.local_clock()
            self._drop_inlet()
            self._apply(self.recovery.lost(now), now)
            return
        now = pylsl.local_clock()
        n = ts.shape[0]
        if n == 0:
            self._apply(self.recovery.tick(now), now)
            return
        if self._inlet.was_clock_reset():
            self.n_clock_resets += 1
            self._event("clock_reset", "the sender's clock was reset (restart/hot-swap)", now, 20)
        fed, events = self.intake.push(self._dest[:n], ts, now)
        for kind, message, t in events:
            self._event(kind, message, t)
        if not fed:
            return
        if self.on_data is not None:
            self.on_data()
        self._apply(self.recovery.data(now), now)
        if now >= self._t_next_offset:
            self._t_next_offset = now + 1.0
            try:
                self._clock_offset_s = float(self._inlet.time_correction(timeout=0.0))
            except (self._timeout_error, self._lost_error):
                pass  # no estimate yet / lost: the last known offset stays in health()

    # --- recovery: do what the state machine asks ------------------------------------------
    def _apply(self, step: rec.Step, now: float, info=None) -> None:
        """Queue ``step``'s events and do its action. ``info``: the new outlet the
        re-resolution just found (OPEN and ADOPT follow only ``resolved()``, which passes it).
        """
        for kind, message, t in step.events:
            self._event(kind, message, t, rec.EVENT_LEVELS.get(kind))
        if step.action == rec.RESOLVE:
            outcome, detail, info = find_again(
                self.meta, uid=self._uid, fmt=self.format, check=self.recovery.checking
            )
            self._apply(self.recovery.resolved(now, outcome, detail), now, info)
        elif step.action == rec.OPEN:
            self._open_fresh(now, info)
        elif step.action == rec.ADOPT:
            self._take_identity(info)
        elif step.action == rec.DROP:
            self._drop_inlet()

    def _open_fresh(self, now: float, info) -> None:
        try:
            inlet, full = self._open_inlet(info)
        except StreamResolutionError as e:
            self._apply(self.recovery.open_failed(now, str(e)), now)
            return
        self._drop_inlet()
        self._inlet = inlet
        self._take_identity(full)
        self.n_reconnects += 1
        self._apply(self.recovery.opened(now, describe(full)), now)

    def _take_identity(self, info) -> None:
        # The new outlet's uid tells it from later ones; host and creation time go to meta
        # (a restarted source may run elsewhere). Name, type, source_id and format match.
        self._uid = info.uid()
        self.meta = replace(
            self.meta, created_at=float(info.created_at()), hostname=info.hostname()
        )
