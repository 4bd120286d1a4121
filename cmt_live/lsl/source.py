"""LSL streams as a :class:`~cmt_live.source.Source`: live use and real-time replay.

:class:`LslSource` resolves the EEG, gaze and marker streams a :class:`StreamSelection` names,
matches their channels to the model's before anything is read, runs one
:class:`~cmt_live.lsl.inlet.StreamInput` per stream (reader thread, watchdog, recovery) and
turns what they received into :class:`~cmt_live.source.Batch` records for the driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from cmt_live._logging import logger
from cmt_live.channels import match_gaze_channels, select_channels
from cmt_live.records import Flag, StreamHealth
from cmt_live.settings import ContractError
from cmt_live.source import Batch, SourceInfo

#: Event kind: the marker stream asked for was not found at start-up.
MARKER_MISSING = "marker_missing"


@dataclass(frozen=True)
class StreamSelection:
    """Which LSL streams to use and how to read them (from the command line).

    Parameters
    ----------
    eeg : str
        EEG stream name.
    eye : str | None
        Gaze stream name; None runs EEG-only (eye mask zero, flag ``eye_missing``).
    markers : str | None
        Ground-truth marker stream (strings), forwarded to the sinks.
    markers_required : bool
        Refuse to start when the marker stream is not found (else log and go on without it).
    eeg_source_id, eye_source_id, eeg_hostname, eye_hostname : str | None
        Pin streams among several of the same name.
    channel_map : str | dict | None
        ``--channel-map`` renames.
    fill_missing : int
        ``--fill-missing``: up to this many missing model channels are interpolated.
    eeg_unit : str | None
        Overrides the EEG units the stream declares (``"uV"``, ``"V"``).
    resolve_timeout_s, marker_timeout_s : float
        Seconds to wait for each stream.
    time_scale : float
        For faster-than-real-time sources (``cmt-sim stream --speed K``): LSL stamps are
        stretched by K around the open time, so the model sees the simulated time base. 1 for
        real streams.
    lost_after_s : float | None
        An EEG or gaze outage longer than this is told loudly: a ``"lost"`` event (log,
        monitor) and the stream's health status ``"lost"``; recovery goes on. None: never.
    exit_on_loss_s : float | None
        An outage longer than this ends the source (:meth:`LslSource.read` returns None after
        an ``"exit_on_loss"`` event; :attr:`LslSource.gave_up` says why). None: never.
    """

    eeg: str
    eye: str | None = None
    markers: str | None = None
    markers_required: bool = False
    eeg_source_id: str | None = None
    eye_source_id: str | None = None
    eeg_hostname: str | None = None
    eye_hostname: str | None = None
    channel_map: str | dict | None = None
    fill_missing: int = 0
    eeg_unit: str | None = None
    resolve_timeout_s: float = 5.0
    marker_timeout_s: float = 2.0
    time_scale: float = 1.0
    lost_after_s: float | None = 10.0
    exit_on_loss_s: float | None = None

    def __post_init__(self) -> None:
        if not self.time_scale > 0:
            raise ValueError(f"time_scale must be > 0; got {self.time_scale}.")
        for name in ("lost_after_s", "exit_on_loss_s"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ValueError(f"{name} must be > 0 s or None; got {v}.")


class LslSource:
    """LSL inlets -> batches (see the module docstring).

    Parameters
    ----------
    selection : StreamSelection
    ch_names : sequence of str
        The model's EEG channels, in its order.

    Attributes
    ----------
    info : SourceInfo
        Set by :meth:`open`.
    eeg, gaze : cmt_live.lsl.inlet.StreamInput | None
    markers : cmt_live.lsl.markers.MarkerInput | None
    gave_up : str | None
        Why :meth:`read` ended the source (a stream away longer than ``exit_on_loss_s``).
    """

    realtime = True

    def __init__(self, selection: StreamSelection, ch_names: Sequence[str]):
        self.selection = selection
        self.ch_names = tuple(ch_names)
        self.info: SourceInfo | None = None
        self.eeg = self.gaze = self.markers = None
        self._eeg_sel = self._gaze_idx = None
        self._t0 = 0.0
        self._clock = None
        self._first_events: list[tuple[str, str, float]] = []
        self.gave_up: str | None = None
        self._missing_markers: str | None = None

    # --- clock mapping for scaled sources ----------------------------------------------------
    def to_model_time(self, ts):
        """LSL seconds -> the pipeline's time (stretched by ``time_scale`` around the open)."""
        k = self.selection.time_scale
        if k == 1.0:
            return ts
        return self._t0 + (np.asarray(ts, dtype=np.float64) - self._t0) * k

    def to_lsl_time(self, t: float) -> float:
        """The pipeline's time -> LSL seconds (for the prediction outlet's stamps)."""
        k = self.selection.time_scale
        return t if k == 1.0 else self._t0 + (t - self._t0) / k

    def now(self) -> float:
        return float(self.to_model_time(self._clock()))

    # --- open: resolve and check before the first window -------------------------------------
    def open(self) -> SourceInfo:
        """Resolve the streams, check their channels against the model's; nothing is read yet
        (call :meth:`start` once the pipeline exists).

        Raises
        ------
        cmt_live.lsl.resolve.StreamResolutionError
            A stream is missing or ambiguous.
        ContractError
            The channels do not match the model's, or the marker stream is required and absent.
        """
        import pylsl

        from cmt_live.lsl.inlet import StreamInput
        from cmt_live.lsl.markers import MarkerInput
        from cmt_live.lsl.resolve import predicate, resolve_stream

        sel = self.selection
        self._clock = pylsl.local_clock
        self._lsl_timeout = pylsl.util.TimeoutError
        self._t0 = pylsl.local_clock()
        info = resolve_stream(
            sel.eeg,
            source_id=sel.eeg_source_id,
            hostname=sel.eeg_hostname,
            timeout=sel.resolve_timeout_s,
            kind="eeg",
        )
        # A scaled source's stamps are compressed K times; a dejitterer fitted to the nominal
        # rate would stretch them back, so scaled runs use the clock-synced stamps as sent.
        # Limits are in the pipeline's time; the inlets count LSL seconds.
        lost_after_s = None if sel.lost_after_s is None else sel.lost_after_s / sel.time_scale
        self.eeg = StreamInput(
            info,
            kind="eeg",
            unit=sel.eeg_unit,
            start=False,
            dejitter=sel.time_scale == 1.0,
            lost_after_s=lost_after_s,
        )
        try:
            self._eeg_sel = select_channels(
                self.eeg.ch_names, self.ch_names, sel.channel_map, fill_missing=sel.fill_missing
            )
            if sel.eye:
                ginfo = resolve_stream(
                    sel.eye,
                    source_id=sel.eye_source_id,
                    hostname=sel.eye_hostname,
                    timeout=sel.resolve_timeout_s,
                    kind="gaze",
                )
                self.gaze = StreamInput(ginfo, kind="gaze", start=False, lost_after_s=lost_after_s)
                self._gaze_idx = match_gaze_channels(self.gaze.ch_names)
            if sel.markers:
                found = pylsl.resolve_bypred(
                    predicate(sel.markers, None, None, None), 1, max(sel.marker_timeout_s, 0.01)
                )
                if found:
                    self.markers = MarkerInput(found[0])
                elif sel.markers_required:
                    raise ContractError(
                        f"No marker stream {sel.markers!r} within {sel.marker_timeout_s:g} s."
                    )
                else:
                    # A misspelt name must not pass silently: warned, and logged as an event.
                    msg = (
                        f"no marker stream {sel.markers!r} found within "
                        f"{sel.marker_timeout_s:g} s; running without ground truth. Check the "
                        "name given to --marker-stream."
                    )
                    logger.warning("%s", msg)
                    self._first_events.append((MARKER_MISSING, msg, self._clock()))
                    self._missing_markers = sel.markers
        except ContractError:
            self.close()
            raise
        except ValueError as err:  # channels that do not match: the contract's concern
            self.close()
            raise ContractError(str(err)) from err
        except BaseException:
            self.close()
            raise
        if self.gaze is None:
            # On the LSL clock, like every event read() collects (it maps them all at once).
            self._first_events.append(
                (Flag.EYE_MISSING, "no eye stream given: EEG-only predictions", self._clock())
            )
        self.info = SourceInfo(
            eeg=self.eeg.meta,
            gaze=self.gaze.meta if self.gaze is not None else None,
            markers=self.markers.name if self.markers is not None else None,
            filled_channels=self._eeg_sel.filled,
        )
        return self.info

    def start(self) -> None:
        """Start the inlets' reader threads."""
        for inp in (self.eeg, self.gaze):
            if inp is not None:
                inp.start()

    # --- the Source protocol -----------------------------------------------------------------
    def read(self) -> Batch | None:
        """Everything received since the last call, on the pipeline's clock; None once a
        stream stayed away longer than ``exit_on_loss_s`` (after a batch with the event)."""
        if self.gave_up is not None:
            return None
        eeg, gaze = self.eeg, self.gaze
        data, ts = eeg.read_new()
        events, self._first_events = self._first_events, []
        parts = dict(
            eeg=self._eeg_sel.take(data),
            eeg_ts=ts,
            markers=self._pull_markers(),
            eeg_stale=eeg.status != "connected",
            eeg_gaps=eeg.gaps,
            timestamp_faults=eeg.timestamp_faults,
        )
        if gaze is not None:
            g, gts = gaze.read_new()
            parts.update(
                gaze=g[:, self._gaze_idx],
                gaze_ts=gts,
                eye_stale=gaze.status != "connected",
                gaze_gaps=gaze.gaps,
            )
        for inp in (eeg, gaze):
            if inp is not None:
                events += [(k, f"[{inp.name}] {m}", t) for k, m, t in inp.pop_events()]
        events += self._exit_on_loss()
        lost = {Flag.EEG_LOST: eeg, Flag.EYE_LOST: gaze}
        parts["lost_flags"] = frozenset(
            f for f, inp in lost.items() if inp is not None and inp.recovery.is_lost
        )
        batch = Batch(events=events, **parts)
        return batch if self.selection.time_scale == 1.0 else self._stretched(batch)

    def _pull_markers(self) -> list[tuple[float, str]]:
        if self.markers is None:
            return []
        try:
            return self.markers.pull()
        except self._lsl_timeout:
            # With clock sync a pull can time out while the marker source is gone; the
            # samples stay queued for the next pull.
            return []

    def _exit_on_loss(self) -> list[tuple[str, str, float]]:
        """The ``exit_on_loss`` event, once, when an input has been away too long."""
        limit = self.selection.exit_on_loss_s
        if limit is None:
            return []
        now = self._clock()
        for inp in (self.eeg, self.gaze):
            t_out = inp.recovery.t_outage if inp is not None else None
            if t_out is None:
                continue
            away = (now - t_out) * self.selection.time_scale
            if away >= limit:
                self.gave_up = (
                    f"stream {inp.name!r} away for {away:.1f} s, longer than --exit-on-loss "
                    f"{limit:g} s (status {inp.status}); stopping."
                )
                logger.error(self.gave_up)
                return [("exit_on_loss", self.gave_up, now)]
        return []

    def _stretched(self, b: Batch) -> Batch:
        """``b`` with every LSL time mapped to the pipeline's (scaled sources only)."""
        t = self.to_model_time
        return replace(
            b,
            eeg_ts=t(b.eeg_ts),
            gaze_ts=t(b.gaze_ts),
            markers=[(float(t(x)), label) for x, label in b.markers],
            events=[(k, m, float(t(x))) for k, m, x in b.events],
            eeg_gaps=[(float(t(x)), float(t(y))) for x, y in b.eeg_gaps],
            gaze_gaps=[(float(t(x)), float(t(y))) for x, y in b.gaze_gaps],
            timestamp_faults=[float(t(x)) for x in b.timestamp_faults],
        )

    def health(self) -> list[StreamHealth]:
        out = [inp.health() for inp in (self.eeg, self.gaze) if inp is not None]
        if self._missing_markers is not None:  # shown as a stream that is not there
            out.append(StreamHealth(name=self._missing_markers, status="absent", t=self._clock()))
        return out

    def close(self) -> None:
        """Close the inlets (safe to call twice)."""
        for inp in (self.eeg, self.gaze, self.markers):
            if inp is not None:
                inp.close()
        self.eeg = self.gaze = self.markers = None
