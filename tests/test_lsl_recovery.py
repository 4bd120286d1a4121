"""The recovery state machine and the reconnect checks, driven without LSL (known answers).

Times are chosen exactly representable in binary (multiples of 1/8 s), so every comparison
with a threshold is exact and the expected times are the thresholds themselves.
"""

from collections import Counter

import numpy as np
import pytest

from cmt_live.lsl import recovery as rec
from cmt_live.lsl.recovery import RecoveryMachine, RecoverySettings, Step
from cmt_live.lsl.resolve import StreamFormat, classify, description_change, format_change
from cmt_live.records import StreamMeta

S = RecoverySettings(
    stale_after_s=0.5, reresolve_interval_s=0.125, reresolve_max_interval_s=0.5, lost_after_s=4.0
)
T0 = 10.0  # the last sample before the outage


class FakeClock:
    """Hands the machine its times: ``tick_until`` ticks every ``dt`` seconds."""

    def __init__(self, t: float):
        self.t = t

    def tick_until(self, machine, t_end, *, dt=0.125, on_resolve=None):
        """Tick ``machine`` up to ``t_end`` (inclusive); returns ``[(t, step), ...]``.

        ``on_resolve``: ``(outcome, detail)`` answered to every re-resolution, at once.
        """
        steps = []
        while self.t <= t_end:
            step = machine.tick(self.t)
            steps.append((self.t, step))
            if step.reresolve and on_resolve is not None:
                steps.append((self.t, machine.resolved(self.t, *on_resolve)))
            self.t += dt
        return steps


def _machine(settings=S):
    m = RecoveryMachine(settings, t=0.0)
    assert m.data(T0) == Step(rec.CONNECTED)
    return m


def _events(steps):
    return [e for _, step in steps for e in step.events]


def _resolve_times(steps):
    return [t for t, step in steps if step.reresolve]


def test_stale_after_stale_after_s_once_and_a_reresolution_at_once():
    m = _machine()
    steps = FakeClock(T0).tick_until(m, 10.5)
    assert all(s == Step(rec.CONNECTED) for t, s in steps if t < 10.5)
    _, last = steps[-1]
    assert last == Step(
        rec.RECOVERING, (("stale", "no sample for 0.50 s (limit 0.5 s)", 10.5),), rec.RESOLVE
    )
    assert m.t_outage == T0 and m.n_resolves == 1


def test_a_late_start_is_not_an_outage():
    m = RecoveryMachine(S, t=0.0)
    m.begin(100.0)
    assert m.tick(100.375) == Step(rec.CONNECTED)
    assert m.tick(100.5).status == rec.RECOVERING


def test_reresolutions_back_off_to_the_cap_and_absent_is_told_once():
    m = _machine()
    steps = FakeClock(T0).tick_until(m, 12.5, on_resolve=(rec.NOTHING, ""))
    # Pauses 0.125, 0.25, 0.5, then 0.5 for as long as nothing answers.
    assert _resolve_times(steps) == [10.5, 10.625, 10.875, 11.375, 11.875, 12.375]
    assert [k for k, _, _ in _events(steps)] == ["stale", "absent"]
    assert _events(steps)[1] == ("absent", "no stream matches the pinned identity; retrying", 10.5)
    assert steps[-1][1].status == rec.ABSENT


def test_a_silent_outlet_that_is_still_there_keeps_its_inlet():
    m = _machine()
    steps = FakeClock(T0).tick_until(m, 11.5, on_resolve=(rec.SAME, "d"))
    assert all(s.action != rec.OPEN for _, s in steps)
    assert steps[-1][1].status == rec.STALE
    assert [k for k, _, _ in _events(steps)] == ["stale"]  # no event for "still there"
    assert m.data(11.625).events == (("connected", "samples flow again after 1.62 s", 11.625),)
    assert m.n_recoveries == 1 and m.t_outage is None


def test_a_new_outlet_gets_a_fresh_inlet_then_data_end_the_outage():
    m = _machine()
    FakeClock(T0).tick_until(m, 10.875, on_resolve=(rec.NOTHING, ""))
    assert m.tick(11.375).reresolve
    assert m.resolved(11.375, rec.NEW, "name='EEG'") == Step(rec.ABSENT, (), rec.OPEN)
    assert m.opened(11.375, "name='EEG'") == Step(
        rec.RECOVERING, (("reconnected", "opened a fresh inlet on name='EEG'", 11.375),)
    )
    step = m.data(11.5)
    assert step == Step(rec.CONNECTED, (("connected", "samples flow again after 1.50 s", 11.5),))
    # The backoff starts again from the first pause at the next outage.
    steps = FakeClock(11.5).tick_until(m, 12.5, on_resolve=(rec.NOTHING, ""))
    assert _resolve_times(steps) == [12.0, 12.125, 12.375]


def test_lost_inlet_reresolves_at_once_and_reopens_even_on_the_same_outlet():
    m = _machine()
    step = m.lost(10.25)
    assert step == Step(
        rec.RECOVERING, (("recovering", "stream lost (LostError); re-resolving", 10.25),)
    )
    assert not m.has_inlet and m.t_outage == 10.25
    assert m.tick(10.25).reresolve  # no waiting for staleness
    # The outlet is still advertised but our connection is gone: a fresh inlet on it.
    assert m.resolved(10.25, rec.SAME, "d").action == rec.OPEN
    m.opened(10.25, "d")
    assert m.has_inlet


def test_a_failed_open_is_retried_after_a_pause():
    m = _machine()
    m.lost(10.25)
    assert m.tick(10.25).reresolve
    assert m.resolved(10.25, rec.NEW, "d").action == rec.OPEN
    step = m.open_failed(10.5, "no answer within 2 s")
    assert step == Step(rec.RECOVERING, (("recovering", "no answer within 2 s", 10.5),))
    assert not m.tick(10.5).reresolve and m.tick(10.625).reresolve


def test_refused_stream_is_a_status_told_once_and_the_right_one_is_taken_later():
    m = _machine()
    why = "came back with a nominal rate of 100 Hz instead of 200 Hz; ..."
    steps = FakeClock(T0).tick_until(m, 11.5, on_resolve=(rec.REFUSED, why))
    assert steps[-1][1].status == rec.REFUSED
    assert [e for e in _events(steps) if e[0] == "refused"] == [("refused", why, 10.5)]
    assert all(s.action != rec.OPEN for _, s in steps)
    # The right stream comes back: a fresh inlet, and its data end the outage.
    assert m.tick(11.875).reresolve
    assert m.resolved(11.875, rec.NEW, "d").action == rec.OPEN
    assert m.opened(11.875, "d").status == rec.RECOVERING
    assert m.data(12.0).status == rec.CONNECTED


def test_an_outage_longer_than_lost_after_s_is_told_once_and_recovery_goes_on():
    m = _machine()
    steps = FakeClock(T0).tick_until(m, 16.0, on_resolve=(rec.NOTHING, ""))
    lost = [(t, s) for t, s in steps if any(e[0] == "lost" for e in s.events)]
    assert len(lost) == 1 and lost[0][0] == 14.0  # last sample at 10.0 + 4.0
    assert lost[0][1].events[-1] == (
        "lost",
        "stream away for 4.0 s (limit 4 s); still trying to reconnect",
        14.0,
    )
    assert m.is_lost and all(s.status == rec.LOST for t, s in steps if t >= 14.0)
    assert max(_resolve_times(steps)) >= 15.5  # still re-resolving after the loss
    m.opened(16.0, "d")
    assert m.status == rec.LOST  # "lost" until data flow
    assert m.data(16.125).events == (("connected", "samples flow again after 6.12 s", 16.125),)
    assert not m.is_lost and m.status == rec.CONNECTED
    # A later outage is judged on its own length.
    steps = FakeClock(16.25).tick_until(m, 19.0, on_resolve=(rec.NOTHING, ""))
    assert not m.is_lost and "lost" not in [k for k, _, _ in _events(steps)]


def test_no_limit_never_loses():
    m = _machine(RecoverySettings(stale_after_s=0.5))
    steps = FakeClock(T0).tick_until(m, 100.0, dt=0.5, on_resolve=(rec.NOTHING, ""))
    assert "lost" not in [k for k, _, _ in _events(steps)] and m.status == rec.ABSENT


def test_each_transition_event_is_emitted_exactly_once():
    m = _machine()
    clock = FakeClock(T0)
    steps = clock.tick_until(m, 11.0, on_resolve=(rec.NOTHING, ""))
    steps += clock.tick_until(m, 12.0, on_resolve=(rec.AMBIGUOUS, "2 new streams match"))
    steps += clock.tick_until(m, 13.0, on_resolve=(rec.NOTHING, ""))
    steps.append((13.0, m.data(13.0)))
    steps += FakeClock(13.125).tick_until(m, 14.0, on_resolve=(rec.SAME, ""))
    kinds = [k for k, _, _ in _events(steps)]
    assert kinds == ["stale", "absent", "recovering", "connected", "stale"]
    assert Counter(kinds)["connected"] == m.n_recoveries == 1


def test_failed_reader_is_absent_with_an_error_event():
    m = _machine()
    assert m.failed(10.25, "OSError()") == Step(
        rec.ABSENT, (("error", "reader thread stopped: OSError()", 10.25),)
    )


def test_settings_and_outcomes_are_checked():
    with pytest.raises(ValueError, match=r"stale_after_s must be > 0 s; got 0"):
        RecoverySettings(stale_after_s=0)
    with pytest.raises(ValueError, match=r"reresolve_interval_s must be > 0 s; got 0"):
        RecoverySettings(stale_after_s=1, reresolve_interval_s=0)
    with pytest.raises(ValueError, match=r"reresolve_max_interval_s must be >= .*got 0.1"):
        RecoverySettings(stale_after_s=1, reresolve_interval_s=0.5, reresolve_max_interval_s=0.1)
    with pytest.raises(ValueError, match=r"lost_after_s must be > 0 s or None; got -1"):
        RecoverySettings(stale_after_s=1, lost_after_s=-1)
    with pytest.raises(ValueError, match=r"outcome must be one of .*; got 'maybe'"):
        _machine().resolved(1.0, "maybe")


# --- may a stream that came back replace the old one? --------------------------------------
EEG = StreamFormat(n_channels=4, sfreq=200.0, channel_format=1)


def test_same_format_is_accepted():
    assert format_change(EEG, StreamFormat(4, 200.0, 1)) is None


@pytest.mark.parametrize(
    ("new", "says"),
    [
        (StreamFormat(4, 100.0, 1), "a nominal rate of 100 Hz instead of 200 Hz"),
        (StreamFormat(4, 0.0, 1), "a nominal rate of 0 Hz instead of 200 Hz"),
        (StreamFormat(4, 200.0, 5), "channel format int16 instead of float32"),
        (StreamFormat(8, 200.0, 1), "8 channels instead of 4"),
        (
            StreamFormat(8, 250.0, 2),
            "8 channels instead of 4 and a nominal rate of 250 Hz instead of 200 Hz and "
            "channel format double64 instead of float32",
        ),
    ],
)
def test_changed_format_is_refused_naming_old_new_and_the_fix(new, says):
    msg = format_change(EEG, new)
    assert msg.startswith(f"came back with {says}; its data are refused")
    assert "restart cmt-live with a model and stream that match" in msg


class FakeInfo:
    """The ``pylsl.StreamInfo`` getters :func:`classify` uses."""

    def __init__(self, uid, *, n=4, sfreq=200.0, fmt=1):
        self._uid, self._n, self._sfreq, self._fmt = uid, n, sfreq, fmt

    def uid(self):
        return self._uid

    def channel_count(self):
        return self._n

    def nominal_srate(self):
        return self._sfreq

    def channel_format(self):
        return self._fmt

    def name(self):
        return "EEG"

    def type(self):
        return "EEG"

    def source_id(self):
        return "sid"

    def hostname(self):
        return "host"

    def created_at(self):
        return 1.0


def _classify(found):
    return classify(found, uid="old", fmt=EEG, pred="name='EEG'")


def test_classify_what_a_reresolution_found():
    assert _classify([]) == (rec.NOTHING, "", None)
    old = FakeInfo("old")
    outcome, detail, info = _classify([FakeInfo("new"), old])
    assert (outcome, info) == (rec.SAME, old) and detail.startswith("name='EEG'")
    assert _classify([FakeInfo("a"), FakeInfo("b")]) == (
        rec.AMBIGUOUS,
        "2 new streams match name='EEG'; cannot pick one",
        None,
    )
    outcome, detail, info = _classify([FakeInfo("new", sfreq=100.0)])
    assert (outcome, info) == (rec.REFUSED, None)
    assert "100 Hz instead of 200 Hz" in detail and "new stream: name='EEG'" in detail
    new = FakeInfo("new")
    outcome, detail, info = _classify([new])
    assert (outcome, info) == (rec.NEW, new) and detail.startswith("name='EEG'")


def _meta(labels, units):
    return StreamMeta(
        name="EEG",
        type="EEG",
        source_id="sid",
        hostname="h",
        sfreq=200.0,
        ch_names=tuple(labels),
        units=tuple(units),
    )


def test_description_change_judges_labels_and_units():
    old = _meta(["Fp1", "Cz"], ["microvolts"] * 2)
    uv = np.full(2, 1e-6)
    assert description_change(old, _meta(["Fp1", "Cz"], ["uV"] * 2), uv, uv) is None
    msg = description_change(old, _meta(["Fp1", "Pz"], ["uV"] * 2), uv, uv)
    assert msg.startswith("came back with other channel labels ('Cz' -> 'Pz'); its data are")
    msg = description_change(old, _meta(["Fp1", "Cz"], ["V"] * 2), uv, np.ones(2))
    assert msg.startswith("came back with other units (['V', 'V'] instead of ['microvolts',")
    assert "Restart the source as it was" in msg
