"""The recovery state machine and the reconnect checks, driven without LSL (known answers).

Times are chosen exactly representable in binary (multiples of 1/8 s), so every comparison
with a threshold is exact and the expected times are the thresholds themselves.
"""

from collections import Counter

import pytest

from cmt_live.lsl import recovery as rec
from cmt_live.lsl.recovery import RecoveryMachine, RecoverySettings, Step
from cmt_live.lsl.resolve import StreamFormat, classify, format_change

S = RecoverySettings(stale_after_s=0.5, liblsl_recovery_s=2.0, reresolve_interval_s=0.5)
T0 = 10.0  # the last sample before the outage


class FakeClock:
    """Hands the machine its times: ``tick_until`` ticks every ``dt`` seconds."""

    def __init__(self, t: float):
        self.t = t

    def tick_until(self, machine, t_end, *, dt=0.125, queued=False, on_resolve=None):
        """Tick ``machine`` up to ``t_end`` (inclusive); returns ``[(t, step), ...]``."""
        steps = []
        while self.t <= t_end:
            step = machine.tick(self.t, queued=queued)
            steps.append((self.t, step))
            if step.reresolve and on_resolve is not None:
                steps.append((self.t, machine.resolved(self.t, *on_resolve)))
            self.t += dt
        return steps


def _machine(recoverable, *, settings=S):
    m = RecoveryMachine(settings, t=0.0, recoverable=recoverable)
    assert m.data(T0) == Step(rec.CONNECTED)
    return m


def _events(steps):
    return [e for _, step in steps for e in step.events]


def _resolve_times(steps):
    return [t for t, step in steps if step.reresolve]


def test_silence_before_the_first_sample_is_stale_but_holds_nothing():
    m = RecoveryMachine(S, t=0.0, recoverable=True)
    m.begin(1.0)  # a late start() is not an outage
    assert m.tick(1.25, queued=False) == Step(rec.CONNECTED)
    step = m.tick(1.5, queued=True)
    assert step.status == rec.STALE and [e[0] for e in step.events] == ["stale"]
    # The first samples are fed at once, not held for a check of who sent them.
    assert not m.needs_check and not step.reresolve
    assert m.data(1.625).events == (("connected", "samples flow again after 0.62 s", 1.625),)
    # After data have flowed, the same silence holds queued data until identified.
    m.tick(2.125, queued=True)
    assert m.needs_check


def test_stale_after_stale_after_s_without_data_once():
    m = _machine(recoverable=True)
    steps = FakeClock(T0).tick_until(m, T0 + 1.5)
    assert [(t, s.status) for t, s in steps if s.events] == [(10.5, rec.STALE)]
    assert _events(steps) == [("stale", "no sample for 0.50 s (limit 0.5 s)", 10.5)]
    assert all(s.status == rec.CONNECTED for t, s in steps if t < 10.5)
    assert all(s.status == rec.STALE and not s.reresolve for t, s in steps if t >= 10.5)
    assert m.t_outage == T0


def test_a_late_start_is_not_an_outage():
    m = RecoveryMachine(S, t=0.0, recoverable=True)
    m.begin(100.0)
    assert m.tick(100.375) == Step(rec.CONNECTED)
    assert m.tick(100.5).status == rec.STALE


def test_data_ends_the_outage_with_one_event_and_its_length():
    m = _machine(recoverable=True)
    FakeClock(T0).tick_until(m, 11.0)
    assert m.tick(11.25, queued=True).reresolve  # recoverable: data are checked first
    assert m.resolved(11.25, rec.SAME) == Step(rec.RECOVERING)
    step = m.data(11.25)
    assert step == Step(rec.CONNECTED, (("connected", "samples flow again after 1.25 s", 11.25),))
    assert m.data(11.375) == Step(rec.CONNECTED)
    assert (m.n_recoveries, m.t_outage, m.t_last_data) == (1, None, 11.375)
    # The next outage is timed from the new last sample.
    assert m.tick(11.75) == Step(rec.CONNECTED)
    assert m.tick(11.875).events == (("stale", "no sample for 0.50 s (limit 0.5 s)", 11.875),)


def test_reresolve_cadence_while_away_without_liblsl_recovery():
    # No source_id: liblsl cannot recover, so no grace: re-resolve as soon as stale, then every
    # reresolve_interval_s; nothing found -> "absent", told once.
    m = _machine(recoverable=False)
    steps = FakeClock(T0).tick_until(m, 12.5, on_resolve=(rec.NOTHING,))
    assert _resolve_times(steps) == [10.5, 11.0, 11.5, 12.0, 12.5]
    assert [k for k, _, _ in _events(steps)] == ["stale", "absent"]
    assert _events(steps)[1] == ("absent", "no stream matches the pinned identity; retrying", 10.5)
    assert steps[-1][1].status == rec.ABSENT
    assert m.n_resolves == 5


def test_liblsl_gets_its_grace_before_a_fresh_inlet():
    m = _machine(recoverable=True)
    steps = FakeClock(T0).tick_until(m, 13.0, on_resolve=(rec.NOTHING,))
    # Stale at 10.5, but the first re-resolution waits for liblsl_recovery_s after the last
    # sample (10.0 + 2.0), then keeps the cadence.
    assert _resolve_times(steps) == [12.0, 12.5, 13.0]
    assert all(s.status == rec.STALE for t, s in steps if 10.5 <= t < 12.0)
    # A new compatible outlet: open a fresh inlet (never reopen the old one).
    step = m.tick(13.5)
    assert step == Step(rec.ABSENT, (), rec.RESOLVE) and not m.checking
    assert m.resolved(13.5, rec.NEW, "name='EEG' ...") == Step(rec.RECOVERING, (), rec.OPEN)
    assert m.opened(13.5, "name='EEG' ...") == Step(
        rec.RECOVERING, (("reconnected", "opened a fresh inlet on name='EEG' ...", 13.5),)
    )


def test_lost_inlet_reresolves_without_grace():
    m = _machine(recoverable=True)
    step = m.lost(10.25)
    assert step == Step(
        rec.RECOVERING, (("recovering", "stream lost (LostError); re-resolving", 10.25),)
    )
    assert not m.has_inlet and m.t_outage == 10.25
    steps = FakeClock(10.25).tick_until(m, 11.5, on_resolve=(rec.NOTHING,))
    assert _resolve_times(steps) == [10.5, 11.0, 11.5]  # from stale_after_s on, no grace
    assert [k for k, _, _ in _events(steps)] == ["absent"]  # no "stale" on top of "lost"
    assert m.data(11.625).events == (("connected", "samples flow again after 1.38 s", 11.625),)


def test_queued_data_after_an_outage_wait_for_the_check():
    m = _machine(recoverable=True)
    clock = FakeClock(T0)
    clock.tick_until(m, 10.875)
    assert m.needs_check
    with pytest.raises(RuntimeError, match="needs_check"):
        m.data(11.0)
    # Data queued at 11.0: checked at once (inside liblsl's grace), then every interval.
    steps = clock.tick_until(m, 12.0, queued=True, on_resolve=(rec.NOTHING,))
    assert _resolve_times(steps) == [11.0, 11.5, 12.0]
    assert m.needs_check and m.checking is False
    # The same outlet answers: a pause; the data may be fed.
    assert m.tick(12.5, queued=True).reresolve and m.checking
    assert m.resolved(12.5, rec.SAME) == Step(rec.RECOVERING)
    assert not m.needs_check
    assert m.data(12.5).events == (("connected", "samples flow again after 2.50 s", 12.5),)


def test_queued_data_from_a_new_compatible_outlet_are_adopted():
    m = _machine(recoverable=True)
    FakeClock(T0).tick_until(m, 10.5)
    assert m.tick(11.0, queued=True).reresolve
    step = m.resolved(11.0, rec.NEW, "name='EEG' rate=200 Hz")
    assert step == Step(
        rec.RECOVERING,
        (("reconnected", "liblsl moved the inlet to a new outlet: name='EEG' rate=200 Hz", 11.0),),
        rec.ADOPT,
    )
    assert not m.needs_check and m.data(11.0).status == rec.CONNECTED


def test_refused_outlet_drops_the_inlet_and_is_told_once():
    m = _machine(recoverable=True)
    FakeClock(T0).tick_until(m, 10.5)
    assert m.tick(11.0, queued=True).reresolve
    why = "came back with a nominal rate of 100 Hz instead of 200 Hz; ..."
    step = m.resolved(11.0, rec.REFUSED, why)
    assert step == Step(rec.RECOVERING, (("refused", why, 11.0),), rec.DROP)
    assert not m.has_inlet and not m.needs_check
    # No inlet any more: no grace; the same refusal at every attempt is not told again.
    steps = FakeClock(11.125).tick_until(m, 12.5, on_resolve=(rec.REFUSED, why))
    assert _resolve_times(steps) == [11.125, 11.625, 12.125]
    assert _events(steps) == [] and all(s.action != rec.DROP for _, s in steps)
    # Once the right stream is back, a fresh inlet; its first data are checked at once.
    assert m.tick(12.625).reresolve
    assert m.resolved(12.625, rec.NEW, "d").action == rec.OPEN
    m.opened(12.625, "d")
    assert m.needs_check and m.tick(12.75, queued=True).reresolve
    assert m.resolved(12.75, rec.SAME) == Step(rec.RECOVERING)
    assert m.data(12.75).status == rec.CONNECTED


def test_unrecoverable_inlet_is_kept_on_refusal():
    m = _machine(recoverable=False)
    assert m.tick(10.5).reresolve
    assert m.resolved(10.5, rec.REFUSED, "why").action is None and m.has_inlet


def test_each_transition_event_is_emitted_exactly_once():
    m = _machine(recoverable=True)
    clock = FakeClock(T0)
    steps = clock.tick_until(m, 13.0, on_resolve=(rec.NOTHING,))
    steps += clock.tick_until(m, 14.0, on_resolve=(rec.AMBIGUOUS, "2 new streams match"))
    steps += clock.tick_until(m, 15.0, on_resolve=(rec.NOTHING,))
    steps += clock.tick_until(m, 15.125, queued=True, on_resolve=(rec.SAME,))
    steps.append((15.125, m.data(15.125)))
    tail = FakeClock(15.125).tick_until(m, 18.0, on_resolve=(rec.SAME,))
    assert _resolve_times(tail) == [17.125, 17.625]  # liblsl's grace after the last sample
    steps += tail
    kinds = [k for k, _, _ in _events(steps)]
    assert kinds == ["stale", "absent", "recovering", "absent", "connected", "stale"]
    assert Counter(kinds)["connected"] == m.n_recoveries == 1
    # Still there but silent -> "stale" again after each re-resolution, without an event.
    assert steps[-1][1].status == rec.STALE


def test_failed_reader_is_absent_with_an_error_event():
    m = _machine(recoverable=True)
    assert m.failed(10.25, "OSError()") == Step(
        rec.ABSENT, (("error", "reader thread stopped: OSError()", 10.25),)
    )


def test_settings_and_outcomes_are_checked():
    with pytest.raises(ValueError, match=r"stale_after_s must be > 0 s; got 0"):
        RecoverySettings(stale_after_s=0)
    with pytest.raises(ValueError, match=r"liblsl_recovery_s must be >= 0 s; got -1"):
        RecoverySettings(stale_after_s=1, liblsl_recovery_s=-1)
    with pytest.raises(ValueError, match=r"reresolve_interval_s must be > 0 s; got 0"):
        RecoverySettings(stale_after_s=1, reresolve_interval_s=0)
    with pytest.raises(ValueError, match=r"outcome must be one of .*; got 'maybe'"):
        _machine(recoverable=True).resolved(1.0, "maybe")


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
    assert _classify([FakeInfo("new"), FakeInfo("old")]) == (rec.SAME, "", None)
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
