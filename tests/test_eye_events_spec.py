"""The eye-event detector's thresholds travel in the feature spec (and so in a model file)."""

from __future__ import annotations

import json

import pytest

import features.eye_events as ev
from features import FeatureSpec
from features.eye_events import event_thresholds


def test_spec_records_the_detector_thresholds_and_survives_json():
    spec = FeatureSpec()
    recorded = dict(spec.eye_events)
    assert recorded == event_thresholds()
    assert recorded["velocity_half_span_ms"] == ev.VELOCITY_HALF_SPAN_MS
    assert recorded["min_saccade_ms"] == ev.MIN_SACCADE_MS
    assert recorded["blink_min_ms"] == ev.BLINK_MIN_MS
    assert recorded["detector_version"] == ev.DETECTOR_VERSION
    d = json.loads(json.dumps(spec.to_dict()))
    assert d["eye_events"]["saccade_velocity_deg_s"] == ev.SACCADE_VELOCITY_DEG_S
    assert FeatureSpec.from_dict(d) == spec
    hash(spec)  # still a frozen, hashable spec


def test_old_spec_without_thresholds_reads_as_not_recorded():
    d = FeatureSpec().to_dict()
    del d["eye_events"]
    old = FeatureSpec.from_dict(d)
    assert old.eye_events == ()
    (line,) = FeatureSpec().mismatches(old)
    assert "not recorded" in line and "older detector" in line


def test_changed_threshold_is_named_in_the_mismatch():
    changed = {**event_thresholds(), "min_saccade_ms": 10.0}
    (line,) = FeatureSpec().mismatches(FeatureSpec(eye_events=changed))
    assert "min_saccade_ms" in line and "10.0" in line
    assert FeatureSpec().mismatches(FeatureSpec()) == []


def test_bad_thresholds_give_one_line_error():
    with pytest.raises(ValueError, match=r"eye_events=.*threshold names to numbers"):
        FeatureSpec(eye_events={"min_saccade_ms": "short"})
