"""Every user-facing file error is one line naming the file and the fix, never a traceback
(issue 11): cmt-train on crafted, truncated, empty and random-bytes npz files, cmt-dataset
argument ranges."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from features.seedv import EEG_DIR, SEEDV_LABELS
from models.seedv import Trial, load_seedv, write_seedv


def _trials(subject, rng):
    return [
        Trial(
            subject=subject,
            session=k // 15 + 1,
            trial=k % 15 + 1,
            eeg=rng.normal(size=(2, 310)).astype(np.float32),
            eye=rng.normal(size=(2, 33)).astype(np.float32),
            label=SEEDV_LABELS[k // 15][k % 15],
        )
        for k in range(45)
    ]


@pytest.fixture
def root(tmp_path):
    rng = np.random.default_rng(0)
    write_seedv(tmp_path / "data", _trials(1, rng) + _trials(2, rng))
    return tmp_path / "data"


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("true",))


def _crafted(p):
    evil = {k: np.zeros((1, 310)) for k in range(45)}
    evil[3] = _RunsCode()
    np.savez(p, data=pickle.dumps(evil), label=pickle.dumps({k: [0] for k in range(45)}))


def _truncated(p):
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])


def _empty(p):
    p.write_bytes(b"")


def _random(p):
    p.write_bytes(np.random.default_rng(1).bytes(4096))


def _flipped(p):
    # One byte of a member's compressed/stored data: the zip CRC no longer matches.
    raw = bytearray(p.read_bytes())
    raw[200] ^= 0xFF
    p.write_bytes(bytes(raw))


CASES = {
    "crafted": (_crafted, r"refused to unpickle the global '(posix|os)\.system'"),
    "truncated": (_truncated, r"is truncated or corrupt \(BadZipFile"),
    "empty": (_empty, r"is empty \(0 bytes\)"),
    "random": (_random, r"is not an \.npz \(zip\) file"),
    "flipped": (_flipped, r"(truncated or corrupt|not a valid pickle|expected)"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_reader_names_the_file_in_one_line(root, case):
    make, pattern = CASES[case]
    p = root / EEG_DIR / "1_123.npz"
    make(p)
    with pytest.raises((ValueError, pickle.UnpicklingError), match=pattern) as info:
        load_seedv(root)
    msg = str(info.value)
    assert str(p) in msg and "\n" not in msg
    assert "allow_pickle" not in msg  # never numpy's advice to unpickle a data file


def _run(module, *args, timeout=300):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.mark.parametrize("case", ["crafted", "truncated", "empty", "random"])
def test_cmt_train_on_a_bad_npz_prints_one_line_and_exits_2(root, tmp_path, case):
    make, pattern = CASES[case]
    p = root / EEG_DIR / "1_123.npz"
    make(p)
    out = _run("cmt_live.cli.train", "--data", root, "--preset", "tiny", "--out", tmp_path / "r")
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("cmt-train: error: ")
    assert str(p) in lines[0]
    import re

    assert re.search(pattern, lines[0]), lines[0]


@pytest.mark.parametrize(
    ("spec", "why"),
    [("s.xdf:-3:1", "subjects are >= 1"), ("s.xdf:0:1", ">= 1"), ("s.xdf:1:4", "sessions 1, 2")],
)
def test_cmt_dataset_refuses_subjects_below_1_and_unknown_sessions(tmp_path, spec, why, capsys):
    from cmt_live.cli.dataset import main

    with pytest.raises(SystemExit) as info:
        main(["--out", str(tmp_path / "d"), spec])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert why in err and "Traceback" not in err and spec in err
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["--seedv-raw", "raw", "--gaze-units", "px"], "--gaze-units: for recordings only"),
        (["--seedv-raw", "raw", "--seedv-times", "t.txt"], "--seedv-times: for recordings only"),
        (["s.xdf:1:1", "--subjects", "1,2"], "--subjects is for --seedv-raw"),
    ],
)
def test_cmt_dataset_refuses_options_its_input_would_ignore(tmp_path, argv, why, capsys):
    from cmt_live.cli.dataset import main

    with pytest.raises(SystemExit) as info:
        main(["--out", str(tmp_path / "d"), *argv])
    assert info.value.code == 2 and why in capsys.readouterr().err


def test_replaying_a_directory_is_one_line_for_both_replay_tools(tmp_path, capsys):
    from live_models import make_model_file

    from cmt_live.cli import live, replay

    folder = tmp_path / "session.xdf"
    folder.mkdir()
    model = make_model_file(tmp_path / "m.pt")
    for main, argv in (
        (replay.main, [str(folder)]),
        (live.main, ["--replay", str(folder), "--model", str(model), "--fast"]),
        (live.main, ["--replay", str(folder), "--model", str(model)]),
    ):
        assert main(argv) == 2
        lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert lines[-1].endswith(f"Is a directory: {folder}"), lines
        assert not any("Traceback" in ln for ln in lines)
