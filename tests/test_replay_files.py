"""Recordings as streams: XDF round trip, MNE files, gaze CSV, and their error messages."""

import numpy as np
import pytest

from cmt_live.io.readers import (
    read_gaze_csv,
    read_raw_eeg,
    read_recording,
    read_seedv_trial_times,
    seedv_trial_markers,
)
from cmt_live.io.xdf import XdfStream, check_xdf_complete, read_xdf, write_xdf
from features.seedv import CLASS_NAMES, SEEDV_LABELS


def _streams(n=600, sfreq=200.0):
    rng = np.random.default_rng(0)
    ts = 100.0 + np.arange(n) / sfreq
    counter = np.column_stack([np.arange(n), rng.standard_normal(n)]).astype(np.float32)
    eeg = XdfStream("EEG", "EEG", "uid-eeg", sfreq, "float32", ["C3", "C4"], ts, counter,
                    ["microvolts"] * 2)  # fmt: skip
    gts = np.sort(100.0 + rng.uniform(0, n / sfreq, 50))
    gaze = XdfStream("Gaze", "Gaze", "uid-gaze", 0.0, "double64", ["x", "y"], gts,
                     rng.standard_normal((50, 2)))  # fmt: skip
    mk = XdfStream("Markers", "Markers", "uid-mk", 0.0, "string", ["label"],
                   np.array([100.5, 101.25]), [["Happy"], ["Sad, really"]])  # fmt: skip
    return [eeg, gaze, mk]


def test_xdf_round_trip_is_exact(tmp_path):
    streams = _streams()
    path = write_xdf(tmp_path / "s.xdf", streams)
    back = {s.name: s for s in read_xdf(path)}
    for s in streams:
        b = back[s.name]
        assert (b.type, b.source_id, b.sfreq, b.ch_names) == (
            s.type,
            s.source_id,
            s.sfreq,
            s.ch_names,
        )
        np.testing.assert_array_equal(b.timestamps, s.timestamps)
        if s.channel_format == "string":
            assert b.data == s.data
        else:
            np.testing.assert_array_equal(b.data, s.data)
    assert back["EEG"].units == ["microvolts", "microvolts"]


def test_xdf_cut_mid_chunk_is_refused(tmp_path):
    path = write_xdf(tmp_path / "s.xdf", _streams())
    raw = path.read_bytes()
    cut = tmp_path / "cut.xdf"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"cut\.xdf is cut mid-chunk at byte \d+"):
        read_xdf(cut)
    (tmp_path / "junk.xdf").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="is not an XDF file"):
        check_xdf_complete(tmp_path / "junk.xdf")


def test_xdf_missing_stream_lists_what_exists(tmp_path):
    path = write_xdf(tmp_path / "s.xdf", _streams())
    with pytest.raises(
        ValueError, match=r"no stream named \['Eye'\].*\['EEG', 'Gaze', 'Markers'\]"
    ):
        read_xdf(path, names=["EEG", "Eye"])
    assert [s.name for s in read_xdf(path, names=["Gaze"])] == ["Gaze"]


def test_mne_fif_read_by_channel_name_in_microvolts(tmp_path):
    import mne

    sfreq = 250.0
    info = mne.create_info(["fp1", "Cz", "O2", "STI"], sfreq, ["eeg", "eeg", "eeg", "stim"])
    data = np.zeros((4, 500))
    data[1] = 20e-6  # 20 µV on Cz
    path = tmp_path / "raw.fif"
    mne.io.RawArray(data, info, verbose="error").save(path, verbose="error")
    s = read_raw_eeg(path, ch_names=("CZ", "FP1"))
    assert s.ch_names == ["CZ", "FP1"] and s.sfreq == sfreq
    np.testing.assert_allclose(s.data[:, 0], 20.0, rtol=1e-6)
    np.testing.assert_allclose(s.timestamps[:3], [0, 1 / sfreq, 2 / sfreq])
    with pytest.raises(ValueError, match=r"lacks channels \['PZ'\]"):
        read_raw_eeg(path, ch_names=("CZ", "PZ"))


def test_unknown_extension_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"unknown extension '\.txt'"):
        read_recording(tmp_path / "notes.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_raw_eeg(tmp_path / "nope.edf")


def test_gaze_csv(tmp_path):
    path = tmp_path / "gaze.csv"
    path.write_text("timestamp,x,y,pupil_1,pupil_2,extra\n0.0,1,2,3,4,x\n0.01,,,3,4,y\n")
    s = read_gaze_csv(path)
    assert s.ch_names == ["x", "y", "pupil_1", "pupil_2", "valid"]
    np.testing.assert_array_equal(s.data[:, 4], [1.0, 0.0])  # NaN gaze -> invalid
    bad = tmp_path / "bad.csv"
    bad.write_text("clock,x,y\n0,1,2\n")
    with pytest.raises(
        ValueError, match=r"lacks the gaze columns \['timestamp', 'pupil_1/pupil_2'\]"
    ):
        read_gaze_csv(bad)


def test_seedv_trial_times(tmp_path):
    path = tmp_path / "trial_start_end_timestamp.txt"
    path.write_text(
        "Session 1:\nstart_second: [30, 132, 287]\nend_second: [102, 228, 524]\n\n"
        "Session 2:\nstart_second: [30, 299]\nend_second: [267, 488]\n"
    )
    start, end = read_seedv_trial_times(path, 2)
    np.testing.assert_array_equal(start, [30, 299])
    np.testing.assert_array_equal(end, [267, 488])
    with pytest.raises(ValueError, match="no 'Session 3:' block"):
        read_seedv_trial_times(path, 3)
    # A marker stream needs all 15 clips: 3 would pair 3 times with 15 labels.
    with pytest.raises(ValueError, match=r"trial_start_end_timestamp\.txt: session 1 has 3 clips"):
        seedv_trial_markers(path, 1)


def test_seedv_trial_markers_label_each_clip_and_rest_at_its_end(tmp_path):
    start = np.arange(15) * 100.0 + 30
    end = start + 100.0  # each clip ends where the next starts: Rest comes first
    path = tmp_path / "times.txt"
    path.write_text(f"Session 2:\nstart_second: {start.tolist()}\nend_second: {end.tolist()}\n")
    m = seedv_trial_markers(path, 2)
    labels = [row[0] for row in m.data]
    assert len(labels) == 30 and m.timestamps.tolist() == sorted(m.timestamps.tolist())
    assert labels[0] == CLASS_NAMES[SEEDV_LABELS[1][0]] and labels[-1] == "Rest"
    assert labels[1:3] == ["Rest", CLASS_NAMES[SEEDV_LABELS[1][1]]]  # at t = 130
    assert [lab for lab in labels if lab != "Rest"] == [CLASS_NAMES[c] for c in SEEDV_LABELS[1]]
