"""SEED-V feature files: released layout round trip, validation messages, unsafe pickles."""

from __future__ import annotations

import logging
import os
import pickle
import re

import numpy as np
import pytest

from features.seedv import EEG_DIR, EYE_DIR, SEEDV_LABELS, SPEC_FILE, seedv_trial_windows
from models.safe_pickle import UnsafePickleError, safe_loads
from models.seedv import Trial, load_seedv, write_seedv


def _trials(subject: int, rng: np.random.Generator, n_max: int = 4) -> list[Trial]:
    out = []
    for k in range(45):
        session, trial = k // 15 + 1, k % 15 + 1
        n = int(rng.integers(1, n_max + 1))
        out.append(
            Trial(
                subject=subject,
                session=session,
                trial=trial,
                eeg=rng.normal(size=(n, 310)).astype(np.float32),
                eye=rng.normal(size=(n, 33)).astype(np.float32),
                label=SEEDV_LABELS[session - 1][trial - 1],
            )
        )
    return out


@pytest.fixture
def root(tmp_path):
    rng = np.random.default_rng(0)
    trials = _trials(1, rng) + _trials(2, rng)
    write_seedv(tmp_path, trials)
    return tmp_path, trials


def test_window_formula_matches_published_totals():
    # SEEDV.md §3: 681 + 541 + 601 = 1823 windows per subject, max 74, min 13.
    counts = [seedv_trial_windows(s) for s in (1, 2, 3)]
    assert [sum(c) for c in counts] == [681, 541, 601]
    assert max(max(c) for c in counts) == 74 and min(min(c) for c in counts) == 13
    assert counts[0][:3] == (18, 24, 59)


def test_official_loading_pattern_reads_written_files(root):
    path, trials = root
    by_key = {t.key: t for t in trials if t.subject == 2}
    for d, attr in ((EEG_DIR, "eeg"), (EYE_DIR, "eye")):
        # Exactly the seed repository's / official notebook's access pattern.
        npz = np.load(path / d / "2_123.npz")
        data = pickle.loads(npz["data"])
        label = pickle.loads(npz["label"])
        assert sorted(data) == list(range(45)) and all(type(k) is int for k in data)
        for k in range(45):
            np.testing.assert_allclose(data[k], getattr(by_key[k], attr), rtol=1e-6)
            assert label[k][0] == by_key[k].label
            assert len(label[k]) == data[k].shape[0]
        assert npz["data"].ndim == 0 and npz["data"].dtype.kind == "S"


def test_load_round_trip_and_fingerprint(root):
    path, trials = root
    data = load_seedv(path)
    assert data.subjects == [1, 2]
    assert len(data.trials) == 90 and data.issues == []
    t = data.trials[20]
    assert (t.subject, t.session, t.trial, t.key) == (1, 2, 6, 20)
    src = next(x for x in trials if (x.subject, x.key) == (1, 20))
    np.testing.assert_array_equal(t.eeg, src.eeg)
    assert t.eeg.dtype == np.float32 and t.label == SEEDV_LABELS[1][5]
    again = load_seedv(path)
    assert re.fullmatch(r"[0-9a-f]{64}", data.fingerprint)
    assert again.fingerprint == data.fingerprint
    assert load_seedv(path, subjects=[2]).fingerprint != data.fingerprint
    assert "2 subjects (1-2), 90 trials" in data.summary()


def test_fingerprint_changes_with_one_value(root, tmp_path_factory):
    path, trials = root
    changed = list(trials)
    t0 = changed[0]
    eeg = t0.eeg.copy()
    eeg[0, 0] += 1e-3
    changed[0] = Trial(t0.subject, t0.session, t0.trial, eeg, t0.eye, t0.label)
    other = tmp_path_factory.mktemp("other")
    write_seedv(other, changed)
    assert load_seedv(other).fingerprint != load_seedv(path).fingerprint


def test_missing_dirs_subjects_and_files(tmp_path, root):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_seedv(tmp_path / "nope")
    path, _ = root
    with pytest.raises(FileNotFoundError, match=r"Subjects \[3\] have no file in .*EEG_DE"):
        load_seedv(path, subjects=[1, 3])
    os.remove(path / EYE_DIR / "2_123.npz")
    with pytest.raises(FileNotFoundError, match=r"Eye_movement_features lacks .*\[2\].*2_123"):
        load_seedv(path)
    assert load_seedv(path, subjects=[1]).subjects == [1]
    (path / EYE_DIR / "1_123.npz").unlink()
    (path / EYE_DIR).rmdir()
    with pytest.raises(FileNotFoundError, match="has no Eye_movement_features/"):
        load_seedv(path)


def test_corrupt_spec_file_is_refused_not_ignored(root):
    path, _ = root
    (path / SPEC_FILE).write_text("{oops")
    with pytest.raises(ValueError, match=r"cmt_sim.json is not valid JSON .*regenerate"):
        load_seedv(path)
    (path / SPEC_FILE).write_text("[1, 2]")
    with pytest.raises(ValueError, match="holds no JSON object"):
        load_seedv(path)


def _rewrite(path, member_fn):
    with np.load(path) as npz:
        data = pickle.loads(npz["data"])
        label = pickle.loads(npz["label"])
    data, label = member_fn(data, label)
    np.savez(path, data=pickle.dumps(data), label=pickle.dumps(label))


def test_label_disagreement_names_subject_and_trial(root):
    path, _ = root

    def flip(data, label):
        label[16] = (label[16] + 1) % 5
        return data, label

    _rewrite(path / EYE_DIR / "2_123.npz", flip)
    with pytest.raises(ValueError, match=r"subject 2, session 2, trial 2 \(key 16\).*disagree"):
        load_seedv(path)


def test_window_count_mismatch_truncates_and_warns(root, caplog):
    path, trials = root

    def grow(data, label):
        data[3] = np.vstack([data[3], np.zeros((2, 33))])
        label[3] = np.full(len(data[3]), label[3][0])
        return data, label

    _rewrite(path / EYE_DIR / "1_123.npz", grow)
    with caplog.at_level(logging.WARNING, logger="cmt_live"):
        data = load_seedv(path)
    n = next(t for t in trials if (t.subject, t.key) == (1, 3)).n_windows
    t = next(t for t in data.trials if (t.subject, t.key) == (1, 3))
    assert t.eeg.shape[0] == t.eye.shape[0] == n
    assert len(data.issues) == 1 and "truncated both to" in data.issues[0]
    assert "subject 1, session 1, trial 4" in caplog.text


def test_nonfinite_recorded_or_raised(root):
    path, _ = root

    def nan(data, label):
        data[40] = data[40].copy()
        data[40][0, :3] = np.nan
        return data, label

    _rewrite(path / EEG_DIR / "1_123.npz", nan)
    data = load_seedv(path)
    assert any("3 non-finite EEG" in s and "trial 11 (key 40)" in s for s in data.issues)
    with pytest.raises(ValueError, match=r"subject 1, session 3, trial 11.*3 non-finite"):
        load_seedv(path, strict=True)


def test_wrong_width_names_file_and_key(root):
    path, _ = root

    def narrow(data, label):
        data[7] = data[7][:, :300]
        return data, label

    _rewrite(path / EEG_DIR / "2_123.npz", narrow)
    with pytest.raises(ValueError, match=r"2_123\.npz: data\[7\] has shape \(\d+, 300\)"):
        load_seedv(path)


def test_missing_keys_named(root):
    path, _ = root

    def drop(data, label):
        del data[44], label[44]
        return data, label

    _rewrite(path / EEG_DIR / "1_123.npz", drop)
    with pytest.raises(ValueError, match=r"missing \[44\]"):
        load_seedv(path)


def test_object_array_member_refused(root):
    path, _ = root
    p = path / EEG_DIR / "1_123.npz"
    np.savez(p, data=np.array([{0: 1}], dtype=object), label=np.array([{0: 1}], dtype=object))
    with pytest.raises(ValueError, match="object array"):
        load_seedv(path)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Exec:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize(
    ("payload", "global_name"), [(_RunsCode, r"(posix|os)\.system"), (_Exec, r"builtins\.exec")]
)
def test_crafted_pickle_is_refused_and_runs_nothing(root, payload, global_name):
    path, _ = root
    marker = path / "pwned"
    evil = {k: np.zeros((1, 310)) for k in range(45)}
    evil[5] = payload(marker)
    p = path / EEG_DIR / "1_123.npz"
    np.savez(p, data=pickle.dumps(evil), label=pickle.dumps({k: [0] for k in range(45)}))
    # The naive loader would run it: prove the file is really dangerous, then delete the mark.
    with pytest.raises(UnsafePickleError, match=rf"1_123\.npz \[data\].*'{global_name}'"):
        load_seedv(path)
    assert not marker.exists()
    pickle.loads(np.load(p)["data"])
    assert marker.exists()


def test_safe_loads_rebuilds_numpy_under_every_protocol():
    d = {0: np.arange(6.0).reshape(2, 3), 1: np.int64(3), 2: [1, 2.5, "a", b"b"], 3: (None,)}
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        out = safe_loads(pickle.dumps(d, protocol=protocol))
        np.testing.assert_array_equal(out[0], d[0])
        assert out[1] == 3 and out[2] == d[2] and out[3] == (None,)
    with pytest.raises(UnsafePickleError, match=r"collections\.OrderedDict"):
        import collections

        safe_loads(pickle.dumps(collections.OrderedDict(a=1)), source="x")
    with pytest.raises(pickle.UnpicklingError, match="not a valid pickle"):
        safe_loads(b"\x80\x04garbage")


def test_write_refuses_incomplete_subject():
    rng = np.random.default_rng(1)
    trials = _trials(1, rng)[:-1]
    with pytest.raises(ValueError, match=r"subject 1 lacks keys \[44\]"):
        write_seedv("/nonexistent-but-unused", trials)
