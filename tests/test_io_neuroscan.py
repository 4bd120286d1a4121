"""Neuroscan .cnt with ambiguous headers, SEED-V's raw layout, recordings shorter than a window."""

import json

import mne
import numpy as np
import pytest
from cnt_files import CAL, eeg_like_counts, write_cnt
from live_models import make_model_file

from cmt_live.cli.dataset import main as dataset_main
from cmt_live.cli.live import main as live_main
from cmt_live.io.neuroscan import guess_data_format, read_cnt, smoothness_ratio
from cmt_live.io.readers import read_raw_eeg
from features.seedv import SEEDV_LABELS
from features.spec import FeatureSpec
from models.seedv import load_seedv

SEED = FeatureSpec().ch_names  # the 62 SEED channels, the default model's
SFREQ = 200


def _cnt(path, seconds, *, dtype="int16", amplitude=2000, names=SEED, header_n_samples=0):
    counts = eeg_like_counts(len(names), int(seconds * SFREQ), SFREQ, amplitude=amplitude)
    write_cnt(path, counts, SFREQ, names, dtype=dtype, header_n_samples=header_n_samples)
    return counts


@pytest.mark.parametrize(
    ("dtype", "amplitude", "header_n_samples"),
    [("int16", 2000, 0), ("int32", 300_000, 0), ("int32", 300_000, 123_456_789)],
)
def test_ambiguous_header_reads_the_right_values(tmp_path, dtype, amplitude, header_n_samples):
    path = tmp_path / "x.cnt"
    names = [f"E{i}" for i in range(8)]
    counts = _cnt(
        path, 10, dtype=dtype, amplitude=amplitude, names=names, header_n_samples=header_n_samples
    )
    # The header is ambiguous: MNE's own inference gives up on this file.
    with pytest.raises(RuntimeError, match="Could not automatically compute"):
        mne.io.read_raw_cnt(path, verbose="error")
    assert guess_data_format(path)[0] == dtype
    s = read_raw_eeg(path)
    assert s.sfreq == SFREQ and s.ch_names == names and s.data.shape == (10 * SFREQ, 8)
    np.testing.assert_allclose(s.data, counts.T * CAL, rtol=1e-6, atol=1e-3)  # µV


def test_noise_that_tells_nothing_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "noise.cnt"
    noise = np.random.default_rng(1).integers(-3000, 3000, (8, 2000))
    write_cnt(path, noise, SFREQ, [f"E{i}" for i in range(8)])
    with pytest.raises(
        ValueError, match=r"noise\.cnt: the header does not say.*--cnt-format int16"
    ):
        read_cnt(path)
    # The fix the message names works.
    np.testing.assert_allclose(read_cnt(path, "int16").get_data(units="uV"), noise * CAL, atol=1e-3)


def test_junk_and_truncated_files_are_one_line_errors(tmp_path):
    junk = tmp_path / "junk.cnt"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    cut = tmp_path / "cut.cnt"
    _cnt(cut, 10, names=[f"E{i}" for i in range(8)])
    cut.write_bytes(cut.read_bytes()[:1000])
    for path in (junk, cut):
        with pytest.raises(ValueError, match=rf"{path.name}: cannot read this as a Neuroscan"):
            read_cnt(path)
        with pytest.raises(ValueError, match="of int16 words"):
            read_cnt(path, "int16")


def test_smoothness_ratio_known_answers():
    t = np.arange(4000) / 1000.0
    sine = np.sin(2 * np.pi * 10 * t)[None]
    # mean |diff| / mean |x| of a finely sampled sine: (2 pi f / fs) mean|cos| / mean|sin|
    assert smoothness_ratio(sine) == pytest.approx(2 * np.pi * 10 / 1000, rel=0.02)
    white = np.random.default_rng(0).standard_normal((4, 100_000))
    # Gaussian: E|x1-x2| / E|x| = sqrt(2)
    assert smoothness_ratio(white) == pytest.approx(np.sqrt(2), rel=0.02)
    assert np.isnan(smoothness_ratio(np.ones((3, 10))))


def test_cnt_replays_fast_and_a_short_one_exits_nonzero(tmp_path, capsys):
    model = make_model_file(tmp_path / "m.pt")
    good = tmp_path / "long.cnt"
    _cnt(good, 10)
    assert live_main(["--replay", str(good), "--fast", "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert "predictions" in out and " 0 predictions" not in out

    short = tmp_path / "short.cnt"
    _cnt(short, 3)
    for extra in (["--fast"], []):  # fast, and real time (refused before anything is published)
        assert live_main(["--replay", str(short), *extra, "--model", str(model)]) == 2
        err = capsys.readouterr().err
        assert "short.cnt is 3.00 s long, shorter than one 4-s window" in err
        assert err.count("\n") == 1 and "Traceback" not in err


def _seedv_root(tmp_path, subject=1, session=1):
    """A tiny SEED-V raw folder: 15 clips of 4.5 s of random-walk "EEG" (smooth in time, as
    real EEG is), FP1 with a 10 Hz sine in the Happy clips only."""
    root = tmp_path / "SEED-V"
    (root / "EEG_raw").mkdir(parents=True)
    start = 12 + 6 * np.arange(15)
    end = start + 4.5
    (root / "trial_start_end_timestamp.txt").write_text(
        f"Session {session}:\nstart_second: {start.tolist()}\nend_second: {end.tolist()}\n"
    )
    names = [c.lower() if i % 2 else c for i, c in enumerate(SEED)] + ["M1", "M2", "VEO", "HEO"]
    n = int((end[-1] + 2) * SFREQ)
    rng = np.random.default_rng(3)
    counts = np.cumsum(rng.normal(0, 10, (len(names), n)), axis=1)  # 5 µV steps at CAL 0.5
    t = np.arange(n) / SFREQ
    for s, e, code in zip(start, end, SEEDV_LABELS[session - 1]):
        if code == 4:  # Happy
            span = (t >= s) & (t < e)
            counts[0, span] += 400 * np.sin(2 * np.pi * 10 * t[span])
    # int32 and a header count that overflowed: SEED-V's own fault (SEEDV.md §2.2).
    write_cnt(
        root / "EEG_raw" / f"{subject}_{session}_20180804.cnt",
        np.round(counts),
        SFREQ,
        names,
        dtype="int32",
        header_n_samples=-5,
    )
    return root


def test_seedv_raw_layout_becomes_a_training_directory(tmp_path):
    root = _seedv_root(tmp_path)
    out = tmp_path / "data"
    assert dataset_main(["--out", str(out), "--seedv-raw", str(root)]) == 0
    data = load_seedv(out)
    labels = SEEDV_LABELS[0]
    assert [t.label for t in data.trials] == list(labels)
    assert all(t.eeg.shape == (1, 310) and not t.eye.any() for t in data.trials)
    # Band-major columns: FP1 alpha is column 2 * 62 + 0; the sine is only in Happy clips.
    alpha_fp1 = np.array([t.eeg[0, 2 * 62] for t in data.trials])
    happy = np.array(labels) == 4
    assert alpha_fp1[happy].min() > alpha_fp1[~happy].max() + 3  # log2 units: > 8x the power
    meta = json.loads((out / "cmt_sim.json").read_text())
    assert meta["source"] == "seedv-raw"
    assert meta["feature_source"] == {
        "eeg": "computed",
        "eye": "unknown",
        "eye_absent": list(FeatureSpec().eye_names),
    }


def test_seedv_raw_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "EEG_raw").mkdir()
    assert dataset_main(["--out", str(tmp_path / "o"), "--seedv-raw", str(tmp_path)]) == 2
    assert "trial_start_end_timestamp.txt does not exist" in capsys.readouterr().err
    (tmp_path / "trial_start_end_timestamp.txt").write_text("Session 1:\n")
    assert dataset_main(["--out", str(tmp_path / "o"), "--seedv-raw", str(tmp_path)]) == 2
    assert "holds no {subject}_{session}_{date}.cnt file" in capsys.readouterr().err
