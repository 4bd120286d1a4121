"""Open the monitor, run the pipeline in a worker, close both cleanly: :func:`run_monitor`.

This is the one call a command line needs (``cmt-live`` imports it lazily). The window itself
is :class:`apps.window.MonitorWindow`; what it shows is :class:`apps.state.MonitorState`; the
pipeline feeds :class:`apps.sink.QtSink`.

Example
-------
The caller starts its pipeline in ``start_worker``, which receives the sink and returns a
function that stops the pipeline (and joins its thread)::

    import threading
    from apps.monitor import run_monitor

    def start_worker(sink):
        stop_event = threading.Event()

        def work():
            while not stop_event.is_set():
                pred = pipeline.step()           # -> cmt_live.records.Prediction
                sink.on_prediction(pred)         # also on_health / on_features / on_gaze ...
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
is closed. Closing the window calls ``stop()`` and waits for it with that deadline.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from apps._qt import QtCore, QtWidgets
from apps.sink import QtSink
from apps.state import StreamLabel
from apps.window import MonitorWindow
from features.constants import SEEDV_CHANNELS
from features.seedv import CLASS_NAMES

logger = logging.getLogger("cmt_live")

__all__ = ["run_monitor"]


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
    streams: Sequence[StreamLabel] = (),
    window_s: float = 4.0,
    latency_budget_ms: float = 1000.0,
    record: Callable[[bool], str] | None = None,
    recording: bool = False,
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
    streams, window_s, latency_budget_ms, record, recording
        Passed to :class:`MonitorWindow`: the inputs' names, types and sources (a health row
        each, markers included), the window length for scoring against markers, the latency
        reference line, and the Record button's start/stop call.

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
    window = MonitorWindow(
        class_names,
        ch_names,
        history_s,
        order=order,
        title=title,
        streams=streams,
        window_s=window_s,
        latency_budget_ms=latency_budget_ms,
        record=record,
        recording=recording,
    )
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
        watch.timeout.connect(lambda: window.state.finished and finish())
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
