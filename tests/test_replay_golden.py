"""The golden test: fast in-process replay and real-time LSL replay of the same recording give
the same features bit for bit and the same predictions within float tolerance."""

import threading
import time
import uuid
from argparse import Namespace

import numpy as np
import pytest
from live_models import make_model_file

from cmt_live.cli.sim import record_session
from cmt_live.io.readers import read_recording
from cmt_live.lsl.player import Player, PlayerSettings
from cmt_live.pipeline import LivePipeline
from cmt_live.replay_fast import run_fast_replay
from models import load_runtime

pytestmark = [pytest.mark.lsl, pytest.mark.slow]

DURATION_S = 20.0


class Collector:
    """A sink that keeps what it is given."""

    def __init__(self):
        self.frames, self.predictions = [], []
        self.lock = threading.Lock()

    def on_features(self, frame):
        with self.lock:
            self.frames.append(frame)

    def on_prediction(self, pred):
        with self.lock:
            self.predictions.append(pred)

    def on_event(self, kind, message, t):
        pass

    def on_health(self, health):
        pass

    def on_marker(self, t, label):
        pass

    def close(self):
        pass


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("golden")
    prefix = f"G{uuid.uuid4().hex[:6]}-"
    args = Namespace(
        subject=101, seed=3, session=1, sfreq=200.0, gaze_rate=120.0, prefix=prefix,
        trial_scale=1.0, rest=False, trial_s=10.0, duration=DURATION_S, out=tmp / "s.xdf",
    )  # fmt: skip
    return record_session(args), make_model_file(tmp / "m.pt", context_len=4)


def test_fast_and_lsl_replay_agree(recording):
    import pylsl

    path, model = recording
    fast = Collector()
    stats = run_fast_replay(load_runtime(model), path, sinks=[fast])
    assert stats.n_predictions == len(fast.predictions) > 10

    streams = read_recording(path)
    eeg, gaze = streams[0], streams[1]
    live_sink = Collector()
    player = Player(streams, PlayerSettings(wait_consumers_s=10.0)).start()
    live = LivePipeline(
        load_runtime(model),
        eeg_stream=eeg.name,
        eye_stream=gaze.name,
        eeg_source_id=eeg.source_id,
        eye_source_id=gaze.source_id,
        sinks=[live_sink],
    )
    try:
        live.open()
        live.start()
        assert player.wait(timeout=DURATION_S + 15)
        deadline = pylsl.local_clock() + 5
        while len(live_sink.frames) < len(fast.frames) and pylsl.local_clock() < deadline:
            time.sleep(0.1)
    finally:
        live.close()
        player.stop()
    assert len(live_sink.frames) == len(fast.frames)
    offset = live_sink.frames[0].t_end - fast.frames[0].t_end
    for a, b in zip(fast.frames, live_sink.frames):
        # Same windows (one constant clock offset), same numbers to the bit.
        assert b.t_end - a.t_end == pytest.approx(offset, abs=1e-3)
        np.testing.assert_array_equal(a.eeg, b.eeg)
        np.testing.assert_array_equal(a.eye, b.eye)
        assert (a.eeg_valid, a.eye_valid) == (b.eeg_valid, b.eye_valid)
    assert len(live_sink.predictions) == len(fast.predictions)
    for a, b in zip(fast.predictions, live_sink.predictions):
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-5)
        np.testing.assert_allclose(a.gates, b.gates, atol=1e-5)
