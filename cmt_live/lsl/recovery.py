"""The connection state of one LSL input as a small state machine (no LSL, no threads, no clock).

:class:`RecoveryMachine` decides *when* an input is stale, when to look for its stream again,
whether data may be fed, and what to tell the user; :class:`cmt_live.lsl.inlet.StreamInput`
does the LSL work it asks for and reports back. Time is an input: every call carries ``t``
(LSL seconds in the inlet, any monotonic number in tests), so the machine reads no clock and is
tested with known answers (tests/test_lsl_recovery.py).

States (:attr:`RecoveryMachine.status`, shown in the health rows) and transitions::

    from              input                                     to          event
    connected         tick: no data for stale_after_s           stale       "stale"
    stale             tick: re-resolution due (RESOLVE)         recovering
    recovering        resolved: nothing matches                 absent      "absent"
    absent            resolved: something matches               recovering
    recovering/absent resolved: the old outlet, still silent    stale
    (outage)          data fed                                  connected   "connected"
    any               lost (LostError)                          recovering  "recovering"
    any               failed (the reader stopped)               absent      "error"

- ``connected``: samples flow.
- ``stale``: no sample for ``stale_after_s``; the old inlet is kept (the outlet may only be
  paused, or liblsl may be recovering it).
- ``recovering``: a re-resolution is under way, a fresh inlet was opened and waits for data,
  the stream came back but was refused, or the inlet was lost (``LostError``).
- ``absent``: the last re-resolution found no stream with the pinned identity.

Inputs: :meth:`~RecoveryMachine.data` (samples fed at ``t``), :meth:`~RecoveryMachine.tick`
(nothing fed at ``t``; ``queued`` says samples wait unread in the inlet),
:meth:`~RecoveryMachine.lost`, :meth:`~RecoveryMachine.resolved` (what a re-resolution found),
:meth:`~RecoveryMachine.opened` / :meth:`~RecoveryMachine.open_failed` (a fresh inlet),
:meth:`~RecoveryMachine.failed` (the reader stopped).

Each input returns a :class:`Step`: the status after it, the events ``(kind, message, t)`` to
queue (each once per transition; a refusal or an ambiguity repeated at every attempt is told
once per outage), and an action for the inlet (:data:`RESOLVE`, :data:`OPEN`, :data:`ADOPT`,
:data:`DROP`).

Why the data check: with a source_id and ``recover=True``, liblsl moves an inlet to a restarted
outlet by itself, matching channel count, name, type, source_id and format but *not* the rate
(src/inlet_connection.cpp). So after an outage a recoverable inlet's first queued samples are
held (:attr:`~RecoveryMachine.needs_check`) until a re-resolution says which outlet now feeds it:
the same one (a pause), a new compatible one (adopted), or a new incompatible one (dropped).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

CONNECTED, STALE, RECOVERING, ABSENT = "connected", "stale", "recovering", "absent"

#: Actions a :class:`Step` asks of the inlet.
RESOLVE = "resolve"  # re-resolve the pinned identity now, then call resolved()
OPEN = "open"  # open a fresh inlet on the new outlet found, then call opened()/open_failed()
ADOPT = "adopt"  # liblsl moved the inlet to the new outlet found: take its identity, feed
DROP = "drop"  # close the inlet: the only outlet it can reach is refused

#: Outcomes of a re-resolution, for :meth:`RecoveryMachine.resolved`.
NOTHING = "nothing"  # no stream matches the pinned identity
SAME = "same"  # the outlet the inlet was opened on is still advertised
AMBIGUOUS = "ambiguous"  # several new outlets match
REFUSED = "refused"  # one new outlet, in a format the session cannot use (detail says why)
NEW = "new"  # one new outlet, compatible (detail describes it)
OUTCOMES = (NOTHING, SAME, AMBIGUOUS, REFUSED, NEW)

#: Log level per event kind (the inlet logs what it queues; the reader logs its own
#: ``"error"`` with the traceback).
EVENT_LEVELS = {
    "stale": logging.WARNING,
    "absent": logging.WARNING,
    "recovering": logging.WARNING,
    "refused": logging.ERROR,
    "connected": logging.INFO,
    "reconnected": logging.INFO,
}

Event = tuple[str, str, float]


@dataclass(frozen=True)
class RecoverySettings:
    """Timing of staleness and recovery, seconds.

    Parameters
    ----------
    stale_after_s : float
        No sample for this long -> ``"stale"``.
    liblsl_recovery_s : float
        For an inlet liblsl can recover itself (a source_id and ``recover=True``): how long,
        counted from the last sample, to leave it to liblsl before re-resolving for a fresh
        inlet. 0 re-resolves at once.
    reresolve_interval_s : float
        Pause between re-resolutions while the stream is away.
    """

    stale_after_s: float
    liblsl_recovery_s: float = 5.0
    reresolve_interval_s: float = 0.5

    def __post_init__(self) -> None:
        if not self.stale_after_s > 0:
            raise ValueError(f"stale_after_s must be > 0 s; got {self.stale_after_s}.")
        if not self.liblsl_recovery_s >= 0:
            raise ValueError(
                f"liblsl_recovery_s must be >= 0 s; got {self.liblsl_recovery_s}. "
                "Use 0 to re-resolve as soon as the stream is stale."
            )
        if not self.reresolve_interval_s > 0:
            raise ValueError(
                f"reresolve_interval_s must be > 0 s; got {self.reresolve_interval_s}."
            )


@dataclass(frozen=True)
class Step:
    """What one input did.

    Parameters
    ----------
    status : str
        The state after the input (:data:`CONNECTED`, :data:`STALE`, :data:`RECOVERING` or
        :data:`ABSENT`).
    events : tuple of (kind, message, t)
        Events to queue, oldest first (``t`` as given to the input).
    action : str | None
        :data:`RESOLVE`, :data:`OPEN`, :data:`ADOPT`, :data:`DROP` or None.
    """

    status: str
    events: tuple[Event, ...] = ()
    action: str | None = None

    @property
    def reresolve(self) -> bool:
        """Should the inlet re-resolve its stream now?"""
        return self.action == RESOLVE


class RecoveryMachine:
    """Connection state of one input; see the module docstring.

    Parameters
    ----------
    settings : RecoverySettings
    t : float
        Start time; staleness counts from here until :meth:`begin` moves it.
    recoverable : bool
        liblsl may move this input's inlets to another outlet by itself (``recover=True`` and
        a non-empty source_id). Such inlets get the ``liblsl_recovery_s`` grace, and their
        data are checked after an outage before they are fed.

    Attributes
    ----------
    n_recoveries : int
        Outages ended by data (stale/recovering/absent -> connected).
    n_resolves : int
        Re-resolutions asked for.
    t_last_data : float
        When data were last fed.
    t_outage : float | None
        When the current outage began (the last data before it, or the ``LostError``);
        None while connected.
    """

    def __init__(self, settings: RecoverySettings, *, t: float, recoverable: bool):
        self.settings = settings
        self.recoverable = bool(recoverable)
        self.status = CONNECTED
        self.t_last_data = float(t)
        self.t_outage: float | None = None
        self.n_recoveries = 0
        self.n_resolves = 0
        self._has_inlet = True
        self._checked = False  # the outlet behind the inlet was identified in this outage
        self._fed = False  # data have ever been fed (not reset when a fresh inlet opens)
        self._checking = False  # the pending re-resolution is such a check
        self._t_next_resolve = float("-inf")
        self._t_next_check = float("-inf")
        self._last_notice: tuple[str, str] | None = None

    # --- queries -------------------------------------------------------------------------
    @property
    def checking(self) -> bool:
        """The re-resolution asked for identifies the outlet behind queued data."""
        return self._checking

    @property
    def has_inlet(self) -> bool:
        """Whether the input holds an inlet (False after a LostError or a drop)."""
        return self._has_inlet

    @property
    def needs_check(self) -> bool:
        """Data on the inlet may come from another outlet: identify it before feeding.

        True during an outage on a recoverable inlet until a re-resolution identified the
        outlet (the same one, or a new compatible one). The inlet must not pull while True.
        """
        return (
            self.t_outage is not None and self._has_inlet and self.recoverable and not self._checked
        )

    # --- inputs --------------------------------------------------------------------------
    def begin(self, t: float) -> None:
        """The reader starts at ``t``: a late start is not an outage."""
        self.t_last_data = float(t)

    def data(self, t: float) -> Step:
        """Samples were fed at ``t``.

        Raises
        ------
        RuntimeError
            :attr:`needs_check` is True: the caller fed data it was told to hold.
        """
        if self.needs_check:
            raise RuntimeError(
                "data fed while the inlet's outlet is unidentified (needs_check); this is a bug "
                "in the caller."
            )
        events: tuple[Event, ...] = ()
        if self.t_outage is not None:
            self.n_recoveries += 1
            events = (("connected", f"samples flow again after {t - self.t_outage:.2f} s", t),)
            self.t_outage = None
            self._last_notice = None
        self.status = CONNECTED
        self.t_last_data = float(t)
        self._fed = True
        return Step(self.status, events)

    def tick(self, t: float, *, queued: bool = False) -> Step:
        """Nothing was fed at ``t``; ``queued``: samples wait unread in the inlet.

        Goes stale after ``stale_after_s`` without data, then asks for a re-resolution every
        ``reresolve_interval_s``: at once when queued data need a check, or once the
        ``liblsl_recovery_s`` grace is over (no grace without an inlet or for an
        unrecoverable one).
        """
        s = self.settings
        silent = t - self.t_last_data
        if silent < s.stale_after_s:
            return Step(self.status)
        events: tuple[Event, ...] = ()
        if self.status == CONNECTED:
            self._begin_outage(self.t_last_data)
            self.status = STALE
            events = (("stale", f"no sample for {silent:.2f} s (limit {s.stale_after_s:g} s)", t),)
        if queued and self.needs_check:
            # Queued data wait on this check: ask at once, then every interval while it
            # finds nothing (the grace is for liblsl, which has done its part here).
            if t < self._t_next_check:
                return Step(self.status, events)
            self._t_next_check = t + s.reresolve_interval_s
            self._checking = True
        else:
            grace = s.liblsl_recovery_s if (self._has_inlet and self.recoverable) else 0.0
            if silent < grace or t < self._t_next_resolve:
                return Step(self.status, events)
            self._t_next_resolve = t + s.reresolve_interval_s
            self._checking = False
        self.n_resolves += 1
        if self.status != ABSENT:
            self.status = RECOVERING
        return Step(self.status, events, RESOLVE)

    def lost(self, t: float) -> Step:
        """The inlet raised ``LostError`` at ``t`` and was dropped (never reopen it)."""
        self._has_inlet = False
        if self.t_outage is None:
            self._begin_outage(t)
        self.status = RECOVERING
        return Step(self.status, (("recovering", "stream lost (LostError); re-resolving", t),))

    def resolved(self, t: float, outcome: str, detail: str = "") -> Step:
        """What the re-resolution asked for at ``t`` found.

        Parameters
        ----------
        t : float
        outcome : str
            One of :data:`OUTCOMES`.
        detail : str
            :data:`AMBIGUOUS`, :data:`REFUSED`: the reason, for the event; :data:`NEW`: the new
            outlet's description.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}; got {outcome!r}.")
        checking, self._checking = self._checking, False
        if outcome == NOTHING:
            if self.status == ABSENT:
                return Step(self.status)
            self.status = ABSENT
            return Step(
                self.status, (("absent", "no stream matches the pinned identity; retrying", t),)
            )
        if self.status == ABSENT:
            self.status = RECOVERING  # something answers again
        if outcome == SAME:
            if checking:
                self._checked = True  # a pause: the queued data are the old outlet's
            else:
                self.status = STALE  # the outlet is still there, only silent: keep waiting
            return Step(self.status)
        if outcome == AMBIGUOUS:
            return Step(self.status, self._notice("recovering", detail, t))
        if outcome == REFUSED:
            # A recoverable inlet can only reach the refused outlet now (liblsl may already
            # have moved it there): close it, so nothing of that stream is ever fed.
            drop = self._has_inlet and self.recoverable
            if drop:
                self._has_inlet = False
            return Step(self.status, self._notice("refused", detail, t), DROP if drop else None)
        # NEW: a compatible outlet.
        if checking:
            self._checked = True
            event = ("reconnected", f"liblsl moved the inlet to a new outlet: {detail}", t)
            return Step(self.status, (event,), ADOPT)
        return Step(self.status, (), OPEN)

    def opened(self, t: float, detail: str) -> Step:
        """A fresh inlet was opened at ``t`` on the new outlet (``detail`` describes it)."""
        self._has_inlet = True
        # Its outlet could die and be replaced before the first sample arrives: check the
        # first queued data too, at once (a found outlet answers in about a millisecond).
        self._checked = False
        self._t_next_check = float("-inf")
        self.status = RECOVERING
        return Step(self.status, (("reconnected", f"opened a fresh inlet on {detail}", t),))

    def open_failed(self, t: float, reason: str) -> Step:
        """Opening a fresh inlet failed at ``t`` (the attempt is repeated at the next one)."""
        return Step(self.status, self._notice("recovering", reason, t))

    def failed(self, t: float, reason: str) -> Step:
        """The reader stopped for good at ``t`` (an unexpected error)."""
        self.status = ABSENT
        return Step(self.status, (("error", f"reader thread stopped: {reason}", t),))

    # --- helpers -------------------------------------------------------------------------
    def _begin_outage(self, t0: float) -> None:
        self.t_outage = float(t0)
        # Silence before the first sample (a source that starts after the monitor) holds no
        # data of the outlet we opened that another could be mistaken for: nothing to
        # identify. Holding the first samples for a re-resolution here cost the first window
        # ~150 ms (bench_latency: the bench starts its source after cmt-live's outlet).
        self._checked = not self._fed
        self._last_notice = None
        # An outage's first re-resolution is never delayed by one from the last outage.
        self._t_next_resolve = self._t_next_check = float("-inf")

    def _notice(self, kind: str, message: str, t: float) -> tuple[Event, ...]:
        # The same refusal at every attempt (every reresolve_interval_s for hours) would flood
        # the log and the session file; tell it once per outage, again only if it changes.
        if self._last_notice == (kind, message):
            return ()
        self._last_notice = (kind, message)
        return ((kind, message, t),)
