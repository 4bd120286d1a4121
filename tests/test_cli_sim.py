"""``cmt-sim dataset`` (released layout through features/) and ``cmt-sim stream`` (real LSL)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from cmt_live.cli.sim import main
from cmt_live.sim.schedule import seedv_schedule
from features.constants import SEEDV_CHANNELS
from features.seedv import CLASS_NAMES


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    rc = main(
        ["dataset", "--out", str(out), "--subjects", "3", "--trial-scale", "0.05", "--no-progress"]
    )
    assert rc == 0
    return out


def test_dataset_reads_with_the_official_pattern(tiny_dataset):
    expected = [
        [int(d // 4) for _, d in seedv_schedule(s, 0.05)] for s in (1, 2, 3)
    ]  # SEED-V lengths scaled, >= 2 windows
    for d, width in (("EEG_DE_features", 310), ("Eye_movement_features", 33)):
        npz = np.load(tiny_dataset / d / "3_123.npz")
        data = pickle.loads(npz["data"])
        label = pickle.loads(npz["label"])
        assert sorted(data) == list(range(45))
        for k in range(45):
            session, trial = k // 15, k % 15
            assert data[k].shape == (expected[session][trial], width)
            assert np.isfinite(data[k]).all()
            assert label[k][0] == seedv_schedule(session + 1)[trial][0]
    assert sorted(p.name for p in (tiny_dataset / "EEG_DE_features").iterdir()) == [
        "1_123.npz",
        "2_123.npz",
        "3_123.npz",
    ]


def test_dataset_loads_clean_with_spec_and_is_reproducible(tiny_dataset, tmp_path):
    from features import FeatureSpec
    from models.seedv import load_seedv

    data = load_seedv(tiny_dataset)
    assert data.subjects == [1, 2, 3] and data.issues == []
    meta = json.loads((tiny_dataset / "cmt_sim.json").read_text())
    assert FeatureSpec.from_dict(meta["feature_spec"]) == FeatureSpec()
    assert meta["fingerprint"] == data.fingerprint and meta["synthetic"] is True
    # Same seed -> same numbers (a one-subject rerun reproduces subject 1 exactly).
    assert main(["dataset", "--out", str(tmp_path), "--subjects", "1", *_TINY]) == 0
    assert load_seedv(tmp_path).fingerprint == load_seedv(tiny_dataset, subjects=[1]).fingerprint
    # Different subjects differ: mean DE per band differs between subjects.
    means = [np.vstack([t.eeg for t in data.subject_trials(s)]).mean(0) for s in (1, 2, 3)]
    assert np.abs(means[0] - means[1]).mean() > 0.1


_TINY = ["--trial-scale", "0.05", "--no-progress"]


def test_dataset_refuses_to_overwrite_and_bad_args(tiny_dataset, tmp_path, capsys):
    assert main(["dataset", "--out", str(tiny_dataset), "--subjects", "1", *_TINY]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["dataset", "--out", str(tmp_path), "--subjects", "0"]) == 2
    assert "--subjects 0" in capsys.readouterr().err
    assert main(["dataset", "--out", str(tmp_path), "--trial-scale", "-1"]) == 2
    assert "--trial-scale -1" in capsys.readouterr().err


def test_stream_bad_args(capsys):
    assert main(["stream", "--speed", "0"]) == 2
    assert "--speed 0.0 is invalid" in capsys.readouterr().err
    assert main(["stream", "--duration", "-3"]) == 2
    assert "--duration -3.0" in capsys.readouterr().err


def _start(prefix: str, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "cmt_live.cli.sim", "stream", "--prefix", prefix, *extra]
    # os.environ carries LSLAPICFG (loopback) from conftest.
    return subprocess.Popen(cmd, env=dict(os.environ), stderr=subprocess.PIPE, text=True)


def _desc_channels(info) -> list[tuple[str, str]]:
    out = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty():
        out.append((ch.child_value("label"), ch.child_value("unit")))
        ch = ch.next_sibling()
    return out


@pytest.mark.lsl
def test_stream_publishes_eeg_gaze_markers_and_stops_on_sigterm():
    import pylsl

    prefix = f"t{uuid.uuid4().hex[:8]}-"
    proc = _start(prefix, "--subject", "3", "--seed", "9", "--trial-s", "1.5", "--duration", "60")
    try:
        infos = {}
        for name in ("EEG", "Gaze", "Markers"):
            found = pylsl.resolve_byprop("name", prefix + name, minimum=1, timeout=15.0)
            assert len(found) == 1, f"{prefix + name} not found"
            infos[name] = found[0]
        inlets = {k: pylsl.StreamInlet(v, max_buflen=30) for k, v in infos.items()}
        full = {k: inlet.info(timeout=5.0) for k, inlet in inlets.items()}
        assert full["EEG"].channel_count() == 62 and full["EEG"].nominal_srate() == 200.0
        assert full["EEG"].source_id() == "cmt-sim-eeg-3-9"
        assert _desc_channels(full["EEG"]) == [(c, "microvolts") for c in SEEDV_CHANNELS]
        assert _desc_channels(full["Gaze"]) == [
            ("x", "degrees"),
            ("y", "degrees"),
            ("pupil_1", "mm"),
            ("pupil_2", "mm"),
            ("valid", ""),
        ]
        assert full["Markers"].channel_format() == pylsl.cf_string
        for inlet in inlets.values():
            inlet.open_stream(timeout=5.0)
        got = {k: ([], []) for k in inlets}
        t_end = time.monotonic() + 5.0
        while time.monotonic() < t_end:
            for k, inlet in inlets.items():
                data, ts = inlet.pull_chunk(timeout=0.0)
                got[k][0].extend(data)
                got[k][1].extend(ts)
            time.sleep(0.05)
        eeg, eeg_ts = np.asarray(got["EEG"][0]), np.asarray(got["EEG"][1])
        gaze_ts = np.asarray(got["Gaze"][1])
        markers = [m[0] for m in got["Markers"][0]]
        assert eeg.shape[1] == 62 and len(eeg_ts) > 600
        rate = (len(eeg_ts) - 1) / (eeg_ts[-1] - eeg_ts[0])
        assert abs(rate - 200.0) < 2.0  # explicit per-sample stamps at the nominal rate
        assert 5 < np.median(eeg.std(axis=0)) < 200  # microvolts
        gaze_rate = (len(gaze_ts) - 1) / (gaze_ts[-1] - gaze_ts[0])
        assert 95 < gaze_rate < 125  # ~120 Hz less dropouts
        assert len(markers) >= 2 and set(markers) <= set(CLASS_NAMES)
        for inlet in inlets.values():
            inlet.close_stream()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0 and "stopped after" in err
    finally:
        _reap(proc)


@pytest.mark.lsl
def test_a_marker_consumer_that_connects_mid_clip_gets_the_clips_marker():
    import pylsl

    prefix = f"m{uuid.uuid4().hex[:8]}-"
    proc = _start(prefix, "--trial-s", "60", "--duration", "60")
    try:
        found = pylsl.resolve_byprop("name", prefix + "Markers", minimum=1, timeout=15.0)
        assert len(found) == 1
        time.sleep(1.5)  # the clip's marker went out before anyone listened
        inlet = pylsl.StreamInlet(found[0])
        inlet.open_stream(timeout=5.0)
        t_open = pylsl.local_clock()
        got = []
        deadline = time.monotonic() + 10.0
        while not got and time.monotonic() < deadline:
            sample, t = inlet.pull_sample(timeout=0.2)
            if sample is not None:
                got.append((sample[0], t))
        assert len(got) == 1, "the current clip's marker was not resent to the new consumer"
        label, t = got[0]
        assert label in CLASS_NAMES and t < t_open - 1.0  # its original stamp, not a new one
        inlet.close_stream()
    finally:
        _reap(proc)


@pytest.mark.lsl
def test_stream_duration_stops_cleanly():
    proc = _start(f"d{uuid.uuid4().hex[:8]}-", "--duration", "2", "--speed", "8")
    try:
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "stopped after 2.0 simulated s" in err
    finally:
        _reap(proc)


def _reap(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate()  # closes the pipe
