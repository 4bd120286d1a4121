"""Implausible units are flagged (log, outlet flags, monitor), masked by default, never silent.

Known answers: sinusoids of known RMS around the EEG bounds, a 60-V "EEG" (µV samples declared
as volts) and EyeLink-like pupils in arbitrary units (~3,770) against a model whose pupil
statistics are those of millimetres.
"""

import re

import numpy as np
import pytest
from live_models import make_model_file

from apps.sink import QtSink
from apps.state import MonitorState
from cmt_live.cli.live import main as live_main
from cmt_live.driver import Driver
from cmt_live.io.recording_source import RecordingSource
from cmt_live.io.xdf import XdfStream, write_xdf
from cmt_live.pipeline import Pipeline
from cmt_live.plausibility import (
    EEG_RMS_RANGE_V,
    GAZE_DEG_MAX,
    PUPIL_Z_MAX,
    UnitsCheck,
    eeg_problem,
)
from cmt_live.records import Flag
from cmt_live.settings import Settings
from cmt_live.sinks import SessionLog, Sink, read_log
from features.constants import EYE_FEATURE_NAMES, SEEDV_CHANNELS

T0 = 500.0
SFREQ = 200.0


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return make_model_file(tmp_path_factory.mktemp("m") / "tiny.pt", context_len=4)


@pytest.fixture(scope="module")
def runtime(model_file):
    from models import load_runtime

    return load_runtime(model_file, device="cpu", threads=1, warmup=1)


def noise(rms_v, n_ch=62, n=800):
    return rms_v * np.random.default_rng(0).standard_normal((n_ch, n))


def norm_mm(pupil_mean=3.5, pupil_std=0.5):
    """Eye statistics of a model trained on pupils in mm (others identity)."""
    mean, std = np.zeros(len(EYE_FEATURE_NAMES)), np.ones(len(EYE_FEATURE_NAMES))
    for col in ("pupil1_mean", "pupil2_mean"):
        mean[EYE_FEATURE_NAMES.index(col)] = pupil_mean
        std[EYE_FEATURE_NAMES.index(col)] = pupil_std
    return {"eye_mean": mean, "eye_std": std}


def gaze(n=480, pupil=3.5, x_scale=2.0, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [
            rng.normal(0, x_scale, n),
            rng.normal(0, x_scale, n),
            pupil + rng.normal(0, 0.02 * pupil, n),
            pupil + rng.normal(0, 0.02 * pupil, n),
            np.ones(n),
        ]
    )


# -- the bounds, with known answers -------------------------------------------------------------
def test_eeg_rms_bounds_on_noise_of_known_rms():
    lo, hi = EEG_RMS_RANGE_V
    for rms in (lo * 1.2, 20e-6, hi * 0.8):
        assert eeg_problem(noise(rms)) is None, rms
    for rms in (lo * 0.8, hi * 1.2):
        assert eeg_problem(noise(rms)) is not None, rms
    high = eeg_problem(noise(60.0))  # µV samples read as volts: 60 "V"
    # The message reports the measured RMS: 100 samples per channel estimate it within ~3%.
    rms_v = float(re.search(r"median channel RMS ([\d.]+) V", high).group(1))
    assert rms_v == pytest.approx(60.0, rel=0.05), high
    assert "--eeg-units uV" in high and "10^6 times too large" in high
    assert "--eeg-units 1e-12" in high  # a file read in µV 10^6 times too large
    low = eeg_problem(noise(20e-12))  # volt samples read as µV
    assert "--eeg-units V" in low and "10^6 times too small" in low
    assert "flat" in eeg_problem(np.zeros((62, 800)))
    # A few huge channels (artefacts, a loose electrode) do not flag the window: the median.
    x = noise(20e-6)
    x[:10] *= 1e4
    assert eeg_problem(x) is None
    assert eeg_problem(np.full((62, 800), np.nan)) is None  # not judged: flagged elsewhere


def test_pupil_and_gaze_bounds_against_the_model_statistics():
    check = UnitsCheck(norm_mm())
    assert check.eye(gaze(pupil=3.5)) is None
    assert check.eye(gaze(pupil=6.5)) is None  # a wide pupil: +6 SD, a person, not a unit
    msg = check.eye(gaze(pupil=3770.0))  # EyeLink arbitrary units
    assert (3770 - 3.5) / 0.5 > PUPIL_Z_MAX
    assert re.search(r"pupil_1 median 37\d\d is \+75\d\d SD", msg) and "--pupil-scale" in msg
    assert re.search(r"K ≈ 0.00092\d", msg)
    # Pixels in the degree columns: the gaze bound, with the geometry hint.
    px = check.eye(gaze(x_scale=300.0))
    assert "pixels, not degrees" in px and f"bound {GAZE_DEG_MAX:g}°" in px
    # Invalid samples are not judged.
    g = gaze(pupil=3770.0)
    g[:, 4] = 0
    assert check.eye(g) is None
    # A model without pupil statistics (other eye columns) still gets the gaze check.
    assert UnitsCheck(None).eye(gaze(pupil=3770.0)) is None


# -- the pipeline: flags, masking, events ----------------------------------------------------------
class Collect(Sink):
    def __init__(self):
        self.preds, self.events, self.frames = [], [], []

    def on_prediction(self, p):
        self.preds.append(p)

    def on_event(self, kind, message, t):
        self.events.append((kind, message))

    def on_features(self, f):
        self.frames.append(f)


def batches(eeg_rms_v, pupil, seconds=14.0, chunk_s=0.5):
    """EEG (n, 62) volts and gaze (x, y, pupils, valid) at 120 Hz, in Batch records."""
    from cmt_live.source import Batch

    rng = np.random.default_rng(1)
    n = int(seconds * SFREQ)
    t = np.arange(n) / SFREQ
    eeg = eeg_rms_v * (np.sin(2 * np.pi * 10 * t)[:, None] + rng.standard_normal((n, 62)))
    gts = np.arange(0, seconds, 1 / 120)
    g = gaze(gts.size, pupil=pupil)
    step = int(chunk_s * SFREQ)
    for i in range(0, n, step):
        sel = (gts >= t[i]) & (gts < t[min(i + step, n - 1)])
        yield Batch(eeg=eeg[i : i + step], eeg_ts=T0 + t[i : i + step], gaze=g[sel],
                    gaze_ts=T0 + gts[sel])  # fmt: skip


def run_pipeline(runtime, eeg_rms_v, pupil, **settings):
    sink = Collect()
    pipe = Pipeline(runtime, Settings.from_contract(runtime.contract, **settings), sinks=[sink])
    for b in batches(eeg_rms_v, pupil):
        pipe.process(b)
    return pipe, sink


def test_60_volt_eeg_is_masked_and_flagged_on_every_prediction(runtime):
    pipe, sink = run_pipeline(runtime, 60.0, 3.5)
    assert len(sink.preds) >= 8
    for p in sink.preds:
        assert Flag.EEG_IMPLAUSIBLE in p.flags and Flag.EEG_MISSING in p.flags
        assert p.gates[0] == pytest.approx(0.0, abs=1e-6)  # the EEG did not reach the model
    assert all(not f.eeg_valid and Flag.EEG_IMPLAUSIBLE in f.flags for f in sink.frames)
    units = [m for k, m in sink.events if k == Flag.EEG_IMPLAUSIBLE]
    assert len(units) == 1 and "--eeg-units uV" in units[0] and "withheld" in units[0]
    assert pipe.n_implausible == {"eeg": len(sink.frames), "eye": 0}
    # The same stream in µV: nothing flagged, the EEG reaches the model.
    _, ok = run_pipeline(runtime, 20e-6, 3.5)
    assert ok.preds and not any(p.flags for p in ok.preds)
    assert all(p.gates[0] > 0.01 for p in ok.preds)


def test_dc_offset_start_transient_is_not_flagged(runtime):
    """A DC-coupled amplifier at 1000 Hz with a 250 mV offset: the causal resampler and
    band-pass ring for ~2 s after the start; the first window must not read as implausible."""
    from cmt_live.source import Batch

    sink = Collect()
    settings = Settings.from_contract(runtime.contract, eeg_sfreq=1000.0, has_gaze=False)
    pipe = Pipeline(runtime, settings, sinks=[sink])
    n = 10_000
    x = 0.25 + 20e-6 * np.random.default_rng(3).standard_normal((n, 62))
    for i in range(0, n, 250):
        pipe.process(Batch(eeg=x[i : i + 250], eeg_ts=T0 + np.arange(i, i + 250) / 1000.0))
    assert pipe.n_implausible["eeg"] == 0 and not sink.events
    assert len(sink.preds) == pipe.n_windows >= 6


def test_flag_policy_predicts_from_the_implausible_eeg_but_flags_it(runtime):
    _, sink = run_pipeline(runtime, 60.0, 3.5, implausible="flag")
    assert sink.preds and all(Flag.EEG_IMPLAUSIBLE in p.flags for p in sink.preds)
    assert all(Flag.EEG_MISSING not in p.flags and p.gates[0] > 0.01 for p in sink.preds)
    assert any("--implausible flag" in m for _, m in sink.events)


def test_pupil_scale_fixes_arbitrary_units(runtime):
    _, bad = run_pipeline(runtime, 20e-6, 3770.0)
    assert bad.preds and all(Flag.EYE_IMPLAUSIBLE in p.flags for p in bad.preds)
    assert all(not f.eye_valid for f in bad.frames)
    _, fixed = run_pipeline(runtime, 20e-6, 3770.0, pupil_scale=1e-3)
    assert fixed.preds and not any(p.flags for p in fixed.preds)


def test_recovery_is_announced_once(runtime):
    sink = Collect()
    pipe = Pipeline(runtime, Settings.from_contract(runtime.contract), sinks=[sink])
    good, bad = list(batches(20e-6, 3.5, 30.0)), list(batches(60.0, 3.5, 30.0))
    # 10 s good, 5 s at 60 V, then good again (the band-pass rings for seconds after 60 V).
    for b in good[:20] + bad[20:30] + good[30:]:
        pipe.process(b)
    kinds = [m for k, m in sink.events if k == Flag.EEG_IMPLAUSIBLE]
    assert len(kinds) == 2 and "plausible again" in kinds[1]
    assert any(Flag.EEG_IMPLAUSIBLE not in p.flags for p in sink.preds[-3:])


# -- offline and the monitor: a recording with both units wrong ------------------------------------
def recording(tmp_path, *, eeg_unit="volts", eeg_scale=60.0, pupil=3770.0, seconds=16):
    """An XDF with EEG samples of ~`eeg_scale` in `eeg_unit` and gaze with pupils `pupil`."""
    rng = np.random.default_rng(2)
    n = int(seconds * SFREQ)
    ts = T0 + np.arange(n) / SFREQ
    eeg = (eeg_scale * rng.standard_normal((n, 62))).astype(np.float32)
    gts = T0 + np.arange(0, seconds, 1 / 120)
    streams = [
        XdfStream(
            "EEG", "EEG", "u-eeg", SFREQ, "float32", list(SEEDV_CHANNELS), ts, eeg, [eeg_unit] * 62
        ),
        XdfStream(
            "Gaze",
            "Gaze",
            "u-gaze",
            120.0,
            "double64",
            ["x", "y", "pupil_1", "pupil_2", "valid"],
            gts,
            gaze(gts.size, pupil=pupil),
        ),
    ]
    return write_xdf(tmp_path / "rec.xdf", streams)


def test_fast_replay_warns_in_one_line_per_modality(tmp_path, model_file, capsys):
    path = recording(tmp_path)
    log = tmp_path / "log.jsonl"
    status = live_main(["--replay", str(path), "--fast", "--model", str(model_file),
                        "--device", "cpu", "--log", str(log)])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 0
    lines = [x for x in err.splitlines() if "warning" in x]
    assert len(lines) == 2
    assert "implausible EEG units" in lines[0] and "--eeg-units uV" in lines[0]
    assert "implausible eye units" in lines[1] and "--pupil-scale" in lines[1]
    rows = read_log(log)
    events = {r["event"] for r in rows if r["kind"] == "event"}
    assert {Flag.EEG_IMPLAUSIBLE, Flag.EYE_IMPLAUSIBLE, Flag.NO_VALID_CONTEXT} <= events
    assert not [r for r in rows if r["kind"] == "prediction"]  # both masked: nothing to say


@pytest.mark.parametrize(
    ("case", "flag", "hint"),
    [("eeg", Flag.EEG_IMPLAUSIBLE, "--eeg-units uV"), ("eye", Flag.EYE_IMPLAUSIBLE, "--pupil")],
)
def test_monitor_and_log_show_the_flag_and_the_fix(tmp_path, runtime, case, flag, hint):
    bad_eeg = case == "eeg"
    path = recording(
        tmp_path,
        eeg_unit="volts" if bad_eeg else "microvolts",
        eeg_scale=60.0 if bad_eeg else 20.0,
        pupil=3.5 if bad_eeg else 3770.0,
    )
    source = RecordingSource(path, runtime.contract.feature_spec.ch_names)
    qt, log = QtSink(n_eeg_features=310), SessionLog(tmp_path / "log.csv", window_s=4.0)
    driver = Driver.for_source(runtime, source, sinks=[qt, log])
    driver.run()
    driver.close()
    state = MonitorState()
    state.ingest(qt.drain())
    assert state.n_predictions >= 8
    assert flag in state.headline().flags
    assert any(f"[{flag}]" in line and hint in line for line in map(str, state.take_new_events()))
    rows = read_log(tmp_path / "log.csv")
    preds = [r for r in rows if r["kind"] == "prediction"]
    assert len(preds) == state.n_predictions
    assert all(flag in r["flags"].split("|") for r in preds)
    assert [r for r in rows if r["kind"] == "event" and r["event"] == flag and hint in r["message"]]


# -- live over loopback LSL: a cap lacking 5 channels that declares volts for µV samples -----------
@pytest.mark.lsl
def test_live_lsl_stream_at_60_volts_is_flagged_and_never_predicted(tmp_path, model_file):
    import subprocess
    import sys
    import uuid

    from lsl_sources import start_source, stop_source

    missing = ["FC3", "T7", "PZ", "CB1", "CB2"]
    labels = [c for c in SEEDV_CHANNELS if c not in missing]
    name = f"t{uuid.uuid4().hex[:8]}-EEG"
    src, _ = start_source("--name", name, "--source-id", uuid.uuid4().hex, "--n-channels",
                          str(len(labels)), "--labels", ",".join(labels), "--unit", "volts",
                          "--amp", "60")  # fmt: skip
    log = tmp_path / "live.jsonl"
    try:
        out = subprocess.run(
            [sys.executable, "-m", "cmt_live.cli.live", "--headless", "--device", "cpu",
             "--threads", "1", "--eeg-stream", name, "--model", str(model_file), "--log",
             str(log), "--duration", "9", "--fill-missing", "5", "--no-outlet"],
            capture_output=True, text=True, timeout=90,
        )  # fmt: skip
    finally:
        stop_source(src)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = read_log(log)
    assert rows[0]["filled_channels"] == missing
    events = {r["event"]: r["message"] for r in rows if r["kind"] == "event"}
    assert "--eeg-units uV" in events[Flag.EEG_IMPLAUSIBLE]
    assert "FC3, T7, PZ, CB1, CB2" in events[Flag.EEG_INTERPOLATED]
    assert Flag.NO_VALID_CONTEXT in events  # EEG-only and the EEG withheld: no prediction
    assert not [r for r in rows if r["kind"] == "prediction"]


def test_cmt_dataset_refuses_a_recording_in_wrong_units(tmp_path, capsys):
    """A lab recording whose EEG declares volts for µV samples must not become training data."""
    from dataclasses import replace

    from cmt_live.cli.dataset import main as dataset_main
    from cmt_live.io.xdf import read_xdf
    from cmt_live.sim.streams import SimSessionSettings, record_session

    path = record_session(SimSessionSettings(subject=1, session=1, trial_s=12.0),
                          tmp_path / "s.xdf", 30.0)  # fmt: skip
    streams = read_xdf(path)
    eeg = next(s for s in streams if s.type == "EEG")
    scale = {"microvolts": 1.0, "volts": 1e6}[eeg.units[0]]  # the samples in µV
    wrong = replace(eeg, data=eeg.data * scale, units=["volts"] * eeg.n_channels)
    bad = write_xdf(tmp_path / "bad.xdf", [wrong if s is eeg else s for s in streams])
    assert dataset_main(["--out", str(tmp_path / "d"), f"{bad}:1:1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.xdf" in err
    assert "implausible EEG units" in err and "--eeg-units uV" in err
    assert dataset_main(["--out", str(tmp_path / "ok"), f"{path}:1:1"]) == 0
