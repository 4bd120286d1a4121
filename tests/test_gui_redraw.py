"""The monitor's time plots redraw only when new data would show: once the time axis has moved
by a pixel, or after ``MAX_PLOT_WAIT_S``; markers at once. Driven with a fake clock and the
window's timer stopped, so nothing depends on the machine's speed. Offscreen (conftest)."""

from __future__ import annotations

import types

import pytest
from fake_records import prediction as _pred

pytest.importorskip("pytestqt")

import apps.window as window_module
from apps.window import MonitorWindow
from features.constants import SEEDV_CHANNELS
from features.seedv import CLASS_NAMES

pytestmark = pytest.mark.gui

T0 = 100.0


def test_time_plots_wait_for_a_pixel_of_new_time_or_the_longest_wait(qtbot, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(window_module, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    w = MonitorWindow(CLASS_NAMES, SEEDV_CHANNELS, history_s=600)
    qtbot.addWidget(w)
    w.show()
    w.timer.stop()
    qtbot.waitUntil(lambda: w.prob_panel.plot.getViewBox().width() > 100, timeout=5000)
    for k in range(701):  # 700 s at 1 Hz: the axis spans 600 s
        w.sink.on_prediction(_pred(T0 + k, k % 5))
    w.on_timer()
    curve = w.prob_panel.curves[0]
    assert curve.getData()[0][-1] == 700.0
    frames = w.n_frames_drawn
    s_per_px = 600.0 / w.prob_panel.plot.getViewBox().width()
    assert 0.3 < s_per_px < 0.9  # premise: a pixel of new time comes before MAX_PLOT_WAIT_S

    def step(dt_s: float, t_pred: float | None) -> None:
        clock[0] += dt_s
        if t_pred is not None:
            w.sink.on_prediction(_pred(T0 + t_pred, 0))
        w.on_timer()

    # 10 predictions a second in real time: held back until the newest time has moved a pixel
    # (before MAX_PLOT_WAIT_S, and past 1 / max_plot_fps), then drawn.
    t = 700.0
    while t + 0.1 < 700.0 + s_per_px - 1e-9:
        t = round(t + 0.1, 1)
        step(0.1, t)
        assert w.n_frames_drawn == frames and curve.getData()[0][-1] == 700.0
    t = round(t + 0.1, 1)
    step(0.1, t)
    assert w.n_frames_drawn == frames + 1 and curve.getData()[0][-1] == t

    # A change within one pixel column is drawn after MAX_PLOT_WAIT_S at the latest.
    step(0.3, t + 0.05)  # past 1 / max_plot_fps, within the pixel
    assert w.n_frames_drawn == frames + 1
    step(w.MAX_PLOT_WAIT_S, None)
    assert w.n_frames_drawn == frames + 2 and curve.getData()[0][-1] == pytest.approx(t + 0.05)

    # A marker is drawn at the next allowed frame, without waiting for a pixel.
    w.sink.on_marker(T0 + t + 0.06, CLASS_NAMES[1])
    step(0.3, None)
    assert w.truth.n_markers == 1 and w.n_frames_drawn == frames + 3
