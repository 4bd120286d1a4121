"""LDS smoothing of feature series, with the SEED lab's parameters (shared/SEEDV.md §6).

Each feature is a 1-D random walk observed in noise::

    x_t = x_{t-1} + w_t,   w_t ~ N(0, Q),   Q = 0.001   (transition covariance)
    y_t = x_t + v_t,       v_t ~ N(0, R),   R = 1       (observation covariance)
    x_0 ~ N(m_0, P_0),     P_0 = 0.1

Offline the lab runs the RTS smoother over one clip with ``m_0`` = the clip mean (pykalman's
``KalmanFilter.smooth``), which is probably how the released SEED-V features were made. Live,
only the causal (forward) filter exists and the clip mean is unknown, so ``m_0`` = the first
observation. The variances do not depend on the data, so one scalar recursion serves every
feature and the means update as vectors.
"""

from __future__ import annotations

import numpy as np

TRANSITION_COV = 0.001
OBSERVATION_COV = 1.0
INITIAL_STATE_COV = 0.1


def _forward(y: np.ndarray, m0: np.ndarray):
    """Kalman filter over ``(n_windows, n_features)``; returns means and variances."""
    n = y.shape[0]
    m = np.empty_like(y)
    p = np.empty(n)
    m_prev, p_prev = m0, None
    for t in range(n):
        p_pred = INITIAL_STATE_COV if p_prev is None else p_prev + TRANSITION_COV
        gain = p_pred / (p_pred + OBSERVATION_COV)
        m[t] = m_prev + gain * (y[t] - m_prev)
        p[t] = (1 - gain) * p_pred
        m_prev, p_prev = m[t], p[t]
    return m, p


def apply_lds(series: np.ndarray, *, mode: str = "rts") -> np.ndarray:
    """Smooth each column of a feature series.

    Parameters
    ----------
    series : array of shape (n_windows, n_features)
        One clip (or one continuous recording) of features, windows in time order.
    mode : {"rts", "causal"}
        ``"rts"``: the lab's offline smoother (initial mean = the series mean);
        ``"causal"``: the forward filter live use runs (initial mean = the first window),
        identical to feeding :class:`CausalLDS` one window at a time.

    Returns
    -------
    smoothed : array of shape (n_windows, n_features)
    """
    y = np.asarray(series, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] == 0:
        raise ValueError(f"series must be (n_windows >= 1, n_features); got shape {y.shape}.")
    if mode not in ("rts", "causal"):
        raise ValueError(f"mode={mode!r} is invalid; use 'rts' or 'causal'.")
    if not np.isfinite(y).all():
        raise ValueError("series holds NaN/Inf; LDS smoothing needs finite features.")
    if mode == "causal":
        return _forward(y, y[0])[0]
    m, p = _forward(y, y.mean(axis=0))
    out = m.copy()
    for t in range(len(y) - 2, -1, -1):
        gain = p[t] / (p[t] + TRANSITION_COV)
        out[t] = m[t] + gain * (out[t + 1] - m[t])
    return out


class CausalLDS:
    """The causal LDS filter, one window at a time (live).

    Parameters
    ----------
    n_features : int

    Notes
    -----
    Invalid windows (NaN) are skipped: they neither update the state nor reset it, and the
    returned value is NaN so the window stays masked downstream.
    """

    def __init__(self, n_features: int):
        self.n_features = int(n_features)
        self.reset()

    def reset(self) -> None:
        self._m: np.ndarray | None = None
        self._p = INITIAL_STATE_COV

    def update(self, x: np.ndarray) -> np.ndarray:
        """Filter one observation ``(n_features,)``; returns the filtered ``(n_features,)``."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.n_features,):
            raise ValueError(f"x must have shape ({self.n_features},); got {x.shape}.")
        if not np.isfinite(x).all():
            return np.full(self.n_features, np.nan)
        if self._m is None:
            p_pred, m_prev = INITIAL_STATE_COV, x
        else:
            p_pred, m_prev = self._p + TRANSITION_COV, self._m
        gain = p_pred / (p_pred + OBSERVATION_COV)
        self._m = m_prev + gain * (x - m_prev)
        self._p = (1 - gain) * p_pred
        return self._m.copy()
