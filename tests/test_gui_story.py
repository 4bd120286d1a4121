"""The monitor tells the session's story: events with times (any kind, clickable), running
accuracy against the markers, a health row per input with its full name, type and source
(markers included), the latency and rate trends, and the Record button. Offscreen (conftest)."""

from __future__ import annotations

import numpy as np
import pytest
from fake_records import prediction as _pred

pytest.importorskip("pytestqt")

from apps.state import StreamLabel
from apps.window import MonitorWindow
from cmt_live.records import Flag, StreamHealth
from features.constants import SEEDV_CHANNELS
from features.seedv import CLASS_NAMES

pytestmark = pytest.mark.gui

EEG = StreamLabel("cmtdemo-3f2a9c1e-EEG-with-a-long-name", "EEG", "EEG", "cmt-sim-eeg-101-0")
GAZE = StreamLabel("cmtdemo-3f2a9c1e-Gaze", "gaze", "Gaze", "cmt-sim-gaze-101-0")
MARKERS = StreamLabel("cmtdemo-3f2a9c1e-Markers", "markers", "Markers")


@pytest.fixture
def window(qtbot):
    w = MonitorWindow(CLASS_NAMES, SEEDV_CHANNELS, history_s=120, streams=(EEG, GAZE, MARKERS))
    qtbot.addWidget(w)
    w.show()
    return w


def _n_points(curve) -> int:
    x, _ = curve.getData()
    return 0 if x is None else len(x)


def _lines(window):
    return window.events.lines()


def test_events_panel_fills_on_a_stale_stream(window, qtbot):
    sink = window.sink
    sink.on_health([StreamHealth(GAZE.name, "connected", 120.0, 119.5, t=10.0)])
    sink.on_event("stale", f"[{GAZE.name}] no sample for 1.00 s (limit 1 s)", 12.0)
    sink.on_health([StreamHealth(GAZE.name, "stale", 120.0, 0.0, t=12.0)])
    sink.on_event("connected", f"[{GAZE.name}] samples flow again after 3.10 s", 15.1)
    qtbot.waitUntil(lambda: len(_lines(window)) == 2, timeout=3000)
    assert _lines(window) == [
        f"     2.0 s  [stale] [{GAZE.name}] no sample for 1.00 s (limit 1 s)",
        f"     5.1 s  [connected] [{GAZE.name}] samples flow again after 3.10 s",
    ]
    # The flag the stale stream puts on predictions is an event too: when it starts and ends.
    for i, t in enumerate((13.0, 14.0, 15.0, 16.0)):
        sink.on_prediction(_pred(t, 2, flags=(Flag.EYE_STALE,) if i in (1, 2) else ()))
    qtbot.waitUntil(lambda: len(_lines(window)) == 4, timeout=3000)
    assert _lines(window)[2:] == [
        "     4.0 s  [eye_stale] started",
        "     6.0 s  [eye_stale] cleared after 2.0 s",
    ]


def test_events_panel_fills_on_a_missing_modality_and_any_new_kind(window, qtbot):
    sink = window.sink
    for i in range(5):
        flags = {Flag.EYE_MISSING} if i >= 2 else set()
        if i == 3:
            flags.add("eeg_implausible_units")  # a flag this panel has never heard of
        sink.on_prediction(_pred(100.0 + i, 1, flags=flags))
    sink.on_event("skipped_windows", "3 due windows skipped to stay current", 104.5)
    qtbot.waitUntil(lambda: len(_lines(window)) == 4, timeout=3000)
    assert _lines(window) == [
        "     2.0 s  [eye_missing] started",
        "     3.0 s  [eeg_implausible_units] started",
        "     4.0 s  [eeg_implausible_units] cleared after 1.0 s",
        "     4.5 s  [skipped_windows] 3 due windows skipped to stay current",
    ]


def test_clicking_an_event_moves_the_time_axis_there(window, qtbot):
    sink = window.sink
    for i in range(90):
        sink.on_prediction(_pred(100.0 + i, 0, flags=(Flag.EEG_GAP,) if i == 20 else ()))
    qtbot.waitUntil(lambda: window.state.n_predictions == 90, timeout=3000)
    qtbot.waitUntil(lambda: window.events.count() == 2, timeout=3000)
    qtbot.waitUntil(lambda: window.prob_panel.plot.viewRange()[0][1] > 80, timeout=3000)
    item = window.events.item(0)
    assert item.text().startswith("    20.0 s  [eeg_gap] started")
    window.events.itemClicked.emit(item)
    lo, hi = window.prob_panel.plot.viewRange()[0]
    assert lo == pytest.approx(-10.0) and hi == pytest.approx(50.0)
    assert window.paused  # the view stays there until resumed
    window.set_paused(False)
    assert window.prob_panel.plot.viewRange()[0][1] > 80


def test_accuracy_shows_when_markers_exist(window, qtbot):
    sink = window.sink
    assert window.accuracy_label.text() == "no markers yet"
    # Two trials; with 4-s windows a prediction is scored once its window lies in one trial.
    sink.on_marker(100.0, "Sad")
    sink.on_marker(110.0, "Happy")
    k_sad, k_happy = CLASS_NAMES.index("Sad"), CLASS_NAMES.index("Happy")
    # t_end 104..110 in the Sad trial: 7 scored, 5 right; 114..117 in Happy: 4 scored, 1 right.
    labels = [k_sad] * 5 + [k_happy] * 2 + [k_happy] + [k_sad] * 3
    times = [104.0 + i for i in range(7)] + [114.0 + i for i in range(4)]
    for t, k in zip(times, labels):
        sink.on_prediction(_pred(t, k))
    sink.on_prediction(_pred(101.0, k_sad))  # window starts before the marker: not scored
    qtbot.waitUntil(lambda: window.state.n_predictions == 12, timeout=3000)
    expected = "accuracy vs markers 55% of 11 windows (chance 20%)   ·   last 2 trials 55%"
    qtbot.waitUntil(lambda: window.accuracy_label.text() == expected, timeout=3000)
    assert window.state.trials == {100.0: [7, 5], 110.0: [4, 1]}


def test_health_rows_show_full_names_types_sources_and_a_markers_row(window, qtbot):
    table = window.health_table
    # Every input has its row from the start, markers included, before any health arrives.
    assert table.stream_names == (EEG.name, GAZE.name, MARKERS.name)
    assert table.name_cell(EEG.name) == f"{EEG.name}\nEEG · cmt-sim-eeg-101-0"
    assert table.name_cell(MARKERS.name) == f"{MARKERS.name}\nMarkers"
    assert table.status_of(MARKERS.name)[0] == "waiting"
    window.sink.on_health([StreamHealth(EEG.name, "connected", 200.0, 199.0, t=5.0)])
    window.sink.on_marker(6.0, "Fear")
    window.sink.on_marker(9.0, "Rest")
    qtbot.waitUntil(lambda: table.status_of(MARKERS.name)[0] == "connected", timeout=3000)
    qtbot.waitUntil(lambda: table.item(2, 5).text() == "2", timeout=3000)  # markers counted
    assert table.status_of(EEG.name)[0] == "connected"
    assert table.item(0, 2).text() == "199 / 200"
    # The first cell is wide enough for the whole name: nothing elided.
    fm = table.fontMetrics()
    assert table.columnWidth(0) >= fm.horizontalAdvance(EEG.name)


def test_latency_and_rate_trends_fill_the_right_column(window, qtbot):
    sink = window.sink
    for i in range(4):
        sink.on_prediction(_pred(50.0 + i, 3))
        sink.on_health([StreamHealth(EEG.name, "connected", 200.0, 150.0 + 10 * i, t=50.0 + i)])
    qtbot.waitUntil(lambda: _n_points(window.trends.latency) == 4, timeout=3000)
    np.testing.assert_allclose(window.trends.latency.getData()[1], 20.0)  # t_computed - t_end
    qtbot.waitUntil(lambda: EEG.name in window.trends.rates, timeout=3000)
    qtbot.waitUntil(lambda: _n_points(window.trends.rates[EEG.name]) == 4, timeout=3000)
    np.testing.assert_allclose(window.trends.rates[EEG.name].getData()[1], [75, 80, 85, 90])


def test_record_button_starts_and_stops_recording(qtbot):
    calls = []

    def record(on):
        calls.append(on)
        return "recording to s.xdf" if on else "saved s.xdf"

    w = MonitorWindow(CLASS_NAMES, SEEDV_CHANNELS, history_s=60, record=record)
    qtbot.addWidget(w)
    w.show()
    button = w.headline.button_record
    assert button.isVisible() and button.text() == "● Record"
    button.click()
    assert button.text() == "■ Stop recording"
    qtbot.waitUntil(
        lambda: any("recording to s.xdf" in ln for ln in w.events.lines()), timeout=3000
    )
    button.click()
    qtbot.waitUntil(lambda: any("saved s.xdf" in ln for ln in w.events.lines()), timeout=3000)
    assert calls == [True, False]
    plain = MonitorWindow(CLASS_NAMES, SEEDV_CHANNELS, history_s=60)
    qtbot.addWidget(plain)
    assert plain.headline.button_record.isHidden()  # no recorder: no button


def test_a_marker_older_than_the_first_window_stays_on_the_time_axis(window, qtbot):
    # The simulator resends the current clip's marker when the monitor connects: its stamp
    # predates the first prediction, and its label must not be cut off at the axis start.
    window.sink.on_prediction(_pred(100.0, 4))
    window.sink.on_marker(97.3, "Happy")
    qtbot.waitUntil(lambda: window.truth.n_markers == 1, timeout=3000)
    assert window.state.x_range() == (pytest.approx(-2.7), 10.0)
    qtbot.waitUntil(
        lambda: window.prob_panel.plot.viewRange()[0][0] == pytest.approx(-2.7), timeout=3000
    )


def test_events_fill_from_the_real_pipeline_on_a_gaze_outage(window, qtbot, tmp_path):
    """The same path as live use: a recording whose gaze drops out for 6 s goes through the
    real driver and pipeline into the window's sink; the flags it raises become events."""
    from dataclasses import replace

    from live_models import make_model_file

    from cmt_live.driver import Driver
    from cmt_live.io.readers import read_recording
    from cmt_live.io.recording_source import RecordingSource
    from cmt_live.io.xdf import write_xdf
    from cmt_live.sim.streams import SimSessionSettings, record_session
    from models import load_runtime

    rec = record_session(SimSessionSettings(subject=101, seed=2), tmp_path / "s.xdf", 30.0)
    streams = read_recording(rec)
    gaze = next(s for s in streams if s.type == "Gaze")
    keep = (gaze.timestamps < 12.0) | (gaze.timestamps > 18.0)
    streams[streams.index(gaze)] = replace(
        gaze, timestamps=gaze.timestamps[keep], data=np.asarray(gaze.data)[keep]
    )
    cut = write_xdf(tmp_path / "outage.xdf", streams)
    runtime = load_runtime(make_model_file(tmp_path / "m.pt", context_len=4))
    source = RecordingSource(cut, runtime.contract.feature_spec.ch_names)
    driver = Driver.for_source(runtime, source, sinks=[window.sink])
    driver.run()
    driver.close()
    qtbot.waitUntil(lambda: window.state.finished, timeout=10000)
    lines = _lines(window)

    def time_of(text):
        hits = [float(ln.split(" s ")[0]) for ln in lines if text in ln]
        assert len(hits) == 1, (text, lines)
        return hits[0]

    # Session time 0 is the first marker (the recording's start); gaze is missing 12-18 s.
    # Windows are 4 s long, so the flag starts once a window's gaze falls short (~14 s) and
    # clears once a window holds enough gaze again (~21 s).
    assert 12.0 <= time_of("[eye_missing] started") <= 16.0
    assert 18.0 <= time_of("[eye_missing] cleared after") <= 23.0
    assert any("[marker]" in ln for ln in lines)  # the recording's markers are events too
