"""Recorded sessions -> SEED-V-layout training data (cmt-dataset) -> loadable by cmt-train."""

import numpy as np
import pytest

from cmt_live.cli.dataset import main as dataset_main
from cmt_live.io.to_seedv import session_trials, trial_segments
from cmt_live.sim.streams import SimSessionSettings, record_session
from models.seedv import load_seedv


def _record(tmp_path, subject, session, trial_s=12.0, duration=60.0):
    settings = SimSessionSettings(subject=subject, session=session, trial_s=trial_s)
    return record_session(settings, tmp_path / f"s{subject}_{session}.xdf", duration)


def test_trial_segments_follow_emotion_markers():
    segs = trial_segments([0.0, 10.0, 12.0, 30.0], ["Happy", "Rest", "fear", "Sad"], 40.0)
    assert segs == [(0.0, 10.0, 4), (12.0, 30.0, 1), (30.0, 40.0, 2)]


def test_recordings_become_a_dataset_cmt_train_reads(tmp_path):
    paths = [_record(tmp_path, s, 1) for s in (1, 2)]
    trials = session_trials(paths[0], subject=1, session=1)
    # 60 s of 12-s clips: 5 trials of 3 windows, labels in SEED-V's session-1 order.
    assert [t.label for t in trials] == [4, 1, 3, 2, 0]
    assert all(t.eeg.shape == (3, 310) and t.eye.shape == (3, 33) for t in trials)
    assert np.isfinite(trials[0].eeg).all() and np.isfinite(trials[0].eye).all()

    out = tmp_path / "data"
    assert dataset_main(["--out", str(out), f"{paths[0]}:1:1", f"{paths[1]}:2:1"]) == 0
    data = load_seedv(out)  # partial: 5 of 45 trials per subject, declared in cmt_sim.json
    assert sorted(data.subjects) == [1, 2] and len(data.trials) == 10
    np.testing.assert_array_equal(data.trials[0].eeg, trials[0].eeg)
    with pytest.raises(ValueError, match=r"keys are wrong \(missing \[5, 6"):
        load_seedv(out, complete=True)
    assert dataset_main(["--out", str(out), f"{paths[0]}:1:1"]) == 2  # exists, no --force


def test_bad_session_spec_is_named(capsys):
    with pytest.raises(SystemExit):
        dataset_main(["--out", "x", "nocolons.xdf"])
    assert "is not FILE:SUBJECT:SESSION" in capsys.readouterr().err
