"""CPU cost of the real Qt monitor window at 1 and 10 predictions/s, GUI side only (offscreen).

Builds the real :class:`apps.window.MonitorWindow` (offscreen Qt platform: the software
rasteriser draws every pixel the window would draw on screen), fills it with ``--history``
seconds of a fake session (:class:`apps.fake.FakeSession`: predictions with a latency budget,
DE features, stream health, 120-Hz raw gaze, markers, an eye outage), then runs the Qt event
loop for ``--seconds`` of wall time while a feeder timer puts the next step's records on the
window's queue in real time. The window's own timer drains and redraws, as in ``cmt-live``.

What is measured: the process CPU time (``time.process_time``: Python, Qt layout, painting,
all threads) over the measured span, minus the feeder's own CPU time (``time.thread_time``
around each feeder call; the records are generated *before* the measurement, so the feeder
only enqueues ready objects and costs ~0.01 ms per prediction, printed). That is the GUI side's cost
as a % of one core; CPU time, not wall time, so the figure does not grow with the machine's
load (``uptime`` load is printed beside it).

Cases:

- ``1hz``: 1 prediction/s (600 in a 10-minute history). Target <= 5% of a core.
- ``10hz``: 10 predictions/s (6000 in history), gaze in 0.1-s chunks. Target <= 20%.
- ``10hz-budget``: as ``10hz`` with the latency budget table shown (headline button).
- ``full-redraw``: reference worst case, every 30-Hz frame redraws every panel
  (``refresh(force=True)``), 1 prediction/s history. No target.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui.py [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

#: Targets from issue 14, % of one core.
TARGETS = {"1hz": 5.0, "10hz": 20.0}
#: case: (predictions per second, redraw everything every frame, latency budget table shown)
CASES = {
    "1hz": (1.0, False, False),
    "10hz": (10.0, False, False),
    "10hz-budget": (10.0, False, True),
    "full-redraw": (1.0, True, False),
}


def make_steps(rate_hz: float, n_steps: int) -> list[list]:
    """Records of ``n_steps`` fake-session steps, one list per step, generated up front."""
    from apps.fake import FakeSession
    from apps.sink import QtSink

    session = FakeSession(0, step_s=1.0 / rate_hz, eye_outage=(300.0, 320.0))
    sink = QtSink()
    steps = []
    for _ in range(n_steps):
        session.step(sink)
        steps.append(sink.drain())
    return steps


def run_case(name: str, seconds: float, history_s: float) -> dict:
    from apps._qt import QtCore, QtWidgets
    from apps.window import MonitorWindow

    rate_hz, forced, budget = CASES[name]
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["bench_gui"])
    n_history = int(history_s * rate_hz)
    steps = make_steps(rate_hz, n_history + int(2 * seconds * rate_hz) + 10)
    win = MonitorWindow(history_s=history_s)
    win.resize(1500, 920)
    win.show()
    win.show_budget(budget)
    queue = win.sink._queue  # the feeder enqueues ready records, as QtSink's methods do
    for k in range(n_history):
        for record in steps[k]:
            queue.put(record)
        if k % 500 == 0:
            win.on_timer()
    win.on_timer()
    win.refresh(force=True)
    app.processEvents()  # bench only: settle the first paint before measuring

    fed = n_history
    feeder_cpu = 0.0
    t_start = time.monotonic()

    def feed() -> None:
        # Every step due by the wall clock (a late timer catches up), as a pipeline would.
        nonlocal fed, feeder_cpu
        c0 = time.thread_time()
        while fed < n_history + (time.monotonic() - t_start) * rate_hz:
            for record in steps[fed]:
                queue.put(record)
            fed += 1
        feeder_cpu += time.thread_time() - c0

    def force() -> None:  # the worst case: every panel, every frame
        win.on_timer()
        win.refresh(force=True)

    feeder = QtCore.QTimer()
    feeder.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    feeder.timeout.connect(feed)
    feeder.start(round(1000 / rate_hz / 2))
    if forced:
        win.timer.stop()
        forcer = QtCore.QTimer()
        forcer.timeout.connect(force)
        forcer.start(round(1000 / 30))
    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(round(seconds * 1000), loop.quit)
    drawn0, fed0, t_start = win.n_frames_drawn, fed, time.monotonic()
    cpu0, wall0 = time.process_time(), time.monotonic()
    loop.exec()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    feeder.stop()
    gui_cpu = cpu - feeder_cpu
    n_fed = fed - fed0
    out = {
        "case": name,
        "predictions_in_history": len(win.state.predictions),
        "gaze_samples_in_history": len(win.state.raw_pupil),
        "predictions_per_s": n_fed / wall,
        "plot_redraws_per_s": (win.n_frames_drawn - drawn0) / wall,
        "feeder_ms_per_prediction": 1e3 * feeder_cpu / max(n_fed, 1),
        "gui_ms_per_prediction": 1e3 * gui_cpu / max(n_fed, 1),
        "gui_percent_one_core": 100.0 * gui_cpu / wall,
    }
    win.close()
    win.deleteLater()
    app.processEvents()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="measured wall time per case")
    ap.add_argument("--history", type=float, default=600.0, help="seconds of history")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated")
    args = ap.parse_args()
    print(
        f"bench_gui: real MonitorWindow, {platform.machine()}, {os.cpu_count()} cores, "
        f"QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}, window 1500x920, history "
        f"{args.history:.0f} s, {args.seconds:g} s measured per case; GUI CPU = process CPU "
        f"time - feeder CPU time"
    )
    for name in args.cases.split(","):
        r = run_case(name, args.seconds, args.history)
        target = TARGETS.get(name)
        verdict = (
            f"target <= {target:g}%: {'met' if r['gui_percent_one_core'] <= target else 'MISSED'}"
            if target is not None
            else "reference, no target"
        )
        print(
            f"{r['case']:11s} preds={r['predictions_in_history']:5d} "
            f"gaze={r['gaze_samples_in_history']:6d} preds/s={r['predictions_per_s']:5.1f} "
            f"plot redraws/s={r['plot_redraws_per_s']:5.1f} "
            f"feeder={r['feeder_ms_per_prediction']:.3f} ms/pred "
            f"gui={r['gui_ms_per_prediction']:6.2f} ms/prediction "
            f"GUI cpu={r['gui_percent_one_core']:5.1f}% of one core ({verdict}); "
            f"load avg {os.getloadavg()[0]:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
