"""The Qt monitor's window, offscreen (conftest sets QT_QPA_PLATFORM), and run_monitor.

The Qt-free parts (sink, state, history buffer, scalp-map maths) are in test_monitor_state.py.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from fake_records import prediction as _pred

pytest.importorskip("pytestqt")

from apps.fake import FakeSession, start_fake_worker
from apps.monitor import run_monitor
from apps.panels.topomaps import TopomapPanel
from apps.theme import STATUS_COLORS
from apps.window import MonitorWindow
from cmt_live.records import Flag, StreamHealth
from features.constants import SEEDV_CHANNELS
from features.seedv import CLASS_NAMES

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot):
    w = MonitorWindow(CLASS_NAMES, SEEDV_CHANNELS, history_s=120)
    qtbot.addWidget(w)
    w.show()
    return w


def test_topomap_column_orders(qtbot):
    from apps._qt import pg

    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    eeg = np.arange(310.0)
    band = TopomapPanel(widget, SEEDV_CHANNELS, order="band-major", size_px=16)
    np.testing.assert_array_equal(band.band_values(eeg)[2, 5], 2 * 62 + 5)
    widget2 = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget2)
    chan = TopomapPanel(widget2, SEEDV_CHANNELS, order="channel-major", size_px=16)
    np.testing.assert_array_equal(chan.band_values(eeg)[2, 5], 5 * 5 + 2)
    with pytest.raises(ValueError, match=r"order must be 'band-major'.*got 'bands'"):
        TopomapPanel(pg.GraphicsLayoutWidget(), SEEDV_CHANNELS, order="bands")


# -- window ------------------------------------------------------------------------------------
def test_window_updates_from_a_worker_thread(window, qtbot):
    labels = [0, 0, 1, 2, 4, 4, 4, 3, 4, 4]

    def work():
        for i, k in enumerate(labels):
            window.sink.on_prediction(_pred(500.0 + i, k, conf=0.5 + 0.04 * i))
            time.sleep(0.005)

    th = threading.Thread(target=work)
    th.start()
    qtbot.waitUntil(lambda: window.state.n_predictions == len(labels), timeout=5000)
    th.join()
    # Text refreshes at most a few times a second: an earlier "Happy" (70%) may show first.
    headline = window.headline
    qtbot.waitUntil(
        lambda: (
            (headline.label_emotion.text(), headline.label_confidence.text()) == ("Happy", "86%")
        ),
        timeout=5000,
    )
    # Plots redraw at most max_plot_fps, so they may follow the header a frame later.
    curve = window.prob_panel.curves[4]
    qtbot.waitUntil(lambda: len(curve.getData()[0]) == len(labels), timeout=2000)
    x, y = curve.getData()
    np.testing.assert_allclose(x, np.arange(len(labels)))  # session time from the first t_end
    expected = [0.5 + 0.04 * i if k == 4 else (1 - 0.5 - 0.04 * i) / 4 for i, k in
                enumerate(labels)]  # fmt: skip
    np.testing.assert_allclose(y, expected)
    assert "end-to-end latency 20 ms" in window.headline.label_info.text()


def test_stale_stream_shows(window, qtbot):
    sink = window.sink
    sink.on_health([StreamHealth("Gaze", "connected", 120.0, 119.5, t=10.0)])
    qtbot.waitUntil(lambda: "Gaze" in window.health_table.stream_names, timeout=2000)
    assert window.health_table.status_of("Gaze") == (
        "connected",
        STATUS_COLORS["connected"].lower(),
    )
    sink.on_health([StreamHealth("Gaze", "stale", 120.0, 0.0, gaps=((10.0, 12.5),), t=12.5)])
    qtbot.waitUntil(lambda: window.health_table.status_of("Gaze")[0] == "stale", timeout=2000)
    assert window.health_table.status_of("Gaze")[1] == STATUS_COLORS["stale"].lower()
    qtbot.waitUntil(lambda: window.gates_panel.n_gaps == 1, timeout=2000)  # gap on the time axis
    # Session seconds from the first snapshot (t=10.0): the gap 10.0-12.5 s spans 0-2.5.
    assert window.gates_panel.gap_regions == [(0.0, 2.5)]
    # An open gap grows in place: same start, so the same band, not a second one.
    sink.on_health([StreamHealth("Gaze", "stale", 120.0, 0.0, gaps=((10.0, 14.0),), t=14.0)])
    qtbot.waitUntil(lambda: window.gates_panel.gap_regions == [(0.0, 4.0)], timeout=2000)
    assert window.gates_panel.n_gaps == 1


def test_missing_modality_is_shaded_and_markers_drawn(window, qtbot):
    sink = window.sink
    sink.on_marker(100.0, "Sad")
    for i in range(6):
        flags = (Flag.EYE_MISSING,) if 2 <= i < 4 else ()
        sink.on_prediction(_pred(100.0 + i, 2, flags=flags))
    qtbot.waitUntil(lambda: window.state.n_predictions == 6, timeout=2000)
    qtbot.waitUntil(lambda: window.truth.n_markers == 1, timeout=2000)
    # The marker at session time 0 starts its strip, which grows to the newest time (5 s).
    qtbot.waitUntil(lambda: window.truth.strip_regions == [(0.0, 5.0)], timeout=2000)
    # Predictions at session times 0..5; those at 2 and 3 lack gaze -> shaded from 1 to 3.
    qtbot.waitUntil(lambda: window.gates_panel.eye_missing.runs == [(1.0, 3.0)], timeout=2000)
    assert window.gates_panel.eeg_missing.runs == []
    assert window.headline.label_flags.text() == ""  # the newest prediction is clean
    sink.on_prediction(_pred(106.0, 2, flags=(Flag.EEG_STALE,)))
    qtbot.waitUntil(lambda: "eeg_stale" in window.headline.label_flags.text(), timeout=2000)
    qtbot.waitUntil(lambda: window.gates_panel.eeg_missing.runs == [(5.0, 6.0)], timeout=2000)
    # A new marker ends the previous strip at its time and starts the newest one there.
    sink.on_marker(104.0, "Neutral")
    qtbot.waitUntil(lambda: window.truth.strip_regions == [(0.0, 4.0), (4.0, 6.0)], timeout=2000)


def test_features_draw_topomaps_and_pupil(window, qtbot):
    session = FakeSession(seed=1)
    for _ in range(5):
        session.step(window.sink)
    qtbot.waitUntil(lambda: "ending at 4.0 s" in window.topo_panel.status.text, timeout=3000)
    img = window.topo_panel.images[2].image
    assert img.shape[-1] == 4 and img[..., 3].max() == 255  # painted, opaque inside the head
    assert len(np.unique(img[..., :3].reshape(-1, 3), axis=0)) > 10
    qtbot.waitUntil(lambda: len(window.pupil_panel.p1.getData()[0]) == 5, timeout=2000)
    _, y = window.pupil_panel.p1.getData()
    assert np.all(np.abs(y - 3.6) < 0.5)


def test_raw_pupil_trace_updates_from_on_gaze_as_the_pipeline_calls_it(window, qtbot):
    raw = window.pupil_panel.raw
    assert len(raw.xData if raw.xData is not None else []) == 0
    rng = np.random.default_rng(3)

    def chunk(t0: float, n: int = 60):
        ts = t0 + np.arange(n) / 120.0
        valid = (rng.random(n) > 0.2).astype(float)
        p1 = np.where(valid > 0, 3.5 + 0.01 * rng.standard_normal(n), np.nan)
        gaze = np.column_stack([rng.normal(0, 2, n), rng.normal(0, 2, n), p1, p1 - 0.2, valid])
        return ts, gaze.astype(np.float32), int(valid.sum())

    ts1, g1, n1 = chunk(700.0)
    ts2, g2, n2 = chunk(700.5)
    # The pipeline thread calls sink.on_gaze(timestamps, gaze) for every gaze chunk it receives.
    worker = threading.Thread(target=lambda: window.sink.on_gaze(ts1, g1))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: raw.yData is not None and len(raw.yData) == n1, timeout=3000)
    assert np.isfinite(raw.yData).all()  # invalid samples skipped, not drawn
    np.testing.assert_allclose(raw.yData, 3.4, atol=0.05)  # mean of both pupils
    first = raw.yData.copy()
    worker = threading.Thread(target=lambda: window.sink.on_gaze(ts2, g2))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(raw.yData) == n1 + n2, timeout=3000)
    np.testing.assert_array_equal(raw.yData[:n1], first)
    assert raw.xData[-1] == pytest.approx(ts2[g2[:, 4] > 0][-1] - 700.0)  # newest valid sample


def test_headline_shows_the_pipeline_stopped_after_sink_close(window, qtbot):
    assert window.headline.label_state.text() == "● live"
    window.sink.on_prediction(_pred(0.0, 1))
    window.sink.close()  # what the live pipeline does when it ends
    qtbot.waitUntil(lambda: window.state.finished, timeout=2000)
    qtbot.waitUntil(
        lambda: window.headline.label_state.text() == "■ pipeline stopped", timeout=2000
    )
    # What it had stays shown.
    qtbot.waitUntil(lambda: window.headline.label_emotion.text() == "Fear", timeout=2000)
    assert window.headline.label_state.text() == "■ pipeline stopped"


def test_pause_keeps_collecting_but_freezes_the_view(window, qtbot):
    window.sink.on_prediction(_pred(0.0, 1))
    qtbot.waitUntil(lambda: window.state.n_predictions == 1, timeout=2000)
    window.headline.button_pause.click()
    assert window.paused
    for i in range(1, 4):
        window.sink.on_prediction(_pred(float(i), 1))
    qtbot.waitUntil(lambda: window.state.n_predictions == 4, timeout=2000)
    assert len(window.prob_panel.curves[1].getData()[0]) == 1  # view frozen
    window.headline.button_pause.click()
    assert not window.paused
    assert len(window.prob_panel.curves[1].getData()[0]) == 4  # caught up on resume


def test_bad_window_arguments_are_named():
    with pytest.raises(ValueError, match=r"history_s must be > 0 seconds; got 0"):
        MonitorWindow(history_s=0)


# -- run_monitor -------------------------------------------------------------------------------
def _counting_worker(state):
    def start(sink):
        stop_event = threading.Event()

        def work():
            k = 0
            while not stop_event.wait(0.02):
                sink.on_prediction(_pred(50.0 + 0.1 * k, k % 5))
                k += 1

        th = threading.Thread(target=work, daemon=True)
        th.start()
        state["thread"] = th

        def stop():
            stop_event.set()
            th.join(2.0)

        return stop

    return start


def test_run_monitor_stops_worker_when_duration_ends(qapp):
    state = {}
    t0 = time.monotonic()
    code = run_monitor(_counting_worker(state), duration_s=0.6, stop_deadline_s=2.0)
    elapsed = time.monotonic() - t0
    assert code == 0
    assert not state["thread"].is_alive()
    assert elapsed < 0.6 + 2.0 + 1.5


def test_run_monitor_reports_a_worker_that_misses_the_deadline(qapp):
    release, stopped = threading.Event(), threading.Event()

    def start(sink):
        def stop():  # ignores the request to stop until the test releases it
            release.wait(60.0)
            stopped.set()

        return stop

    try:
        code = run_monitor(start, duration_s=0.3, stop_deadline_s=0.3)
        # The monitor returned while the worker still ignored it: it did not wait for it.
        assert not stopped.is_set()
    finally:
        release.set()
    assert code == 2


def test_run_monitor_closes_when_the_worker_is_done(qapp):
    def start(sink):
        def work():
            for i in range(3):
                sink.on_prediction(_pred(10.0 + i, i))
            sink.close()  # what the live pipeline does at the end of a replay

        th = threading.Thread(target=work, daemon=True)
        th.start()
        return lambda: th.join(2.0)

    t0 = time.monotonic()
    code = run_monitor(start, duration_s=20.0, exit_when_worker_done=True)
    assert code == 0
    assert time.monotonic() - t0 < 5.0  # closed on sink.close(), not at duration_s


def test_run_monitor_needs_a_stop_callable(qapp):
    with pytest.raises(TypeError, match="must return a stop\\(\\) callable; it returned NoneType"):
        run_monitor(lambda sink: None, duration_s=0.2)


def test_screenshot_is_not_blank_and_has_the_window_size(qapp, tmp_path):
    from apps._qt import QtGui

    path = tmp_path / "shot" / "monitor.png"
    code = run_monitor(
        lambda sink: start_fake_worker(sink, rate_hz=5.0, prefill_s=40.0),
        screenshot=path,
        screenshot_after_s=0.4,
        duration_s=0.8,
        window_size=(1200, 780),
    )
    assert code == 0
    img = QtGui.QImage(str(path))
    assert (img.width(), img.height()) == (1200, 780)
    img = img.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(780, img.bytesPerLine() // 4, 4)
    rgb = arr[:, :1200, :3].reshape(-1, 3)
    assert rgb.astype(float).var(axis=0).sum() > 0
    assert len(np.unique(rgb[::7], axis=0)) > 20  # plots, text and maps, not one colour
