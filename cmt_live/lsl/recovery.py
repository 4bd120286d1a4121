"""The connection state of one LSL input as a small state machine (no LSL, no threads, no clock).

:class:`RecoveryMachine` decides *when* an input is stale, when to look for its stream again,
whether to open a fresh inlet, when an outage has lasted too long, and what to tell the user;
:class:`cmt_live.lsl.inlet.StreamInput` does the LSL work it asks for and reports back. Time
is an input: every call carries ``t`` (LSL seconds in the inlet, any monotonic number in
tests), so the machine reads no clock and is tested with known answers
(tests/test_lsl_recovery.py).

Recovery is ours alone: inlets are opened with liblsl's ``recover=False``, so a vanished outlet
raises ``LostError`` at once instead of liblsl re-connecting silently (issue 11 measured that
path hanging in 9 of 16 restarts) and a restarted source always gets a fresh inlet, with or
without a source_id, after its stream was checked again.

States (:attr:`RecoveryMachine.status`, shown in the health rows) and transitions::

    from          input                                       to          event
    connected     tick: no data for stale_after_s             stale       "stale"
    any           lost (LostError; the inlet is dropped)      recovering  "recovering"
    outage        tick: re-resolution due (RESOLVE)           recovering
    outage        resolved: nothing matches                   absent      "absent"
    outage        resolved: the inlet's outlet, still silent  stale
    outage        resolved: a new outlet, or the old one      recovering
                  after the inlet was lost (OPEN)
    outage        resolved: refused (format, channels, units) refused     "refused"
    outage        opened (a fresh inlet)                      recovering  "reconnected"
    outage        tick: away for lost_after_s                 lost        "lost"
    outage        data fed                                    connected   "connected"
    any           failed (the reader stopped)                 absent      "error"

- ``connected``: samples flow.
- ``stale``: no sample for ``stale_after_s``; the inlet is kept (the outlet may only pause).
- ``recovering``: a re-resolution is under way, or a fresh inlet waits for its first data.
- ``absent``: the last re-resolution found no stream with the pinned identity.
- ``refused``: the stream came back in a form the session cannot use (nothing of it is fed).
- ``lost``: any of the above for longer than ``lost_after_s`` (told once, loudly); recovery
  goes on.

Re-resolutions start as soon as the input is stale or lost, then back off from
``reresolve_interval_s`` to ``reresolve_max_interval_s`` (doubling while nothing usable
answers) for as long as the session runs; a fresh inlet or data reset the pause. Each outcome
that repeats at every attempt (absent, ambiguous, refused) is told once per outage.

Inputs: :meth:`~RecoveryMachine.data`, :meth:`~RecoveryMachine.tick`,
:meth:`~RecoveryMachine.lost`, :meth:`~RecoveryMachine.resolved`,
:meth:`~RecoveryMachine.opened` / :meth:`~RecoveryMachine.open_failed`,
:meth:`~RecoveryMachine.failed`. Each returns a :class:`Step`: the status after it, the events
``(kind, message, t)`` to queue, and an action for the inlet (:data:`RESOLVE`, :data:`OPEN`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

CONNECTED, STALE, RECOVERING, ABSENT, REFUSED, LOST = (
    "connected",
    "stale",
    "recovering",
    "absent",
    "refused",
    "lost",
)

#: Actions a :class:`Step` asks of the inlet.
RESOLVE = "resolve"  # re-resolve the pinned identity now, then call resolved()
OPEN = "open"  # open a fresh inlet on the outlet found, then call opened()/open_failed()

#: Outcomes of a re-resolution (or of the checks on a fresh inlet), for
#: :meth:`RecoveryMachine.resolved`.
NOTHING = "nothing"  # no stream matches the pinned identity
SAME = "same"  # the outlet the inlet was opened on is still advertised
AMBIGUOUS = "ambiguous"  # several new outlets match
NEW = "new"  # one new outlet, compatible (detail describes it)
OUTCOMES = (NOTHING, SAME, AMBIGUOUS, REFUSED, NEW)

#: Log level per event kind (the inlet logs what it queues; the reader logs its own
#: ``"error"`` with the traceback).
EVENT_LEVELS = {
    "stale": logging.WARNING,
    "absent": logging.WARNING,
    "recovering": logging.WARNING,
    "refused": logging.ERROR,
    "lost": logging.ERROR,
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
    reresolve_interval_s : float
        First pause between re-resolutions while the stream is away.
    reresolve_max_interval_s : float
        Longest pause (the backoff doubles up to it). It bounds the recovery time: a
        resolution under way when the source comes back does not see it (measured), so data
        are back at worst one resolution (:data:`cmt_live.lsl.resolve.RERESOLVE_TIMEOUT_S`,
        1 s) + this pause + the ~0.5 s a found stream takes to answer + the open, after the
        source is: 0.25 s keeps that under the 2 s target; a resolution costs only a query.
    lost_after_s : float | None
        Away this long (counted from the last sample) -> ``"lost"``; None never.
    """

    stale_after_s: float
    reresolve_interval_s: float = 0.125
    reresolve_max_interval_s: float = 0.25
    lost_after_s: float | None = None

    def __post_init__(self) -> None:
        if not self.stale_after_s > 0:
            raise ValueError(f"stale_after_s must be > 0 s; got {self.stale_after_s}.")
        if not self.reresolve_interval_s > 0:
            raise ValueError(
                f"reresolve_interval_s must be > 0 s; got {self.reresolve_interval_s}."
            )
        if not self.reresolve_max_interval_s >= self.reresolve_interval_s:
            raise ValueError(
                f"reresolve_max_interval_s must be >= reresolve_interval_s "
                f"({self.reresolve_interval_s:g} s); got {self.reresolve_max_interval_s}."
            )
        if self.lost_after_s is not None and not self.lost_after_s > 0:
            raise ValueError(
                f"lost_after_s must be > 0 s or None; got {self.lost_after_s}. "
                "Use None to never declare a stream lost."
            )


@dataclass(frozen=True)
class Step:
    """What one input did.

    Parameters
    ----------
    status : str
        The state after the input (see the module docstring).
    events : tuple of (kind, message, t)
        Events to queue, oldest first (``t`` as given to the input).
    action : str | None
        :data:`RESOLVE`, :data:`OPEN` or None.
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

    Attributes
    ----------
    n_recoveries : int
        Outages ended by data.
    n_resolves : int
        Re-resolutions asked for.
    t_last_data : float
        When data were last fed.
    t_outage : float | None
        When the current outage began (the last data before it, or the ``LostError``);
        None while connected.
    is_lost : bool
        The current outage has lasted ``lost_after_s`` (stays True until data flow again).
    """

    def __init__(self, settings: RecoverySettings, *, t: float):
        self.settings = settings
        self.status = CONNECTED
        self.t_last_data = float(t)
        self.t_outage: float | None = None
        self.n_recoveries = 0
        self.n_resolves = 0
        self.is_lost = False
        self._has_inlet = True
        self._pause = settings.reresolve_interval_s
        self._t_next_resolve = float("-inf")
        self._told: set[str] = set()  # repeated outcomes told in this outage

    @property
    def has_inlet(self) -> bool:
        """Whether the input holds an inlet (False after a LostError)."""
        return self._has_inlet

    # --- inputs --------------------------------------------------------------------------
    def begin(self, t: float) -> None:
        """The reader starts at ``t``: a late start is not an outage."""
        self.t_last_data = float(t)

    def data(self, t: float) -> Step:
        """Samples were fed at ``t``."""
        events: tuple[Event, ...] = ()
        if self.t_outage is not None:
            self.n_recoveries += 1
            events = (("connected", f"samples flow again after {t - self.t_outage:.2f} s", t),)
            self.t_outage = None
            self._told.clear()
            self.is_lost = False
        self.status = CONNECTED
        self.t_last_data = float(t)
        self._pause = self.settings.reresolve_interval_s
        return Step(self.status, events)

    def tick(self, t: float) -> Step:
        """Nothing was fed at ``t``: stale after ``stale_after_s``, ``lost`` after
        ``lost_after_s``, and a re-resolution whenever one is due."""
        s = self.settings
        silent = t - self.t_last_data
        if self.t_outage is None:
            if silent < s.stale_after_s:
                return Step(self.status)
            self.t_outage = self.t_last_data
            self.status = STALE
            self._t_next_resolve = t
            events = [("stale", f"no sample for {silent:.2f} s (limit {s.stale_after_s:g} s)", t)]
        else:
            events = []
        events += self._check_lost(t)
        if t < self._t_next_resolve:
            return Step(self.status, tuple(events))
        self._t_next_resolve = float("inf")  # until resolved() schedules the next one
        self.n_resolves += 1
        if self.status in (CONNECTED, STALE):
            self.status = RECOVERING
        return Step(self.status, tuple(events), RESOLVE)

    def lost(self, t: float) -> Step:
        """The inlet raised ``LostError`` at ``t`` and was dropped (never reopen it)."""
        self._has_inlet = False
        if self.t_outage is None:
            self.t_outage = float(t)
        if not self.is_lost:
            self.status = RECOVERING
        self._t_next_resolve = t
        return Step(self.status, (("recovering", "stream lost (LostError); re-resolving", t),))

    def resolved(self, t: float, outcome: str, detail: str = "") -> Step:
        """What the re-resolution asked for found, at ``t`` (when it returned).

        Also called with :data:`REFUSED` when a fresh inlet's full description fails the
        checks (then the inlet was closed).

        Parameters
        ----------
        t : float
        outcome : str
            One of :data:`OUTCOMES`.
        detail : str
            :data:`AMBIGUOUS`, :data:`REFUSED`: the reason; :data:`NEW`: the outlet's
            description.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}; got {outcome!r}.")
        if outcome == NEW or (outcome == SAME and not self._has_inlet):
            # A new outlet, or the old one while our connection to it is gone: a fresh inlet.
            self._t_next_resolve = t  # if opening fails, look again at once
            return Step(self.status, (), OPEN)
        self._t_next_resolve = t + self._pause
        self._pause = min(2 * self._pause, self.settings.reresolve_max_interval_s)
        if outcome == SAME:
            status, event = STALE, None  # the outlet is still there, only silent
        elif outcome == NOTHING:
            status, event = ABSENT, ("absent", "no stream matches the pinned identity; retrying")
        elif outcome == AMBIGUOUS:
            status, event = RECOVERING, ("recovering", detail)
        else:
            status, event = REFUSED, ("refused", detail)
        if not self.is_lost:
            self.status = status
        if event is None or event[0] + event[1] in self._told:
            return Step(self.status)
        self._told.add(event[0] + event[1])
        return Step(self.status, ((*event, t),))

    def opened(self, t: float, detail: str) -> Step:
        """A fresh inlet was opened at ``t`` on the outlet found (``detail`` describes it)."""
        self._has_inlet = True
        self._pause = self.settings.reresolve_interval_s
        # If it stays silent, the next re-resolution follows the first pause.
        self._t_next_resolve = t + self._pause
        if not self.is_lost:
            self.status = RECOVERING
        return Step(self.status, (("reconnected", f"opened a fresh inlet on {detail}", t),))

    def open_failed(self, t: float, reason: str) -> Step:
        """Opening a fresh inlet failed at ``t`` (the next re-resolution follows a pause)."""
        return self.resolved(t, AMBIGUOUS, reason)

    def failed(self, t: float, reason: str) -> Step:
        """The reader stopped for good at ``t`` (an unexpected error)."""
        self.status = ABSENT
        return Step(self.status, (("error", f"reader thread stopped: {reason}", t),))

    def _check_lost(self, t: float) -> list[Event]:
        limit = self.settings.lost_after_s
        if self.is_lost or limit is None or t - self.t_outage < limit:
            return []
        self.is_lost = True
        self.status = LOST
        away = t - self.t_outage
        return [
            (
                "lost",
                f"stream away for {away:.1f} s (limit {limit:g} s); still trying to reconnect",
                t,
            )
        ]
