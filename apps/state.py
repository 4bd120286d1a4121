"""What the monitor shows, as plain data: the Qt-free state the window draws and tests drive.

:class:`MonitorState` ingests the records :meth:`apps.sink.QtSink.drain` returns and keeps
everything the panels show: the latest prediction (and its headline text), ring-buffered
histories of predictions, per-window pupil means and raw pupil samples, the streams' health
rows and gaps, and the events and ground-truth markers not yet drawn. Times are session
seconds: LSL seconds minus the first timestamp seen. It records *what* changed
(:class:`Changed`); the window decides *when* to redraw. Numpy only, so
``tests/test_monitor_state.py`` drives it without Qt.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from apps.history import History
from apps.sink import GazeChunk, HealthSnapshot, Marker, PipelineClosed, Record, StreamEvent
from apps.theme import FOREGROUND, class_color
from cmt_live.records import BUDGET_KEYS, FeatureFrame, Flag, Prediction, StreamHealth
from cmt_live.sinks import GroundTruth
from features.constants import EYE_FEATURE_NAMES
from features.seedv import CLASS_NAMES

#: Columns of ``FeatureFrame.eye`` drawn as the per-window pupil trace.
PUPIL_COLUMNS: tuple[int, int] = (
    EYE_FEATURE_NAMES.index("pupil1_mean"),
    EYE_FEATURE_NAMES.index("pupil2_mean"),
)
_EEG_MISSING = frozenset({Flag.EEG_MISSING, Flag.EEG_STALE})
_EYE_MISSING = frozenset({Flag.EYE_MISSING, Flag.EYE_STALE})


#: Status of a row before its stream's first health (or first marker), and of the Markers
#: row after its first marker.
WAITING, CONNECTED = "waiting", "connected"


@dataclass(frozen=True)
class StreamLabel:
    """What the health table says about an input besides its numbers.

    ``role`` is ``"EEG"``, ``"gaze"`` or ``"markers"``; ``type`` and ``source_id`` as LSL
    declares them (empty when unknown).
    """

    name: str
    role: str
    type: str = ""
    source_id: str = ""

    @property
    def detail(self) -> str:
        """``"type · source_id"`` (the parts that are known)."""
        return " · ".join(p for p in (self.type, self.source_id) if p)


@dataclass(frozen=True)
class EventLine:
    """One line of the Events panel: session seconds ``t``, ``kind``, human ``text``.

    ``kind`` is whatever the pipeline sent (a stream event such as ``stale``, a flag name such
    as ``eye_missing``, ``marker``...): new kinds appear without changes here.
    """

    t: float
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.t + 0.0:8.1f} s  [{self.kind}] {self.text}"  # + 0.0: no "-0.0"


class Changed(enum.Flag):
    """Parts of the view made out of date by ingested records."""

    NONE = 0
    PREDICTIONS = enum.auto()  # probability curves, gates, missing-modality shading
    HEADLINE = enum.auto()
    HEALTH = enum.auto()
    GAPS = enum.auto()
    FEATURES = enum.auto()  # per-window pupil means
    MAPS = enum.auto()  # scalp maps of the latest window
    RAW_PUPIL = enum.auto()
    MARKERS = enum.auto()
    FINISHED = enum.auto()
    ACCURACY = enum.auto()
    BUDGET = enum.auto()  # the latency budget table (drawn only while it is shown)


#: Parts drawn in the time plots (redrawn when the time axis moves by a pixel or more).
PLOT_PARTS = (
    Changed.PREDICTIONS | Changed.MARKERS | Changed.FEATURES | Changed.RAW_PUPIL | Changed.GAPS
)
#: Text read by people: the headline, the health table and the accuracy line.
TEXT_PARTS = Changed.HEADLINE | Changed.HEALTH | Changed.ACCURACY


@dataclass(frozen=True)
class Headline:
    """The big line at the top of the window, for the newest prediction."""

    label: str
    color: str
    confidence: str  # e.g. "86%"
    info: str  # gates, latency, compute time, context, count
    flags: str  # "" when the prediction carries no flag


class MonitorState:
    """The records received so far, arranged for drawing; no Qt, no threads.

    Parameters
    ----------
    class_names : sequence of str
        Class order of ``Prediction.probs``.
    history_s : float
        Seconds of history kept and shown on the time axis.
    max_prediction_rate_hz : float
        Sizes the prediction and pupil-mean ring buffers (``history_s * rate`` rows).
    max_gaze_rate_hz : float
        Sizes the raw-pupil ring buffer.
    max_events : int
        Event lines kept until the window takes them (:meth:`take_new_events`).
    max_markers : int
        Ground-truth markers kept until the window takes them (:meth:`take_new_markers`).
    gaze_break_s : float
        A pause longer than this between valid gaze samples breaks the raw-pupil line instead
        of bridging it (outages, long blinks).
    window_s : float
        Window length of the model, seconds (scores predictions against the markers).
    last_n_trials : int
        The running accuracy also over the last this many trials (marker segments).
    budget_n : int
        The latency budget's percentiles are over the last this many predictions.
    """

    def __init__(
        self,
        class_names: Sequence[str] = CLASS_NAMES,
        *,
        history_s: float = 600.0,
        max_prediction_rate_hz: float = 10.0,
        max_gaze_rate_hz: float = 150.0,
        max_events: int = 500,
        max_markers: int = 200,
        gaze_break_s: float = 0.5,
        window_s: float = 4.0,
        last_n_trials: int = 5,
        budget_n: int = 600,
    ) -> None:
        if not history_s > 0:
            raise ValueError(f"history_s must be > 0 seconds; got {history_s}.")
        for name, value in (
            ("max_prediction_rate_hz", max_prediction_rate_hz),
            ("max_gaze_rate_hz", max_gaze_rate_hz),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be > 0 Hz; got {value}.")
        self.class_names = tuple(class_names)
        self.history_s = float(history_s)
        self.gaze_break_s = float(gaze_break_s)
        n_cls = len(self.class_names)
        n_rows = max(16, int(history_s * max_prediction_rate_hz))
        #: Columns: probs (n_classes), gates (EEG, eye), EEG missing (0/1), eye missing (0/1).
        self.predictions = History(n_rows, n_cls + 4)
        self.pupil_means = History(n_rows, 2)  # NaN rows where the window's eye data is invalid
        self.raw_pupil = History(max(64, int(history_s * max_gaze_rate_hz)), 1)
        self.t0: float | None = None  # LSL seconds shown as 0 on the time axis
        self.t_last = 0.0  # newest session time seen
        self.t_first = 0.0  # oldest session time seen (a marker can precede the first window)
        self.latest_prediction: Prediction | None = None
        self.latest_frame: FeatureFrame | None = None
        self.health_rows: dict[str, StreamHealth] = {}  # newest per stream, in order seen
        self.gaps: list[tuple[str, float, float]] = []  # (stream, start, end), session seconds
        self.n_predictions = 0
        self.finished = False
        self.latency_ms = History(n_rows, 1)  # end-to-end latency per prediction
        #: Per prediction, ms in BUDGET_KEYS order then the end-to-end latency; NaN = not given.
        self.budget_ms = History(max(1, int(budget_n)), len(BUDGET_KEYS) + 1)
        self.rates: dict[str, History] = {}  # stream -> effective / nominal rate, percent
        self._n_rate_rows = n_rows
        self.streams: dict[str, StreamLabel] = {}  # inputs the window was told about
        self.truth = GroundTruth(window_s, self.class_names)
        self.last_n_trials = int(last_n_trials)
        self.trials: dict[float, list[int]] = {}  # marker time -> [n scored, n correct]
        self.n_markers = 0
        self._active_flags: dict[str, float] = {}  # flag -> session time it appeared
        self._new_events: deque[EventLine] = deque(maxlen=int(max_events))
        self._new_markers: deque[tuple[float, str]] = deque(maxlen=int(max_markers))
        self._changed = Changed.NONE
        self._by_type: dict[type, Callable[[Record], None]] = {
            Prediction: self.add_prediction,
            FeatureFrame: self.add_features,
            HealthSnapshot: self.add_health,
            StreamEvent: self.add_event,
            Marker: self.add_marker,
            GazeChunk: self.add_gaze,
            PipelineClosed: self.mark_closed,
        }

    # -- time ------------------------------------------------------------------------------
    def origin(self, t: float) -> float:
        """LSL seconds of session time 0: the first time ever seen (``t`` if none yet)."""
        if self.t0 is None:
            self.t0 = float(t)
        return self.t0

    def rel(self, t: float) -> float:
        """Session seconds of LSL time ``t``."""
        return float(t) - self.origin(t)

    # -- ingest ----------------------------------------------------------------------------
    def ingest(self, records: Iterable[Record]) -> None:
        """Take records as drained from :class:`apps.sink.QtSink`, oldest first."""
        for record in records:
            add = self._by_type.get(type(record))
            if add is None:
                raise TypeError(
                    f"MonitorState cannot ingest a {type(record).__name__}; it takes the "
                    f"records QtSink.drain() returns: "
                    f"{', '.join(t.__name__ for t in self._by_type)}."
                )
            add(record)

    def set_streams(self, streams: Iterable[StreamLabel]) -> None:
        """The inputs, with type and source; each gets a health row (markers included)."""
        self.streams = {s.name: s for s in streams}
        self._changed |= Changed.HEALTH

    def _event(self, t: float, kind: str, text: str) -> None:
        self._new_events.append(EventLine(t, str(kind), str(text)))

    def _note_flags(self, t: float, flags: frozenset[str]) -> None:
        """An event when a flag appears, and when it clears (with how long it lasted)."""
        for flag in sorted(flags - self._active_flags.keys()):
            self._active_flags[flag] = t
            self._event(t, flag, "started")
        for flag in sorted(self._active_flags.keys() - flags):
            since = self._active_flags.pop(flag)
            self._event(t, flag, f"cleared after {t - since:.1f} s")

    def add_prediction(self, pred: Prediction) -> None:
        t = self.rel(pred.t_end)
        self._note_flags(t, pred.flags)
        latency = (pred.t_computed - pred.t_end) * 1e3 if pred.t_computed else np.nan
        if pred.t_computed:
            self.latency_ms.push(t, [latency])
        if pred.budget:
            self.budget_ms.push(t, [*(pred.budget.get(k, np.nan) for k in BUDGET_KEYS), latency])
            self._changed |= Changed.BUDGET
        true = self.truth.score(pred)
        if true is not None:
            seg = self.truth.segment(pred.t_end - 1e-9)[0]
            tally = self.trials.setdefault(seg, [0, 0])
            tally[0] += 1
            tally[1] += pred.label == true
            self._changed |= Changed.ACCURACY
        n = len(self.class_names)
        row = np.empty(self.predictions.n_cols)
        row[:n] = pred.probs
        row[n : n + 2] = pred.gates
        row[n + 2] = 1.0 if pred.flags & _EEG_MISSING else 0.0
        row[n + 3] = 1.0 if pred.flags & _EYE_MISSING else 0.0
        self.predictions.push(t, row)
        self.t_last = max(self.t_last, t)
        self.latest_prediction = pred
        self.n_predictions += 1
        self._changed |= Changed.PREDICTIONS | Changed.HEADLINE

    def add_features(self, frame: FeatureFrame) -> None:
        t = self.rel(frame.t_end)
        if frame.eye_valid:
            self.pupil_means.push(t, frame.eye[list(PUPIL_COLUMNS)])
        else:
            self.pupil_means.push(t, (np.nan, np.nan))  # a break in the line, not a fake value
        self.latest_frame = frame
        self._changed |= Changed.FEATURES | Changed.MAPS

    def add_health(self, snapshot: HealthSnapshot) -> None:
        for h in snapshot.streams:
            self.health_rows[h.name] = h
            if h.t:
                self.t_last = max(self.t_last, self.rel(h.t))
                if h.nominal_rate > 0:
                    rate = self.rates.get(h.name)
                    if rate is None:
                        rate = self.rates[h.name] = History(self._n_rate_rows, 1)
                    rate.push(self.rel(h.t), [100.0 * h.effective_rate / h.nominal_rate])
        self.gaps = [
            (h.name, self.rel(g0), self.rel(g1))
            for h in self.health_rows.values()
            for g0, g1 in h.gaps
        ]
        self._changed |= Changed.HEALTH | Changed.GAPS

    def add_event(self, event: StreamEvent) -> None:
        self._event(self.rel(event.t), event.kind, event.message)

    def add_marker(self, marker: Marker) -> None:
        t = self.rel(marker.t)
        self.t_first = min(self.t_first, t)
        self.truth.add_marker(marker.t, marker.label)
        self.n_markers += 1
        self._new_markers.append((t, marker.label))
        self._event(t, "marker", marker.label)
        self._changed |= Changed.MARKERS | Changed.HEALTH | Changed.ACCURACY

    def add_gaze(self, chunk: GazeChunk) -> None:
        """Append the chunk's valid samples to the raw pupil trace (mean of both pupils).

        Samples flagged invalid (``valid`` column 0 or NaN) or with a NaN pupil are skipped; a
        pause longer than ``gaze_break_s`` between kept samples gets a NaN row at its middle so
        the line breaks across it instead of drawing a straight bridge.
        """
        ts, g = chunk.timestamps, chunk.gaze
        if not len(ts):
            return
        t_chunk = ts - self.origin(ts[0])
        keep = (g[:, 4] > 0.5) & np.isfinite(g[:, 2]) & np.isfinite(g[:, 3])
        if not keep.any():
            return
        t = t_chunk[keep]
        pupil = 0.5 * (g[keep, 2] + g[keep, 3])
        first_prev = self.raw_pupil.last_t if self.raw_pupil.count else t[0]
        prev = np.concatenate(([first_prev], t[:-1]))
        jumps = np.flatnonzero(t - prev > self.gaze_break_s)
        if len(jumps):
            t = np.insert(t, jumps, 0.5 * (t[jumps] + prev[jumps]))
            pupil = np.insert(pupil, jumps, np.nan)
        self.raw_pupil.push_many(t, pupil[:, None])
        self._changed |= Changed.RAW_PUPIL

    def mark_closed(self, _record: PipelineClosed) -> None:
        self._event(self.t_last, "stopped", "the pipeline stopped")
        self.finished = True
        self._changed |= Changed.FINISHED

    # -- what changed ------------------------------------------------------------------------
    @property
    def pending(self) -> Changed:
        """Parts changed since they were last taken."""
        return self._changed

    def take_changes(self, parts: Changed) -> Changed:
        """Return which of ``parts`` changed, and mark them as drawn."""
        taken = self._changed & parts
        self._changed &= ~parts
        return taken

    def take_new_events(self) -> list[EventLine]:
        """Event lines added since the last call, oldest first."""
        lines = list(self._new_events)
        self._new_events.clear()
        return lines

    def take_new_markers(self) -> list[tuple[float, str]]:
        """Markers ``(session seconds, label)`` added since the last call, oldest first."""
        items = list(self._new_markers)
        self._new_markers.clear()
        return items

    # -- what to draw ----------------------------------------------------------------------
    @property
    def t_min(self) -> float:
        """Oldest session time on the time axis."""
        return self.t_last - self.history_s

    def x_range(self) -> tuple[float, float]:
        """Time axis span: the last ``history_s`` seconds, at least 0-10 s (from the first
        marker when it came before the first window)."""
        t_hi = max(self.t_last, 10.0)
        return max(self.t_first, t_hi - self.history_s), t_hi

    def prediction_view(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(t (n,), probs (n, n_classes), gates (n, 2), eeg_missing (n,), eye_missing (n,))``."""
        n = len(self.class_names)
        t, v = self.predictions.view(self.t_min)
        return t, v[:, :n], v[:, n : n + 2], v[:, n + 2], v[:, n + 3]

    def pupil_view(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-window pupil means: ``(t (n,), pupils (n, 2))``, NaN where the eye was invalid."""
        return self.pupil_means.view(self.t_min)

    def raw_pupil_view(self) -> tuple[np.ndarray, np.ndarray]:
        """Raw pupil, mean of both eyes: ``(t (n,), pupil (n,))``, NaN at breaks."""
        t, v = self.raw_pupil.view(self.t_min)
        return t, v[:, 0]

    def health_view(self) -> list[tuple[StreamHealth, StreamLabel]]:
        """One row per input: each stream told about (markers included), then any other
        stream that sent health; a stream without health yet shows as ``waiting``."""
        rows = []
        names = list(self.streams) + [n for n in self.health_rows if n not in self.streams]
        for name in names:
            label = self.streams.get(name, StreamLabel(name, ""))
            if label.role == "markers":
                status = CONNECTED if self.n_markers else WAITING
                h = StreamHealth(name, status, n_samples=self.n_markers)
            else:
                h = self.health_rows.get(name, StreamHealth(name, WAITING))
            rows.append((h, label))
        return rows

    def accuracy_text(self) -> str:
        """Running accuracy against the markers, overall and over the last trials (what is
        missing when no prediction has been scored yet)."""
        summary = self.truth.summary()
        n = summary["n_scored"]
        if not n:
            return "no markers yet" if not self.truth.has_markers else "no scored window yet"
        text = (
            f"accuracy vs markers {summary['accuracy']:.0%} of {n} windows "
            f"(chance {summary['chance']:.0%})"
        )
        last = [self.trials[k] for k in sorted(self.trials)[-self.last_n_trials :]]
        if len(self.trials) > 1:
            n_last, ok_last = (sum(x) for x in zip(*last))
            text += f"   ·   last {len(last)} trials {ok_last / n_last:.0%}"
        return text

    def latency_view(self) -> tuple[np.ndarray, np.ndarray]:
        """End-to-end latency per prediction: ``(t (n,), ms (n,))``."""
        t, v = self.latency_ms.view(self.t_min)
        return t, v[:, 0]

    def budget_view(self) -> list[tuple[str, float, float, float]]:
        """The latency budget: one row ``(part, latest ms, p50 ms, p99 ms)`` per part of
        :data:`~cmt_live.records.BUDGET_KEYS`, then ``"sum of parts"`` and ``"end-to-end"``
        (``t_computed - t_end``); percentiles over the last ``budget_n`` predictions that
        carried a budget. NaN where a part was never given (empty list before any budget)."""
        _, v = self.budget_ms.view()
        if not len(v):
            return []
        v = np.column_stack([v[:, :-1], np.nansum(v[:, :-1], axis=1), v[:, -1]])
        names = (*BUDGET_KEYS, "sum of parts", "end-to-end")
        given = np.isfinite(v).any(axis=0)
        p50 = np.full(v.shape[1], np.nan)
        p99 = np.full(v.shape[1], np.nan)
        p50[given], p99[given] = np.nanpercentile(v[:, given], [50, 99], axis=0)
        return [
            (name, float(v[-1, i]), float(p50[i]), float(p99[i])) for i, name in enumerate(names)
        ]

    def rate_views(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per regular stream: ``(t (n,), effective / nominal rate in percent (n,))``."""
        out = {}
        for name, hist in self.rates.items():
            t, v = hist.view(self.t_min)
            out[name] = (t, v[:, 0])
        return out

    def headline(self) -> Headline | None:
        """The headline for the newest prediction (None before the first)."""
        pred = self.latest_prediction
        if pred is None:
            return None
        latency_ms = (pred.t_computed - pred.t_end) * 1e3 if pred.t_computed else float("nan")
        flags = sorted(pred.flags)
        return Headline(
            label=pred.label,
            color=class_color(pred.label, self.class_names, FOREGROUND),
            confidence=f"{pred.confidence:.0%}",
            info=(
                f"confidence {pred.confidence:.2f}   ·   gates EEG {pred.gates[0]:.2f} / "
                f"eye {pred.gates[1]:.2f}   ·   end-to-end latency {latency_ms:.0f} ms   ·   "
                f"compute {pred.compute_ms:.1f} ms   ·   context {pred.n_context} windows   ·   "
                f"{self.n_predictions} predictions"
            ),
            flags=("⚠ " + ", ".join(flags)) if flags else "",
        )
