"""Gaze files: EyeLink .asc, gaze CSV (per eye, pixels, screen fractions), screen geometry,
eye-only replay through the live pipeline, an EEG file plus a gaze file."""

import math

import mne
import numpy as np
import pytest
from live_models import make_model_file

from cmt_live.cli.live import main as live_main
from cmt_live.driver import Driver
from cmt_live.io.eyelink import parse_asc, read_eyelink_asc
from cmt_live.io.gaze_csv import read_gaze_csv
from cmt_live.io.gaze_geometry import ScreenGeometry, combine_eyes
from cmt_live.io.options import RecordingOptions
from cmt_live.io.readers import read_recording
from cmt_live.io.recording_source import RecordingSource
from cmt_live.records import Flag
from cmt_live.sinks import Sink
from features.constants import EYE_FEATURE_NAMES
from features.spec import FeatureSpec

RATE = 500
PPD = 40.0  # pixels per degree in the synthetic files
CENTRE = (960.0, 540.0)


def _trace(seconds=12.0, fix_s=0.5, step_deg=5.0, blink=(2.0, 2.1)):
    """Fixations of ``fix_s`` separated by 20-ms minimum-jerk saccades of ``step_deg``
    (alternating right / left), one blink; x in pixels, as EyeLink writes it."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = np.full(t.size, CENTRE[0])
    pos, direction = CENTRE[0], 1
    for k in range(1, int(seconds / fix_s)):
        on = k * fix_s
        s = np.clip((t - on) / 0.020, 0, 1)
        shape = 10 * s**3 - 15 * s**4 + 6 * s**5
        x = np.where(t >= on, pos + direction * step_deg * PPD * shape, x)
        pos += direction * step_deg * PPD
        direction = -direction
    y = np.full(t.size, CENTRE[1] + 2 * PPD)  # 2 degrees below the centre
    blinking = (t >= blink[0]) & (t < blink[1])
    return t, x, y, blinking


def _asc(path, eyes=("LEFT", "RIGHT"), extra="", res=True, **kw):
    """An EyeLink .asc as edf2asc writes it (header, messages, events, samples, END RES)."""
    t, x, y, blinking = _trace(**kw)
    t0 = 5_511_179
    lines = [
        "** CONVERTED FROM test.edf using edfapi",
        "** SOURCE: EYELINK CL",
        f"MSG\t{t0 - 2} GAZE_COORDS 0.00 0.00 1919.00 1079.00",
        f"START\t{t0} \t{' '.join(eyes)}\tSAMPLES\tEVENTS",
        "PRESCALER\t1",
        f"SAMPLES\tGAZE\t{' '.join(eyes)}\tRATE\t 500.00\tTRACKING\tCR\tFILTER\t2{extra}",
        f"SFIX L   {t0}",
    ]
    n_extra = {"": 0, "\tVEL": 2 * len(eyes), "\tVEL\tRES": 2 * len(eyes) + 2}[extra]
    for i, ti in enumerate(t):
        ms = t0 + round(ti * 1000)
        cols = []
        for e in eyes:
            off = 0.4 * PPD if e == "RIGHT" else 0.0  # vergence: the eyes differ by 0.4 deg
            if blinking[i]:
                cols += ["   .", "   .", "    0.0"]
            else:
                cols += [
                    f"{x[i] + off:7.1f}",
                    f"{y[i]:7.1f}",
                    "3800.0" if e == "LEFT" else "4100.0",
                ]
        cols += ["   0.0"] * n_extra
        lines.append(f"{ms}\t" + "\t".join(cols) + "\t.....")
        if i == 300:
            lines.append(f"EFIX L   {t0}\t{ms}\t600\t  960.0\t  620.0\t   3800")
    end = t0 + round(t[-1] * 1000)
    lines.append(
        f"END\t{end} \tSAMPLES\tEVENTS\tRES\t  {PPD:.2f}\t  {PPD:.2f}"
        if res
        else f"END\t{end} \tSAMPLES\tEVENTS"
    )
    path.write_text("\n".join(lines) + "\n")
    return path


def test_eyelink_binocular_to_degrees(tmp_path):
    t, x, _, blinking = _trace()
    s = read_eyelink_asc(_asc(tmp_path / "b.asc"))
    assert s.ch_names == ["x", "y", "pupil_1", "pupil_2", "valid"] and s.sfreq == 0.0
    np.testing.assert_allclose(s.timestamps, t, atol=1e-9)
    ok = ~blinking
    # The mean of both eyes (right one 0.4 deg further right), degrees from the screen centre.
    np.testing.assert_allclose(s.data[ok, 0], (x[ok] - CENTRE[0]) / PPD + 0.2, atol=2e-3)
    np.testing.assert_allclose(s.data[ok, 1], -2.0, atol=2e-3)  # below the centre: y < 0
    np.testing.assert_array_equal(s.data[:, 4], ok.astype(np.float32))
    assert np.isnan(s.data[blinking, 0]).all()
    assert s.data[ok, 2][0] == 3800.0 and s.data[ok, 3][0] == 4100.0


def test_parse_asc_keeps_the_trackers_events_per_eye(tmp_path):
    """The validation bench compares our events with these (the stream never carries them)."""
    path = _asc(tmp_path / "ev.asc")
    with open(path, "a") as fh:
        fh.write("ESACC R   5511700\t5511720\t22\t 900.0\t 540.0\t1000.0\t 540.0\t   2.17\t 180\n")
        fh.write("EBLINK L  5511800\t5511900\t102\n")
    ev = parse_asc(path).events
    assert ev["L"]["fix"] == [(5511179.0, 5511179.0 + 600)]
    assert ev["R"]["sacc"] == [(5511700.0, 5511720.0, 2.17)]
    assert ev["L"]["blink"] == [(5511800.0, 5511900.0)] and "sacc" not in ev["L"]


def test_eyelink_monocular_extra_columns_and_geometry(tmp_path):
    path = _asc(tmp_path / "m.asc", eyes=("RIGHT",), extra="\tVEL\tRES")
    s = read_eyelink_asc(path)
    assert np.isnan(s.data[:, 2]).all() and s.data[0, 3] == 4100.0  # right eye is pupil_2
    assert s.data[0, 0] == pytest.approx(0.4, abs=2e-3)
    # --px-per-deg wins over the file's RES; physical sizes win over both.
    half = read_eyelink_asc(path, geometry=ScreenGeometry(px_per_deg=(2 * PPD, 2 * PPD)))
    assert half.data[0, 0] == pytest.approx(0.2, abs=2e-3)
    geo = ScreenGeometry(screen_px=(1920, 1080), screen_cm=(48.0, 27.0), distance_cm=60.0)
    phys = read_eyelink_asc(path, geometry=geo)
    x_cm = 0.4 * PPD * 48.0 / 1920  # 16 px at 0.025 cm per px
    assert phys.data[0, 0] == pytest.approx(math.degrees(math.atan(x_cm / 60.0)), abs=1e-4)


def test_eyelink_without_geometry_or_samples_is_refused(tmp_path):
    path = _asc(tmp_path / "nores.asc", res=False)
    with pytest.raises(ValueError, match=r"nores\.asc: gaze is in pixels .* --px-per-deg"):
        read_eyelink_asc(path)
    assert read_eyelink_asc(path, geometry=ScreenGeometry(px_per_deg=(PPD, PPD))).data.shape[0] > 0
    events_only = tmp_path / "e.asc"
    events_only.write_text("MSG\t1 hello\nEFIX L 1 2 3 4 5 6\n")
    with pytest.raises(ValueError, match="holds no EyeLink samples"):
        read_eyelink_asc(events_only)


def test_combine_eyes_invalid_when_either_eye_is():
    nan = np.nan
    x, y, v = combine_eyes(
        (np.array([1.0, 1.0, nan]), np.array([0.0, 0.0, 0.0]), np.array([1, 1, 1], bool)),
        (np.array([3.0, 3.0, 3.0]), np.array([2.0, 2.0, 2.0]), np.array([1, 0, 1], bool)),
    )
    np.testing.assert_array_equal(v, [True, False, False])
    assert x[0] == 2.0 and y[0] == 1.0 and np.isnan(x[1:]).all()


def test_gaze_csv_per_eye_pixels_tab_separated(tmp_path):
    path = tmp_path / "tobii.tsv"
    path.write_text(
        "timestamp_ms\tleft_x\tleft_y\tright_x\tright_y\tleft_pupil\tright_pupil\t"
        "left_valid\tright_valid\n"
        "1000\t960\t540\t1000\t540\t3.1\t3.3\tvalid\tvalid\n"
        "1010\t960\t540\t1000\t540\t3.1\t3.3\tvalid\tinvalid\n"
    )
    with pytest.raises(ValueError, match=r"tobii\.tsv: gaze is in pixels .* --screen-cm"):
        read_gaze_csv(path, units="px")
    # Pixels per degree without the resolution: the centre (0 degrees) is unknown.
    with pytest.raises(ValueError, match=r"resolution is unknown.*pass --screen-px W H"):
        read_gaze_csv(path, units="px", geometry=ScreenGeometry(px_per_deg=(40, 40)))
    s = read_gaze_csv(path, units="px", geometry=ScreenGeometry((1920, 1080), px_per_deg=(40, 40)))
    np.testing.assert_allclose(s.timestamps, [1.0, 1.01])
    assert s.data[0, :2].tolist() == pytest.approx([0.5, 0.0])  # mean of 0 and 1 deg
    np.testing.assert_array_equal(s.data[:, 4], [1.0, 0.0])
    assert s.data[0, 2:4].tolist() == pytest.approx([3.1, 3.3])


def test_gaze_csv_pupil_labs_style(tmp_path):
    path = tmp_path / "pupil.csv"
    path.write_text(
        "gaze_timestamp,norm_pos_x,norm_pos_y,confidence,diameter\n"
        "0.0,0.5,0.5,0.9,4.0\n0.01,0.75,0.5,0.3,4.1\n"
    )
    geo = ScreenGeometry((1920, 1080), px_per_deg=(48, 48))
    s = read_gaze_csv(path, units="norm", geometry=geo)
    np.testing.assert_array_equal(s.data[:, 4], [1.0, 0.0])  # confidence < 0.6 is invalid
    assert s.data[0, 0] == 0.0 and np.isnan(s.data[1, 0])
    assert s.data[0, 2] == 4.0 and np.isnan(s.data[0, 3])  # one pupil: pupil_2 unknown
    with pytest.raises(ValueError, match="fractions of the screen; pass --screen-px"):
        read_gaze_csv(path, units="norm")


def test_eye_only_eyelink_replay_gives_eye_features(tmp_path):
    """A gaze file alone replays through the live pipeline eye-only, with our features."""
    path = _asc(tmp_path / "only.asc", seconds=20.0)
    model = make_model_file(tmp_path / "m.pt", context_len=2)
    from models import load_runtime

    runtime = load_runtime(model, device="cpu")
    frames = []

    class Collect(Sink):
        def on_features(self, frame):
            frames.append(frame)

    source = RecordingSource(path, FeatureSpec().ch_names)
    # EyeLink pupils are in arbitrary units (~4000): scaled, or the unit check masks the eye.
    driver = Driver.for_source(runtime, source, sinks=[Collect()], pupil_scale=1e-3)
    stats = driver.run()
    assert source.eye_only and stats.n_predictions >= 15  # 20 s, 4-s windows every 1 s
    assert all(Flag.EEG_MISSING in f.flags for f in frames)
    sacc = EYE_FEATURE_NAMES.index("saccade_frequency_hz")
    fix = EYE_FEATURE_NAMES.index("fixation_duration_mean_ms")
    clean = [f for f in frames if f.t_end - 4.0 > 2.2]  # windows after the blink
    # 5-deg saccades every 500 ms: ~2 per second, fixations of ~480 ms.
    assert np.median([f.eye[sacc] for f in clean]) == pytest.approx(2.0, abs=0.3)
    assert np.median([f.eye[fix] for f in clean]) == pytest.approx(480, rel=0.15)


def test_eye_only_replay_through_the_command_line(tmp_path, capsys):
    path = _asc(tmp_path / "only.asc", seconds=8.0)
    model = make_model_file(tmp_path / "m.pt")
    argv = ["--replay", str(path), "--fast", "--model", str(model)]
    assert live_main([*argv, "--pupil-scale", "0.001"]) == 0
    assert " 4 predictions" in capsys.readouterr().out  # windows ending at 4..7 s (last 7.998)
    # Real time needs the EEG stream LSL replay is organised around: one-line refusal.
    assert live_main(["--replay", str(path), "--model", str(model)]) == 2
    assert "holds gaze only; replay it eye-only with --fast" in capsys.readouterr().err
    # Unscaled arbitrary-unit pupils: every window's eye is withheld; the warning names the fix.
    assert live_main(argv) == 0
    err = capsys.readouterr().err
    assert "--pupil-scale" in err and "no prediction from" in err
    # A tracker that lost the eyes throughout: nothing to predict from, and nothing explains it
    # but the log's events: exit 1 instead of "0 predictions" and 0.
    lost = _asc(tmp_path / "lost.asc", seconds=8.0, blink=(0.0, 8.0))
    assert live_main(["--replay", str(lost), "--fast", "--model", str(model)]) == 1
    assert "no prediction from" in capsys.readouterr().err


def test_eeg_file_plus_gaze_file(tmp_path):
    info = mne.create_info(["Cz", "Pz"], 250.0, "eeg")
    eeg = tmp_path / "raw.fif"
    mne.io.RawArray(np.zeros((2, 2500)), info, verbose="error").save(eeg, verbose="error")
    opts = RecordingOptions(gaze_offset_s=1.5)
    streams = read_recording(eeg, gaze=_asc(tmp_path / "g.asc", seconds=4.0), options=opts)
    assert [s.type for s in streams] == ["EEG", "Gaze"]
    assert streams[1].timestamps[0] == 1.5  # gaze time 0 is EEG time 1.5 s
    with pytest.raises(ValueError, match="is a gaze file already"):
        read_recording(tmp_path / "g.asc", gaze=tmp_path / "g.asc")
    with pytest.raises(ValueError, match=r"unknown gaze file extension '\.txt'"):
        read_recording(eeg, gaze=tmp_path / "g.txt")


def test_eeg_and_gaze_files_become_training_data(tmp_path):
    """cmt-dataset EEG+GAZE:S:K with SEED-V's clip times: our DE and eye features per clip."""
    from cmt_live.cli.dataset import main as dataset_main
    from features.seedv import SEEDV_LABELS
    from models.seedv import load_seedv

    start = 2 + 5 * np.arange(15)
    times = tmp_path / "trial_start_end_timestamp.txt"
    times.write_text(
        f"Session 1:\nstart_second: {start.tolist()}\nend_second: {(start + 4.5).tolist()}\n"
    )
    names = list(FeatureSpec().ch_names)
    rng = np.random.default_rng(0)
    eeg = tmp_path / "s1.fif"
    data = np.cumsum(rng.normal(0, 1e-6, (len(names), 80 * 200)), axis=1)
    mne.io.RawArray(data, mne.create_info(names, 200.0, "eeg"), verbose="error").save(
        eeg, verbose="error"
    )
    gaze = _asc(tmp_path / "s1.asc", seconds=80.0, blink=(0.0, 0.0))
    out = tmp_path / "data"
    argv = ["--out", str(out), f"{eeg}+{gaze}:1:1", "--seedv-times", str(times)]
    assert dataset_main(argv) == 0
    trials = load_seedv(out).trials
    assert [t.label for t in trials] == list(SEEDV_LABELS[0])
    sacc = EYE_FEATURE_NAMES.index("saccade_frequency_hz")
    assert all(t.eeg.shape == (1, 310) for t in trials)
    assert np.median([t.eye[0, sacc] for t in trials]) == pytest.approx(2.0, abs=0.3)
    # Without the clip times, the files carry no markers: one line naming the option.
    assert dataset_main(["--out", str(tmp_path / "o2"), f"{eeg}+{gaze}:1:1"]) == 2


def test_gaze_csv_bad_rows_are_named(tmp_path):
    path = tmp_path / "g.csv"
    for body, match in (
        ("", "holds a header and no gaze samples"),
        ("0.0,1,2,3,4\n0.02,1,2,3,4\n0.01,1,2,3,4\n", "going backwards at data row 3"),
        (",1,2,3,4\n0.02,1,2,3,4\n", "missing or going backwards at data row 1"),
        ("0.0,1,two,3,4\n", r"line 2: cannot read"),
    ):
        path.write_text("timestamp,x,y,pupil_1,pupil_2\n" + body)
        with pytest.raises(ValueError, match=match):
            read_gaze_csv(path)


@pytest.mark.lsl
@pytest.mark.slow
def test_cnt_plus_eyelink_replays_in_real_time(tmp_path):
    """A Neuroscan file with an ambiguous header and an EyeLink file, republished over LSL
    and monitored: predictions from both modalities."""
    import json
    import os
    import subprocess
    import sys
    import uuid

    from cnt_files import eeg_like_counts, write_cnt

    stem = f"rt{uuid.uuid4().hex[:8]}"  # the replayed streams' source_id: unique per run
    names = list(FeatureSpec().ch_names)
    eeg = write_cnt(
        tmp_path / f"{stem}.cnt", eeg_like_counts(62, 6 * 200, 200, amplitude=200), 200, names
    )
    gaze = _asc(tmp_path / f"{stem}.asc", seconds=6.0, blink=(0.0, 0.0))
    model = make_model_file(tmp_path / "m.pt")
    log = tmp_path / "rt.jsonl"
    argv = [
        "--replay",
        str(eeg),
        "--gaze",
        str(gaze),
        "--model",
        str(model),
        "--headless",
        "--no-outlet",
        "--pupil-scale",
        "0.001",
        "--log",
        str(log),
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "cmt_live.cli.live", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    preds = [r for r in map(json.loads, log.read_text().splitlines()) if r["kind"] == "prediction"]
    both = [p for p in preds if not {"eeg_missing", "eye_missing"} & set(p["flags"])]
    assert len(both) >= 2, preds
