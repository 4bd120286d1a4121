"""The thread-safe sink that carries pipeline records to the Qt monitor (no Qt in here).

The pipeline's worker thread calls the :class:`cmt_live.sinks.Sink` methods of :class:`QtSink`;
they only validate cheaply and put one typed record on a :class:`queue.SimpleQueue` (lock-free
for producers, never blocks). The monitor's ``QTimer`` drains the queue in the GUI thread
(:meth:`QtSink.drain`) and hands the records to :class:`apps.state.MonitorState`. Nothing here
touches Qt, so a worker can never reach a widget through it (STYLE.md: "never touch a widget
from a worker").

Records drained, oldest first (:data:`Record`): the pipeline's own
:class:`~cmt_live.records.Prediction` and :class:`~cmt_live.records.FeatureFrame`, and the
small records below for the calls that carry loose arguments: :class:`HealthSnapshot`,
:class:`StreamEvent`, :class:`Marker`, :class:`GazeChunk` and :class:`PipelineClosed`.
"""

from __future__ import annotations

import queue
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cmt_live.records import FeatureFrame, Prediction, StreamHealth
from cmt_live.sinks import Sink


@dataclass(frozen=True)
class HealthSnapshot:
    """All inputs' health at one moment (:meth:`QtSink.on_health`)."""

    streams: tuple[StreamHealth, ...]


@dataclass(frozen=True)
class StreamEvent:
    """A stream or pipeline event: ``kind`` (e.g. ``"stale"``), human ``message``, LSL ``t``."""

    kind: str
    message: str
    t: float


@dataclass(frozen=True)
class Marker:
    """A ground-truth marker: LSL seconds ``t``, class name (or e.g. ``"Rest"``) ``label``."""

    t: float
    label: str


@dataclass(frozen=True, eq=False)
class GazeChunk:
    """Raw gaze as the pipeline received it (copies, owned by the record).

    Parameters
    ----------
    timestamps : array of shape (n_samples,)
        LSL seconds.
    gaze : array of shape (n_samples, 5)
        ``x_deg, y_deg, pupil_1, pupil_2, valid``.
    """

    timestamps: np.ndarray
    gaze: np.ndarray


@dataclass(frozen=True)
class PipelineClosed:
    """The pipeline finished (:meth:`QtSink.close`); the window keeps showing what it has."""


#: What :meth:`QtSink.drain` returns items of.
Record = (
    Prediction | FeatureFrame | HealthSnapshot | StreamEvent | Marker | GazeChunk | PipelineClosed
)


class QtSink(Sink):
    """Pipeline sink for the Qt monitor; every method is safe to call from any thread.

    Parameters
    ----------
    n_eeg_features : int or None
        Expected length of ``FeatureFrame.eeg`` (e.g. 310); checked on :meth:`on_features`.

    Notes
    -----
    After :meth:`detach` (the window closed) the sink drops everything, so a worker that is still
    shutting down cannot grow the queue without bound.
    """

    def __init__(self, n_eeg_features: int | None = None) -> None:
        self._queue: queue.SimpleQueue[Record] = queue.SimpleQueue()
        self._n_eeg = n_eeg_features
        self._detached = False

    # -- producer side (worker threads) ---------------------------------------------------
    def _put(self, record: Record) -> None:
        if not self._detached:
            self._queue.put(record)

    def on_prediction(self, pred: Prediction) -> None:
        """Queue one :class:`~cmt_live.records.Prediction`."""
        if not isinstance(pred, Prediction):
            raise TypeError(
                f"on_prediction expects a cmt_live.records.Prediction; got {type(pred).__name__}."
            )
        self._put(pred)

    def on_health(self, health: Sequence[StreamHealth]) -> None:
        """Queue a snapshot of all inputs' :class:`~cmt_live.records.StreamHealth`."""
        health = tuple(health)
        for h in health:
            if not isinstance(h, StreamHealth):
                raise TypeError(
                    f"on_health expects a list of StreamHealth; got an item of type "
                    f"{type(h).__name__}."
                )
        self._put(HealthSnapshot(health))

    def on_event(self, kind: str, message: str, t: float) -> None:
        """Queue a stream event (``kind`` e.g. ``"stale"``, ``message`` human text, LSL ``t``)."""
        self._put(StreamEvent(str(kind), str(message), float(t)))

    def on_features(self, frame: FeatureFrame) -> None:
        """Queue the latest window's :class:`~cmt_live.records.FeatureFrame`."""
        if not isinstance(frame, FeatureFrame):
            raise TypeError(
                f"on_features expects a cmt_live.records.FeatureFrame; got {type(frame).__name__}."
            )
        if self._n_eeg is not None and frame.eeg.shape != (self._n_eeg,):
            raise ValueError(
                f"FeatureFrame.eeg has shape {frame.eeg.shape}; the monitor was built for "
                f"({self._n_eeg},) (n_channels x 5 bands). Pass the model's channel list as "
                f"ch_names to MonitorWindow/run_monitor."
            )
        self._put(frame)

    def on_marker(self, t: float, label: str) -> None:
        """Queue a ground-truth marker (LSL seconds ``t``, class name ``label``)."""
        self._put(Marker(float(t), str(label)))

    def on_gaze(self, timestamps: np.ndarray, gaze: np.ndarray) -> None:
        """Queue raw gaze (see :meth:`cmt_live.sinks.Sink.on_gaze`) for the pupil trace; the
        arrays are copied, so the caller may reuse its buffers."""
        ts = np.array(timestamps, dtype=np.float64, copy=True).reshape(-1)
        g = np.array(gaze, dtype=np.float64, copy=True)
        if g.ndim != 2 or g.shape != (len(ts), 5):
            raise ValueError(
                f"on_gaze expects gaze of shape (n, 5) = (x, y, pupil_1, pupil_2, valid) with one "
                f"timestamp per row; got gaze {g.shape} and timestamps {ts.shape}."
            )
        if len(ts):
            self._put(GazeChunk(ts, g))

    def close(self) -> None:
        """The pipeline finished; the window keeps showing what it has."""
        self._put(PipelineClosed())

    # -- consumer side (GUI thread) -------------------------------------------------------
    def drain(self, max_items: int | None = None) -> list[Record]:
        """Take up to ``max_items`` queued records (all if None), oldest first."""
        out: list[Record] = []
        while max_items is None or len(out) < max_items:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return out

    def detach(self) -> None:
        """Stop accepting records (called when the window closes) and drop what is queued."""
        self._detached = True
        self.drain()
