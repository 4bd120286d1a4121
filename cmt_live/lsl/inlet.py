"""LSL streams in: resolution by identity, and :class:`StreamInput` (inlet + reader thread +
watchdog + timestamp checks + ring buffer).

Call :func:`cmt_live.lsl.config.use_loopback_config` (or set ``LSLAPICFG``) before this module
imports ``pylsl``; it is imported lazily, inside the functions.

Typical use (the live loop)::

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
  *after* the checks by :class:`cmt_live.stream_checks.Dejitterer`, which restarts at every
  gap; liblsl's ``proc_dejitter`` was tried first and smeared a 1.5 s pause over the next
  samples (stamps 0.49 s in the future) and would hide backward stamps from the checks.
- One reader thread per inlet, pulling into a preallocated array with ``pull_chunk(dest_obj=)``
  (the array has the stream's own dtype and shape ``(max_chunk, n_channels)``); the values are
  scaled to volts (EEG) into a second preallocated array, checked
  (:class:`cmt_live.stream_checks.TimestampChecker`: backward/duplicate stamps dropped and
  counted, gaps recorded, NaN counted, huge offsets flagged) and pushed to a
  :class:`cmt_live.ring_buffer.RingBuffer`.
- Start-up backlog: until the first sample stamped after the inlet opened (minus
  ``backlog_tolerance_s``) arrives, or for at most 2 s, older samples are dropped
  (``n_backlog_dropped``).
- Watchdog: liblsl with ``recover=True`` never raises and its own watchdog needs 15 s. Here,
  no sample for ``stale_after_s`` (EEG: ``max(0.5 s, 10 periods)``; gaze: 1 s) -> status
  ``"stale"`` (logged once, event queued). With a ``source_id`` liblsl's own recovery is given
  ``liblsl_recovery_s`` (default 5 s) to bring the data back; without one, or after that, the
  thread re-resolves the stream by its pinned identity (name, type, source_id, or hostname when
  there is no source_id) every ``reresolve_interval_s`` and opens a **fresh** inlet on a new
  outlet (never reopens the old one: sccn/liblsl#180). Status ``"recovering"`` while it tries,
  ``"absent"`` when nothing matches. When samples flow again the status is ``"connected"`` and
  the outage is in :attr:`StreamInput.gaps` as ``(t_last_before, t_first_after)``.
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
from cmt_live.channels import eeg_scales
from cmt_live.records import StreamHealth, StreamMeta
from cmt_live.ring_buffer import RingBuffer
from cmt_live.stream_checks import Dejitterer, TimestampChecker

KINDS = ("eeg", "gaze")
STATUSES = ("connected", "stale", "recovering", "absent")

#: Command-line option prefix used in "how to pin it" hints, per stream kind.
_OPTION_PREFIX = {"eeg": "--eeg", "gaze": "--eye"}


class StreamResolutionError(RuntimeError):
    """No stream, several streams, or an unusable stream matched a query."""


# --- resolution ----------------------------------------------------------------------------
def _xpath_literal(value: str, field_name: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ValueError(
        f"The stream {field_name} {value!r} contains both quote characters; LSL queries cannot "
        "express it. Rename the stream or pin it by another field."
    )


def _predicate(name: str, stype: str | None, source_id: str | None, hostname: str | None) -> str:
    parts = [f"name={_xpath_literal(name, 'name')}"]
    for field_name, value in (("type", stype), ("source_id", source_id), ("hostname", hostname)):
        if value:
            parts.append(f"{field_name}={_xpath_literal(value, field_name)}")
    return " and ".join(parts)


def _describe(info) -> str:
    return (
        f"name={info.name()!r} type={info.type()!r} source_id={info.source_id()!r} "
        f"hostname={info.hostname()!r} channels={info.channel_count()} "
        f"rate={info.nominal_srate():g} Hz created_at={info.created_at():.3f}"
    )


def resolve_stream(
    name: str,
    *,
    stype: str | None = None,
    source_id: str | None = None,
    hostname: str | None = None,
    timeout: float = 5.0,
    kind: str = "eeg",
    duplicate_wait_s: float = 1.0,
    **kwargs,
):
    """Find exactly one LSL stream by name and, optionally, type, source_id and hostname.

    Parameters
    ----------
    name : str
        Stream name (exact, case-sensitive as LSL compares it).
    stype : str | None
        Stream type (``type=`` is accepted as an alias).
    source_id, hostname : str | None
        Pin a stream among several of the same name.
    timeout : float
        Seconds to wait for a first match.
    kind : ``"eeg"`` | ``"gaze"``
        What the stream is for: EEG must be numeric; the hints name ``--eeg-...`` or
        ``--eye-...`` options accordingly.
    duplicate_wait_s : float
        After the first match, how long to keep listening for other matches (resolution
        returns as soon as one stream answers, so duplicates could otherwise go unnoticed).
        Measured on loopback: a second outlet answered only in liblsl's second query wave,
        ~0.5 s in; 0.5 s was not enough, 1.0 s was. A unique stream thus costs this long.

    Returns
    -------
    info : pylsl.StreamInfo

    Raises
    ------
    StreamResolutionError
        Nothing matched within ``timeout`` (the visible streams are listed); several streams
        matched (each candidate is listed with how to pin one); the stream is a string stream.
    """
    import pylsl

    stype = _type_alias(stype, kwargs)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}.")
    if not name:
        raise ValueError("A stream name is required (e.g. --eeg-stream EEG).")
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 s; got {timeout}.")
    pred = _predicate(name, stype, source_id, hostname)
    found = pylsl.resolve_bypred(pred, 1, timeout)
    if found and duplicate_wait_s > 0:
        more = pylsl.resolve_bypred(pred, len(found) + 1, duplicate_wait_s)
        by_uid = {i.uid(): i for i in found}
        for i in more:
            by_uid.setdefault(i.uid(), i)
        found = list(by_uid.values())
    opt = _OPTION_PREFIX[kind]
    if not found:
        visible = pylsl.resolve_streams(wait_time=1.0)
        listing = "\n".join(f"  - {_describe(i)}" for i in visible) or "  (none)"
        wanted = pred.replace(" and ", ", ")
        raise StreamResolutionError(
            f"No LSL stream matched {wanted} within {timeout:g} s. Visible streams:\n{listing}\n"
            f"Check the name ({opt}-stream), that the source is running, and that both sides "
            "use the same LSL network config (LSLAPICFG)."
        )
    if len(found) > 1:
        found.sort(key=lambda i: i.created_at())
        listing = "\n".join(
            f"  - source_id={i.source_id()!r} hostname={i.hostname()!r} "
            f"created_at={i.created_at():.3f} type={i.type()!r} channels={i.channel_count()}"
            for i in found
        )
        ids = {i.source_id() for i in found}
        if len(ids) == len(found) and all(ids):
            how = f"Pin one with {opt}-source-id SOURCE_ID"
        else:
            how = (
                f"They do not differ by source_id; pin one with {opt}-hostname HOST, or stop "
                "the extra sources"
            )
        raise StreamResolutionError(
            f"{len(found)} LSL streams match {pred.replace(' and ', ', ')}; refusing to guess "
            f"which one to use. Candidates:\n{listing}\n{how}."
        )
    info = found[0]
    _check_format(info, kind)
    return info


def _type_alias(stype, kwargs):
    if kwargs:
        extra = set(kwargs) - {"type"}
        if extra:
            raise TypeError(f"resolve_stream() got unexpected keyword arguments {sorted(extra)}")
        t = kwargs["type"]
        if stype is not None and t is not None and t != stype:
            raise ValueError(f"stype={stype!r} and type={t!r} disagree; give one of them.")
        stype = stype if stype is not None else t
    return stype


def _check_format(info, kind: str) -> None:
    import pylsl

    if info.channel_format() == pylsl.cf_string:
        what = "EEG" if kind == "eeg" else "gaze"
        raise StreamResolutionError(
            f"Stream {info.name()!r} (type {info.type()!r}, source_id {info.source_id()!r}) "
            f"carries strings, but {what} must be numeric. It is probably a marker stream; pick "
            f"the numeric {what} stream by name ({_OPTION_PREFIX[kind]}-stream) or type."
        )


def _channel_fields(full_info, field_name: str, n: int) -> list[str]:
    # Parse desc/channels/channel/<field> ourselves: pylsl's helper prints on a count mismatch.
    out: list[str] = []
    ch = full_info.desc().child("channels").child("channel")
    while not ch.empty() and len(out) < n:
        out.append(ch.child_value(field_name).strip())
        ch = ch.next_sibling("channel")
    return out + [""] * (n - len(out))


# --- the inlet -----------------------------------------------------------------------------
class StreamInput:
    """One LSL input stream: inlet, reader thread, watchdog, checks and a ring buffer.

    Parameters
    ----------
    info : pylsl.StreamInfo
        From :func:`resolve_stream`.
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
        No sample for this long -> ``"stale"``. Default: EEG ``max(0.5, 10 / rate)``,
        gaze 1.0 s.
    liblsl_recovery_s : float
        With a source_id, how long liblsl's own recovery may take before this object
        re-resolves and opens a fresh inlet, seconds (counted from the last sample).
    reresolve_interval_s : float
        Pause between re-resolution attempts, seconds.
    max_chunk : int
        Samples per pull (the preallocated pull buffer's length).
    backlog_tolerance_s : float
        Samples stamped earlier than the inlet's open time minus this are start-up backlog.
    open_timeout_s : float
        Deadline for fetching the full description and opening the stream.
    dejitter : bool
        EEG only: smooth the stamps after the checks (:class:`~cmt_live.stream_checks.
        Dejitterer`, restarted at every gap).
    start : bool
        Start the reader thread now (else call :meth:`start`).

    Attributes
    ----------
    meta : StreamMeta
        Name, type, source_id, hostname, nominal rate, channel labels and units.
    buffer : RingBuffer
        ``(n, n_channels)`` float64 samples (EEG in volts), float64 LSL timestamps.
    scale : array of shape (n_channels,)
        Factors applied to the pulled values (to volts for EEG; ones for gaze).
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

        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got {kind!r}.")
        if not buffer_s > 0:
            raise ValueError(f"buffer_s must be > 0 s; got {buffer_s}.")
        _check_format(info, kind)
        self.kind = kind
        self.recover = bool(recover)
        self._pylsl = pylsl
        # Clock sync only: liblsl's dejitter hides timestamp faults and smears gaps (see
        # stream_checks.Dejitterer); EEG stamps are smoothed after the checks instead. A
        # stream from this host is stamped on our own clock already: its offset is 0 and
        # liblsl's estimate of it only adds microseconds of noise, so no sync there.
        local = info.hostname() == socket.gethostname()
        self._flags = 0 if local else pylsl.proc_clocksync
        self._open_timeout_s = float(open_timeout_s)
        self.max_chunk = int(max_chunk)
        self._inlet, full = self._open_inlet(info)
        self._uid = full.uid()
        n_ch = full.channel_count()
        sfreq = float(full.nominal_srate())
        labels = _channel_fields(full, "label", n_ch)
        if ch_names is not None:
            if len(ch_names) != n_ch:
                raise ValueError(
                    f"ch_names has {len(ch_names)} names but stream {full.name()!r} has {n_ch} "
                    "channels."
                )
            labels = [str(c) for c in ch_names]
        units = _channel_fields(full, "unit", n_ch)
        if kind == "eeg":
            self.scale = eeg_scales(full.name(), units, unit)
            if unit is not None:
                units = [unit] * n_ch
        else:
            self.scale = np.ones(n_ch)
        self.meta = StreamMeta(
            name=full.name(),
            type=full.type(),
            source_id=full.source_id(),
            hostname=full.hostname(),
            sfreq=sfreq,
            ch_names=tuple(labels),
            units=tuple(units),
            created_at=float(full.created_at()),
        )
        if stale_after_s is None:
            stale_after_s = max(0.5, 10.0 / sfreq) if (kind == "eeg" and sfreq > 0) else 1.0
        if not stale_after_s > 0:
            raise ValueError(f"stale_after_s must be > 0 s; got {stale_after_s}.")
        self.stale_after_s = float(stale_after_s)
        self.liblsl_recovery_s = float(liblsl_recovery_s)
        self.reresolve_interval_s = float(reresolve_interval_s)
        self.backlog_tolerance_s = float(backlog_tolerance_s)
        rate_for_buffer = sfreq if sfreq > 0 else 500.0
        self.buffer = RingBuffer(
            n_ch,
            max(int(np.ceil(buffer_s * rate_for_buffer)), self.max_chunk),
            np.float64,
            name=self.meta.name,
        )
        self.checker = TimestampChecker(sfreq, kind=kind, name=self.meta.name)
        self.dejitter = Dejitterer(sfreq) if (kind == "eeg" and dejitter) else None
        # Preallocated pull buffers: liblsl writes the stream's dtype into _dest; the scaled
        # float64 copy goes to _scaled.
        self._dest = np.zeros((self.max_chunk, n_ch), dtype=self._inlet.np_dtype)
        self._scaled = np.zeros((self.max_chunk, n_ch), dtype=np.float64)
        self._lock = threading.Lock()
        self._status = "connected"
        self._events: deque[tuple[str, str, float]] = deque(maxlen=1000)
        self._faults: deque[float] = deque(maxlen=1000)
        self._t_open = pylsl.local_clock()
        self._backlog_until: float | None = self._t_open + 2.0
        self._t_last_arrival = self._t_open
        self._t_stale_since: float | None = None
        self._t_next_resolve = 0.0
        self._latency_s = 0.0
        self._clock_offset_s = 0.0
        self._t_next_offset = 0.0
        self.n_backlog_dropped = 0
        self.n_clock_resets = 0
        self.n_reconnects = 0  # fresh inlets opened after an outage
        self.n_recoveries = 0  # stale -> connected transitions
        self.error: BaseException | None = None  # an unexpected error that ended the thread
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"cmt-inlet-{self.meta.name}", daemon=True
        )
        if start:
            self.start()

    # --- construction helpers ----------------------------------------------------------------
    def _open_inlet(self, info):
        from pylsl.util import TimeoutError as LSLTimeoutError

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
        except LSLTimeoutError as e:
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
    def status(self) -> str:
        """``"connected"``, ``"stale"``, ``"recovering"`` or ``"absent"``."""
        with self._lock:
            return self._status

    @property
    def newest_timestamp(self) -> float | None:
        """Stamp of the newest buffered sample, LSL seconds (None before the first)."""
        return self.buffer.newest_timestamp

    @property
    def gaps(self) -> tuple[tuple[float, float], ...]:
        """Recorded gaps ``(t_last_before, t_first_after)``, LSL seconds, oldest first."""
        with self._lock:
            return tuple(self.checker.gaps)

    @property
    def timestamp_faults(self) -> tuple[float, ...]:
        """Stamps of the samples dropped as backward/duplicate (the most recent 1000)."""
        with self._lock:
            return tuple(self._faults)

    def start(self) -> StreamInput:
        """Start the reader thread (once)."""
        if not self._thread.is_alive() and not self._stop.is_set():
            # Staleness counts from now: a late start() is not an outage. Samples queued in
            # liblsl since the inlet opened are kept (they are stamped after t_open).
            self._t_last_arrival = self._pylsl.local_clock()
            self._backlog_until = self._t_last_arrival + 2.0
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
        ``"reconnected"`` (a fresh inlet was opened), ``"gap"``, ``"clock_reset"``,
        ``"timestamp_fault"``, ``"error"``.
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
        with self._lock:
            c = self.checker
            return StreamHealth(
                name=self.meta.name,
                status=self._status,
                nominal_rate=self.meta.sfreq,
                effective_rate=c.effective_rate(now),
                clock_offset_s=self._clock_offset_s,
                latency_s=self._latency_s,
                n_samples=c.n_samples,
                n_dropped=self.buffer.n_overwritten_unread,
                n_timestamp_faults=c.n_timestamp_faults,
                gaps=tuple(list(c.gaps)[-20:]),
                t=now,
            )

    def close(self, timeout_s: float = 2.0) -> bool:
        """Stop the reader thread within ``timeout_s`` and drop the inlet.

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

    def _set_status(self, status: str) -> None:
        with self._lock:
            self._status = status

    def _drop_inlet(self) -> None:
        inlet, self._inlet = self._inlet, None
        if inlet is not None:
            inlet.close_stream()
            del inlet

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self._inlet is None:
                    self._watchdog(self._pylsl.local_clock())
                    self._stop.wait(0.05)
                    continue
                self._pull_once()
        except Exception as e:  # reported, not swallowed: status, event and log
            self.error = e
            self._set_status("absent")
            self._event("error", f"reader thread stopped: {e!r}", self._pylsl.local_clock())
            logger.exception("stream %r: reader thread stopped", self.meta.name)

    def _pull_once(self) -> None:
        from pylsl.util import LostError
        from pylsl.util import TimeoutError as LSLTimeoutError

        pylsl = self._pylsl
        try:
            _, ts = self._inlet.pull_chunk(
                timeout=0.05,
                max_samples=self.max_chunk,
                dest_obj=self._dest,
                min_samples=1,
                as_numpy=True,
            )
        except LostError:
            # recover=False, or no source_id: liblsl gives up on this inlet. Never reopen it.
            now = pylsl.local_clock()
            self._event("recovering", "stream lost (LostError); re-resolving", now, 30)
            self._drop_inlet()
            self._set_status("recovering")
            if self._t_stale_since is None:
                self._t_stale_since = now
            return
        now = pylsl.local_clock()
        n = ts.shape[0]
        if n == 0:
            self._watchdog(now)
            return
        data = self._scaled[:n]
        np.multiply(self._dest[:n], self.scale, out=data)
        if self._backlog_until is not None:
            keep = ts >= self._t_open - self.backlog_tolerance_s
            if not keep.all():
                self.n_backlog_dropped += int(np.count_nonzero(~keep))
                data, ts = data[keep], ts[keep]
            if keep.any() or now > self._backlog_until:
                if self.n_backlog_dropped:
                    logger.info(
                        "stream %r: dropped %d start-up backlog samples.",
                        self.meta.name,
                        self.n_backlog_dropped,
                    )
                self._backlog_until = None
            if ts.size == 0:
                return
        if self._inlet.was_clock_reset():
            self.n_clock_resets += 1
            self._event("clock_reset", "the sender's clock was reset (restart/hot-swap)", now, 20)
        with self._lock:
            n_faults_before = self.checker.n_timestamp_faults
            res = self.checker.check(data, ts, now)
            self._faults.extend(res.fault_timestamps.tolist())
            if res.timestamps.size:
                self._latency_s = now - float(res.timestamps[-1])
        if self.checker.n_timestamp_faults and not n_faults_before:
            self._event(
                "timestamp_fault",
                f"{res.n_backward} backward, {res.n_duplicate} duplicate stamps dropped",
                now,
            )
        for g0, g1 in res.gaps:
            self._event("gap", f"gap of {g1 - g0:.3f} s from {g0:.3f} to {g1:.3f}", now)
        stamps = res.timestamps
        if self.dejitter is not None and stamps.size:
            stamps = self.dejitter.process(stamps, res.gaps)
            # Smoothing must not move a segment's first stamp before the previous one.
            newest = self.buffer.newest_timestamp
            if newest is not None and stamps[0] <= newest:
                stamps = np.maximum(stamps, np.nextafter(newest, np.inf))
        self.buffer.push(res.data, stamps)
        self._t_last_arrival = now
        if self._t_stale_since is not None:
            self.n_recoveries += 1
            self._event(
                "connected",
                f"samples flow again after {now - self._t_stale_since:.2f} s",
                now,
                20,
            )
            self._t_stale_since = None
            self._set_status("connected")
        if now >= self._t_next_offset:
            self._t_next_offset = now + 1.0
            try:
                self._clock_offset_s = float(self._inlet.time_correction(timeout=0.0))
            except (LSLTimeoutError, LostError):
                pass  # no estimate yet / lost: the last known offset stays in health()

    def _watchdog(self, now: float) -> None:
        silent_s = now - self._t_last_arrival
        if silent_s < self.stale_after_s:
            return
        if self._t_stale_since is None:
            self._t_stale_since = self._t_last_arrival
            self._set_status("stale")
            self._event(
                "stale",
                f"no sample for {silent_s:.2f} s (limit {self.stale_after_s:g} s)",
                now,
                30,
            )
        # With a source_id liblsl recovers by itself; give it liblsl_recovery_s first.
        wait_s = self.liblsl_recovery_s if (self.meta.source_id and self._inlet) else 0.0
        if silent_s < wait_s or now < self._t_next_resolve:
            return
        self._t_next_resolve = now + self.reresolve_interval_s
        self._try_reconnect(now)

    def _try_reconnect(self, now: float) -> None:
        pylsl = self._pylsl
        m = self.meta
        pred = _predicate(m.name, m.type, m.source_id or None, None if m.source_id else m.hostname)
        if self.status != "absent":
            self._set_status("recovering")
        found = pylsl.resolve_bypred(pred, 1, 0.3)
        if not found:
            if self.status != "absent":
                self._set_status("absent")
                self._event("absent", "no stream matches the pinned identity; retrying", now, 30)
            return
        fresh = [i for i in found if i.uid() != self._uid]
        if not fresh:
            # The same outlet is still there, only silent: keep waiting on the inlet we have.
            self._set_status("stale")
            return
        if len(fresh) > 1:
            self._event(
                "recovering",
                f"{len(fresh)} new streams match {pred}; cannot pick one, retrying",
                now,
                30,
            )
            return
        info = fresh[0]
        if info.channel_count() != self.n_channels or info.channel_format() == pylsl.cf_string:
            self._event(
                "recovering",
                f"a new stream {pred} has {info.channel_count()} channels (format "
                f"{info.channel_format()}) instead of {self.n_channels} numeric ones; not using it",
                now,
                40,
            )
            return
        try:
            inlet, full = self._open_inlet(info)
        except StreamResolutionError as e:
            self._event("recovering", str(e), now, 30)
            return
        if inlet.np_dtype != self._dest.dtype:
            self._dest = np.zeros((self.max_chunk, self.n_channels), dtype=inlet.np_dtype)
        self._drop_inlet()
        self._inlet = inlet
        self._uid = full.uid()
        self.meta = replace(
            self.meta, created_at=float(full.created_at()), hostname=full.hostname()
        )
        self.n_reconnects += 1
        self._set_status("recovering")
        self._event("reconnected", f"opened a fresh inlet on {_describe(full)}", now, 20)
