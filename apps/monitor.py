"""The Qt monitor window and :func:`run_monitor`, the one call a command line needs.

Threading (STYLE.md): the pipeline runs in a worker thread and only calls the methods of
:class:`apps.sink.QtSink`, which enqueue. A ``QTimer`` in the GUI thread (25 Hz) drains the queue,
stores the records in preallocated ring buffers and redraws what changed. No worker touches a
widget, no slot calls ``processEvents``, and closing the window calls the worker's ``stop()`` and
waits for it with a deadline.

Example
-------
The caller starts its pipeline in :func:`start_worker`, which receives the sink and returns a
function that stops the pipeline (and joins its thread)::

    import threading
    from apps.monitor import run_monitor

    def start_worker(sink):
        stop_event = threading.Event()

        def work():
            while not stop_event.is_set():
                pred = pipeline.step()           # -> cmt_live.records.Prediction
                sink.on_prediction(pred)         # also on_health / on_features / on_marker ...
            sink.close()

        thread = threading.Thread(target=work, name="cmt-live-pipeline", daemon=True)
        thread.start()

        def stop():
            stop_event.set()
            thread.join(timeout=2.0)

        return stop

    exit_code = run_monitor(start_worker, screenshot="monitor.png", duration_s=60)

``run_monitor`` returns 0 after a normal close (window closed, ``duration_s`` elapsed, Ctrl-C or
SIGTERM in the main thread), 1 if ``stop()`` raised or the screenshot could not be written, and 2
if ``stop()`` did not return within ``stop_deadline_s`` (the worker may still be running; the
caller decides whether to exit hard). Exceptions from ``start_worker`` propagate after the window
is closed.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from apps._qt import QtCore, QtGui, QtWidgets, pg
from apps.plots import (
    BACKGROUND,
    CLASS_COLORS,
    FOREGROUND,
    OKABE_ITO,
    PANEL,
    GatesPanel,
    HealthTable,
    History,
    ProbabilityPanel,
    PupilPanel,
    TopomapPanel,
)
from apps.sink import QtSink
from cmt_live.records import Flag, Prediction
from features.constants import BANDS, EYE_FEATURE_NAMES, SEEDV_CHANNELS
from features.seedv import CLASS_NAMES

logger = logging.getLogger("cmt_live")

_PUPIL_COLS = (EYE_FEATURE_NAMES.index("pupil1_mean"), EYE_FEATURE_NAMES.index("pupil2_mean"))
_EEG_MISSING = frozenset({Flag.EEG_MISSING, Flag.EEG_STALE})
_EYE_MISSING = frozenset({Flag.EYE_MISSING, Flag.EYE_STALE})

_STYLESHEET = f"""
QWidget {{ background: {BACKGROUND}; color: {FOREGROUND}; font-size: 10pt; }}
QTableWidget {{ background: {PANEL}; gridline-color: #3a3e46; border: 1px solid #3a3e46; }}
QHeaderView::section {{ background: #2d3138; color: {FOREGROUND}; border: 0px;
                       padding: 3px; font-weight: bold; }}
QPlainTextEdit {{ background: {PANEL}; border: 1px solid #3a3e46; font-family: monospace;
                  font-size: 9pt; }}
QPushButton {{ background: #2d3138; border: 1px solid #4a4f58; padding: 6px 14px;
              border-radius: 4px; }}
QPushButton:checked {{ background: {OKABE_ITO["orange"]}; color: #111; }}
QLabel#sectionTitle {{ font-weight: bold; color: #aeb3bb; }}
QSplitter::handle {{ background: #2d3138; }}
"""


_BIG_LABEL = "font-size: 30pt; font-weight: bold; color: {color};"


class MonitorWindow(QtWidgets.QMainWindow):
    """Live view of predictions, modality gates, stream health, DE topomaps and pupil.

    Parameters
    ----------
    class_names : sequence of str
        Class order of ``Prediction.probs``.
    ch_names : sequence of str
        EEG channels in the order of the DE features (``FeatureFrame.eeg``).
    history_s : float
        Seconds of history shown (and kept) on the time axis.
    order : {"band-major", "channel-major"}
        Column order of ``FeatureFrame.eeg``: ``band * n_channels + channel`` or
        ``channel * n_bands + band``.
    max_prediction_rate_hz : float
        Sizes the prediction ring buffer (``history_s * rate`` rows).
    refresh_hz : float
        Rate of the queue-draining timer (20-30 Hz); header and health follow it.
    max_plot_fps : float
        Most redraws per second of the time plots and topomaps.
    title : str

    Attributes
    ----------
    sink : QtSink
        Give this to the pipeline.
    closed : Signal
        Emitted once when the window closes.
    """

    closed = QtCore.Signal()

    def __init__(
        self,
        class_names: Sequence[str] = CLASS_NAMES,
        ch_names: Sequence[str] = SEEDV_CHANNELS,
        history_s: float = 600.0,
        *,
        order: str = "band-major",
        max_prediction_rate_hz: float = 10.0,
        max_gaze_rate_hz: float = 150.0,
        refresh_hz: float = 25.0,
        max_plot_fps: float = 5.0,
        title: str = "cmt-live monitor",
    ) -> None:
        super().__init__()
        if not history_s > 0:
            raise ValueError(f"history_s must be > 0 seconds; got {history_s}.")
        if not 1.0 <= refresh_hz <= 60.0:
            raise ValueError(
                f"refresh_hz must be within 1-60 Hz (20-30 advised); got {refresh_hz}."
            )
        if not max_plot_fps > 0:
            raise ValueError(f"max_plot_fps must be > 0 redraws per second; got {max_plot_fps}.")
        self.class_names = tuple(class_names)
        self.ch_names = tuple(ch_names)
        self.history_s = float(history_s)
        self.sink = QtSink(n_eeg_features=len(self.ch_names) * len(BANDS))
        self.setWindowTitle(title)
        self.setStyleSheet(_STYLESHEET)

        n_cls = len(self.class_names)
        # probs, gates (2), eeg_missing, eye_missing
        self._pred = History(max(16, int(history_s * max_prediction_rate_hz)), n_cls + 4)
        self._pupil = History(max(16, int(history_s * max_prediction_rate_hz)), 2)
        self._gaze = History(max(64, int(history_s * max_gaze_rate_hz)), 1)
        self._t0: float | None = None  # LSL seconds shown as 0 on the time axis
        self._t_last = 0.0  # newest session time seen
        self._last_pred: Prediction | None = None
        self._last_frame = None
        self._dirty: set[str] = set()
        self._markers_pending: list[tuple[float, str]] = []
        self._t_plot_drawn = -np.inf
        self._t_text_drawn = -np.inf
        self._header_color = ""
        self.max_plot_fps = float(max_plot_fps)
        self._paused = False
        self.n_predictions = 0
        self.n_frames_drawn = 0
        self.finished = False

        self._build(order)
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._on_timer)
        self.timer.start(round(1000.0 / refresh_hz))
        self._closed_once = False

    # -- layout ---------------------------------------------------------------------------
    def _build(self, order: str) -> None:
        central = QtWidgets.QWidget()
        outer = QtWidgets.QVBoxLayout(central)
        outer.setContentsMargins(8, 6, 8, 6)
        outer.setSpacing(6)

        # A fixed-height header: text changes there (10 per second with dense predictions)
        # must not relayout, and so repaint, the plots below.
        header_box = QtWidgets.QWidget()
        header_box.setFixedHeight(64)
        header = QtWidgets.QHBoxLayout(header_box)
        header.setContentsMargins(0, 0, 0, 0)
        # Sizes go in style sheets: the window's sheet would override QFont sizes.
        self.label_emotion = QtWidgets.QLabel("waiting…")
        self.label_emotion.setStyleSheet(_BIG_LABEL.format(color=FOREGROUND))
        self.label_emotion.setMinimumWidth(200)
        self.label_confidence = QtWidgets.QLabel("")
        self.label_confidence.setStyleSheet("font-size: 22pt; color: #d8dade;")
        self.label_info = QtWidgets.QLabel("no prediction yet")
        self.label_info.setStyleSheet("color: #aeb3bb; font-size: 10pt;")
        # Long status text must not force a minimum window width.
        ignored = QtWidgets.QSizePolicy.Policy.Ignored
        self.label_info.setSizePolicy(ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.label_flags = QtWidgets.QLabel("")
        self.label_flags.setStyleSheet(f"color: {OKABE_ITO['orange']}; font-size: 10pt;")
        info = QtWidgets.QVBoxLayout()
        info.addWidget(self.label_info)
        info.addWidget(self.label_flags)
        self.label_state = QtWidgets.QLabel("● live")
        self.label_state.setStyleSheet(f"color: {OKABE_ITO['bluish_green']}; font-size: 11pt;")
        self.button_pause = QtWidgets.QPushButton("Pause view")
        self.button_pause.setCheckable(True)
        self.button_pause.setToolTip("Freeze the plots; data keeps being collected.")
        self.button_pause.toggled.connect(self.set_paused)
        header.addWidget(self.label_emotion)
        header.addWidget(self.label_confidence)
        header.addSpacing(24)
        header.addLayout(info, stretch=1)
        header.addWidget(self.label_state)
        header.addSpacing(12)
        header.addWidget(self.button_pause)
        outer.addWidget(header_box)

        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground(BACKGROUND)
        self.plots.ci.setSpacing(4)
        p_prob = self.plots.addPlot(row=0, col=0)
        p_gate = self.plots.addPlot(row=1, col=0)
        p_pupil = self.plots.addPlot(row=2, col=0)
        self.plots.ci.layout.setRowStretchFactor(0, 5)
        self.plots.ci.layout.setRowStretchFactor(1, 3)
        self.plots.ci.layout.setRowStretchFactor(2, 3)
        for p in (p_gate, p_pupil):
            p.setXLink(p_prob)
        # Tick labels only under the bottom plot: the x axis is shared, and re-rendering tick
        # text is the largest part of a redraw with the software rasteriser (bench_gui.py).
        for p in (p_prob, p_gate):
            p.getAxis("bottom").setStyle(showValues=False)
        for p in (p_prob, p_gate, p_pupil):
            p.getAxis("left").setWidth(62)
        self.prob_panel = ProbabilityPanel(p_prob, self.class_names)
        self.gates_panel = GatesPanel(p_gate)
        self.pupil_panel = PupilPanel(p_pupil)
        splitter.addWidget(self.plots)

        right = QtWidgets.QWidget()
        rl = QtWidgets.QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        self.topo_widget = pg.GraphicsLayoutWidget()
        self.topo_widget.setBackground(BACKGROUND)
        self.topo_panel = TopomapPanel(self.topo_widget, self.ch_names, order=order)
        self.topo_widget.setMinimumHeight(200)
        rl.addWidget(self.topo_widget, stretch=3)
        title = QtWidgets.QLabel("Stream health")
        title.setObjectName("sectionTitle")
        rl.addWidget(title)
        self.health_table = HealthTable()
        rl.addWidget(self.health_table, stretch=2)
        title = QtWidgets.QLabel("Events")
        title.setObjectName("sectionTitle")
        rl.addWidget(title)
        self.events = QtWidgets.QPlainTextEdit()
        self.events.setReadOnly(True)
        self.events.setMaximumBlockCount(500)  # bounded memory over long sessions
        rl.addWidget(self.events, stretch=2)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        outer.addWidget(splitter, stretch=1)
        self.setCentralWidget(central)
        self.resize(1500, 920)

    # -- time ------------------------------------------------------------------------------
    def _rel(self, t: float) -> float:
        if self._t0 is None:
            self._t0 = float(t)
        return float(t) - self._t0

    # -- records (GUI thread) -------------------------------------------------------------
    def _on_timer(self) -> None:
        items = self.sink.drain(max_items=20000)
        for kind, payload in items:
            handler = getattr(self, f"_apply_{kind}")
            handler(payload)
        if not self._paused:
            self.refresh()

    def _apply_prediction(self, pred: Prediction) -> None:
        t = self._rel(pred.t_end)
        row = np.empty(self._pred.n_cols)
        n = len(self.class_names)
        row[:n] = pred.probs
        row[n : n + 2] = pred.gates
        row[n + 2] = 1.0 if pred.flags & _EEG_MISSING else 0.0
        row[n + 3] = 1.0 if pred.flags & _EYE_MISSING else 0.0
        self._pred.push(t, row)
        self._t_last = max(self._t_last, t)
        self._last_pred = pred
        self.n_predictions += 1
        self._dirty.update(("prediction", "header"))

    def _apply_health(self, health) -> None:
        self._health = health
        for h in health:
            if h.t:
                self._t_last = max(self._t_last, self._rel(h.t))
        self._dirty.update(("health", "gaps"))

    def _apply_event(self, payload) -> None:
        kind, message, t = payload
        self.events.appendPlainText(f"{self._rel(t):8.1f} s  [{kind}] {message}")

    def _apply_features(self, frame) -> None:
        t = self._rel(frame.t_end)
        if frame.eye_valid:
            self._pupil.push(t, frame.eye[list(_PUPIL_COLS)])
        else:
            self._pupil.push(t, (np.nan, np.nan))  # a break in the line, not a fake value
        self._last_frame = (frame, t)
        self._dirty.update(("features", "pupil"))

    def _apply_marker(self, payload) -> None:
        t, label = payload
        self._markers_pending.append((self._rel(t), label))
        self._dirty.add("markers")

    def _apply_gaze(self, payload) -> None:
        ts, g = payload
        t = ts - (self._t0 if self._t0 is not None else self._rel(ts[0]) + ts[0])
        valid = g[:, 4] > 0.5
        pupil = np.where(valid, 0.5 * (g[:, 2] + g[:, 3]), np.nan)
        # A NaN row breaks the line across an outage instead of drawing a straight bridge.
        if self._gaze.count and t[0] - self._gaze.last_t > 0.5:
            self._gaze.push(0.5 * (t[0] + self._gaze.last_t), np.nan)
        self._gaze.push_many(t, pupil[:, None])
        self._dirty.add("gaze")

    def _apply_close(self, _payload) -> None:
        self.finished = True
        self.label_state.setText("■ pipeline stopped")
        self.label_state.setStyleSheet("color: #9aa0a8; font-size: 11pt;")

    # -- drawing ---------------------------------------------------------------------------
    #: Records that change the time plots and topomaps (redrawn at most ``max_plot_fps``).
    _PLOT_PARTS = frozenset({"prediction", "markers", "features", "pupil", "gaze", "gaps"})
    #: Header and health table: text, read by people, so 10 updates a second are plenty.
    _TEXT_PARTS = frozenset({"header", "health"})
    MAX_TEXT_FPS = 10.0

    def refresh(self, force: bool = False) -> None:
        """Redraw what changed since the last frame (everything if ``force``).

        The header and health table redraw at most ``MAX_TEXT_FPS`` times a second, the plots
        and topomaps at most ``max_plot_fps``: with 10 minutes across ~800 px one pixel is
        ~0.75 s, so faster redraws show nothing new and only cost CPU (bench/bench_gui.py).
        """
        if force:
            dirty = set(self._PLOT_PARTS | self._TEXT_PARTS)
            self._dirty = set()
        else:
            dirty, self._dirty = self._dirty, set()
            now = time.monotonic()
            for parts, t_drawn, fps in (
                (self._PLOT_PARTS, self._t_plot_drawn, self.max_plot_fps),
                (self._TEXT_PARTS, self._t_text_drawn, self.MAX_TEXT_FPS),
            ):
                if dirty & parts and now - t_drawn < 1.0 / fps:
                    self._dirty |= dirty & parts  # keep for a later tick
                    dirty -= parts
        if not dirty:
            return
        if dirty & self._TEXT_PARTS:
            self._t_text_drawn = time.monotonic()
        if "header" in dirty and self._last_pred is not None:
            self._draw_header(self._last_pred)
        if "health" in dirty and getattr(self, "_health", None):
            self.health_table.update_health(self._health)
        if not dirty & self._PLOT_PARTS:
            return
        self._t_plot_drawn = time.monotonic()
        t_min = self._t_last - self.history_s
        n = len(self.class_names)
        if "prediction" in dirty and len(self._pred):
            t, v = self._pred.view(t_min)
            self.prob_panel.set_data(t, v[:, :n])
            self.gates_panel.set_data(t, v[:, n : n + 2], v[:, n + 2], v[:, n + 3])
        if "markers" in dirty:
            for t, label in self._markers_pending:
                self.prob_panel.add_marker(t, label)
            self._markers_pending = []
        if "gaps" in dirty and getattr(self, "_health", None):
            for h in self._health:
                for g0, g1 in h.gaps:
                    self.gates_panel.add_gap(h.name, self._rel(g0), self._rel(g1))
        if "features" in dirty and self._last_frame is not None:
            frame, t = self._last_frame
            self.topo_panel.set_frame(frame.eeg, frame.eeg_valid, t)
        if "pupil" in dirty and len(self._pupil):
            t, v = self._pupil.view(t_min)
            self.pupil_panel.set_features(t, v)
        if "gaze" in dirty and len(self._gaze):
            t, v = self._gaze.view(t_min)
            self.pupil_panel.set_raw(t, v[:, 0])
        self.prob_panel.extend_last_marker(self._t_last)
        self._follow()
        self.n_frames_drawn += 1

    def _follow(self) -> None:
        t_hi = max(self._t_last, 10.0)
        t_lo = max(0.0, t_hi - self.history_s)
        if getattr(self, "_xrange", None) != (t_lo, t_hi):
            self._xrange = (t_lo, t_hi)
            self.prob_panel.plot.setXRange(t_lo, t_hi + 0.5, padding=0)

    def _draw_header(self, pred: Prediction) -> None:
        color = (
            CLASS_COLORS[self.class_names.index(pred.label) % len(CLASS_COLORS)]
            if (pred.label in self.class_names)
            else FOREGROUND
        )
        self.label_emotion.setText(pred.label)
        if color != self._header_color:  # a style sheet change re-polishes the widget
            self._header_color = color
            self.label_emotion.setStyleSheet(_BIG_LABEL.format(color=color))
        self.label_confidence.setText(f"{pred.confidence:.0%}")
        latency_ms = (pred.t_computed - pred.t_end) * 1e3 if pred.t_computed else float("nan")
        self.label_info.setText(
            f"confidence {pred.confidence:.2f}   ·   gates EEG {pred.gates[0]:.2f} / "
            f"eye {pred.gates[1]:.2f}   ·   end-to-end latency {latency_ms:.0f} ms   ·   "
            f"compute {pred.compute_ms:.1f} ms   ·   context {pred.n_context} windows   ·   "
            f"{self.n_predictions} predictions"
        )
        flags = sorted(pred.flags)
        self.label_flags.setText(("⚠ " + ", ".join(flags)) if flags else "")

    # -- controls --------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def set_paused(self, paused: bool) -> None:
        """Freeze (True) or resume (False) the view; records keep being stored meanwhile."""
        self._paused = bool(paused)
        if self.button_pause.isChecked() != self._paused:
            self.button_pause.setChecked(self._paused)
        self.button_pause.setText("Resume view" if self._paused else "Pause view")
        if self._paused:
            self.label_state.setText("❚❚ view paused (still recording data)")
            self.label_state.setStyleSheet(f"color: {OKABE_ITO['orange']}; font-size: 11pt;")
        else:
            self.label_state.setText("■ pipeline stopped" if self.finished else "● live")
            self.label_state.setStyleSheet(f"color: {OKABE_ITO['bluish_green']}; font-size: 11pt;")
            self.refresh(force=True)

    def save_screenshot(self, path: str | Path) -> tuple[int, int]:
        """Save a PNG of the window; returns its (width, height) in pixels.

        Raises
        ------
        OSError
            If the file cannot be written.
        """
        path = Path(path)
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        pix = self.grab()
        if not pix.save(str(path), "PNG"):
            raise OSError(
                f"Could not write the screenshot to {str(path)!r}; check that the folder is "
                f"writable and the name ends in .png."
            )
        return pix.width(), pix.height()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.timer.stop()
        self.sink.detach()
        if not self._closed_once:
            self._closed_once = True
            self.closed.emit()
        super().closeEvent(event)


def _stop_with_deadline(stop: Callable[[], None], deadline_s: float) -> int:
    """Call ``stop()`` in a helper thread; 0 done, 1 it raised, 2 still running at the deadline."""
    errors: list[BaseException] = []

    def call() -> None:
        try:
            stop()
        except BaseException as exc:  # reported below, in the caller's thread
            errors.append(exc)

    helper = threading.Thread(target=call, name="cmt-monitor-stop", daemon=True)
    t0 = time.monotonic()
    helper.start()
    helper.join(deadline_s)
    if helper.is_alive():
        logger.error(
            "The pipeline did not stop within %.1f s of closing the monitor; it may still be "
            "running.",
            deadline_s,
        )
        return 2
    if errors:
        logger.error("Stopping the pipeline failed: %r", errors[0])
        return 1
    logger.info("Pipeline stopped %.2f s after the monitor closed.", time.monotonic() - t0)
    return 0


def run_monitor(
    start_worker: Callable[[QtSink], Callable[[], None]],
    *,
    class_names: Sequence[str] = CLASS_NAMES,
    ch_names: Sequence[str] = SEEDV_CHANNELS,
    order: str = "band-major",
    history_s: float = 600.0,
    screenshot: str | Path | None = None,
    screenshot_after_s: float = 5.0,
    duration_s: float | None = None,
    stop_deadline_s: float = 3.0,
    exit_when_worker_done: bool = False,
    window_size: tuple[int, int] = (1500, 920),
    title: str = "cmt-live monitor",
) -> int:
    """Open the monitor, run the pipeline in a worker, and close both cleanly.

    Parameters
    ----------
    start_worker : callable(QtSink) -> callable() -> None
        Starts the pipeline in a worker thread that feeds the sink, and returns ``stop()``,
        which asks the worker to finish and waits for it. Called once, after the window exists.
    class_names, ch_names, order, history_s
        Passed to :class:`MonitorWindow`.
    screenshot : path or None
        Save a PNG of the window after ``screenshot_after_s`` seconds and keep running. If the
        run ends earlier (``duration_s``), the PNG is taken just before closing.
    screenshot_after_s : float
    duration_s : float or None
        Close after this many seconds (None: until the window is closed, Ctrl-C or SIGTERM).
    stop_deadline_s : float
        How long to wait for ``stop()`` after the window closes.
    exit_when_worker_done : bool
        Close the window when the pipeline calls ``sink.close()``.
    window_size : (int, int)
        Initial size in pixels (the screenshot's size).
    title : str

    Returns
    -------
    exit_code : int
        0 normal; 1 ``stop()`` raised or the screenshot failed; 2 ``stop()`` missed its deadline.
    """
    for name, value in (
        ("screenshot_after_s", screenshot_after_s),
        ("stop_deadline_s", stop_deadline_s),
    ):
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0 seconds; got {value}.")
    if duration_s is not None and not duration_s > 0:
        raise ValueError(f"duration_s must be > 0 seconds or None; got {duration_s}.")

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["cmt-live"])
    window = MonitorWindow(class_names, ch_names, history_s, order=order, title=title)
    window.resize(*window_size)
    window.show()
    exit_code = 0
    shot_state = {"taken": screenshot is None}

    def take_screenshot() -> None:
        nonlocal exit_code
        if shot_state["taken"]:
            return
        shot_state["taken"] = True
        try:
            w, h = window.save_screenshot(screenshot)
            logger.info("Monitor screenshot saved to %s (%d x %d).", screenshot, w, h)
        except OSError as exc:
            logger.error("%s", exc)
            exit_code = 1

    loop = QtCore.QEventLoop()
    window.closed.connect(loop.quit)
    timers = []

    def single_shot(seconds: float, slot) -> None:
        timer = QtCore.QTimer(window)
        timer.setSingleShot(True)
        timer.timeout.connect(slot)
        timer.start(round(seconds * 1000))
        timers.append(timer)

    def finish() -> None:
        take_screenshot()
        window.close()

    if screenshot is not None:
        single_shot(screenshot_after_s, take_screenshot)
    if duration_s is not None:
        single_shot(duration_s, finish)
    if exit_when_worker_done:
        watch = QtCore.QTimer(window)
        watch.timeout.connect(lambda: window.finished and finish())
        watch.start(100)
        timers.append(watch)

    # Ctrl-C / SIGTERM: Python runs signal handlers only between bytecodes, so a short no-op
    # timer gives it the chance while Qt's loop runs; the handler closes the window normally.
    old_handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old_handlers[sig] = signal.signal(sig, lambda *_: finish())
        wake = QtCore.QTimer(window)
        wake.timeout.connect(lambda: None)
        wake.start(200)
        timers.append(wake)

    stop = None
    try:
        stop = start_worker(window.sink)
        if not callable(stop):
            raise TypeError(
                f"start_worker must return a stop() callable; it returned {type(stop).__name__}."
            )
        if window.isVisible():
            loop.exec()
    finally:
        for t in timers:
            t.stop()
        if window.isVisible():
            window.close()
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
        code = _stop_with_deadline(stop, stop_deadline_s) if callable(stop) else 0
        window.deleteLater()
        app.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
    return max(exit_code, code)
