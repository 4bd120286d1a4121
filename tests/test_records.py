"""The records between stages: immutable, shape-checked, JSON-friendly spec round trip."""

import numpy as np
import pytest

from cmt_live.records import Chunk, FeatureFrame, Prediction, StreamMeta, Window
from features import SEEDV_CHANNELS, FeatureSpec
from features.seedv import CLASS_NAMES


def test_chunk_copies_and_freezes_arrays():
    data = np.zeros((3, 2))
    chunk = Chunk(data, np.arange(3.0), StreamMeta("EEG", ch_names=("a", "b")))
    data[0, 0] = 1.0  # the caller's buffer is reused by the inlet: the chunk must not change
    assert chunk.data[0, 0] == 0.0
    assert chunk.data.dtype == np.float32
    with pytest.raises(ValueError, match="read-only"):
        chunk.data[0, 0] = 2.0


def test_chunk_rejects_mismatched_timestamps():
    with pytest.raises(ValueError, match=r"one timestamp per sample.*\(3, 2\).*\(2,\)"):
        Chunk(np.zeros((3, 2)), np.arange(2.0), StreamMeta("EEG"))


def test_prediction_shapes_and_confidence():
    p = Prediction(t_end=1.0, probs=[0.1, 0.2, 0.3, 0.3, 0.1], gates=[0.7, 0.3], label="Sad")
    assert p.confidence == pytest.approx(0.3)
    assert len(CLASS_NAMES) == p.probs.size
    with pytest.raises(ValueError, match=r"probs of shape \(5,\)"):
        Prediction(t_end=1.0, probs=[0.5, 0.5], gates=[0.5, 0.5], label="x")


def test_window_and_frame_freeze_flags():
    w = Window(
        1.0, 4.0, np.zeros((2, 8)), 2.0, np.arange(3.0), np.zeros((3, 5)), True, False, {"x"}
    )
    assert w.flags == frozenset({"x"})
    f = FeatureFrame(1.0, np.zeros(310), np.zeros(33), True, True)
    assert f.eeg.dtype == np.float32 and not f.eye.flags.writeable


def test_feature_spec_round_trip_and_mismatch():
    spec = FeatureSpec()
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    other = FeatureSpec(ch_names=SEEDV_CHANNELS[:-1], sfreq=250.0)
    problems = spec.mismatches(other)
    assert any("CB2" in p for p in problems) and any("sfreq" in p for p in problems)
    with pytest.raises(ValueError, match=r"order='time-major' is invalid"):
        FeatureSpec(order="time-major")
    with pytest.raises(ValueError, match=r"Unknown FeatureSpec fields \['foo'\]"):
        FeatureSpec.from_dict({**spec.to_dict(), "foo": 1})
