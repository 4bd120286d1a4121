"""Session log (JSONL and CSV), ground-truth scoring, dashboard and the LSL outlet."""

import io
import json

import numpy as np
import pytest

from cmt_live.dashboard import Dashboard
from cmt_live.lsl.outlet import OUTLET_LABELS
from cmt_live.records import Flag, Prediction, StreamHealth
from cmt_live.sinks import CSV_COLUMNS, GroundTruth, SessionLog, read_log
from features.seedv import CLASS_NAMES


def pred(t_end, label="Happy", n_context=1, flags=()):
    probs = np.full(5, 0.1)
    probs[CLASS_NAMES.index(label)] = 0.6
    return Prediction(
        t_end=t_end,
        probs=probs,
        gates=np.array([0.7, 0.3]),
        label=label,
        flags=frozenset(flags),
        t_computed=t_end + 0.004,
        compute_ms=3.0,
        n_context=n_context,
    )


def test_ground_truth_scores_only_whole_windows_inside_a_class_segment():
    gt = GroundTruth(4.0)
    gt.add_marker(100.0, "Happy")
    gt.add_marker(120.0, "Rest")
    gt.add_marker(130.0, "Sad")
    assert gt.truth(103.0) is None  # window starts before the marker
    assert gt.truth(104.0) == "Happy" and gt.truth(120.0) == "Happy"
    assert gt.truth(121.0) is None  # straddles Happy/Rest
    assert gt.truth(125.0) is None  # Rest is not scored
    assert gt.truth(134.0) == "Sad"
    gt.score(pred(110.0, "Happy", n_context=2))  # context 102..110 inside: settled
    gt.score(pred(106.0, "Happy", n_context=3))  # context reaches 94: not settled
    gt.score(pred(115.0, "Fear"))
    gt.score(pred(125.0, "Fear"))  # not scored
    s = gt.summary()
    assert s["n_scored"] == 3 and s["accuracy"] == pytest.approx(2 / 3)
    assert s["n_settled"] == 2 and s["accuracy_settled"] == pytest.approx(1 / 2)


@pytest.mark.parametrize("ext", [".jsonl", ".csv"])
def test_session_log_every_line_parses_and_holds_everything(tmp_path, ext):
    path = tmp_path / f"s{ext}"
    log = SessionLog(path, start_info={"model": "m.pt"})
    log.on_marker(100.0, "Happy")
    for k in range(3):
        log.on_prediction(pred(104.0 + k, flags=("eye_missing",)))
    log.on_event("stale", "[Gaze] no sample for 1.00 s", 106.5)
    log.on_health([StreamHealth(name="EEG", status="connected", n_samples=10, t=106.6)])
    # Before close, everything written so far is on disk (flushed per line).
    rows = read_log(path)
    assert sum(r["kind"] == "prediction" for r in rows) == 3
    log.close()
    rows = read_log(path)
    kinds = [r["kind"] for r in rows]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert kinds.count("prediction") == 3 and "marker" in kinds and "health" in kinds
    ev = next(r for r in rows if r["kind"] == "event")
    assert ev["event"] == "stale" and "Gaze" in ev["message"]
    p = next(r for r in rows if r["kind"] == "prediction")
    if ext == ".csv":
        assert list(rows[0].keys()) == list(CSV_COLUMNS)
        assert float(p["p_Happy"]) == pytest.approx(0.6) and p["flags"] == "eye_missing"
        assert float(p["latency_ms"]) == pytest.approx(4.0, abs=1e-3)
        assert p["true_label"] == "Happy"
        end = json.loads(rows[-1]["message"])
    else:
        assert p["probs"]["Happy"] == pytest.approx(0.6) and p["flags"] == ["eye_missing"]
        assert p["true_label"] == "Happy"
        end = rows[-1]
    assert end["n_predictions"] == 3 and end["accuracy"]["accuracy"] == 1.0


@pytest.mark.parametrize("ext", [".jsonl", ".csv"])
def test_session_log_writes_non_finite_numbers_as_null(tmp_path, ext):
    # A stream that has not delivered yet has a NaN rate; the log must stay strict JSON.
    path = tmp_path / f"nan{ext}"
    log = SessionLog(path, start_info={"offset_s": float("nan")})
    log.on_health(
        [StreamHealth(name="EEG", status="connected", effective_rate=float("nan"), t=1.0)]
    )
    log.write_info("accuracy", {"accuracy": np.float32("inf")})
    log.close()
    rows = read_log(path)
    by_kind = {r["kind"]: r for r in rows}
    if ext == ".csv":
        by_kind = {k: json.loads(r["message"]) for k, r in by_kind.items()}
        assert by_kind["health"][0]["effective_rate"] is None
    else:
        assert by_kind["health"]["streams"][0]["effective_rate"] is None
    assert by_kind["start"]["offset_s"] is None and by_kind["accuracy"]["accuracy"] is None
    assert "NaN" not in path.read_text() and "Infinity" not in path.read_text()


def test_session_log_refuses_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match=r"use \.jsonl .* or \.csv"):
        SessionLog(tmp_path / "log.txt")


def test_dashboard_renders_prediction_health_and_accuracy():
    out = io.StringIO()
    d = Dashboard(out, ansi=True, refresh_hz=1000)
    d.on_marker(100.0, "Happy")
    d.on_health([StreamHealth(name="EEG", status="stale", nominal_rate=200, effective_rate=0.0)])
    d.on_prediction(pred(105.0, flags=("eye_stale",)))
    screen = d.render()
    assert "HAPPY" in screen and "60.0%" in screen and "eye_stale" in screen
    assert "stale" in screen and "accuracy vs markers 100.0%" in screen
    assert out.getvalue().startswith("\x1b[H\x1b[J")
    plain = io.StringIO()
    Dashboard(plain, ansi=False).on_prediction(pred(105.0))
    assert plain.getvalue().startswith("t=105.00 Happy")


@pytest.mark.lsl
def test_outlet_publishes_labelled_probabilities_stamped_with_t_end():
    import uuid

    import pylsl

    from cmt_live.lsl.outlet import LslOutletSink

    name = f"test-cmt-emotion-{uuid.uuid4().hex[:8]}"
    sink = LslOutletSink(name)
    try:
        info = pylsl.resolve_bypred(f"name='{name}'", 1, 5.0)[0]
        inlet = pylsl.StreamInlet(info)
        full = inlet.info(timeout=5.0)
        assert full.type() == "Emotion" and full.channel_count() == 8
        labels = []
        ch = full.desc().child("channels").child("channel")
        while not ch.empty():
            labels.append(ch.child_value("label"))
            ch = ch.next_sibling("channel")
        assert tuple(labels) == OUTLET_LABELS
        inlet.open_stream(timeout=5.0)
        t_end = pylsl.local_clock() - 0.5
        import time

        time.sleep(0.3)
        sink.on_prediction(pred(t_end, flags=(Flag.EYE_MISSING, Flag.EEG_IMPLAUSIBLE)))
        sample, ts = inlet.pull_sample(timeout=5.0)
        assert ts == pytest.approx(t_end, abs=1e-6)
        # The flags channel: a bit mask in the order the description lists.
        bits = full.desc().child_value("flag_bits").split(",")
        mask = (1 << bits.index("eye_missing")) | (1 << bits.index("eeg_implausible_units"))
        np.testing.assert_allclose(sample, [0.1, 0.1, 0.1, 0.1, 0.6, 0.7, 0.3, mask], atol=1e-6)
        inlet.close_stream()
    finally:
        sink.close()
