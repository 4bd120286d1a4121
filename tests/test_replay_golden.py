"""The golden test: fast in-process replay and real-time LSL replay of the same recording give
the same features bit for bit and the same predictions within float tolerance.

The recording declares mixed EEG units (half the channels in microvolts, half in millivolts,
the data scaled to match), so the same run checks that live and fast replay read units per
channel alike, and that the result equals the all-microvolt original.
"""

import threading
import uuid
from dataclasses import replace

import numpy as np
import pytest
from live_models import make_model_file

from cmt_live.driver import Driver
from cmt_live.io.readers import read_recording
from cmt_live.io.recording_source import RecordingSource
from cmt_live.io.xdf import write_xdf
from cmt_live.lsl.player import Player, PlayerSettings
from cmt_live.lsl.source import LslSource, StreamSelection
from cmt_live.sim.streams import SimSessionSettings, record_session
from cmt_live.sinks import Sink
from models import load_runtime

pytestmark = [pytest.mark.lsl, pytest.mark.slow]

DURATION_S = 20.0


class Collector(Sink):
    """A sink that keeps what it is given."""

    def __init__(self):
        self.frames, self.predictions = [], []
        self.lock = threading.Lock()
        self.grew = threading.Condition(self.lock)

    def on_features(self, frame):
        with self.lock:
            self.frames.append(frame)
            self.grew.notify_all()

    def on_prediction(self, pred):
        with self.lock:
            self.predictions.append(pred)


def mixed_units(path, out):
    """``path`` with the EEG's second half of channels in millivolts (values / 1000)."""
    streams = read_recording(path)
    eeg = streams[0]
    assert eeg.type == "EEG" and set(eeg.units) == {"microvolts"}
    n = eeg.n_channels
    data = np.asarray(eeg.data, dtype=np.float32).copy()
    data[:, n // 2 :] /= 1000.0
    units = ["microvolts"] * (n // 2) + ["millivolts"] * (n - n // 2)
    streams[0] = replace(eeg, data=data, units=units)
    return write_xdf(out, streams)


def fast_replay(model, path):
    runtime = load_runtime(model)
    sink = Collector()
    source = RecordingSource(path, runtime.contract.feature_spec.ch_names)
    driver = Driver.for_source(runtime, source, sinks=[sink])
    stats = driver.run()
    driver.close()
    assert stats.n_predictions == len(sink.predictions) > 10
    return sink


def lsl_replay(model, path, n_frames):
    runtime = load_runtime(model)
    streams = read_recording(path)
    eeg, gaze = streams[0], streams[1]
    sink = Collector()
    driver = None
    player = Player(streams, PlayerSettings(wait_consumers_s=10.0)).start()
    source = LslSource(
        StreamSelection(
            eeg=eeg.name, eye=gaze.name, eeg_source_id=eeg.source_id, eye_source_id=gaze.source_id
        ),
        runtime.contract.feature_spec.ch_names,
    )
    try:
        source.open()
        driver = Driver.for_source(runtime, source, sinks=[sink])
        source.start()
        driver.start()
        assert player.wait(timeout=DURATION_S + 15)
        with sink.grew:
            sink.grew.wait_for(lambda: len(sink.frames) >= n_frames, timeout=5)
    finally:
        if driver is not None:
            driver.close()
        source.close()
        player.stop()
    return sink


@pytest.fixture(scope="module")
def replays(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("golden")
    prefix = f"G{uuid.uuid4().hex[:6]}-"
    settings = SimSessionSettings(subject=101, seed=3, prefix=prefix, trial_s=10.0)
    original = record_session(settings, tmp / "s.xdf", DURATION_S)
    mixed = mixed_units(original, tmp / "mixed.xdf")
    model = make_model_file(tmp / "m.pt", context_len=4)
    fast = fast_replay(model, mixed)
    return fast_replay(model, original), fast, lsl_replay(model, mixed, len(fast.frames))


def test_fast_and_lsl_replay_agree(replays):
    _, fast, live = replays
    assert len(live.frames) == len(fast.frames)
    offset = live.frames[0].t_end - fast.frames[0].t_end
    for a, b in zip(fast.frames, live.frames):
        # Same windows (one constant clock offset), same numbers to the bit.
        assert b.t_end - a.t_end == pytest.approx(offset, abs=1e-3)
        np.testing.assert_array_equal(a.eeg, b.eeg)
        np.testing.assert_array_equal(a.eye, b.eye)
        assert (a.eeg_valid, a.eye_valid) == (b.eeg_valid, b.eye_valid)
    assert len(live.predictions) == len(fast.predictions)
    for a, b in zip(fast.predictions, live.predictions):
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-5)
        np.testing.assert_allclose(a.gates, b.gates, atol=1e-5)


def test_mixed_units_give_the_numbers_of_the_all_microvolt_recording(replays):
    original, fast, _ = replays
    assert len(original.frames) == len(fast.frames)
    for a, b in zip(original.frames, fast.frames):
        assert a.eeg_valid and b.eeg_valid
        # float32 storage of value/1000 and the two scale factors: ~1e-7 relative in power.
        np.testing.assert_allclose(a.eeg, b.eeg, rtol=0, atol=1e-4)
