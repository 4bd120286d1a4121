"""A stream away longer than the user's limit is flagged on every prediction (and so in the
outlet's ``flags`` bit mask) until it is back: the pipeline side, without LSL."""

import numpy as np
import pytest
from live_models import make_model_file

from cmt_live.pipeline import Pipeline
from cmt_live.records import FLAG_BITS, Flag, flag_mask
from cmt_live.settings import Settings
from cmt_live.source import Batch

T0 = 1000.0


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    from models import load_runtime

    path = make_model_file(tmp_path_factory.mktemp("m") / "tiny.pt")
    return load_runtime(path, device="cpu", threads=1, warmup=2)


def test_lost_flags_ride_on_predictions_while_the_stream_is_lost(runtime):
    pipe = Pipeline(runtime, Settings.from_contract(runtime.contract))
    rng = np.random.default_rng(0)
    sfreq, rate = 200.0, 120.0
    t = np.arange(int(12 * sfreq)) / sfreq
    eeg = 10e-6 * np.sin(2 * np.pi * 10 * t)[:, None] + 5e-6 * rng.standard_normal((t.size, 62))
    ets = T0 + t
    gts = T0 + np.arange(0, 30, 1 / rate)
    n = gts.size
    g = np.column_stack([rng.normal(0, 2, n), rng.normal(0, 2, n), 3 + 0 * gts, 3.1 + 0 * gts])
    g = np.column_stack([g, np.ones(n)])  # x, y (deg), two pupils (mm), valid
    preds = []
    for lo in np.arange(T0, T0 + 12, 0.05):
        e = (ets >= lo) & (ets < lo + 0.05)
        s = (gts >= lo) & (gts < lo + 0.05)
        preds += pipe.process(Batch(eeg=eeg[e], eeg_ts=ets[e], gaze=g[s], gaze_ts=gts[s]))
    t_lost = T0 + 16.0  # the EEG stops at 12 s; declared lost 4 s later, back never
    for lo in np.arange(T0 + 12, T0 + 28, 0.25):
        s = (gts >= lo) & (gts < lo + 0.25)
        lost = frozenset({Flag.EEG_LOST}) if lo >= t_lost else frozenset()
        if lo == t_lost:
            n_before = len(preds)
        batch = Batch(gaze=g[s], gaze_ts=gts[s], eeg_stale=True, lost_flags=lost)
        preds += pipe.process(batch)
    flagged = [p for p in preds if Flag.EEG_LOST in p.flags]
    # Every prediction made while the EEG is lost carries the flag (eye-only ones); none before.
    assert n_before >= 10 and len(flagged) == len(preds) - n_before >= 6
    assert not any(Flag.EEG_LOST in p.flags for p in preds[:n_before])
    bit = 1 << FLAG_BITS.index(Flag.EEG_LOST)
    assert all(flag_mask(p.flags) & bit for p in flagged)
