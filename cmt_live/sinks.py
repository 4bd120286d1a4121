"""Where predictions go: the :class:`Sink` base, the session log, the running ground-truth score.

A sink subclasses :class:`Sink` and overrides the calls it cares about: ``on_prediction``,
``on_features``, ``on_event``, ``on_marker``, ``on_health``, ``on_gaze`` and ``close``. The
LSL outlet (:class:`cmt_live.lsl.outlet.LslOutletSink`), the terminal
:class:`cmt_live.dashboard.Dashboard` and the GUI's :class:`apps.sink.QtSink` are sinks too.
Sinks are called from the pipeline's thread; each one guards its own state.

Session log format (``--log PATH``), chosen by the extension:

``.jsonl`` (or ``.ndjson``)
    One JSON object per line, ``"kind"`` first: ``"start"`` (contract and settings),
    ``"prediction"``, ``"event"`` (``"event"``: stale, connected, gap, no_valid_context, ...),
    ``"marker"``, ``"health"`` (per-stream counts, every ``health_every_s``), ``"accuracy"``,
    ``"gaze_cutoff"`` (a window cut before all its gaze arrived: closed by the gaze wait, or
    reached by a jittered sample after it was cut; ``t_end`` and ``gaze_end``, for
    :func:`read_gaze_cutoffs`) and ``"end"`` (totals).
``.csv``
    One table, same rows, a ``kind`` column first (events and predictions in one file keep
    their order; a sibling file could not). Columns: :data:`CSV_COLUMNS`. Non-prediction rows
    leave the prediction columns empty and put their details in ``event`` and ``message``
    (JSON text for ``start``, ``health``, ``accuracy`` and ``end``).

Every line goes to the operating system when written (``os.write``, whole lines), so a crash
or a signal loses at most the line being written and never leaves half of one. A full or
failing disk does not stop the monitor: the rows are held in memory and retried
(:mod:`cmt_live.log_file`), the failure and the recovery become ``log_write_error`` /
``log_recovered`` events for every sink, and :meth:`SessionLog.close` says what could not be
written. Times are LSL seconds; ``latency_ms = (t_computed - t_end) * 1000``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import threading
from bisect import bisect_right
from pathlib import Path

import numpy as np

from features.seedv import CLASS_NAMES
from models.jsonsafe import jsonable

from ._logging import logger
from .log_file import HeldLines, LineFile
from .records import BUDGET_KEYS, MODALITIES, FeatureFrame, Prediction, StreamHealth


class Sink:
    """Receives what the pipeline produces; every call defaults to doing nothing."""

    def on_prediction(self, pred: Prediction) -> None:
        """A prediction for the window ending at ``pred.t_end``."""

    def on_features(self, frame: FeatureFrame) -> None:
        """The features of one window (also for windows that made no prediction)."""

    def on_gaze_cutoff(self, t_end: float, gaze_end: float) -> None:
        """The window ending at ``t_end`` used only gaze stamped before ``gaze_end`` (LSL
        seconds) although later gaze belongs to it (:attr:`cmt_live.records.Window.gaze_end`;
        also for a window already predicted when a jittered sample arrived)."""

    def on_event(self, kind: str, message: str, t: float) -> None:
        """A stream or pipeline event (``kind`` from :class:`cmt_live.records.Flag` and the
        inlets: stale, connected, gap, ...) at LSL seconds ``t``."""

    def on_marker(self, t: float, label: str) -> None:
        """A ground-truth marker (class name or e.g. ``"Rest"``) at LSL seconds ``t``."""

    def on_health(self, health: list[StreamHealth]) -> None:
        """Per-stream health, every ``health_every_s``."""

    def on_gaze(self, timestamps: np.ndarray, gaze: np.ndarray) -> None:
        """Raw gaze as the pipeline received it.

        Parameters
        ----------
        timestamps : array of shape (n_samples,)
            LSL seconds.
        gaze : array of shape (n_samples, 5)
            ``x_deg, y_deg, pupil_1, pupil_2, valid`` (pupils in the tracker's unit).
        """

    def pop_alerts(self) -> list[tuple[str, str]]:
        """This sink's own problems for the other sinks to show (e.g. the log's disk is full):
        ``(kind, message)`` pairs, each returned once. The pipeline sends them as events."""
        return []

    def close(self) -> None:
        """Release what the sink holds (files flushed, outlets unregistered)."""


CSV_COLUMNS: tuple[str, ...] = (
    "kind",
    "t_end",
    "t_computed",
    "latency_ms",
    "compute_ms",
    *(f"p_{c}" for c in CLASS_NAMES),
    "gate_eeg",
    "gate_eye",
    "label",
    "confidence",
    "flags",
    "n_context",
    "true_label",
    "event",
    "message",
    # Where the latency went (Prediction.budget), ms.
    *(f"ms_{k}" for k in BUDGET_KEYS),
)


def read_gaze_cutoffs(path) -> list[tuple[float, float]]:
    """``(t_end, gaze_end)`` of every ``gaze_cutoff`` row of a session log (``.jsonl`` or
    ``.csv``): the windows cut before all their gaze arrived. Give them to
    :class:`cmt_live.pipeline.Pipeline` (``gaze_cutoffs``) to replay those windows with the
    same gaze.

    Raises
    ------
    ValueError
        The file is not a session log (one line naming the file and the fix).
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8") as f:
                rows = [json.loads(r["message"]) for r in csv.DictReader(f)
                        if r.get("kind") == "gaze_cutoff"]  # fmt: skip
        else:
            rows = [r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())
                    if r.get("kind") == "gaze_cutoff"]  # fmt: skip
        return [(float(r["t_end"]), float(r["gaze_end"])) for r in rows]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(
            f"{path}: cannot read gaze cut-offs ({err}); give the session log (.jsonl or .csv) "
            "that cmt-live --log wrote."
        ) from None


# --- ground truth --------------------------------------------------------------------------
class GroundTruth:
    """Markers (``t``, label) and the running accuracy of predictions against them.

    A marker opens a segment that lasts until the next marker. A prediction is scored when its
    newest window ``[t_end - window_s, t_end)`` lies inside one segment whose label is a class
    name (``"Rest"`` and unknown labels are not scored); it is also counted as *settled* when
    its whole context (``n_context`` windows back) lies in that segment.

    Parameters
    ----------
    window_s : float
        Window length, seconds.
    class_names : sequence of str
    """

    def __init__(self, window_s: float, class_names=CLASS_NAMES):
        self.window_s = float(window_s)
        self.class_names = tuple(class_names)
        self._lower = {c.lower(): c for c in self.class_names}
        self._times: list[float] = []
        self._labels: list[str] = []
        self.n_scored = 0
        self.n_correct = 0
        self.n_settled = 0
        self.n_settled_correct = 0
        self._lock = threading.Lock()

    def add_marker(self, t: float, label: str) -> None:
        with self._lock:
            i = bisect_right(self._times, t)
            self._times.insert(i, float(t))
            self._labels.insert(i, str(label).strip())

    @property
    def has_markers(self) -> bool:
        return bool(self._times)

    def segment(self, t: float) -> tuple[float, float, str | None]:
        """``(t_start, t_next, class or None)`` of the segment holding ``t``."""
        with self._lock:
            i = bisect_right(self._times, t) - 1
            if i < 0:
                return -math.inf, (self._times[0] if self._times else math.inf), None
            nxt = self._times[i + 1] if i + 1 < len(self._times) else math.inf
            return self._times[i], nxt, self._lower.get(self._labels[i].lower())

    def truth(self, t_end: float) -> str | None:
        """The class of the window ending at ``t_end``, or None when it is not scorable."""
        t0, t1, label = self.segment(t_end - 1e-9)
        if label is None or t_end - self.window_s < t0 - 1e-9 or t_end > t1 + 1e-9:
            return None
        return label

    def score(self, pred: Prediction) -> str | None:
        """Count ``pred`` if scorable; returns its true class (None if not scored)."""
        label = self.truth(pred.t_end)
        if label is None:
            return None
        t0, _, _ = self.segment(pred.t_end - 1e-9)
        settled = pred.t_end - max(1, pred.n_context) * self.window_s >= t0 - 1e-9
        ok = pred.label == label
        with self._lock:
            self.n_scored += 1
            self.n_correct += ok
            if settled:
                self.n_settled += 1
                self.n_settled_correct += ok
        return label

    def summary(self) -> dict:
        """``{"n_scored", "accuracy", "n_settled", "accuracy_settled", "chance"}``."""
        with self._lock:
            return {
                "n_scored": self.n_scored,
                "accuracy": self.n_correct / self.n_scored if self.n_scored else None,
                "n_settled": self.n_settled,
                "accuracy_settled": (
                    self.n_settled_correct / self.n_settled if self.n_settled else None
                ),
                "chance": 1.0 / len(self.class_names),
            }


def _json(obj) -> str:
    """Strict JSON text (non-finite numbers as ``null``), for log lines and CSV messages."""
    return json.dumps(jsonable(obj), allow_nan=False)


def _fmt(x: float, digits: int = 6) -> str:
    return "" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


class SessionLog(Sink):
    """The session log: one line per prediction, plus events, markers and counts.

    Parameters
    ----------
    path : str | Path
        ``*.jsonl`` / ``*.ndjson`` or ``*.csv`` (see the module docstring). Parent folders are
        created; an existing file is overwritten.
    window_s : float
        For scoring predictions against markers (:class:`GroundTruth`).
    start_info : dict | None
        Written as the first (``"start"``) line: model, contract summary, settings.
    health_every_s : float
        Minimum LSL time between two ``"health"`` lines.
    max_held : int
        Rows held in memory while the disk refuses them (oldest dropped beyond, counted).
    line_file : callable(Path) -> LineFile
        Opens the file (tests inject one that fails like a full disk).

    Attributes
    ----------
    unwritten : str | None
        Set by :meth:`close`: what could not be written (rows, time span, error), else None.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        window_s: float = 4.0,
        start_info: dict | None = None,
        health_every_s: float = 10.0,
        max_held: int = 100_000,
        line_file=LineFile,
    ):
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".ndjson"):
            self.format = "jsonl"
        elif suffix == ".csv":
            self.format = "csv"
        else:
            raise ValueError(
                f"--log {str(path)!r}: unknown extension {path.suffix!r}; use .jsonl (JSON lines) "
                "or .csv."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.truth = GroundTruth(window_s)
        self.health_every_s = float(health_every_s)
        self._t_health = -math.inf
        self._lock = threading.Lock()
        self._lines: HeldLines | None = HeldLines(line_file(path), max_held=max_held)
        self.n_predictions = 0
        self.n_events = 0
        self.unwritten: str | None = None
        if self.format == "csv":
            self._buf = io.StringIO()
            self._csv = csv.DictWriter(self._buf, fieldnames=CSV_COLUMNS, extrasaction="raise")
            self._csv.writeheader()
            self._lines.add(self._take_csv())
        self._write("start", {"message": _json(start_info or {})}, start_info)

    def _take_csv(self) -> bytes:
        text = self._buf.getvalue()
        self._buf.seek(0)
        self._buf.truncate()
        return text.encode("utf-8")

    def _write(self, kind: str, csv_row: dict, obj: dict | None = None, t=None) -> None:
        # Called by every on_*; one lock so lines never interleave. A row is rendered whole,
        # then written whole or held (a failing disk never raises into the pipeline).
        with self._lock:
            if self._lines is None:
                return
            if self.format == "csv":
                self._csv.writerow({"kind": kind, **csv_row})
                line = self._take_csv()
            else:
                row = {"kind": kind, **(obj if obj is not None else csv_row)}
                line = (_json(row) + "\n").encode("utf-8")
            self._lines.add(line, t)

    @property
    def failing(self) -> str | None:
        """The current write error, or None while the disk takes every row."""
        with self._lock:
            return self._lines.error if self._lines is not None else None

    def pop_alerts(self) -> list[tuple[str, str]]:
        with self._lock:
            return self._lines.pop_alerts() if self._lines is not None else []

    def on_prediction(self, pred: Prediction) -> None:
        true = self.truth.score(pred)
        flags = sorted(pred.flags)
        latency_ms = (pred.t_computed - pred.t_end) * 1e3
        probs = [float(p) for p in pred.probs]
        gates = [float(g) for g in pred.gates]
        row = {
            "t_end": _fmt(pred.t_end),
            "t_computed": _fmt(pred.t_computed),
            "latency_ms": _fmt(latency_ms, 3),
            "compute_ms": _fmt(pred.compute_ms, 3),
            **{f"p_{c}": f"{p:.6f}" for c, p in zip(CLASS_NAMES, probs)},
            "gate_eeg": f"{gates[0]:.6f}",
            "gate_eye": f"{gates[1]:.6f}",
            "label": pred.label,
            "confidence": f"{pred.confidence:.6f}",
            "flags": "|".join(flags),
            "n_context": str(pred.n_context),
            "true_label": true or "",
            **{f"ms_{k}": _fmt(v, 3) for k, v in pred.budget.items()},
        }
        obj = {
            "t_end": pred.t_end,
            "t_computed": pred.t_computed,
            "latency_ms": latency_ms,
            "compute_ms": pred.compute_ms,
            "probs": dict(zip(CLASS_NAMES, probs)),
            "gates": dict(zip(MODALITIES, gates)),
            "label": pred.label,
            "confidence": pred.confidence,
            "flags": flags,
            "n_context": pred.n_context,
            "true_label": true,
            "budget_ms": dict(pred.budget),
        }
        self.n_predictions += 1
        self._write("prediction", row, obj, pred.t_end)

    def on_features(self, frame: FeatureFrame) -> None:
        if frame.gaze_end is not None:
            self.on_gaze_cutoff(frame.t_end, frame.gaze_end)

    def on_gaze_cutoff(self, t_end: float, gaze_end: float) -> None:
        # A window cut before all its gaze arrived: its cut-off, for replay.
        obj = {"t_end": t_end, "gaze_end": gaze_end}
        self._write("gaze_cutoff", {"t_end": _fmt(t_end), "message": _json(obj)}, obj)

    def on_event(self, kind: str, message: str, t: float) -> None:
        self.n_events += 1
        row = {"t_end": _fmt(t), "event": kind, "message": message}
        self._write("event", row, {"t": t, "event": kind, "message": message}, t)

    def on_marker(self, t: float, label: str) -> None:
        self.truth.add_marker(t, label)
        self._write("marker", {"t_end": _fmt(t), "label": label}, {"t": t, "label": label}, t)

    def on_health(self, health: list[StreamHealth]) -> None:
        if not health:
            return
        t = max(h.t for h in health)
        if t - self._t_health < self.health_every_s:
            return
        self._t_health = t
        streams = [
            {
                "name": h.name,
                "status": h.status,
                "nominal_rate": h.nominal_rate,
                "effective_rate": round(h.effective_rate, 3),
                "latency_ms": round(h.latency_s * 1e3, 3),
                "n_samples": h.n_samples,
                "n_dropped": h.n_dropped,
                "n_timestamp_faults": h.n_timestamp_faults,
                "n_gaps": len(h.gaps),
            }
            for h in health
        ]
        self._write(
            "health",
            {"t_end": _fmt(t), "message": _json(streams)},
            {"t": t, "streams": streams},
            t,
        )

    def write_info(self, kind: str, info: dict) -> None:
        """A free-form line (``kind`` e.g. ``"accuracy"``), JSON-ready ``info``."""
        self._write(kind, {"message": _json(info)}, info)

    def close(self, summary: dict | None = None) -> None:
        """Write the ``"end"`` line (totals, accuracy) and close the file.

        If the disk still refuses rows, one last try is made; what stays unwritten is logged
        as an error and kept in :attr:`unwritten`.
        """
        with self._lock:
            lines = self._lines
        if lines is None:
            return
        end = {
            "n_predictions": self.n_predictions,
            "n_events": self.n_events,
            "accuracy": self.truth.summary() if self.truth.has_markers else None,
            **(summary or {}),
        }
        if lines.n_lost:
            end["n_rows_lost"] = lines.n_lost
        self._write("end", {"message": _json(end)}, end)
        with self._lock:
            self._lines = None
            lines.flush(force=True)
            self.unwritten = lines.unwritten()
            lines.file.close()
        if self.unwritten:
            logger.error("%s", self.unwritten)
        logger.info("session log %s: %d predictions", self.path, self.n_predictions)


def read_log(path: str | Path) -> list[dict]:
    """Read a session log back: one dict per line (CSV values stay strings)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(io.StringIO(text)))
    return [json.loads(line) for line in text.splitlines() if line.strip()]
