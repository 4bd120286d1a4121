"""The monitor window: layout, the queue-draining timer, redraw throttling, pause, screenshot.

Threading (STYLE.md): the pipeline runs in a worker thread and only calls the methods of
:class:`apps.sink.QtSink`, which enqueue. A ``QTimer`` in the GUI thread (25 Hz) drains the
queue into :class:`apps.state.MonitorState` and redraws what changed: the time plots when new
data would move them by a pixel (at most ``max_plot_fps`` times a second), the scalp maps at
most ``MAX_MAP_FPS`` and the text at most ``MAX_TEXT_FPS``. No worker touches a widget and
no slot calls ``processEvents``. :func:`apps.monitor.run_monitor` opens this window and runs
the worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from apps._qt import QtCore, QtGui, QtWidgets, pg
from apps.panels.budget import BudgetTable
from apps.panels.events import EventsList
from apps.panels.gates import GatesPanel
from apps.panels.headline import HeadlineBar
from apps.panels.health import HealthTable
from apps.panels.probabilities import ProbabilityPanel
from apps.panels.pupil import PupilPanel
from apps.panels.topomaps import TopomapPanel
from apps.panels.trends import TrendsPanel
from apps.panels.truth import TruthMarkers
from apps.sink import QtSink
from apps.state import PLOT_PARTS, TEXT_PARTS, Changed, MonitorState, StreamLabel
from apps.theme import BACKGROUND, FOREGROUND, STYLESHEET
from features.constants import BANDS, SEEDV_CHANNELS
from features.seedv import CLASS_NAMES

#: Records taken from the queue per timer tick (a backlog drains over a few ticks).
MAX_RECORDS_PER_TICK = 20000


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
    max_gaze_rate_hz : float
        Sizes the raw pupil ring buffer.
    refresh_hz : float
        Rate of the queue-draining timer (20-30 Hz); header and health follow it.
    max_plot_fps : float
        Most redraws per second of the time plots (they also wait for a pixel of new time).
    title : str
    streams : sequence of StreamLabel
        The inputs (markers included), shown as health rows with type and source from the start.
    window_s : float
        The model's window length, seconds (scores predictions against the markers).
    latency_budget_ms : float
        Drawn as the reference line of the latency trend (the prediction step).
    record : callable(bool) -> str, or None
        Starts (True) or stops (False) recording and returns a line for the Events panel; it
        runs in a helper thread. None hides the Record button.
    recording : bool
        Recording is already running when the window opens (``--record``).

    Attributes
    ----------
    sink : QtSink
        Give this to the pipeline.
    state : MonitorState
        What the window shows, as data.
    closed : Signal
        Emitted once when the window closes.
    """

    closed = QtCore.Signal()

    #: Header, accuracy and health table: text read by people; 5 updates a second are plenty.
    MAX_TEXT_FPS = 5.0
    #: Scalp maps of the latest window: a map that changes faster cannot be read anyway.
    MAX_MAP_FPS = 2.0
    #: Most seconds a time-plot change within one pixel column waits to be drawn.
    MAX_PLOT_WAIT_S = 1.0

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
        streams: Sequence[StreamLabel] = (),
        window_s: float = 4.0,
        latency_budget_ms: float = 1000.0,
        record: Callable[[bool], str] | None = None,
        recording: bool = False,
    ) -> None:
        super().__init__()
        self.class_names = tuple(class_names)
        self.ch_names = tuple(ch_names)
        # MonitorState checks history_s and the buffer rates (named errors), so first.
        self.state = MonitorState(
            self.class_names,
            history_s=history_s,
            max_prediction_rate_hz=max_prediction_rate_hz,
            max_gaze_rate_hz=max_gaze_rate_hz,
            window_s=window_s,
        )
        self.state.set_streams(streams)
        if not 1.0 <= refresh_hz <= 60.0:
            raise ValueError(
                f"refresh_hz must be within 1-60 Hz (20-30 advised); got {refresh_hz}."
            )
        if not max_plot_fps > 0:
            raise ValueError(f"max_plot_fps must be > 0 redraws per second; got {max_plot_fps}.")
        self.max_plot_fps = float(max_plot_fps)
        self.sink = QtSink(n_eeg_features=len(self.ch_names) * len(BANDS))
        self.n_frames_drawn = 0
        self._paused = False
        self._t_plot_drawn = float("-inf")
        self._t_text_drawn = float("-inf")
        self._t_map_drawn = float("-inf")
        self._t_plot_last = float("-inf")  # newest session time when the plots were drawn
        self._x_range: tuple[float, float] | None = None
        self._closed_once = False
        self.setWindowTitle(title)
        self.setStyleSheet(STYLESHEET)

        # -- layout: headline on top; time plots left; maps, health and events right --------
        central = QtWidgets.QWidget()
        outer = QtWidgets.QVBoxLayout(central)
        outer.setContentsMargins(8, 6, 8, 6)
        outer.setSpacing(6)
        self.headline = HeadlineBar()
        self.headline.button_pause.toggled.connect(self.set_paused)
        self._record = record
        if record is not None:
            self.headline.button_record.show()
            self.headline.button_record.setChecked(recording)
            self._show_recording(recording)
            self.headline.button_record.toggled.connect(self.set_recording)
        outer.addWidget(self.headline)

        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground(BACKGROUND)
        self.plots.ci.setSpacing(4)
        p_prob = self.plots.addPlot(row=0, col=0)
        p_gate = self.plots.addPlot(row=1, col=0)
        p_pupil = self.plots.addPlot(row=2, col=0)
        for row, stretch in enumerate((5, 3, 3)):
            self.plots.ci.layout.setRowStretchFactor(row, stretch)
        for p in (p_gate, p_pupil):
            p.setXLink(p_prob)
        # Tick labels only under the bottom plot: the x axis is shared, and re-rendering tick
        # text is the largest part of a redraw with the software rasteriser (bench_gui.py).
        for p in (p_prob, p_gate):
            p.getAxis("bottom").setStyle(showValues=False)
        for p in (p_prob, p_gate, p_pupil):
            p.getAxis("left").setWidth(62)
        self.prob_panel = ProbabilityPanel(p_prob, self.class_names)
        self.truth = TruthMarkers(p_prob, self.class_names)
        self.gates_panel = GatesPanel(p_gate)
        self.pupil_panel = PupilPanel(p_pupil)
        splitter.addWidget(self.plots)

        right = QtWidgets.QWidget()
        rl = QtWidgets.QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        self.accuracy_label = QtWidgets.QLabel("no markers yet")
        self.accuracy_label.setStyleSheet(f"color: {FOREGROUND}; font-size: 11pt;")
        self.accuracy_label.setToolTip(
            "Predictions whose window lies inside one marker segment, scored against its label."
        )
        rl.addWidget(self.accuracy_label)
        self.topo_widget = pg.GraphicsLayoutWidget()
        self.topo_widget.setBackground(BACKGROUND)
        self.topo_panel = TopomapPanel(self.topo_widget, self.ch_names, order=order)
        self.topo_widget.setMinimumHeight(200)
        rl.addWidget(self.topo_widget, stretch=3)
        self.trends_widget = pg.GraphicsLayoutWidget()
        self.trends_widget.setBackground(BACKGROUND)
        self.trends = TrendsPanel(self.trends_widget, budget_ms=latency_budget_ms)
        self.trends.latency_plot.setXLink(p_prob)  # the same time axis as the plots on the left
        rl.addWidget(self.trends_widget, stretch=2)
        # The latency budget, on request (headline button): hidden, it is not drawn at all.
        self.budget_title = self._section_title(
            f"Latency budget  (newest prediction; p50/p99 over the last "
            f"{self.state.budget_ms.capacity} with a budget)"
        )
        self.budget_table = BudgetTable()
        for w in (self.budget_title, self.budget_table):
            w.hide()
            rl.addWidget(w)
        self.headline.button_budget.toggled.connect(self.show_budget)
        rl.addWidget(self._section_title("Stream health"))
        self.health_table = HealthTable()
        self.health_table.update_health(self.state.health_view())
        rl.addWidget(self.health_table)
        rl.addWidget(self._section_title("Events  (click one to see it on the plots)"))
        self.events = EventsList(max_lines=500)
        self.events.jump.connect(self.jump_to)
        rl.addWidget(self.events, stretch=2)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 4)
        outer.addWidget(splitter, stretch=1)
        self.setCentralWidget(central)
        self.resize(1500, 920)

        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.on_timer)
        self.timer.start(round(1000.0 / refresh_hz))

    @staticmethod
    def _section_title(text: str) -> QtWidgets.QLabel:
        label = QtWidgets.QLabel(text)
        label.setObjectName("sectionTitle")
        return label

    # -- records (GUI thread) -------------------------------------------------------------
    def on_timer(self) -> None:
        """Drain the sink into the state; show events and run state; redraw unless paused."""
        self.state.ingest(self.sink.drain(max_items=MAX_RECORDS_PER_TICK))
        self.events.append_events(self.state.take_new_events())
        if Changed.FINISHED in self.state.take_changes(Changed.FINISHED):
            self.headline.show_run_state(paused=self._paused, finished=True)
        if not self._paused:
            self.refresh()

    # -- drawing ---------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Redraw what changed since the last frame (everything if ``force``).

        Each group redraws at its own most rate, and parts held back stay pending for a later
        tick: the header, accuracy and health table at ``MAX_TEXT_FPS`` (text read by
        people), the scalp maps at ``MAX_MAP_FPS``, and the time plots at most
        ``max_plot_fps`` times a second *and* only once what is new would move them by a
        pixel (:meth:`_plots_due`). With 10 minutes across ~800 px one pixel is ~0.75 s, so
        redrawing for each of 10 predictions a second shows nothing new and only costs CPU:
        the time plots are most of a redraw's cost (bench/bench_gui.py).
        """
        now = time.monotonic()
        due = PLOT_PARTS | TEXT_PARTS | Changed.MAPS | Changed.BUDGET
        if self.budget_table.isHidden():
            due &= ~Changed.BUDGET  # stays pending until the table is shown
        if not force:
            if not self._plots_due(now):
                due &= ~PLOT_PARTS
            if now - self._t_text_drawn < 1.0 / self.MAX_TEXT_FPS:
                due &= ~(TEXT_PARTS | Changed.BUDGET)
            if now - self._t_map_drawn < 1.0 / self.MAX_MAP_FPS:
                due &= ~Changed.MAPS
        taken = self.state.take_changes(due)
        if force:
            taken = due
        elif not taken:
            return
        if taken & (TEXT_PARTS | Changed.BUDGET):
            self._t_text_drawn = now
            self._draw_text(taken)
        if Changed.MAPS in taken and self.state.latest_frame is not None:
            self._t_map_drawn = now
            frame = self.state.latest_frame
            self.topo_panel.set_frame(frame.eeg, frame.eeg_valid, self.state.rel(frame.t_end))
        if taken & PLOT_PARTS:
            self._t_plot_drawn = now
            self._t_plot_last = self.state.t_last
            self._draw_plots(taken)
            self.n_frames_drawn += 1

    def _plots_due(self, now: float) -> bool:
        """Whether the time plots should redraw now: something is pending for them, the last
        redraw is at least ``1 / max_plot_fps`` old, and either a marker (drawn at once) is
        pending, the newest time has moved by a pixel of the time axis or more, or the
        pending change has waited ``MAX_PLOT_WAIT_S`` (a change within one pixel column)."""
        pending = self.state.pending & PLOT_PARTS
        if not pending or now - self._t_plot_drawn < 1.0 / self.max_plot_fps:
            return False
        if Changed.MARKERS in pending or now - self._t_plot_drawn >= self.MAX_PLOT_WAIT_S:
            return True
        x0, x1 = self.state.x_range()
        width_px = max(self.prob_panel.plot.getViewBox().width(), 1.0)
        return self.state.t_last - self._t_plot_last >= (x1 - x0) / width_px

    def _draw_text(self, parts: Changed) -> None:
        state = self.state
        if Changed.HEADLINE in parts and (headline := state.headline()) is not None:
            self.headline.show_headline(headline)
        if Changed.HEALTH in parts:
            self.health_table.update_health(state.health_view())
        if Changed.ACCURACY in parts:
            self.accuracy_label.setText(state.accuracy_text())
        if Changed.BUDGET in parts:
            self.budget_table.show_budget(state.budget_view())

    def _draw_plots(self, parts: Changed) -> None:
        state = self.state
        if Changed.PREDICTIONS in parts and len(state.predictions):
            t, probs, gates, eeg_missing, eye_missing = state.prediction_view()
            self.prob_panel.set_data(t, probs)
            self.gates_panel.set_data(t, gates, eeg_missing, eye_missing)
            self.trends.set_latency(*state.latency_view())
        if Changed.MARKERS in parts:
            for t, label in state.take_new_markers():
                self.truth.add(t, label)
        if Changed.GAPS in parts:
            for stream, t0, t1 in state.gaps:
                self.gates_panel.add_gap(stream, t0, t1)
            self.trends.set_rates(state.rate_views())
        if Changed.FEATURES in parts:
            self.pupil_panel.set_features(*state.pupil_view())
        if Changed.RAW_PUPIL in parts and len(state.raw_pupil):
            self.pupil_panel.set_raw(*state.raw_pupil_view())
        self.truth.extend_last(state.t_last)
        x_range = state.x_range()
        if x_range != self._x_range:
            self._x_range = x_range
            self.prob_panel.plot.setXRange(x_range[0], x_range[1] + 0.5, padding=0)

    # -- controls --------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def set_paused(self, paused: bool) -> None:
        """Freeze (True) or resume (False) the view; records keep being stored meanwhile."""
        self._paused = bool(paused)
        self.headline.show_run_state(paused=self._paused, finished=self.state.finished)
        if not self._paused:
            self.refresh(force=True)

    def show_budget(self, shown: bool) -> None:
        """Show (True) or hide (False) the latency budget table; shown, it is filled at once."""
        for w in (self.budget_title, self.budget_table):
            w.setVisible(shown)
        if self.headline.button_budget.isChecked() != shown:
            self.headline.button_budget.setChecked(shown)
        if shown:
            self.state.take_changes(Changed.BUDGET)
            self.budget_table.show_budget(self.state.budget_view())

    def jump_to(self, t: float, half_width_s: float = 30.0) -> None:
        """Pause the view and centre the time axis on session time ``t`` (an event's)."""
        self.set_paused(True)
        self._x_range = (t - half_width_s, t + half_width_s)
        self.prob_panel.plot.setXRange(*self._x_range, padding=0)

    def set_recording(self, on: bool) -> None:
        """Start (True) or stop (False) recording in a helper thread; the outcome becomes an
        event line. The button shows the state asked for at once."""
        if self._record is None:
            return
        self._show_recording(on)
        record, sink = self._record, self.sink
        t = (self.state.t0 or 0.0) + self.state.t_last

        def work() -> None:
            kind = "recording"
            try:
                message = record(on)
            except (RuntimeError, TimeoutError, ValueError, OSError) as err:
                kind, message = "recording_failed", str(err)  # shown in the warning colour
            sink.on_event(kind, message, t)

        threading.Thread(target=work, name="cmt-monitor-record", daemon=True).start()

    def _show_recording(self, on: bool) -> None:
        self.headline.button_record.setText("■ Stop recording" if on else "● Record")

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
