"""Where a model's features came from: the contract's feature_source, its defaults for old
files, and live use masking the eye input of a model trained on a release's eye columns."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cmt_live.featurize import Featurizer
from cmt_live.records import Flag, Window
from cmt_live.settings import ContractError, Settings
from features.seedv import SEEDV_LABELS, SPEC_FILE
from features.spec import FeatureSpec
from models.config import ModelConfig
from models.contract import ModelContract, v1_feature_source
from models.seedv import Trial, load_feature_source, load_feature_spec, load_seedv, write_seedv

CLASSES = ("Disgust", "Fear", "Sad", "Neutral", "Happy")


def _contract(**kw) -> ModelContract:
    cfg = ModelConfig.preset("tiny", max_len=4)
    norm = {
        "eeg_mean": np.zeros(310),
        "eeg_std": np.ones(310),
        "eye_mean": np.zeros(33),
        "eye_std": np.ones(33),
    }
    return ModelContract(FeatureSpec(), norm, CLASSES, 4, cfg, **kw)


# ------------------------------------------------------------------------------- contract
def test_feature_source_round_trips_and_is_checked():
    c = _contract(feature_source={"eeg": "computed", "eye": "events", "eye_absent": ["pupil1_std"]})
    back = ModelContract.from_json(c.to_json())
    assert back.feature_source == {"eeg": "computed", "eye": "events", "eye_absent": ["pupil1_std"]}
    assert back.live_ready("eye") and back.to_dict()["format_version"] == 2
    assert _contract().feature_source == {"eeg": "computed", "eye": "computed", "eye_absent": []}
    assert not _contract(feature_source={"eeg": "release", "eye": "release"}).live_ready("eye")
    with pytest.raises(ValueError, match=r"feature_source\['eye'\]='ours' is invalid"):
        _contract(feature_source={"eye": "ours"})
    with pytest.raises(ValueError, match="unknown keys"):
        _contract(feature_source={"eye": "computed", "gaze": "computed"})
    with pytest.raises(ValueError, match="not eye features"):
        _contract(feature_source={"eye": "events", "eye_absent": ["pupil_area"]})
    d = c.to_dict()
    del d["feature_source"]
    with pytest.raises(ValueError, match=r"lacks.*feature_source"):
        ModelContract.from_dict(d)  # a version-2 file must say


@pytest.mark.parametrize(
    ("provenance", "kind"),
    [
        ({"feature_spec_source": "assumed: SEED-V released features (LDS-smoothed DE)"}, "release"),
        ({"feature_spec_source": "/data/sim16/cmt_sim.json"}, "computed"),
        ({"fold": "deployment"}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_version_1_files_still_load_with_a_safe_source(provenance, kind):
    d = _contract(provenance=provenance).to_dict()
    d["format_version"] = 1
    del d["feature_source"]
    c = ModelContract.from_dict(d)
    assert c.feature_source == {"eeg": kind, "eye": kind, "eye_absent": []}
    assert c.feature_source == v1_feature_source(provenance)
    # unknown is not trusted live: masking a good eye input says so, trusting a bad one lies
    assert c.live_ready("eye") == (kind == "computed")


def test_newer_format_is_refused():
    d = _contract().to_dict()
    d["format_version"] = 3
    with pytest.raises(ValueError, match="format_version=3 is not supported"):
        ModelContract.from_dict(d)


# -------------------------------------------------------------------------- data directory
def _trials(n_subjects=3, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for s in range(1, n_subjects + 1):
        for k in range(45):
            session, trial = k // 15 + 1, k % 15 + 1
            label = SEEDV_LABELS[session - 1][trial - 1]
            n = int(rng.integers(2, 4))
            eeg = rng.normal(size=(n, 310)) + label
            eye = rng.normal(size=(n, 33)) - label
            out.append(
                Trial(s, session, trial, eeg.astype(np.float32), eye.astype(np.float32), label)
            )
    return out


def test_release_directory_is_release_and_per_clip(tmp_path):
    write_seedv(tmp_path, _trials(1))
    spec, why = load_feature_spec(tmp_path)
    assert spec.smoothing == "lds" and spec.eye_stats == "clip" and "assumed" in why
    assert load_feature_source(tmp_path) == {"eeg": "release", "eye": "release", "eye_absent": []}
    (tmp_path / SPEC_FILE).write_text(json.dumps({"feature_spec": FeatureSpec().to_dict()}))
    assert load_feature_source(tmp_path)["eye"] == "computed"
    meta = {
        "feature_spec": FeatureSpec().to_dict(),
        "feature_source": {"eeg": "computed", "eye": "events", "eye_absent": ["pupil2_std"]},
    }
    (tmp_path / SPEC_FILE).write_text(json.dumps(meta))
    assert load_feature_source(tmp_path)["eye_absent"] == ["pupil2_std"]
    meta["feature_source"]["eye"] = "mine"
    (tmp_path / SPEC_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"cmt_sim\.json: feature_source\['eye'\]='mine'"):
        load_feature_source(tmp_path)


# ------------------------------------------------------------------------ settings, features
def test_settings_eye_policy():
    release = _contract(feature_source={"eeg": "release", "eye": "release"})
    assert Settings.from_contract(release).eye_policy == "masked"
    assert Settings.from_contract(release, trust_release_eye=True).eye_policy == "trusted"
    assert Settings.from_contract(_contract()).eye_policy == "use"
    # per-clip statistics: refused when the eye is used as ours, fine when masked or overridden
    clip = FeatureSpec(eye_stats="clip")
    with pytest.raises(ContractError, match="eye_stats='window'"):
        Settings(clip)
    assert Settings(clip, eye_source="release").eye_policy == "masked"
    assert Settings(clip, eye_source="unknown", trust_release_eye=True).eye_policy == "trusted"


def _window(seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(0, 4, 1 / 120)
    gaze = np.column_stack(
        [rng.normal(0, 0.05, t.size), rng.normal(0, 0.05, t.size),
         3 + 0.1 * rng.normal(size=t.size), 3 + 0.1 * rng.normal(size=t.size),
         np.ones(t.size)]
    )  # fmt: skip
    eeg = rng.normal(0, 20e-6, (62, 800))
    return Window(4.0, 4.0, eeg, 200.0, t, gaze, eeg_valid=True, eye_valid=True)


def test_featurizer_masks_flags_and_blanks_absent_columns():
    spec = FeatureSpec()
    used = Featurizer(spec).transform(_window())
    assert used.eye_valid and not {Flag.EYE_MASKED_RELEASE, Flag.EYE_RELEASE_TRUSTED} & used.flags
    masked = Featurizer(spec, eye_policy="masked").transform(_window())
    assert not masked.eye_valid and Flag.EYE_MASKED_RELEASE in masked.flags
    np.testing.assert_array_equal(masked.eye, used.eye)  # still shown, never fed
    trusted = Featurizer(spec, eye_policy="trusted").transform(_window())
    assert trusted.eye_valid and Flag.EYE_RELEASE_TRUSTED in trusted.flags
    absent = ("pupil1_de_0.0_0.2hz", "saccade_latency_avg_ms")
    part = Featurizer(spec, eye_absent=absent).transform(_window())
    idx = [spec.eye_names.index(c) for c in absent]
    assert part.eye_valid and np.isnan(part.eye[idx]).all()
    keep = np.setdiff1d(np.arange(33), idx)
    np.testing.assert_array_equal(part.eye[keep], used.eye[keep])


# --------------------------------------------------------- done when: release model live
@pytest.fixture(scope="module")
def release_model(tmp_path_factory):
    """A model trained by cmt-train's LOSO on a SEED-V-layout directory without our spec."""
    from models.train import TrainConfig
    from models.train import run as train_run

    root = tmp_path_factory.mktemp("seedv_release")
    write_seedv(root / "data", _trials())
    data = load_seedv(root / "data")
    cfg = TrainConfig.from_preset("tiny", epochs=1)
    train_run.run_cv(
        data, root / "run", cfg, folds_limit=1, final=False, baseline=False, device="cpu"
    )
    (model,) = sorted((root / "run").glob("fold_*.pt"))
    return model


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    from cmt_live.sim.streams import SimSessionSettings, record_session

    out = tmp_path_factory.mktemp("rec") / "s.xdf"
    return record_session(SimSessionSettings(subject=101, trial_s=6.0), out, 16.0)


def _replay(model, recording, log, capsys, *extra):
    import logging

    from cmt_live.cli.live import main

    # main() attaches a stderr handler bound to this test's captured stream; later tests must
    # not inherit it (it would write to a closed stream).
    pkg = logging.getLogger("cmt_live")
    handlers, level = list(pkg.handlers), pkg.level
    try:
        rc = main(["--replay", str(recording), "--fast", "--model", str(model), "--log",
                   str(log), "--device", "cpu", *extra])  # fmt: skip
    finally:
        pkg.handlers[:], pkg.level = handlers, level
    err = capsys.readouterr().err
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    start = next(r for r in rows if r["kind"] == "start")
    preds = [r for r in rows if r["kind"] == "prediction"]
    assert rc == 0 and len(preds) >= 5, err
    return start, preds, err


def test_release_model_runs_eeg_only_with_eye_masked_and_flagged(
    release_model, recording, tmp_path, capsys
):
    from models import load_runtime

    contract = load_runtime(release_model, device="cpu", warmup=0).contract
    assert contract.feature_source == {"eeg": "release", "eye": "release", "eye_absent": []}
    start, preds, err = _replay(release_model, recording, tmp_path / "m.jsonl", capsys)
    assert start["eye_input"] == "masked (release eye features)"
    assert start["feature_source"]["eye"] == "release"
    assert "eye input is masked" in err and "--trust-release-eye-features" in err
    for p in preds:
        assert Flag.EYE_MASKED_RELEASE in p["flags"] and Flag.EYE_MISSING in p["flags"]
        assert p["gates"]["eye"] == 0.0 and p["gates"]["eeg"] == pytest.approx(1.0)


def test_release_model_uses_the_eye_when_the_user_overrides(
    release_model, recording, tmp_path, capsys
):
    start, preds, err = _replay(
        release_model, recording, tmp_path / "t.jsonl", capsys, "--trust-release-eye-features"
    )
    assert start["eye_input"].startswith("trusted (release eye features")
    assert "WARNING" in err and "eye_release_trusted" in err
    assert all(Flag.EYE_RELEASE_TRUSTED in p["flags"] for p in preds)
    assert not any(Flag.EYE_MASKED_RELEASE in p["flags"] for p in preds)
    assert sum(p["gates"]["eye"] > 0 for p in preds) >= len(preds) // 2


# ------------------------------------------------------------------- eye column order
def test_model_of_the_old_eye_order_gets_its_columns_by_name(tmp_path):
    from live_models import make_model_file

    from cmt_live.context import Context
    from cmt_live.pipeline import Pipeline
    from cmt_live.records import FeatureFrame
    from features.constants import EYE_FEATURE_NAMES, EYE_FEATURE_NAMES_V1
    from models import load_runtime

    assert EYE_FEATURE_NAMES != EYE_FEATURE_NAMES_V1
    assert sorted(EYE_FEATURE_NAMES) == sorted(EYE_FEATURE_NAMES_V1)
    spec = FeatureSpec(eye_names=EYE_FEATURE_NAMES_V1)
    rt = load_runtime(make_model_file(tmp_path / "v1.pt", spec=spec, context_len=2), warmup=0)
    seen = []

    class Spy:
        contract = rt.contract

        def predict_batch(self, *inputs):
            seen.append(inputs)
            return rt.predict_batch(*inputs)

    pipe = Pipeline(Spy(), Settings.from_contract(rt.contract))
    eye = np.arange(33.0)  # frames hold features/ order: value = column in EYE_FEATURE_NAMES
    frame = FeatureFrame(t_end=4.0, eeg=np.zeros(310), eye=eye, eeg_valid=True, eye_valid=True)
    one = np.ones(1, np.float32)
    ctx = Context(np.zeros((1, 310)), eye[None], one, one, np.array([4.0]))
    (pred,) = pipe.predict([(frame, ctx, {"features": 0.0})])
    fed = seen[0][1][0, 0]
    assert [EYE_FEATURE_NAMES[int(v)] for v in fed] == list(EYE_FEATURE_NAMES_V1)
    assert np.isfinite(pred.probs).all()
    # other names are still refused
    bad = FeatureSpec(eye_names=("pupil_area", *EYE_FEATURE_NAMES[1:]))
    with pytest.raises(ContractError, match=r"not ours: \['pupil_area'\]"):
        Settings(bad)


def test_our_order_follows_seed_iv_rows():
    from features.constants import EYE_FEATURE_NAMES, SEEDIV_EYE_ROWS

    rows = [SEEDIV_EYE_ROWS[n] for n in EYE_FEATURE_NAMES]
    assert [r for r in rows if r is not None] == list(range(31))  # SEED-IV's 31, in its order
    assert [n for n, r in SEEDIV_EYE_ROWS.items() if r is None] == [
        "blink_duration_mean_ms",
        "blink_duration_std_ms",
    ]
    # SEEDV.md §7b: means X, Y then stds; X bands then Y bands; saccade duration mean,
    # amplitude mean, duration std, amplitude std; event statistics last
    assert EYE_FEATURE_NAMES[:4] == ("pupil1_mean", "pupil2_mean", "pupil1_std", "pupil2_std")
    assert EYE_FEATURE_NAMES[18:22] == (
        "saccade_duration_mean_ms",
        "saccade_amplitude_mean_deg",
        "saccade_duration_std_ms",
        "saccade_amplitude_std_deg",
    )


def test_monitor_shows_the_masked_eye_through_its_flag_line(release_model, recording):
    from apps.sink import QtSink
    from apps.state import MonitorState
    from cmt_live.driver import Driver
    from cmt_live.io.recording_source import RecordingSource
    from models import load_runtime

    rt = load_runtime(release_model, device="cpu", warmup=0)
    sink, state = QtSink(), MonitorState(history_s=60)
    source = RecordingSource(recording, rt.contract.feature_spec.ch_names)
    driver = Driver.for_source(rt, source, sinks=[sink], step_s=1.0)
    try:
        driver.run()
    finally:
        driver.close()
    state.ingest(sink.drain())
    assert state.n_predictions >= 5
    head = state.headline()
    assert Flag.EYE_MASKED_RELEASE in head.flags and "eye 0.00" in head.info


def test_model_trained_on_event_derived_eye_features_uses_both_modalities_live(tmp_path, recording):
    """A SEED-V-layout directory whose cmt_sim.json says the eye came from event tables (some
    columns absent, NaN in the files): the model uses the eye live, fed NaN in those columns."""
    from cmt_live.driver import Driver
    from cmt_live.io.recording_source import RecordingSource
    from cmt_live.sinks import Sink
    from features.eye_from_events import NEVER_DERIVABLE
    from models import load_runtime
    from models.train import TrainConfig
    from models.train import run as train_run

    absent = list(NEVER_DERIVABLE)
    idx = [FeatureSpec().eye_names.index(n) for n in absent]
    trials = _trials()
    for t in trials:
        t.eye[:, idx] = np.nan
    write_seedv(tmp_path / "data", trials)
    meta = {
        "feature_spec": FeatureSpec().to_dict(),
        "feature_source": {"eeg": "computed", "eye": "events", "eye_absent": absent},
    }
    (tmp_path / "data" / SPEC_FILE).write_text(json.dumps(meta))
    data = load_seedv(tmp_path / "data")
    cfg = TrainConfig.from_preset("tiny", epochs=1)
    train_run.run_cv(
        data, tmp_path / "run", cfg, folds_limit=1, final=False, baseline=False, device="cpu"
    )
    (path,) = sorted((tmp_path / "run").glob("fold_*.pt"))
    rt = load_runtime(path, device="cpu", warmup=0)
    assert rt.contract.feature_source == meta["feature_source"]

    class Keep(Sink):
        def __init__(self):
            self.frames, self.preds = [], []

        def on_features(self, frame):
            self.frames.append(frame)

        def on_prediction(self, pred):
            self.preds.append(pred)

    keep = Keep()
    driver = Driver.for_source(rt, RecordingSource(recording, rt.contract.feature_spec.ch_names),
                               sinks=[keep], step_s=1.0)  # fmt: skip
    try:
        driver.run()
    finally:
        driver.close()
    valid = [f for f in keep.frames if f.eye_valid]
    assert len(valid) >= 5 and len(keep.preds) >= 5
    rest = np.setdiff1d(np.arange(33), idx)
    for f in valid:
        assert np.isnan(f.eye[idx]).all() and np.isfinite(f.eye[rest]).all()
    assert sum(p.gates[1] > 0 for p in keep.preds) >= len(keep.preds) // 2
    assert not any(Flag.EYE_MASKED_RELEASE in p.flags for p in keep.preds)
    assert all(np.isfinite(p.probs).all() for p in keep.preds)


def test_absent_eye_columns_are_no_data_issue(tmp_path):
    trials = _trials(1)
    for t in trials:
        t.eye[:, 5] = np.nan
    trials[0].eye[0, 0] = np.inf  # a real fault is still reported
    write_seedv(tmp_path, trials)
    name = FeatureSpec().eye_names[5]
    meta = {
        "feature_spec": FeatureSpec().to_dict(),
        "feature_source": {"eeg": "computed", "eye": "events", "eye_absent": [name]},
    }
    (tmp_path / SPEC_FILE).write_text(json.dumps(meta))
    issues = load_seedv(tmp_path).issues
    assert len(issues) == 2 and "absent by design" in issues[0]
    assert "1 non-finite eye feature values" in issues[1]
    (tmp_path / SPEC_FILE).unlink()
    assert len(load_seedv(tmp_path).issues) == 45  # without the record: every trial is faulty


def test_masked_eye_skips_the_pupil_units_check(tmp_path):
    """A release's training pupils (px) say nothing about the live unit, and the eye is masked
    anyway: 4,000-unit pupils raise no eye_implausible flag for such a model."""
    from live_models import make_model_file

    from cmt_live.pipeline import Pipeline
    from models import load_runtime

    rt = load_runtime(make_model_file(tmp_path / "m.pt", context_len=2), warmup=0)
    d = rt.contract.to_dict()
    d["feature_source"] = {"eeg": "release", "eye": "release", "eye_absent": []}

    class Release:
        contract = ModelContract.from_dict(d)

    n = 480  # 4 s at 120 Hz
    gaze = np.column_stack([np.zeros((n, 2)), np.full((n, 2), 4000.0), np.ones(n)])
    for runtime, implausible in ((rt, True), (Release(), False)):
        pipe = Pipeline(runtime, Settings.from_contract(runtime.contract))
        assert (pipe.units.eye(gaze) is not None) == implausible
