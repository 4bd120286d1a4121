"""Protocols: LOSO, cross-session and SEED-V's subject-dependent three folds; what each fold
trains, validates and tests on, and a run of each on synthetic data."""

from __future__ import annotations

import json

import pytest
from test_training import make_data, make_trials

from models.train import TrainConfig, make_folds
from models.train import run as train_run

pytestmark = pytest.mark.usefixtures("one_thread")


def _keys(trials):
    return {(t.subject, t.session, t.trial) for t in trials}


@pytest.mark.parametrize("protocol", ["cross-session", "subject-dependent"])
def test_within_subject_folds_partition_each_subject(protocol):
    trials = make_trials(n_subjects=2, n_windows=(1, 1))
    folds = make_folds(protocol, trials, seed=3)
    assert [(f.test_subject, f.part) for f in folds] == [(s, p) for s in (1, 2) for p in (1, 2, 3)]
    tested = []
    for f in folds:
        train, val, test = f.split(trials)
        own = {k for k in _keys(trials) if k[0] == f.test_subject}
        assert _keys(train) | _keys(val) | _keys(test) == own  # nothing of other subjects
        assert not (_keys(train) & _keys(val) or _keys(train) & _keys(test))
        assert not _keys(val) & _keys(test)
        assert len(test) == 15
        if protocol == "cross-session":
            assert {t.session for t in test} == {f.part}  # the whole held-out session
            assert f.part not in {t.session for t in train + val}
            assert f.name.endswith(f"_session_{f.part}")
        else:
            # SEED-V's three folds: trials 1-5, 6-10 or 11-15 of every session
            lo = 5 * (f.part - 1) + 1
            assert {t.trial for t in test} == set(range(lo, lo + 5))
            assert {t.session for t in test} == {1, 2, 3}
            assert f.name.endswith(f"_part_{f.part}")
        # validation: one trial per emotion, drawn from the training trials
        assert sorted(t.label for t in val) == sorted({t.label for t in train + val})
        tested += [(t.subject, t.session, t.trial) for t in test]
    assert sorted(tested) == sorted(_keys(trials))  # every trial tested exactly once
    assert make_folds(protocol, trials, seed=3) == folds
    assert make_folds(protocol, trials, seed=4) != folds  # the validation draw is seeded


def test_protocol_errors_name_the_fix():
    one_session = [t for t in make_trials(n_subjects=1, n_windows=(1, 1)) if t.session == 1]
    with pytest.raises(ValueError, match="needs at least 2 sessions of subject 1"):
        make_folds("cross-session", one_session)
    with pytest.raises(ValueError, match="protocol='x' is invalid"):
        make_folds("x", one_session)
    with pytest.raises(ValueError, match="leave no training trial"):
        make_folds("subject-dependent", make_trials(n_subjects=1, n_windows=(1, 1)), n_val=30)


@pytest.mark.parametrize("protocol", ["cross-session", "subject-dependent"])
def test_within_subject_run_reports_per_subject(tmp_path, protocol):
    data = make_data(make_trials(n_subjects=2, n_windows=(2, 3), signal=2.0))
    cfg = TrainConfig.from_preset("tiny", epochs=1)
    m = train_run.run_cv(data, tmp_path / "run", cfg, protocol=protocol, final=True)
    assert m["protocol"] == protocol and m["summary"]["complete"]
    assert len(m["folds"]) == 6 and m["deployment"] is None  # no deployment model here
    run = tmp_path / "run"
    first = m["folds"][0]
    assert (run / f"{first['name']}.pt").is_file() and (run / f"{first['name']}.csv").is_file()
    subjects = m["statistics"]["transformer"]["per_seed"]["0"]["subjects"]
    # per-subject figures pool the subject's three folds: all 45 trials, windows weighted
    assert [r["n_trials"] for r in subjects] == [45, 45]
    own = [f for f in m["folds"] if f["test_subject"] == 1]
    correct = sum(round(f["test"]["trial_acc"] * f["test"]["n_trials"]) for f in own)
    assert subjects[0]["correct"] == correct
    n_w = sum(f["test"]["n_windows"] for f in own)
    win = sum(f["test"]["window_acc"] * f["test"]["n_windows"] for f in own) / n_w
    assert subjects[0]["window_acc"] == pytest.approx(win)
    report = (run / "report.md").read_text()
    assert {"cross-session": "session 2", "subject-dependent": "trials 6-10"}[protocol] in report
    assert json.loads((run / "metrics.json").read_text())["protocol"] == protocol
    # another protocol in the same folder is refused (it would mix models)
    other = {"cross-session": "subject-dependent", "subject-dependent": "cross-session"}
    with pytest.raises(ValueError, match=f"protocol: '{protocol}' -> '{other[protocol]}'"):
        train_run.run_cv(data, run, cfg, protocol=other[protocol])
