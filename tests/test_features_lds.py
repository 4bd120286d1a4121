"""LDS smoothing with the lab's parameters: by-hand Kalman step, causal == stateful, RTS."""

import numpy as np
import pytest

from features import CausalLDS, apply_lds
from features.lds import INITIAL_STATE_COV, OBSERVATION_COV, TRANSITION_COV


def test_first_two_kalman_steps_by_hand():
    y = np.array([[2.0], [4.0]])
    k0 = INITIAL_STATE_COV / (INITIAL_STATE_COV + OBSERVATION_COV)
    m0 = 2.0  # the causal filter starts at the first observation
    p0 = (1 - k0) * INITIAL_STATE_COV
    k1 = (p0 + TRANSITION_COV) / (p0 + TRANSITION_COV + OBSERVATION_COV)
    m1 = m0 + k1 * (4.0 - m0)
    np.testing.assert_allclose(apply_lds(y, mode="causal")[:, 0], [m0, m1])


def test_stateful_causal_filter_equals_batch_and_skips_nan():
    y = np.random.default_rng(0).standard_normal((40, 6))
    lds = CausalLDS(6)
    got = np.array([lds.update(row) for row in y])
    np.testing.assert_allclose(got, apply_lds(y, mode="causal"))
    before = lds.update(y[-1]).copy()
    lds2 = CausalLDS(6)
    for row in y:
        lds2.update(row)
    assert np.isnan(lds2.update(np.full(6, np.nan))).all()
    np.testing.assert_allclose(lds2.update(y[-1]), before)  # the NaN window changed nothing


def test_rts_smooths_noise_towards_the_constant():
    rng = np.random.default_rng(1)
    y = 5.0 + rng.standard_normal((200, 50))
    smoothed = apply_lds(y, mode="rts")
    # With Q/R = 1e-3 the smoother averages over ~sqrt(R/Q) = 30 windows: residual noise
    # variance drops by more than an order of magnitude and the level is kept.
    assert smoothed.var(axis=0).mean() < y.var(axis=0).mean() / 10
    np.testing.assert_allclose(smoothed.mean(axis=0), 5.0, atol=0.3)


def test_errors():
    with pytest.raises(ValueError, match=r"mode='ewm' is invalid"):
        apply_lds(np.zeros((3, 2)), mode="ewm")
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        apply_lds(np.zeros(3))
    with pytest.raises(ValueError, match="NaN/Inf"):
        apply_lds(np.array([[np.nan]]))
