"""Redraw cost of the Qt monitor with 10 minutes of history, offscreen, timer at 30 Hz.

Fills a :class:`apps.window.MonitorWindow` with ``history_s`` of a fake session
(:class:`apps.fake.FakeSession`: predictions, DE features, stream health, 120-Hz raw gaze), then
runs the Qt event loop for ``--seconds`` while the session keeps producing records in real time.
It reports the process CPU time (``time.process_time``: Python, Qt layout and the software
rasteriser of the offscreen platform) per 30-Hz frame and as % of one core.

Cases:

- ``live-1hz``: 1 prediction/s (600 in history, ~70 000 gaze samples), each with its features,
  health and a 1-s gaze chunk; the window's own 30-Hz timer drains and redraws what changed.
- ``dense-10hz``: 10 predictions/s (6000 in history), records and 0.1-s gaze chunks at 10 Hz.
- ``full-redraw``: worst case for reference: every 30-Hz frame redraws every curve, topomap and
  table as if all had changed (``refresh(force=True)``), 1 prediction/s history.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui.py [--seconds 10]``.
Goal: <= 20 % of one core.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

FPS = 30.0


def run_case(
    name: str, rate_hz: float, forced: bool, seconds: float, history_s: float, plot_fps: float
) -> dict:
    from apps._qt import QtCore, QtWidgets
    from apps.fake import FakeSession
    from apps.window import MonitorWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["bench_gui"])
    win = MonitorWindow(history_s=history_s, refresh_hz=FPS, max_plot_fps=plot_fps)
    win.resize(1500, 920)
    win.show()
    session = FakeSession(0, step_s=1.0 / rate_hz, eye_outage=(300.0, 320.0))
    for i in range(int(history_s * rate_hz)):
        session.step(win.sink)
        if i % 500 == 0:
            win.on_timer()
    win.on_timer()
    win.refresh(force=True)
    app.processEvents()  # bench only: settle the first paint before measuring

    ticks = 0
    due = 0.0

    def tick() -> None:
        # Drives the session in real time and, in the forced case, a full redraw per frame.
        nonlocal ticks, due
        due += rate_hz / FPS
        while due >= 1.0:
            session.step(win.sink)
            due -= 1.0
        if forced:
            win.on_timer()
            win.refresh(force=True)
        ticks += 1

    if forced:
        win.timer.stop()  # this timer draws every frame instead
    timer = QtCore.QTimer()
    timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    timer.timeout.connect(tick)
    timer.start(round(1000 / FPS))
    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(round(seconds * 1000), loop.quit)
    drawn0 = win.n_frames_drawn
    cpu0, wall0 = time.process_time(), time.monotonic()
    loop.exec()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    timer.stop()
    out = {
        "case": name,
        "predictions_in_history": len(win.state.predictions),
        "gaze_samples_in_history": len(win.state.raw_pupil),
        "ticks_per_s": ticks / wall,
        "plot_redraws_per_s": (win.n_frames_drawn - drawn0) / wall,
        "cpu_ms_per_frame": 1e3 * cpu / max(ticks, 1),
        "cpu_percent_one_core": 100.0 * cpu / wall,
    }
    win.close()
    win.deleteLater()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="measured wall time per case")
    ap.add_argument("--history", type=float, default=600.0, help="seconds of history")
    ap.add_argument("--cases", default="live-1hz,dense-10hz,full-redraw")
    ap.add_argument("--max-plot-fps", type=float, default=5.0, help="MonitorWindow.max_plot_fps")
    args = ap.parse_args()
    cases = {"live-1hz": (1.0, False), "dense-10hz": (10.0, False), "full-redraw": (1.0, True)}
    print(
        f"bench_gui: {platform.machine()}, {os.cpu_count()} cores, load avg "
        f"{os.getloadavg()[0]:.2f}, QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}, window "
        f"1500x920, history {args.history:.0f} s, timer {FPS:.0f} Hz, max_plot_fps "
        f"{args.max_plot_fps:g}"
    )
    for name in args.cases.split(","):
        rate, forced = cases[name]
        r = run_case(name, rate, forced, args.seconds, args.history, args.max_plot_fps)
        print(
            f"{r['case']:12s} preds={r['predictions_in_history']:5d} "
            f"gaze={r['gaze_samples_in_history']:6d} frames/s={r['ticks_per_s']:5.1f} "
            f"plot redraws/s={r['plot_redraws_per_s']:5.1f}  "
            f"cpu/frame={r['cpu_ms_per_frame']:6.2f} ms  "
            f"cpu={r['cpu_percent_one_core']:5.1f}% of one core",
            flush=True,
        )


if __name__ == "__main__":
    main()
