"""Recording through LabRecorder: replayed streams land complete in one XDF."""

import uuid

import numpy as np
import pytest

from cmt_live.io.labrecorder import Recorder, streams_started
from cmt_live.io.xdf import XdfStream, read_xdf
from cmt_live.lsl.player import Player, PlayerSettings

pytestmark = [pytest.mark.lsl, pytest.mark.slow]


def test_replay_then_record_round_trip(tmp_path):
    tag = uuid.uuid4().hex[:8]
    n, sfreq = 600, 200.0
    ts = 10.0 + np.arange(n) / sfreq
    counter = np.column_stack([np.arange(n), np.zeros(n)]).astype(np.float32)
    eeg = XdfStream(f"EEG-{tag}", "EEG", f"e-{tag}", sfreq, "float32", ["c", "z"], ts, counter)
    mk = XdfStream(f"Mk-{tag}", "Markers", f"m-{tag}", 0.0, "string", ["label"],
                   np.array([10.5, 11.5]), [["Happy"], ["Sad"]])  # fmt: skip
    # Markers come after the recorder is up: wait for consumers before the clock starts.
    player = Player([eeg, mk], PlayerSettings(speed=2.0, wait_consumers_s=10.0)).start()
    rec = Recorder(tmp_path / "s.xdf", [{"source_id": eeg.source_id}, {"source_id": mk.source_id}])
    try:
        rec.start(timeout=15)
        assert player.wait(timeout=20)
    finally:
        player.stop()
        path = rec.stop()
    got = {s.name: s for s in read_xdf(path)}
    counts = got[eeg.name].data[:, 0]
    # LabRecorder sees every sample pushed after it subscribed, in order.
    np.testing.assert_array_equal(counts, np.arange(counts[0], counts[0] + len(counts)))
    assert len(counts) > 0.9 * n
    assert [row[0] for row in got[mk.name].data] == ["Happy", "Sad"]


def test_recorder_refuses_bad_paths(tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.xdf"):
        Recorder(tmp_path / "s.csv", [{"name": "EEG"}])
    (tmp_path / "s.xdf").write_bytes(b"")
    with pytest.raises(FileExistsError, match="exists"):
        Recorder(tmp_path / "s.xdf", [{"name": "EEG"}])


def test_started_streams_are_counted_when_labrecorder_interleaves_its_lines():
    """LabRecorderCLI's per-stream threads print at once; this is what it said on a busy
    machine (four streams started, two messages merged on one line)."""
    said = [
        "Received header for stream R-Markers.",
        "Started data collection for stream R-Markers.",
        "Started data collection for stream Started data collection for stream R-EEG.",
        "R-Gaze.",
        "Started data collection for stream R-CMT-Emotion.",
    ]
    assert streams_started(said) == 4
    assert streams_started(said[:2]) == 1
