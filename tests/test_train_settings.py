"""`cmt-train` settings: the TOML file, flags over it, the resolved copy in the run folder,
the preset chosen without CUDA, the time estimate of the seed preset on a CPU, per-epoch CSV
logs and progress lines where no terminal shows a bar."""

from __future__ import annotations

import csv
import logging

import pytest
import torch
from test_training import make_trials

from cmt_live.cli.train import main
from models import ModelConfig
from models.seedv import write_seedv
from models.train import TrainConfig
from models.train import estimate as est
from models.train.settings import dump_settings, load_settings

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("seedv")
    write_seedv(root, make_trials(n_subjects=3, n_windows=(2, 3)))
    return root


def test_config_file_flags_override_resolved_copy_reused(dataset, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        "[train]\nepochs = 3\nlr = 0.002\np_drop_eye = 0.3\nn_val_subjects = 1\n"
        "[model]\nd_model = 16\nn_heads = 2\nn_layers = 1\n"
        "[run]\nfolds = 1\nfinal = false\nbaseline = false\n"
    )
    run = tmp_path / "run"
    caplog.set_level(logging.INFO, logger="cmt_live")
    args = ["--data", str(dataset), "--config", str(cfg), "--epochs", "2", "--out", str(run)]
    assert main([*args, "--device", "cpu"]) == 0
    assert "no CUDA: preset small" in caplog.text  # no --preset, no CUDA: small
    # no terminal here: one progress line per epoch instead of a bar
    assert "fold 1/3 (subject 1, seed 0): epoch 2/2" in caplog.text
    saved = load_settings(run / "config.toml")
    assert saved["train"]["epochs"] == 2  # the flag beat the file's 3
    assert saved["train"]["lr"] == 0.002 and saved["train"]["p_drop_eye"] == 0.3
    assert saved["train"]["preset"] == "small" and saved["model"]["d_model"] == 16
    assert saved["run"]["folds"] == 1 and saved["run"]["device"] == "cpu"
    import json

    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model_config"]["d_model"] == 16 and metrics["train_config"]["epochs"] == 2
    assert len(metrics["folds"]) == 1 and "baseline" not in metrics["folds"][0]
    with (run / "fold_01_subject_01.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert {"train_loss", "val_acc", "lr", "alpha"} <= set(rows[0])
    # the saved copy is a valid --config: the same run resumes (nothing to train)
    caplog.clear()
    assert main(["--data", str(dataset), "--config", str(run / "config.toml")]) == 0
    assert "already finished; skipping" in caplog.text


def test_settings_errors_are_one_line(dataset, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nepoch = 3\n")
    assert main(["--data", str(dataset), "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "unknown key(s) ['epoch'] in [train]" in err and "epochs" in err
    bad.write_text("[train\n")
    assert main(["--data", str(dataset), "--config", str(bad)]) == 2
    assert "is not valid TOML" in capsys.readouterr().err
    bad.write_text("[run]\nseeds = 3\n")
    assert main(["--data", str(dataset), "--config", str(bad)]) == 2
    assert "[run] seeds = 3 is invalid; it must be a TOML list" in capsys.readouterr().err
    assert main(["--data", str(dataset), "--seeds", "0,x"]) == 2
    assert "--seeds '0,x' is invalid" in capsys.readouterr().err
    assert main(["--data", str(dataset), "--modalities", "both,ears"]) == 2
    assert "modalities=['both', 'ears'] is invalid" in capsys.readouterr().err
    assert main(["--data", str(tmp_path), "--config", str(tmp_path / "none.toml")]) == 2
    assert "none.toml does not exist" in capsys.readouterr().err


def test_dump_settings_round_trips(tmp_path):
    settings = {
        "train": TrainConfig.from_preset("tiny", n_val_trials=3).to_dict(),
        "model": {"d_model": 16, "variant": "seed"},
        "run": {"seeds": [0, 1], "ray": "10.0.0.1:6379", "final": False, "out": 'a"b'},
    }
    path = tmp_path / "c.toml"
    path.write_text(dump_settings(settings))
    back = load_settings(path)
    train = {k: v for k, v in settings["train"].items() if v is not None}
    train["context_lengths"] = tuple(train["context_lengths"])
    assert back["train"] == train and back["model"] == settings["model"]
    assert back["run"] == settings["run"]


def test_seed_preset_time_estimate_counts_steps(monkeypatch):
    monkeypatch.setattr(est, "time_per_step", lambda *a, **k: 0.5)
    cfg = TrainConfig.from_preset("seed")  # 50 epochs, batch 32
    # 100 training trials -> 4 batches per epoch; 16 folds
    assert est.estimate_run_s(ModelConfig.preset("seed"), cfg, 100, 16) == 50 * 4 * 16 * 0.5
    monkeypatch.undo()
    assert est.time_per_step(ModelConfig.preset("tiny"), 2, steps=1) > 0


def test_config_run_values_are_converted_and_bools_are_not_numbers(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[run]\ncpus_per_fold = 2\nfinal = true\n")
    run = load_settings(path)["run"]
    assert run == {"cpus_per_fold": 2.0, "final": True}
    assert isinstance(run["cpus_per_fold"], float)
    path.write_text("[run]\nthreads = true\n")
    with pytest.raises(ValueError, match=r"threads = True is invalid; it must be a TOML int"):
        load_settings(path)
