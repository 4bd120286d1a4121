"""Training: LOSO splits, normalisation, sampling, schedules, scoring, reproducibility, resume."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from features.seedv import SEEDV_LABELS
from models.datasets import Normalizer, TrialSequenceDataset, collate, pad_sequences
from models.seedv import SeedVData, Trial, fingerprint
from models.train import (
    TrainConfig,
    causal_contexts,
    dann_alpha,
    deployment_split,
    eager_predictor,
    load_feature_spec,
    loso_folds,
    score_trials,
    train_model,
    warmup_cosine,
)
from models.train import run as train_run
from models.train import task as train_task

pytestmark = pytest.mark.usefixtures("one_thread")


def make_trials(n_subjects=4, n_windows=(3, 8), seed=0, signal=1.0, keys=45):
    """Synthetic trials: class means + a per-subject offset + unit noise (learnable, not trivial
    across subjects)."""
    rng = np.random.default_rng(seed)
    cls_eeg = rng.normal(size=(5, 310))
    cls_eye = rng.normal(size=(5, 33))
    out = []
    for s in range(1, n_subjects + 1):
        off_eeg = rng.normal(scale=0.5, size=310)
        off_eye = rng.normal(scale=0.5, size=33)
        for k in range(keys):
            session, trial = k // 15 + 1, k % 15 + 1
            label = SEEDV_LABELS[session - 1][trial - 1]
            n = int(rng.integers(n_windows[0], n_windows[1] + 1))
            eeg = signal * cls_eeg[label] + off_eeg + rng.normal(size=(n, 310)) + 5.0
            eye = signal * cls_eye[label] + off_eye + rng.normal(size=(n, 33))
            out.append(
                Trial(s, session, trial, eeg.astype(np.float32), eye.astype(np.float32), label)
            )
    return out


def make_data(trials, root="synthetic"):
    from pathlib import Path

    return SeedVData(root=Path(root), trials=trials, issues=[], fingerprint=fingerprint(trials))


# ------------------------------------------------------------------------------ normaliser
def test_normalizer_known_answer_ignores_nonfinite_and_floors_std():
    eeg = np.zeros((4, 310), np.float32)
    eeg[:, 0] = [1, 2, 3, 4]  # mean 2.5, population std sqrt(1.25)
    eeg[:, 1] = 7.0  # constant -> std floored, maps to 0
    eeg[2, 2] = np.nan  # ignored
    eeg[:, 2] = [1.0, 3.0, np.nan, 5.0]
    eye = np.tile(np.arange(33, dtype=np.float32), (4, 1))
    norm = Normalizer.fit([Trial(1, 1, 1, eeg, eye, 0)])
    assert norm.eeg_mean[0] == pytest.approx(2.5)
    assert norm.eeg_std[0] == pytest.approx(math.sqrt(1.25))
    assert norm.eeg_mean[2] == pytest.approx(3.0)
    assert norm.eeg_std[1] == pytest.approx(Normalizer.MIN_STD)
    e, y = norm.transform(eeg, eye)
    assert np.allclose(e[:, 0], (eeg[:, 0] - 2.5) / math.sqrt(1.25), atol=1e-6)
    assert np.all(e[:, 1] == 0) and np.all(np.isfinite(e)) and e[2, 2] == 0
    assert np.allclose(y, 0.0)
    assert norm.to_dict()["eeg_mean"].dtype == np.float32


def test_normalizer_needs_trials():
    with pytest.raises(ValueError, match="no trials"):
        Normalizer.fit([])


# -------------------------------------------------------------------------------- splits
@pytest.mark.parametrize("n_subjects", [3, 5, 16])
def test_loso_folds_never_leak(n_subjects):
    subjects = list(range(1, n_subjects + 1))
    folds = loso_folds(subjects * 3, seed=1)  # duplicates (one per trial) are fine
    assert [f.test_subject for f in folds] == subjects
    n_val = 2 if n_subjects >= 8 else 1
    for f in folds:
        assert f.test_subject not in f.val_subjects
        assert f.test_subject not in f.train_subjects
        assert not set(f.val_subjects) & set(f.train_subjects)
        assert len(f.val_subjects) == n_val
        assert set(f.val_subjects) | set(f.train_subjects) | {f.test_subject} == set(subjects)
    assert loso_folds(subjects, seed=1) == folds
    # the draw depends on the seed (with 16 subjects some fold must change)
    if n_subjects == 16:
        assert loso_folds(subjects, seed=2) != folds


def test_loso_folds_bad_input():
    with pytest.raises(ValueError, match="at least 3 subjects"):
        loso_folds([1, 2])
    with pytest.raises(ValueError, match=r"n_val=2 .*use 1\.\.1"):
        loso_folds([1, 2, 3], n_val=2)


def test_deployment_split():
    train, val = deployment_split(range(1, 17), seed=0)
    assert len(val) == 2 and set(train) | set(val) == set(range(1, 17))
    assert not set(train) & set(val)


# ------------------------------------------------------------------------------ sampling
def _indexed_trial(n, label=1, subject=1):
    """Window i carries the value i in every EEG column (so crops can be located)."""
    eeg = np.repeat(np.arange(n, dtype=np.float32)[:, None], 310, axis=1)
    eye = np.repeat(np.arange(n, dtype=np.float32)[:, None], 33, axis=1)
    return Trial(subject, 1, 1, eeg, eye, label)


IDENTITY = Normalizer(
    np.zeros(310, np.float32), np.ones(310, np.float32), np.zeros(33, np.float32),
    np.ones(33, np.float32),
)  # fmt: skip


def test_random_crops_are_contiguous_in_range_and_seeded():
    ds = TrialSequenceDataset([_indexed_trial(20)], IDENTITY, max_len=12, random_crop=True, seed=3)
    lengths, starts = [], []
    for epoch in range(300):
        ds.set_epoch(epoch)
        s = ds[0]
        col = s.eeg[:, 0]
        assert 1 <= col.size <= 12
        assert np.array_equal(col, np.arange(col[0], col[0] + col.size))  # contiguous
        assert col[-1] <= 19
        lengths.append(col.size)
        starts.append(col[0])
    assert set(lengths) == set(range(1, 13))  # every length 1..max_len is drawn
    assert min(starts) == 0 and max(starts) >= 15
    ds.set_epoch(5)
    a = ds[0].eeg
    ds2 = TrialSequenceDataset([_indexed_trial(20)], IDENTITY, max_len=12, random_crop=True, seed=3)
    ds2.set_epoch(5)
    assert np.array_equal(a, ds2[0].eeg)


def test_eval_dataset_takes_first_max_len_windows():
    ds = TrialSequenceDataset([_indexed_trial(80)], IDENTITY, max_len=74)
    s = ds[0]
    assert np.array_equal(s.eeg[:, 0], np.arange(74)) and s.eeg_mask.sum() == 74


def test_modality_dropout_rates_and_never_both():
    trials = [_indexed_trial(5, subject=1) for _ in range(4000)]
    ds = TrialSequenceDataset(trials, IDENTITY, p_drop_eeg=0.15, p_drop_eye=0.15, seed=0)
    eeg_off = eye_off = 0
    for i in range(len(ds)):
        s = ds[i]
        e0, y0 = s.eeg_mask.max() == 0, s.eye_mask.max() == 0
        assert not (e0 and y0)
        if e0:
            assert not s.eeg.any()
        if y0:
            assert not s.eye.any()
        eeg_off += e0
        eye_off += y0
    # binomial(4000, 0.15): std ~ 22.6
    assert abs(eeg_off - 600) < 100 and abs(eye_off - 600) < 100


def test_dataset_bad_input():
    with pytest.raises(ValueError, match="sum must be at most 1"):
        TrialSequenceDataset([_indexed_trial(3)], IDENTITY, p_drop_eeg=0.6, p_drop_eye=0.6)
    with pytest.raises(ValueError, match="max_len=0"):
        TrialSequenceDataset([_indexed_trial(3)], IDENTITY, max_len=0)


def test_collate_pads_right_with_masks():
    ds = TrialSequenceDataset(
        [_indexed_trial(3, subject=4), _indexed_trial(5, label=2, subject=9)],
        IDENTITY,
        domains={4: 0},
    )
    b = collate([ds[0], ds[1]])
    assert b["eeg"].shape == (2, 5, 310) and b["eye"].shape == (2, 5, 33)
    assert b["eeg_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert b["eeg"][0, 3:].abs().sum() == 0
    assert b["label"].tolist() == [1, 2] and b["domain"].tolist() == [0, -1]
    assert collate([ds[0]], pad_to=74)["eeg"].shape == (1, 74, 310)
    with pytest.raises(ValueError, match="pad_to=2 is shorter"):
        collate([ds[0]], pad_to=2)


# ----------------------------------------------------------------------------- schedules
def test_dann_alpha_known_values():
    assert dann_alpha(0.0) == 0.0
    assert dann_alpha(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert dann_alpha(1.0) == pytest.approx(0.9999092)
    assert dann_alpha(2.0) == dann_alpha(1.0)  # clamped


def test_warmup_cosine_known_values():
    assert warmup_cosine(0, 100, 10) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(10, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10) == pytest.approx(0.5)
    assert warmup_cosine(100, 100, 10) == pytest.approx(0.0, abs=1e-12)
    assert warmup_cosine(0, 10, 0) == pytest.approx(1.0)


def test_train_config_presets_and_errors():
    seed = TrainConfig.from_preset("seed")
    assert (seed.epochs, seed.batch_size, seed.lr, seed.weight_decay, seed.domain_weight) == (
        50,
        32,
        1e-4,
        1e-4,
        0.1,
    )
    assert TrainConfig.from_preset("small", epochs=3, lr=None).epochs == 3
    with pytest.raises(ValueError, match="preset='huge' is invalid"):
        TrainConfig.from_preset("huge")
    with pytest.raises(ValueError, match="epochs=0 is invalid"):
        TrainConfig(epochs=0)


# ------------------------------------------------------------------------------- scoring
def test_causal_contexts():
    x = np.arange(5)[:, None]
    ctx = causal_contexts(x, 3)
    assert [c[:, 0].tolist() for c in ctx] == [[0], [0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 4]]


def test_score_trials_known_answer():
    """A predictor that is right only with >= 3 valid EEG windows gives a computable accuracy."""

    def predict(eeg, eye, eeg_mask, eye_mask):
        n_valid = eeg_mask.sum(axis=1)
        label = eeg[:, 0, 0].astype(int)  # every window carries the label in column 0
        probs = np.zeros((eeg.shape[0], 5))
        pred = np.where((n_valid >= 3) & (eeg_mask[:, 0] > 0), label, 0)
        probs[np.arange(eeg.shape[0]), pred] = 1.0
        return probs

    trials = []
    for label, n in [(1, 2), (2, 5), (0, 4), (3, 10)]:
        eeg = np.full((n, 310), float(label), np.float32)
        trials.append(Trial(1, 1, 1, eeg, np.zeros((n, 33), np.float32), label))
    res = score_trials(predict, trials, max_len=74, context_lengths=[1, 2, 4])
    # trial level: the 2-window trial (label 1) fails, the others pass
    assert res["trial_acc"] == pytest.approx(3 / 4)
    assert res["confusion"][1][0] == 1 and res["confusion"][3][3] == 1
    assert res["n_windows"] == 21
    # L=1, 2: only the label-0 trial (4 windows) is right. L=4 or 74: windows t >= 2 of each
    # trial are right (0 + 3 + 2 + 8) plus windows 0-1 of the label-0 trial.
    assert res["streaming_acc"]["1"] == pytest.approx(4 / 21)
    assert res["streaming_acc"]["2"] == pytest.approx(4 / 21)
    assert res["streaming_acc"]["4"] == pytest.approx(15 / 21)
    assert res["streaming_acc"]["74"] == pytest.approx(15 / 21)
    # EEG dropped: the predictor sees no valid window -> class 0 -> only the label-0 trial
    assert res["trial_acc_eye_only"] == pytest.approx(1 / 4)
    assert res["trial_acc_eeg_only"] == pytest.approx(3 / 4)


def test_pad_sequences():
    eeg, eye, m1, m2 = pad_sequences(
        [np.ones((2, 310)), np.ones((3, 310))], [np.ones((2, 33)), np.ones((3, 33))]
    )
    assert eeg.shape == (2, 3, 310) and m1.tolist() == [[1, 1, 0], [1, 1, 1]]
    assert np.array_equal(m1, m2) and eye.shape == (2, 3, 33) and eeg[0, 2].sum() == 0
    with pytest.raises(ValueError, match="3 EEG windows but 2 eye windows"):
        pad_sequences([np.ones((3, 310))], [np.ones((2, 33))])


# ---------------------------------------------------------------------------- feature spec
def test_load_feature_spec(tmp_path):
    from features.spec import FeatureSpec

    spec, source = load_feature_spec(tmp_path)
    assert spec == FeatureSpec(smoothing="lds", eye_stats="clip") and "assumed" in source
    want = FeatureSpec(smoothing="none", window_s=2.0)
    (tmp_path / "cmt_sim.json").write_text(json.dumps({"feature_spec": want.to_dict()}))
    spec, source = load_feature_spec(tmp_path)
    assert spec == want and source.endswith("cmt_sim.json")
    (tmp_path / "cmt_sim.json").write_text("{oops")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_feature_spec(tmp_path)
    (tmp_path / "cmt_sim.json").write_text(json.dumps({"feature_spec": [1]}))
    with pytest.raises(ValueError, match=r"cmt_sim\.json holds no feature_spec object"):
        load_feature_spec(tmp_path)


# --------------------------------------------------------------------- training (real model)
def _tiny_cfg(**kw):
    return TrainConfig.from_preset("tiny", **kw)


def test_no_subject_leaks_and_normaliser_sees_training_subjects_only(tmp_path, monkeypatch):
    data = make_data(make_trials(n_subjects=4, n_windows=(2, 4)))
    fit_subjects, trained_on, scored_on = [], [], []
    real_fit = Normalizer.fit.__func__
    real_train, real_score = train_task.train_model, train_task.score_trials

    def spy_fit(cls, trials):
        fit_subjects.append(sorted({t.subject for t in trials}))
        return real_fit(cls, trials)

    def spy_train(train, val, *a, **kw):
        trained_on.append((sorted({t.subject for t in train}), sorted({t.subject for t in val})))
        return real_train(train, val, *a, **kw)

    def spy_score(predict, trials, **kw):
        scored_on.append(sorted({t.subject for t in trials}))
        return real_score(predict, trials, **kw)

    monkeypatch.setattr(Normalizer, "fit", classmethod(spy_fit))
    monkeypatch.setattr(train_task, "train_model", spy_train)
    monkeypatch.setattr(train_task, "score_trials", spy_score)
    metrics = train_run.run_cv(
        data, tmp_path / "run", _tiny_cfg(epochs=1), final=False, baseline=False
    )
    folds = metrics["folds"]
    assert [f["test_subject"] for f in folds] == [1, 2, 3, 4]
    assert len(trained_on) == len(scored_on) == len(fit_subjects) == 4
    for f, (tr, va), te, fit in zip(folds, trained_on, scored_on, fit_subjects):
        assert te == [f["test_subject"]]  # scored once, on the held-out subject only
        assert tr == f["train_subjects"] and va == f["val_subjects"]
        assert f["test_subject"] not in tr + va and not set(tr) & set(va)
        assert fit == tr  # normalisation saw the training subjects, not val, not test
    # the baseline's normaliser and classifier see training and validation subjects only
    monkeypatch.undo()
    fits = []
    real_base_fit = Normalizer.fit.__func__
    monkeypatch.setattr(
        Normalizer,
        "fit",
        classmethod(lambda cls, t: fits.append({x.subject for x in t}) or real_base_fit(cls, t)),
    )
    from models.train.baseline import baseline_scores

    baseline_scores(data.trials[45:], data.trials[:45])
    assert fits == [{2, 3, 4}]


def test_best_epoch_weights_are_kept():
    trials = make_trials(n_subjects=3, n_windows=(2, 4), signal=0.3)
    train = [t for t in trials if t.subject in (1, 2)]
    val = [t for t in trials if t.subject == 3]
    from models import ModelConfig

    res = train_model(train, val, ModelConfig.preset("tiny"), _tiny_cfg(epochs=3))
    assert len(res.history) == 3
    assert res.best_val_acc == max(h["val_acc"] for h in res.history)
    assert res.history[res.best_epoch - 1]["val_acc"] == res.best_val_acc
    # the returned model scores the validation subject exactly as recorded for the best epoch
    pred = eager_predictor(res.model, res.norm, torch.device("cpu"))
    again = score_trials(pred, val, max_len=res.model_config.max_len, modality_ablation=False)
    assert again["trial_acc"] == pytest.approx(res.best_val_acc)
    assert res.model_config.n_domains == 2


def _strip_times(metrics):
    m = json.loads(json.dumps(metrics))
    m.pop("wall_s")
    m["summary"].pop("fold_wall_s")
    for f in m["folds"]:
        f.pop("wall_s")
        f.pop("worker")
    return m


def test_seeded_runs_reproduce_on_cpu(tmp_path):
    data = make_data(make_trials(n_subjects=3, n_windows=(2, 5)))
    cfg = _tiny_cfg(epochs=2)
    m1 = train_run.run_cv(data, tmp_path / "a", cfg, folds_limit=1, device="cpu")
    m2 = train_run.run_cv(data, tmp_path / "b", cfg, folds_limit=1, device="cpu")
    assert _strip_times(m1) == _strip_times(m2)
    assert len(m1["folds"]) == 1 and m1["summary"]["complete"] is False
    # weights: the same training twice gives bit-identical parameters
    from models import ModelConfig

    train = [t for t in data.trials if t.subject in (2, 3)]
    val = [t for t in data.trials if t.subject == 1]
    a = train_model(train, val, ModelConfig.preset("tiny"), cfg, device="cpu", seed=5)
    b = train_model(train, val, ModelConfig.preset("tiny"), cfg, device="cpu", seed=5)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    c = train_model(train, val, ModelConfig.preset("tiny"), cfg, device="cpu", seed=6)
    assert any(not torch.equal(sa[k], c.model.state_dict()[k]) for k in sa)


def test_resume_skips_finished_folds(tmp_path, monkeypatch):
    data = make_data(make_trials(n_subjects=3, n_windows=(2, 4)))
    run = tmp_path / "run"
    cfg = _tiny_cfg(epochs=1)
    first = train_run.run_cv(data, run, cfg, folds_limit=2, final=False)
    assert (run / "fold_01_subject_01.pt").is_file() and (run / "fold_02_subject_02.pt").is_file()
    # interruption during fold 2's export: its model file is missing
    (run / "fold_02_subject_02.pt").unlink()
    fold1 = (run / "fold_01_subject_01.json").read_bytes()
    trained = []
    real_train = train_run.train_model

    def spy_train(*a, **kw):
        trained.append(kw["desc"])
        return real_train(*a, **kw)

    monkeypatch.setattr(train_task, "train_model", spy_train)
    monkeypatch.setattr(train_run, "train_model", spy_train)
    again = train_run.run_cv(data, run, cfg, final=True)
    assert trained[0].startswith("fold 2/3") and trained[1].startswith("fold 3/3")
    assert trained[2].startswith("deployment") and len(trained) == 3
    assert (run / "fold_01_subject_01.json").read_bytes() == fold1
    assert again["folds"][0] == first["folds"][0]
    assert again["summary"]["complete"] and (run / "model.pt").is_file()
    loso = again["deployment"]["expected_accuracy"]  # the summary's LOSO mean and std
    assert loso == {
        "trial_acc_mean": again["summary"]["trial_acc"]["mean"],
        "trial_acc_std": again["summary"]["trial_acc"]["std"],
    }
    for name in ("report.md", "metrics.json", "confusion_matrix.png", "per_subject.png"):
        assert (run / name).is_file()
    # a finished run resumes to nothing
    trained.clear()
    train_run.run_cv(data, run, cfg)
    assert trained == []
    # other settings in the same folder are refused, naming the difference
    with pytest.raises(ValueError, match=r"train_config.epochs: 1 -> 2.*another --out"):
        train_run.run_cv(data, run, _tiny_cfg(epochs=2))
