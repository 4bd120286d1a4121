"""`cmt-train`: the command line, evaluation of a saved model, and the CI-level end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from test_training import make_trials  # tests/ is on sys.path (pytest rootdir)

from cmt_live.cli.train import main
from models.seedv import write_seedv
from models.train import eager_predictor
from models.train import run as train_run

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "seedv"
    write_seedv(root, make_trials(n_subjects=3, n_windows=(2, 4)))
    return root


def test_cli_train_then_evaluate(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    rc = main(["--data", str(dataset), "--preset", "tiny", "--epochs", "1", "--out", str(run)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "LOSO trial accuracy" in out and str(run) in out
    for name in ("report.md", "metrics.json", "model.pt", "curves.png", "confusion_matrix.png"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert [f["model_file"] for f in metrics["folds"]] == [
        "fold_01_subject_01.pt",
        "fold_02_subject_02.pt",
        "fold_03_subject_03.pt",
    ]
    report = (run / "report.md").read_text()
    acc = metrics["summary"]["trial_acc"]
    assert f"{100 * acc['mean']:.2f}% ± {100 * acc['std']:.2f}%" in report
    assert "| 16 | 64 |" in report  # streaming table row L = 16 windows = 64 s

    # the saved fold model, through the runtime, scores its held-out subject as training did
    rc = main(
        [
            *("evaluate", "--model", str(run / "fold_01_subject_01.pt")),
            *("--data", str(dataset), "--subject", "1", "--json", "--quiet"),
        ]
    )
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    fold1 = metrics["folds"][0]["test"]
    assert res["held_out"] is True and res["n_trials"] == 45
    assert res["trial_acc"] == pytest.approx(fold1["trial_acc"], abs=1.5 / 45)
    assert res["provenance"]["fold"] == "fold_01_subject_01"
    assert res["provenance"]["data_fingerprint"] == metrics["data"]["fingerprint"]

    # the deployment model trained on subject 1 or validated on it: flagged as not held out
    rc = main(
        ["evaluate", "--model", str(run / "model.pt"), "--data", str(dataset), "--subject", "1"]
    )
    assert rc == 0
    assert "NOT held out" in capsys.readouterr().out


def test_cli_errors_name_the_problem(tmp_path, dataset, capsys):
    assert main(["--data", str(tmp_path / "nope"), "--preset", "tiny"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert (
        main(
            [
                "--data",
                str(dataset),
                "--preset",
                "tiny",
                "--folds",
                "0",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    assert "folds_limit=0 is invalid" in capsys.readouterr().err
    assert main(["--data", str(dataset), "--subjects", "1,x"]) == 2
    assert "--subjects '1,x' is invalid" in capsys.readouterr().err
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(tmp_path / "m.pt"),
                "--data",
                str(dataset),
                "--subject",
                "1",
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--data", str(dataset), "--preset", "huge"])
    assert exc.value.code == 2


def test_module_runs_as_script():
    proc = subprocess.run(
        [sys.executable, "-m", "cmt_live.cli.train", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "--data" in proc.stdout and "--preset" in proc.stdout


FRESH_PROCESS = textwrap.dedent(
    """
    import sys
    import numpy as np
    import torch
    torch.set_num_threads(1)
    from models import load_runtime
    ref = np.load(sys.argv[1])
    worst = 0.0
    for i, path in enumerate(sys.argv[2:]):
        rt = load_runtime(path, device="cpu", threads=1)
        probs, gates = rt.predict_batch(
            ref["eeg"], ref["eye"], ref["eeg_mask"], ref["eye_mask"]
        )
        worst = max(worst, float(np.abs(np.asarray(probs) - ref[f"probs_{i}"]).max()))
    print(f"max_abs_diff={worst:.3g}")
    sys.exit(0 if worst < 1e-5 else 1)
    """
)


@pytest.mark.slow
def test_end_to_end_sim_train_fresh_process(tmp_path, monkeypatch):
    """cmt-sim dataset -> cmt-train -> report, metrics, *.pt -> a fresh process reproduces the
    eager outputs recorded in the training process."""
    from cmt_live.cli.sim import main as sim_main

    data = tmp_path / "sim"
    assert (
        sim_main(
            [
                *("dataset", "--out", str(data), "--subjects", "3"),
                *("--trial-scale", "0.05", "--no-progress"),
            ]
        )
        == 0
    )
    assert (data / "cmt_sim.json").is_file()

    rng = np.random.default_rng(0)
    eeg = rng.normal(size=(4, 10, 310)).astype(np.float32)
    eye = rng.normal(size=(4, 10, 33)).astype(np.float32)
    eeg_mask = np.ones((4, 10), np.float32)
    eye_mask = np.ones((4, 10), np.float32)
    eeg_mask[1, 6:] = eye_mask[1, 6:] = 0.0  # a short context
    eye_mask[2] = 0.0  # eye missing
    eeg_mask[3] = 0.0  # EEG missing
    eager: dict[str, np.ndarray] = {}
    real_export = train_run.export_model

    def recording_export(trained, path, **kw):
        # Eager outputs of exactly the weights being exported, before export touches them.
        predict = eager_predictor(trained.model, trained.norm, torch.device("cpu"))
        eager[str(path)] = predict(eeg, eye, eeg_mask, eye_mask)
        return real_export(trained, path, **kw)

    monkeypatch.setattr(train_run, "export_model", recording_export)
    run = tmp_path / "run"
    args = ["--data", str(data), "--preset", "small", "--epochs", "1", "--out", str(run)]
    assert main([*args, "--quiet", "--device", "cpu"]) == 0
    for name in ("report.md", "metrics.json", "model.pt", "fold_03_subject_03.pt"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["feature_spec_source"].endswith("cmt_sim.json")
    assert metrics["summary"]["complete"] and len(metrics["folds"]) == 3
    paths = sorted(eager)
    assert len(paths) == 4 and all(p.endswith(".pt") for p in paths)
    ref = tmp_path / "eager.npz"
    np.savez(
        ref,
        eeg=eeg,
        eye=eye,
        eeg_mask=eeg_mask,
        eye_mask=eye_mask,
        **{f"probs_{i}": eager[p] for i, p in enumerate(paths)},
    )
    proc = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(ref), *paths],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
