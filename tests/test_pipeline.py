"""The live core driven in-process with fake EEG and gaze (no LSL)."""

import numpy as np
import pytest
from live_models import make_model_file

from cmt_live.channels import match_gaze_channels
from cmt_live.pipeline import Pipeline
from cmt_live.records import Flag
from cmt_live.settings import ContractError, Settings
from cmt_live.sinks import Sink
from cmt_live.source import Batch
from features import FeatureSpec

T0 = 1000.0


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    from models import load_runtime

    path = make_model_file(tmp_path_factory.mktemp("m") / "tiny.pt")
    return load_runtime(path, device="cpu", threads=1, warmup=2)


def make(runtime, sinks=(), **settings):
    return Pipeline(runtime, Settings.from_contract(runtime.contract, **settings), sinks=sinks)


class Recorder(Sink):
    def __init__(self):
        self.preds, self.events, self.frames, self.markers, self.closed = [], [], [], [], False
        self.gaze_ts = []

    def on_prediction(self, p):
        self.preds.append(p)

    def on_event(self, kind, message, t):
        self.events.append((kind, message, t))

    def on_gaze(self, timestamps, gaze):
        self.gaze_ts.append(timestamps)

    def on_features(self, f):
        self.frames.append(f)

    def on_marker(self, t, label):
        self.markers.append((t, label))

    def close(self):
        self.closed = True


def fake_eeg(duration_s, sfreq=200.0, seed=0):
    rng = np.random.default_rng(seed)
    n = int(duration_s * sfreq)
    t = np.arange(n) / sfreq
    x = 10e-6 * np.sin(2 * np.pi * 10 * t)[:, None] + 5e-6 * rng.standard_normal((n, 62))
    return x, T0 + t


def fake_gaze(duration_s, rate=120.0, seed=0):
    rng = np.random.default_rng(seed)
    ts = T0 + np.arange(0, duration_s, 1 / rate) + rng.uniform(0, 2e-3, int(duration_s * rate))
    n = ts.size
    g = np.column_stack(
        [rng.normal(0, 2, n), rng.normal(0, 2, n), 3 + 0 * ts, 3.1 + 0 * ts, np.ones(n)]
    )
    return g, np.sort(ts)


def drive(pipe, eeg, ets, gaze=None, gts=None, chunk_s=0.05, gaze_until=None):
    sfreq = pipe.settings.eeg_sfreq
    step = max(1, int(chunk_s * sfreq))
    out = []
    for i in range(0, len(ets), step):
        t_hi = ets[min(i + step, len(ets) - 1)]
        g, g_ts = np.zeros((0, 5)), np.zeros(0)
        if gaze is not None:
            sel = (gts >= ets[i] - 1e-9) & (gts < t_hi)
            if gaze_until is not None:
                sel &= gts < gaze_until
            g, g_ts = gaze[sel], gts[sel]
        batch = Batch(
            eeg=eeg[i : i + step],
            eeg_ts=ets[i : i + step],
            gaze=g,
            gaze_ts=g_ts,
            eye_stale=gaze_until is not None and t_hi > gaze_until + 1.0,
        )
        out += pipe.process(batch)
    return out


def test_happy_path_one_prediction_per_step(runtime):
    rec = Recorder()
    pipe = make(runtime, [rec])
    eeg, ets = fake_eeg(20)
    g, gts = fake_gaze(20.5)
    preds = drive(pipe, eeg, ets, g, gts)
    assert len(preds) >= 15 and rec.preds == preds
    np.testing.assert_allclose(np.diff([p.t_end for p in preds]), 1.0, atol=1e-6)
    assert preds[0].t_end == pytest.approx(T0 + 4.0)
    for p in preds:
        assert p.probs.sum() == pytest.approx(1.0, abs=1e-5)
        assert p.gates.sum() == pytest.approx(1.0, abs=1e-5)
        assert not p.flags and p.compute_ms > 0
    # Context spaced window_s apart: at t_end = T0+16 the frames T0+4, 8, 12, 16 are valid.
    at16 = next(p for p in preds if abs(p.t_end - (T0 + 16)) < 1e-6)
    assert at16.n_context == 4
    assert len(rec.frames) == len(preds)
    # Every gaze sample reaches the sinks once, in order (the monitor's raw pupil trace).
    got = np.concatenate(rec.gaze_ts)
    assert got.size > 0.95 * 19.9 * 120 and np.all(np.diff(got) > 0) and np.isin(got, gts).all()


def test_same_samples_any_chunking_same_predictions(runtime):
    eeg, ets = fake_eeg(12)
    g, gts = fake_gaze(12.5)
    a = drive(make(runtime), eeg, ets, g, gts, chunk_s=0.02)
    b = drive(make(runtime), eeg, ets, g, gts, chunk_s=0.37)
    assert [p.t_end for p in a] == [p.t_end for p in b]
    for pa, pb in zip(a, b):
        np.testing.assert_array_equal(pa.probs, pb.probs)


def test_no_gaze_stream_gives_eeg_only_predictions(runtime):
    pipe = make(runtime, has_gaze=False)
    eeg, ets = fake_eeg(10)
    preds = drive(pipe, eeg, ets)
    assert len(preds) >= 6
    for p in preds:
        assert Flag.EYE_MISSING in p.flags
        assert p.gates[1] < 1e-3 and p.gates[0] > 0.999


def test_gaze_lost_mid_run_switches_to_eeg_only(runtime):
    rec = Recorder()
    pipe = make(runtime, [rec])
    eeg, ets = fake_eeg(20)
    g, gts = fake_gaze(20.5)
    preds = drive(pipe, eeg, ets, g, gts, gaze_until=T0 + 10.0)
    before = [p for p in preds if p.t_end <= T0 + 10.0]
    after = [p for p in preds if p.t_end >= T0 + 11.5]
    assert before and after, "predictions continue after the gaze stream is lost"
    assert all(Flag.EYE_MISSING not in p.flags for p in before)
    for p in after:
        assert Flag.EYE_MISSING in p.flags or Flag.EYE_STALE in p.flags
        assert p.gates[1] < 1e-3
    # Every step still produced a prediction: none was skipped.
    np.testing.assert_allclose(np.diff([p.t_end for p in preds]), 1.0, atol=1e-6)


def test_nan_burst_is_flagged_and_recovers(runtime):
    rec = Recorder()
    pipe = make(runtime, [rec], has_gaze=False)
    eeg, ets = fake_eeg(20)
    eeg[int(8.0 * 200) : int(8.2 * 200)] = np.nan
    drive(pipe, eeg, ets)
    hit = [f for f in rec.frames if T0 + 8.0 < f.t_end <= T0 + 12.2]
    assert hit and all(not f.eeg_valid and Flag.EEG_NONFINITE in f.flags for f in hit)
    # A window with no usable modality gives an event, not a prediction.
    assert any(k == Flag.NO_VALID_CONTEXT for k, _, _ in rec.events)
    late = [f for f in rec.frames if f.t_end >= T0 + 13.0]
    assert late and all(f.eeg_valid for f in late)
    assert np.isfinite(late[-1].eeg).all()


def test_1000hz_eeg_is_resampled_to_the_model_rate(runtime):
    rec = Recorder()
    pipe = make(runtime, [rec], eeg_sfreq=1000.0, has_gaze=False)
    eeg, ets = fake_eeg(12, sfreq=1000.0)
    preds = drive(pipe, eeg, ets)
    assert len(preds) >= 7
    frame = rec.frames[-1]
    # Known answer survives resampling: 10 Hz lands in alpha.
    assert int(np.argmax(frame.eeg.reshape(5, 62).mean(axis=1))) == 2
    # Window ends are on the input clock (the resampler's group delay is not subtracted).
    assert preds[0].t_end == pytest.approx(T0 + 4.0, abs=0.006)


def test_at_1000hz_a_window_closes_with_its_last_input_sample(runtime):
    """The causal resampler stamps each output sample with the newest input it uses, so its
    ~8-ms group delay adds no wait: the push holding the input sample at a window's end
    completes the window (subtracting the delay from the stamps made it wait ~8 ms more)."""
    pipe = make(runtime, [], eeg_sfreq=1000.0, has_gaze=False)
    eeg, ets = fake_eeg(4.5, sfreq=1000.0)
    n_bulk = 3900  # up to 3.9 s in one push, then one sample per push
    assert not pipe.process(Batch(eeg=eeg[:n_bulk], eeg_ts=ets[:n_bulk]))
    for i in range(n_bulk, len(ets)):
        preds = pipe.process(Batch(eeg=eeg[i : i + 1], eeg_ts=ets[i : i + 1]))
        if preds:
            break
    assert preds, "no window in 4.5 s of EEG"
    # Windows are [t_end - 4 s, t_end): their last 200-Hz sample is stamped t_end - 5 ms.
    assert ets[i] == pytest.approx(preds[0].t_end - 1 / 200, abs=1e-9), (ets[i], preds[0].t_end)


def test_markers_and_close_reach_the_sinks(runtime):
    rec = Recorder()
    pipe = make(runtime, [rec], has_gaze=False)
    pipe.push(Batch(markers=[(T0, "Happy")]))
    pipe.close()
    assert rec.markers == [(T0, "Happy")] and rec.closed


def test_contract_mismatches_are_refused_with_the_fix(runtime):
    with pytest.raises(ContractError, match="eye_stats='window'"):
        Settings(FeatureSpec(eye_stats="clip"))
    with pytest.raises(ContractError, match="too low"):
        Settings(FeatureSpec(), eeg_sfreq=50.0)
    with pytest.raises(ContractError, match="irregular rate"):
        Settings(FeatureSpec(), eeg_sfreq=0.0)
    with pytest.raises(ContractError, match="whole number of samples"):
        Settings(FeatureSpec(), step_s=0.0123)
    with pytest.raises(ContractError, match="unfiltered EEG at 200"):
        Settings(FeatureSpec(preprocess=False), eeg_sfreq=500.0)
    with pytest.raises(ContractError, match="SEED-V's class order"):
        Settings(FeatureSpec(), class_names=("Happy", "Sad", "Fear", "Neutral", "Disgust"))
    with pytest.raises(ContractError, match="lacks the columns"):
        match_gaze_channels(["x", "y", "pupil"])
    with pytest.raises(ValueError, match="model's channel order"):
        make(runtime).process(Batch(eeg=np.zeros((5, 4)), eeg_ts=np.arange(5.0)))


def test_settings_are_frozen_and_derive_the_window_grid(runtime):
    s = Settings.from_contract(runtime.contract, step_s=0.5, eeg_sfreq=1000.0)
    assert s.windows.n_step == round(0.5 * s.spec.sfreq) and s.eeg_sfreq == 1000.0
    with pytest.raises(AttributeError):
        s.step_s = 1.0
    with pytest.raises(ValueError, match="differs from the model's feature spec"):
        Pipeline(runtime, Settings(FeatureSpec(window_s=2.0)))


def test_gaze_channels_by_alias():
    idx = match_gaze_channels(["valid", "GazeX", "GazeY", "pupil_left", "pupil_right"])
    assert idx.tolist() == [1, 2, 3, 4, 0]


def test_eeg_lost_mid_run_switches_to_eye_only(runtime):
    rec = Recorder()
    pipe = make(runtime, [rec])
    eeg, ets = fake_eeg(12)
    g, gts = fake_gaze(20.5)
    preds = drive(pipe, eeg, ets, g, gts)
    t_lost = ets[-1]
    # The EEG stops; gaze keeps coming and the watchdog reports the EEG stale.
    for lo in np.arange(t_lost, T0 + 20.0, 0.25):
        sel = (gts >= lo) & (gts < lo + 0.25)
        preds += pipe.process(Batch(gaze=g[sel], gaze_ts=gts[sel], eeg_stale=True))
    after = [p for p in preds if p.t_end > t_lost + 0.5]
    assert len(after) >= 6, "eye-only predictions continue every step"
    for p in after:
        assert {Flag.EEG_MISSING, Flag.EEG_STALE} <= p.flags
        assert p.gates[0] < 1e-3 and p.gates[1] == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(np.diff([p.t_end for p in preds]), 1.0, atol=1e-6)


def test_eeg_backlog_after_a_stale_spell_does_not_go_back_in_time(runtime):
    """The EEG stalls (watchdog: stale) while gaze flows, eye-only windows are cut, then the
    stalled samples arrive late: the EEG grid must not cut windows older than those already
    predicted (the context needs frames in time order; seen on a loaded machine: the
    pipeline stopped with "FeatureFrame t_end=... is not after the previous frame's")."""
    rec = Recorder()
    pipe = make(runtime, [rec])
    eeg, ets = fake_eeg(20)
    g, gts = fake_gaze(20.5)
    n_stall = 10 * 200  # 10 s of EEG at 200 Hz
    preds = drive(pipe, eeg[:n_stall], ets[:n_stall], g, gts, gaze_until=ets[n_stall])
    t_stall = ets[n_stall - 1]
    for lo in np.arange(t_stall, t_stall + 3.0, 0.25):  # 3 s of gaze, EEG stale
        sel = (gts > lo) & (gts <= lo + 0.25)
        preds += pipe.process(Batch(gaze=g[sel], gaze_ts=gts[sel], eeg_stale=True))
    assert any(Flag.EEG_STALE in p.flags for p in preds), "eye-only windows were cut"
    # The stalled EEG arrives in one burst, then flows on with the gaze.
    preds += pipe.process(Batch(eeg=eeg[n_stall : n_stall + 3 * 200],
                                eeg_ts=ets[n_stall : n_stall + 3 * 200]))  # fmt: skip
    rest = slice(n_stall + 3 * 200, None)
    preds += drive(pipe, eeg[rest], ets[rest], g, gts)
    t_ends = [p.t_end for p in preds]
    assert np.all(np.diff(t_ends) > 0)
    assert t_ends[-1] > ets[-1] - 1.5  # EEG windows resumed after the backlog


@pytest.mark.parametrize("gaze_lag_s", [0.0, 0.04])
def test_latency_budget_says_where_the_time_went(runtime, tmp_path, gaze_lag_s):
    """Each batch 'arrives' 2 ms after its last EEG sample (a fake clock); gaze lags the EEG
    by ``gaze_lag_s``. The budget shows the EEG wait (arrival - window end: -3 or +2 ms with
    two-sample chunks), the gaze wait (the lag, up to a chunk and a gaze period more), and
    the compute parts; the session log carries it."""
    from cmt_live.sinks import SessionLog

    now = [0.0]
    rec = Recorder()
    log = SessionLog(tmp_path / "s.jsonl")
    pipe = Pipeline(
        runtime,
        Settings.from_contract(runtime.contract, gaze_sfreq=120.0),
        sinks=[rec, log],
        clock=lambda: now[0],
    )
    eeg, ets = fake_eeg(12)
    gts = T0 + np.arange(0, 12, 1 / 120)
    g = np.column_stack([0 * gts, 0 * gts, 3 + 0 * gts, 3 + 0 * gts, 1 + 0 * gts])
    for i in range(0, len(ets), 2):  # 10-ms chunks
        t_hi = ets[i + 1]
        now[0] = t_hi + 0.002
        sel = (gts > t_hi - 0.01 - gaze_lag_s) & (gts <= t_hi - gaze_lag_s)
        pipe.process(
            Batch(eeg=eeg[i : i + 2], eeg_ts=ets[i : i + 2], gaze=g[sel], gaze_ts=gts[sel])
        )
    log.close()
    assert len(rec.preds) >= 7
    for p in rec.preds:
        b = p.budget
        assert list(b) == ["wait_eeg", "wait_gaze", "queue", "features", "model", "sinks"]
        assert -3.0 - 1e-6 <= b["wait_eeg"] <= 2.0 + 1e-6, b
        assert gaze_lag_s * 1e3 - 10 - 1e-6 <= b["wait_gaze"] <= gaze_lag_s * 1e3 + 10 + 8.4, b
        assert b["queue"] == 0.0 and b["features"] > 0 and b["model"] > 0
        assert b["sinks"] >= 0 and p.compute_ms == pytest.approx(b["features"] + b["model"])
    if gaze_lag_s:
        assert min(p.budget["wait_gaze"] for p in rec.preds) >= 25
    import json

    rows = [json.loads(r) for r in (tmp_path / "s.jsonl").read_text().splitlines()]
    logged = [r["budget_ms"] for r in rows if r["kind"] == "prediction"]
    assert logged[0]["wait_gaze"] == pytest.approx(rec.preds[0].budget["wait_gaze"])
    # Each sink reads the time of the sinks before it: none for the first, the recorder's for
    # the log (its own record: the recorder's copy is not changed afterwards).
    assert all(p.budget["sinks"] == 0.0 for p in rec.preds)
    assert all(b["sinks"] > 0.0 for b in logged)


def test_warm_runs_the_model_once_just_before_each_window_closes(runtime):
    """A discarded model call when the next window's last sample is <= lead_s away, once per
    window, on the last call's inputs: with 10-ms chunks and a 40-ms lead it runs 30-40 ms
    (in EEG time) before each window's end, and the predictions are unchanged by it."""

    class Counting:
        def __init__(self, rt):
            self.rt, self.contract, self.calls = rt, rt.contract, []

        def predict_batch(self, *a):
            self.calls.append(now[0])
            return self.rt.predict_batch(*a)

    now = [0.0]
    counting = Counting(runtime)
    pipe = Pipeline(counting, Settings.from_contract(runtime.contract, has_gaze=False))
    plain = make(runtime, has_gaze=False)
    eeg, ets = fake_eeg(8)
    warm_at, preds, ref = [], [], []
    for i in range(0, len(ets), 2):  # 10-ms chunks
        now[0] = ets[i + 1] + 1 / 200  # the time after the chunk's last sample
        batch = Batch(eeg=eeg[i : i + 2], eeg_ts=ets[i : i + 2])
        preds += pipe.process(batch)
        ref += plain.process(batch)
        n = len(counting.calls)
        assert not pipe.warm(0.04) or len(counting.calls) == n + 1
        if len(counting.calls) > n:
            warm_at.append(now[0])
        assert not pipe.warm(0.04)  # once per window
    ends = [p.t_end for p in preds]
    assert len(ends) >= 4 and pipe.n_warmups == len(ends) - 1  # none before the first one
    for t_end in ends[1:]:
        lead = [t_end - t for t in warm_at if 0 < t_end - t < 0.5]
        assert len(lead) == 1 and 0.03 - 1e-9 <= lead[0] <= 0.04 + 1e-9, (t_end, lead)
    assert [p.probs.tolist() for p in preds] == [p.probs.tolist() for p in ref]


def _assert_replay_needs_the_cut_offs(runtime, settings, data, live_frames, cutoffs):
    """A fast replay (one step of EEG and all its gaze per batch) given the live session's
    gaze cut-offs gives every window the live eye features; without them, not all."""
    eeg, ets, g, gts = data
    n = round(settings.step_s * 200)

    def replay(cut):
        r = Recorder()
        pipe = Pipeline(runtime, settings, sinks=[r], gaze_cutoffs=cut)
        for i in range(0, len(ets), n):
            sel = (gts >= ets[i]) & (gts < ets[i] + settings.step_s)
            pipe.process(
                Batch(eeg=eeg[i : i + n], eeg_ts=ets[i : i + n], gaze=g[sel], gaze_ts=gts[sel])
            )
        return {f.t_end: f.eye for f in r.frames}

    live_eye = {f.t_end: f.eye for f in live_frames}
    same, other = replay(cutoffs), replay(())
    assert list(same) == list(live_eye)
    for t, eye in live_eye.items():
        np.testing.assert_array_equal(same[t], eye)
    assert any(not np.array_equal(other[t], eye) for t, eye in live_eye.items())


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_replay_with_the_logged_gaze_cut_offs_cuts_the_same_gaze(runtime, tmp_path, fmt):
    """Live, the gaze lags the EEG by 0.4 s (> gaze_wait_s 0.25): each window closes with the
    gaze that had arrived (to ~0.15 s before its end) and the session log records that
    cut-off. A fast replay (all gaze there at once) given those cut-offs reproduces every
    window's eye features; without them the eye features differ (it sees more gaze)."""
    from cmt_live.sinks import SessionLog, read_gaze_cutoffs

    lag = 0.4
    settings = Settings.from_contract(runtime.contract, gaze_sfreq=120.0, step_s=1.0)
    rec, log = Recorder(), SessionLog(tmp_path / f"s.{fmt}")
    live = Pipeline(runtime, settings, sinks=[rec, log])
    eeg, ets = fake_eeg(10)
    g, gts = fake_gaze(10)
    for i in range(0, len(ets), 2):  # 10-ms chunks, gaze stamped up to lag before the EEG
        t_hi = ets[i + 1]
        sel = (gts > t_hi - 0.01 - lag) & (gts <= t_hi - lag)
        live.process(
            Batch(eeg=eeg[i : i + 2], eeg_ts=ets[i : i + 2], gaze=g[sel], gaze_ts=gts[sel])
        )
    log.close()
    cutoffs = read_gaze_cutoffs(tmp_path / f"s.{fmt}")
    assert len(cutoffs) == len(rec.frames) >= 6
    # Closed when the EEG was gaze_wait_s past the end: gaze up to then, less the lag.
    assert all(-0.025 < ge - (t + 0.25 - lag) < 0.01 for t, ge in cutoffs), cutoffs
    _assert_replay_needs_the_cut_offs(runtime, settings, (eeg, ets, g, gts), rec.frames, cutoffs)


def test_jittered_gaze_landing_in_a_predicted_window_is_logged_and_replayed(runtime, tmp_path):
    """Live, 120 Hz gaze stamps jitter by up to +-3.3 ms (0.4 period) and arrive with the EEG in
    10-ms chunks: a window closes once gaze is within 3/4 of a period of its end, and now and
    then the next sample is stamped before that end. The log records those windows' cut-offs;
    a fast replay given them reproduces every window's eye features, without them it does not."""
    from cmt_live.sinks import SessionLog, read_gaze_cutoffs

    settings = Settings.from_contract(runtime.contract, gaze_sfreq=120.0, step_s=0.5)
    rec, log = Recorder(), SessionLog(tmp_path / "s.jsonl")
    live = Pipeline(runtime, settings, sinks=[rec, log])
    eeg, ets = fake_eeg(12)
    g, gts = fake_gaze(12)
    gts = gts + np.random.default_rng(3).uniform(-0.4, 0.4, gts.size) / 120
    for i in range(0, len(ets), 2):
        sel = (gts > ets[i] - 0.005) & (gts <= ets[i] + 0.005)
        live.process(
            Batch(eeg=eeg[i : i + 2], eeg_ts=ets[i : i + 2], gaze=g[sel], gaze_ts=gts[sel])
        )
    log.close()
    cutoffs = read_gaze_cutoffs(tmp_path / "s.jsonl")
    assert 1 <= len(cutoffs) < len(rec.frames), (len(cutoffs), len(rec.frames))
    assert all(0 < t - ge < 1 / 120 for t, ge in cutoffs), cutoffs
    _assert_replay_needs_the_cut_offs(runtime, settings, (eeg, ets, g, gts), rec.frames, cutoffs)


def test_read_gaze_cutoffs_names_a_file_that_is_no_session_log(tmp_path):
    from cmt_live.sinks import read_gaze_cutoffs

    bad = tmp_path / "x.jsonl"
    bad.write_text("not json\n")
    with pytest.raises(ValueError, match=r"x\.jsonl: cannot read gaze cut-offs .* cmt-live --log"):
        read_gaze_cutoffs(bad)


def test_a_realtime_run_puts_the_gil_switch_interval_back(runtime):
    """The realtime loop shortens the process-wide switch interval while it runs, and only
    then: it is restored when the source ends."""
    import sys

    from cmt_live.driver import Driver

    eeg, ets = fake_eeg(6)
    seen = []
    batches = [Batch(eeg=eeg[i : i + 20], eeg_ts=ets[i : i + 20]) for i in range(0, 1200, 20)]

    class Realtime:
        realtime = True

        def read(self):
            seen.append(sys.getswitchinterval())
            return batches.pop(0) if batches else None

        def health(self):
            return []

    before = sys.getswitchinterval()
    Driver(make(runtime, has_gaze=False), Realtime()).run()
    assert min(seen) < before and sys.getswitchinterval() == before
