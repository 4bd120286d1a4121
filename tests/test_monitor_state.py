"""The monitor's Qt-free parts: the sink's queue, the history buffer, the state the panels
draw from, and the scalp-map maths. These run without a display and without pytest-qt."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest
from fake_records import prediction as _pred

from apps.history import History
from apps.sink import GazeChunk, Marker, QtSink
from apps.state import PLOT_PARTS, Changed, MonitorState
from apps.theme import CLASS_COLORS
from apps.topomap import Topomap, channel_positions_2d, interpolation_matrix
from cmt_live.records import FeatureFrame, Flag, StreamHealth
from cmt_live.sinks import Sink
from features.constants import EYE_FEATURE_NAMES, SEEDV_CHANNELS
from features.seedv import CLASS_NAMES


# -- sink --------------------------------------------------------------------------------------
def test_sink_is_thread_safe_and_keeps_per_thread_order():
    sink = QtSink(n_eeg_features=310)
    n_threads, n_each = 4, 300

    def push(i):
        for j in range(n_each):
            sink.on_marker(1000.0 * i + j, f"t{i}")

    threads = [threading.Thread(target=push, args=(i,)) for i in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    items = sink.drain()
    assert len(items) == n_threads * n_each
    assert all(isinstance(m, Marker) for m in items)
    for i in range(n_threads):
        ts = [m.t for m in items if m.label == f"t{i}"]
        assert ts == [1000.0 * i + j for j in range(n_each)]
    assert sink.drain() == []


def test_sink_rejects_bad_records_with_named_errors():
    sink = QtSink(n_eeg_features=310)
    with pytest.raises(TypeError, match=r"expects a cmt_live\.records\.Prediction; got dict"):
        sink.on_prediction({"probs": [0.2] * 5})
    frame = FeatureFrame(t_end=1.0, eeg=np.zeros(300), eye=np.zeros(33), eeg_valid=True,
                         eye_valid=True)  # fmt: skip
    with pytest.raises(ValueError, match=r"shape \(300,\).*built for \(310,\)"):
        sink.on_features(frame)
    with pytest.raises(ValueError, match=r"gaze of shape \(n, 5\)"):
        sink.on_gaze(np.arange(3.0), np.zeros((3, 4)))
    with pytest.raises(TypeError, match="list of StreamHealth"):
        sink.on_health(["EEG"])


def test_sink_drops_everything_after_detach():
    sink = QtSink()
    sink.on_marker(1.0, "Sad")
    sink.detach()
    sink.on_marker(2.0, "Happy")
    assert sink.drain() == []


def test_qtsink_is_a_pipeline_sink_and_owns_its_gaze_copy():
    sink = QtSink()
    assert isinstance(sink, Sink)
    ts, gaze = np.array([1.0, 2.0]), np.ones((2, 5))
    sink.on_gaze(ts, gaze)
    ts[:], gaze[:] = 0.0, 0.0  # the pipeline reuses its buffers
    (chunk,) = sink.drain()
    assert isinstance(chunk, GazeChunk)
    np.testing.assert_array_equal(chunk.timestamps, [1.0, 2.0])
    assert (chunk.gaze == 1.0).all()
    sink.on_gaze(np.empty(0), np.empty((0, 5)))  # an empty chunk queues nothing
    assert sink.drain() == []


def test_sink_state_history_and_theme_import_without_qt():
    code = (
        "import sys; import apps.sink, apps.state, apps.history, apps.theme, apps.topomap, "
        "apps.fake; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')); "
        "print(bad); raise SystemExit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# -- ring buffer -------------------------------------------------------------------------------
def test_history_keeps_newest_rows_in_order_without_growing():
    h = History(capacity=5, n_cols=1)
    for i in range(12):
        h.push(float(i), [i * 10.0])
    t, v = h.view()
    np.testing.assert_array_equal(t, [7, 8, 9, 10, 11])
    np.testing.assert_array_equal(v[:, 0], [70, 80, 90, 100, 110])
    h.push_many(np.arange(12.0, 20.0), np.arange(120.0, 200.0, 10.0)[:, None])  # wraps, > cap
    t, v = h.view()
    np.testing.assert_array_equal(t, [15, 16, 17, 18, 19])
    np.testing.assert_array_equal(v[:, 0], [150, 160, 170, 180, 190])
    t, _ = h.view(t_min=17.5)
    np.testing.assert_array_equal(t, [18, 19])
    assert h._t.shape == (10,)  # preallocated once
    assert h.last_t == 19.0


# -- state (no Qt) -----------------------------------------------------------------------------
def test_state_turns_predictions_into_histories_and_a_headline():
    sink, state = QtSink(), MonitorState(CLASS_NAMES, history_s=60)
    assert state.headline() is None
    for i, k in enumerate([0, 2, 4]):
        sink.on_prediction(_pred(500.0 + i, k, flags=(Flag.EYE_STALE,) if i == 1 else ()))
    state.ingest(sink.drain())
    assert state.n_predictions == 3
    t, probs, gates, eeg_missing, eye_missing = state.prediction_view()
    np.testing.assert_array_equal(t, [0.0, 1.0, 2.0])  # session seconds from the first record
    np.testing.assert_allclose(probs[[0, 1, 2], [0, 2, 4]], 0.8)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_allclose(gates, [[0.7, 0.3]] * 3)
    np.testing.assert_array_equal(eye_missing, [0, 1, 0])
    np.testing.assert_array_equal(eeg_missing, [0, 0, 0])
    head = state.headline()
    assert (head.label, head.confidence, head.color) == ("Happy", "80%", CLASS_COLORS[4])
    assert "end-to-end latency 20 ms" in head.info and "3 predictions" in head.info
    assert head.flags == ""
    # What changed is recorded for the window, which takes it part by part.
    assert state.take_changes(PLOT_PARTS) == Changed.PREDICTIONS
    assert Changed.HEADLINE in state.pending and Changed.PREDICTIONS not in state.pending
    # Older than history_s leaves the view; a flag shows in the headline.
    sink.on_prediction(_pred(600.0, 1, flags=(Flag.EEG_STALE,)))
    state.ingest(sink.drain())
    t, *_ = state.prediction_view()
    np.testing.assert_array_equal(t, [100.0])
    assert state.x_range() == (40.0, 100.0)
    assert state.headline().flags == "⚠ eeg_stale"


def test_state_keeps_health_rows_gaps_events_markers_and_the_end():
    sink, state = QtSink(), MonitorState(history_s=60)
    sink.on_marker(100.0, "Sad")
    sink.on_health(
        [
            StreamHealth("EEG", "connected", 200.0, 199.8, t=101.0),
            StreamHealth("Gaze", "connected", 120.0, 119.0, t=101.0),
        ]
    )
    sink.on_event("stale", "Gaze: no sample for 0.5 s", 102.0)
    sink.on_health([StreamHealth("Gaze", "stale", 120.0, 0.0, gaps=((101.5, 103.0),), t=103.0)])
    state.ingest(sink.drain())
    assert list(state.health_rows) == ["EEG", "Gaze"]  # a partial snapshot keeps other rows
    assert state.health_rows["Gaze"].status == "stale"
    assert state.gaps == [("Gaze", 1.5, 3.0)]
    assert state.t_last == 3.0
    lines = ["     0.0 s  [marker] Sad", "     2.0 s  [stale] Gaze: no sample for 0.5 s"]
    assert [str(e) for e in state.take_new_events()] == lines
    assert state.take_new_events() == []
    assert state.take_new_markers() == [(0.0, "Sad")]
    assert not state.finished
    sink.close()
    state.ingest(sink.drain())
    assert state.finished and Changed.FINISHED in state.pending


def test_state_pupil_means_take_the_pupil_columns_and_break_at_invalid_eye_windows():
    sink, state = QtSink(), MonitorState(history_s=60)
    eye = np.full(33, 9.0)
    eye[[EYE_FEATURE_NAMES.index(f"pupil{i}_mean") for i in (1, 2)]] = [3.0, 4.0]
    for i, eye_valid in enumerate([True, False]):
        frame = FeatureFrame(t_end=300.0 + i, eeg=np.zeros(310), eye=eye, eeg_valid=True,
                             eye_valid=eye_valid)  # fmt: skip
        sink.on_features(frame)
    state.ingest(sink.drain())
    t, pupils = state.pupil_view()
    np.testing.assert_array_equal(t, [0.0, 1.0])  # session seconds from the first record
    np.testing.assert_array_equal(pupils[0], [3.0, 4.0])  # the two means, not the stds
    assert np.isnan(pupils[1]).all()  # invalid eye data: a break, not the window's numbers
    assert state.latest_frame.t_end == 301.0
    assert Changed.FEATURES in state.pending


def test_state_raw_pupil_skips_invalid_samples_and_breaks_at_outages():
    sink, state = QtSink(), MonitorState(history_s=60)
    ts = 200.0 + 0.01 * np.arange(6)
    gaze = np.column_stack(
        [
            np.zeros(6),
            np.zeros(6),
            [3.0, 3.0, 3.2, 3.0, np.nan, 3.4],  # pupil_1
            [4.0, 4.0, 4.2, 4.0, 4.0, 4.4],  # pupil_2
            [1.0, 0.0, 1.0, np.nan, 1.0, 1.0],  # valid
        ]
    )
    sink.on_gaze(ts, gaze)
    state.ingest(sink.drain())
    t, pupil = state.raw_pupil_view()
    np.testing.assert_allclose(t, [0.0, 0.02, 0.05])  # invalid flag, NaN flag, NaN pupil: gone
    np.testing.assert_allclose(pupil, [3.5, 3.7, 3.9])
    sink.on_gaze(ts + 2.0, gaze)  # after a 2-s outage: a NaN row breaks the line
    sink.on_gaze(ts + 3.0, np.where(np.arange(5) == 4, 0.0, gaze))  # nothing valid: nothing added
    state.ingest(sink.drain())
    t, pupil = state.raw_pupil_view()
    np.testing.assert_allclose(t, [0.0, 0.02, 0.05, 1.025, 2.0, 2.02, 2.05])
    np.testing.assert_array_equal(np.isnan(pupil), [0, 0, 0, 1, 0, 0, 0])
    assert Changed.RAW_PUPIL in state.pending


def test_state_refuses_what_the_sink_does_not_send():
    state = MonitorState()
    with pytest.raises(TypeError, match=r"cannot ingest a tuple; it takes .*Prediction"):
        state.ingest([("prediction", None)])
    with pytest.raises(ValueError, match=r"history_s must be > 0 seconds; got -1"):
        MonitorState(history_s=-1)


# -- topomap -----------------------------------------------------------------------------------
def test_positions_match_the_cap_layout():
    pos = channel_positions_2d(SEEDV_CHANNELS)
    assert pos.shape == (62, 2) and np.isfinite(pos).all()
    p = {ch: pos[i] for i, ch in enumerate(SEEDV_CHANNELS)}
    assert np.hypot(*p["CZ"]) < 0.1  # vertex at the centre
    assert p["FPZ"][1] > 0.9 and p["OZ"][1] < -0.8  # nose up, occiput down
    assert p["T7"][0] < -0.9 and p["T8"][0] > 0.9  # left ear left
    # CB1/CB2 (not in MNE's montages) sit below O1/O2 on their own side.
    assert p["CB1"][1] < p["O1"][1] and p["CB1"][0] < 0
    assert p["CB2"][1] < p["O2"][1] and p["CB2"][0] > 0
    assert len({tuple(np.round(q, 6)) for q in pos}) == 62  # no two channels on one spot


def test_positions_unknown_channel_named_in_error():
    with pytest.raises(ValueError, match=r"No scalp position for channel\(s\) \['XYZ1'\]"):
        channel_positions_2d(("CZ", "XYZ1", "PZ"))


def test_interpolation_exact_at_electrodes_and_linear_inside():
    pos = channel_positions_2d(SEEDV_CHANNELS)
    w = interpolation_matrix(pos, pos)
    np.testing.assert_allclose(w, np.eye(62), atol=1e-9)
    # A linear field is reproduced exactly by barycentric interpolation inside the cap.
    values = 2.0 * pos[:, 0] - 3.0 * pos[:, 1] + 0.5
    rng = np.random.default_rng(0)
    r, a = 0.5 * np.sqrt(rng.random(200)), rng.uniform(0, 2 * np.pi, 200)
    q = np.column_stack([r * np.cos(a), r * np.sin(a)])
    got = interpolation_matrix(pos, q) @ values
    np.testing.assert_allclose(got, 2.0 * q[:, 0] - 3.0 * q[:, 1] + 0.5, atol=1e-9)
    far = interpolation_matrix(pos, np.array([[2.0, 0.0]]))
    assert np.isnan(far).all()


def test_topomap_image_shape_mask_and_range():
    topo = Topomap(SEEDV_CHANNELS, size_px=32)
    values = topo.pos[:, 1]  # front-to-back gradient
    img = topo.image(values)
    assert img.shape == (32, 32)
    assert np.isnan(img[0, 0]) and np.isfinite(img[16, 16])  # corner outside, centre inside
    g = np.linspace(-topo.extent, topo.extent, 32)
    r = np.hypot(*np.meshgrid(g, g, indexing="ij"))
    assert np.isnan(img[r > 1.0]).all()  # clipped to the head outline
    assert np.isfinite(img[r < 0.95]).all()
    # Interpolation stays within the data range (convex weights).
    assert np.nanmin(img) >= values.min() - 1e-9 and np.nanmax(img) <= values.max() + 1e-9
    # Front (large y, last column) higher than back.
    assert np.nanmean(img[:, -8:]) > np.nanmean(img[:, :8])
    with pytest.raises(ValueError, match=r"one value per channel, shape \(62,\); got \(61,\)"):
        topo.image(values[:-1])
