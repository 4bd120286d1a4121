"""Report statistics: macro-F1, kappa, precision/recall, the binomial test, pooling per subject,
the aggregate over seeds, and the logistic-regression baseline."""

from __future__ import annotations

import numpy as np
import pytest
from test_training import make_trials

from models.report import render_markdown
from models.train.baseline import baseline_scores
from models.train.stats import (
    across_seeds,
    binomial_p,
    classification_stats,
    model_summary,
    per_subject,
)


def test_classification_stats_known_answer():
    from sklearn.metrics import cohen_kappa_score, f1_score, precision_score, recall_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, size=200)
    p = np.where(rng.random(200) < 0.6, y, rng.integers(0, 5, size=200))
    p[p == 4] = 3  # class 4 never predicted: its precision is undefined
    conf = np.zeros((5, 5), int)
    np.add.at(conf, (y, p), 1)
    st = classification_stats(conf)
    assert st["accuracy"] == pytest.approx(np.mean(y == p))
    assert st["macro_f1"] == pytest.approx(f1_score(y, p, average="macro", zero_division=0))
    assert st["kappa"] == pytest.approx(cohen_kappa_score(y, p))
    assert st["precision"][4] is None and st["recall"][4] == 0.0
    prec = precision_score(y, p, average=None, labels=[0, 1, 2, 3], zero_division=0)
    assert st["precision"][:4] == pytest.approx(list(prec))
    assert st["recall"] == pytest.approx(list(recall_score(y, p, average=None)))
    # perfect agreement: kappa 1; always one class: kappa 0
    assert classification_stats(np.diag([3, 3, 3, 3, 3]))["kappa"] == pytest.approx(1.0)
    one = np.zeros((5, 5), int)
    one[:, 0] = 4
    assert classification_stats(one)["kappa"] == pytest.approx(0.0)


def test_binomial_p_known_answer():
    assert binomial_p(9, 10, 0.5) == pytest.approx(11 / 1024)  # P(X >= 9), X ~ B(10, 1/2)
    assert binomial_p(0, 10, 0.2) == pytest.approx(1.0)
    assert binomial_p(45, 45, 0.2) < 1e-30


def _fold(subject, pred, label, window_acc, n_windows, stream=None):
    return {
        "test_subject": subject,
        "test": {
            "trial_pred": pred,
            "trial_label": label,
            "window_acc": window_acc,
            "n_windows": n_windows,
            "streaming_acc": stream or {"1": window_acc},
        },
    }


def test_per_subject_pools_folds_and_seeds_aggregate_subject_means():
    results = [
        _fold(1, [0, 1, 2], [0, 1, 1], 0.5, 10),  # 2/3
        _fold(1, [3, 3], [3, 4], 1.0, 30),  # 1/2 -> subject 1: 3/5; windows (5 + 30) / 40
        _fold(2, [4, 4, 4, 4], [4, 4, 4, 4], 0.25, 8),  # 4/4
    ]
    rows = per_subject(results, n_classes=5)
    assert [r["subject"] for r in rows] == [1, 2]
    assert (rows[0]["correct"], rows[0]["n_trials"]) == (3, 5)
    assert rows[0]["window_acc"] == pytest.approx(35 / 40)
    assert rows[0]["streaming_acc"]["1"] == pytest.approx(35 / 40)
    assert rows[0]["p_chance"] == pytest.approx(binomial_p(3, 5, 0.2))
    summ = model_summary(results, n_classes=5)
    assert summ["trial_acc"]["mean"] == pytest.approx((3 / 5 + 1.0) / 2)  # mean of subjects
    assert np.asarray(summ["confusion"]).sum() == 9
    # seeds: mean and population std of each seed's mean over subjects
    other = model_summary([_fold(1, [0], [1], 0.0, 1), _fold(2, [2], [2], 1.0, 1)], n_classes=5)
    agg = across_seeds([summ, other])
    assert agg["n_seeds"] == 2
    assert agg["trial_acc"]["mean"] == pytest.approx((0.8 + 0.5) / 2)
    assert agg["trial_acc"]["std"] == pytest.approx(0.15)


def test_baseline_learns_separable_features_and_is_at_chance_on_noise():
    trials = make_trials(n_subjects=2, n_windows=(3, 5), signal=3.0)
    train = [t for t in trials if t.subject == 1]
    test = [t for t in trials if t.subject == 2]
    res = baseline_scores(train, test, max_len=74)
    assert set(res) == {"both", "eeg", "eye"}
    assert res["both"]["trial_acc"] == 1.0 and res["both"]["window_acc"] > 0.95
    assert res["both"]["n_windows"] == sum(t.eeg.shape[0] for t in test)
    assert np.asarray(res["both"]["confusion"]).trace() == 45
    noise = make_trials(n_subjects=2, n_windows=(3, 5), signal=0.0, seed=1)
    res = baseline_scores(noise[:45], noise[45:], max_len=74)
    assert res["both"]["trial_acc"] < 0.5  # chance is 0.2; 45 test trials


def _metrics_for_report(statistics, seeds):
    fold = _fold(1, [0], [0], 1.0, 2)
    fold.update(
        fold=1,
        val_subjects=[2],
        best_epoch=1,
        best_val_acc=1.0,
        model_file="fold_01_subject_01.pt",
        history=[],
    )
    fold["test"].update(trial_acc=1.0, trial_acc_eeg_only=0.4, trial_acc_eye_only=0.6)
    return {
        "protocol": "loso",
        "seeds": seeds,
        "modalities": ["both", "eeg"],
        "runner": {"kind": "ray", "ray_address": "auto", "cpus_per_fold": 2, "gpus_per_fold": 1},
        "retries": {"fold_01_subject_01": 1},
        "statistics": statistics,
        "summary": {
            "complete": True,
            "n_folds_done": 1,
            "n_folds_total": 1,
            "trial_acc": {"mean": 1.0, "std": 0.0},
            "trial_acc_eeg_only": {"mean": 0.4, "std": 0.0},
            "trial_acc_eye_only": {"mean": 0.6, "std": 0.0},
            "streaming_acc": {"1": {"mean": 1.0, "std": 0.0}},
            "confusion": np.eye(5, dtype=int).tolist(),
            "chance": 0.2,
            "fold_wall_s": 1.0,
        },
        "data": {
            "root": "d",
            "subjects": [1],
            "n_trials": 1,
            "n_windows": 2,
            "issues": [],
            "fingerprint": "0" * 64,
        },
        "feature_spec": {"window_s": 4.0},
        "feature_spec_source": "test",
        "train_config": {
            "preset": "tiny",
            "epochs": 1,
            "batch_size": 1,
            "lr": 1,
            "seed": 0,
            "weight_decay": 0,
            "domain_weight": 0,
            "p_drop_eeg": 0,
            "p_drop_eye": 0,
        },
        "model_config": {},
        "device": "cpu",
        "cmt_live_version": "0",
        "folds": [fold],
        "deployment": None,
    }


def test_report_states_statistics_baseline_and_which_numbers_are_masked():
    a = model_summary([_fold(1, [0, 1], [0, 1], 1.0, 2), _fold(2, [0], [1], 0.0, 1)], n_classes=5)
    b = model_summary([_fold(1, [0, 0], [0, 1], 0.5, 2), _fold(2, [1], [1], 1.0, 1)], n_classes=5)
    st = {
        "transformer": {"per_seed": {"0": a, "1": b}, "across_seeds": across_seeds([a, b])},
        "transformer_eeg": {"per_seed": {"0": b, "1": b}, "across_seeds": across_seeds([b, b])},
        "baseline": {"per_seed": {"0": b, "1": a}, "across_seeds": across_seeds([b, a])},
    }
    text = render_markdown(_metrics_for_report(st, [0, 1]))
    assert "Mean ± population std over 2 seeds" in text
    assert "| transformer, EEG + eye | 62.50% ± 12.50% |" in text  # seed means 0.5 and 0.75
    assert "transformer trained on EEG only" in text and "logistic regression, EEG + eye" in text
    assert "masked-input ablation" in text and "not a model trained without it" in text
    assert "| 1 | 2 | 100.00% | 0.040 |" in text  # subject 1: 2/2, p = 0.2 ** 2
    assert "Disgust P / R" in text and "κ" in text
    assert "`fold_01_subject_01` failed and was retried 1 time(s)" in text
    assert "Ray (auto; 2 CPU, 1 GPU per fold)" in text
