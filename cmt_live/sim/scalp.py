"""Scalp geometry of the simulator: 2-D electrode positions, smooth regions and random fields.

Positions are a flattened 10-10 layout of SEED-V's 62 channels (unit radius, x to the right,
y towards the nose), good enough for smooth spatial patterns: emotion signatures, volume
conduction, subject-specific gains and artefact topographies. Pure numpy.
"""

from __future__ import annotations

import numpy as np

from features.constants import SEEDV_CHANNELS

N_CHANNELS = len(SEEDV_CHANNELS)

_ROW_Y = {"FP": 0.95, "AF": 0.78, "F": 0.58, "FT": 0.32, "FC": 0.32, "T": 0.0, "C": 0.0}
_ROW_Y.update({"TP": -0.32, "CP": -0.32, "P": -0.58, "PO": -0.78, "O": -0.95, "CB": -1.05})
_COL_X = {"Z": 0.0, "1": 0.15, "2": 0.15, "3": 0.33, "4": 0.33, "5": 0.52, "6": 0.52}
_COL_X.update({"7": 0.72, "8": 0.72})


def channel_positions() -> np.ndarray:
    """Approximate 2-D scalp positions of the 62 channels.

    Returns
    -------
    positions : ndarray, shape (62, 2)
        x (right +) and y (nose +), in units of the head radius; rows follow
        :data:`features.constants.SEEDV_CHANNELS`.
    """
    pos = np.zeros((N_CHANNELS, 2))
    for i, name in enumerate(SEEDV_CHANNELS):
        row = name.rstrip("Z0123456789")
        col = name[len(row) :]
        x = _COL_X[col] if col else 0.0
        if row in ("T", "FT", "TP"):
            x = 0.92
        if row == "CB":
            x = 0.45
        if row == "O" and col != "Z":
            x = 0.3
        sign = -1.0 if col and col != "Z" and int(col) % 2 == 1 else 1.0
        pos[i] = (sign * x, _ROW_Y[row])
    return pos


#: :func:`channel_positions`, computed once, shape (62, 2).
POSITIONS = channel_positions()


def region(name: str) -> np.ndarray:
    """Smooth channel weights in [0, 1] for a named scalp region.

    Parameters
    ----------
    name : str
        One of ``"frontal_left"``, ``"frontal_right"``, ``"frontal_mid"``, ``"frontal"``,
        ``"temporal"``, ``"central"``, ``"posterior"``.

    Returns
    -------
    weights : ndarray, shape (62,)
        1 at the region's centre, decaying smoothly (Gaussian) away from it.
    """
    x, y = POSITIONS[:, 0], POSITIONS[:, 1]
    g = {
        "frontal_left": np.exp(-(((x + 0.45) / 0.3) ** 2) - ((y - 0.65) / 0.3) ** 2),
        "frontal_right": np.exp(-(((x - 0.45) / 0.3) ** 2) - ((y - 0.65) / 0.3) ** 2),
        "frontal_mid": np.exp(-((x / 0.3) ** 2) - ((y - 0.55) / 0.3) ** 2),
        "frontal": np.exp(-(((y - 0.7) / 0.35) ** 2)),
        "temporal": np.exp(-(((np.abs(x) - 0.92) / 0.25) ** 2) - (y / 0.5) ** 2),
        "central": np.exp(-((x / 0.5) ** 2) - (y / 0.35) ** 2),
        "posterior": np.exp(-(((y + 0.8) / 0.35) ** 2)),
    }[name]
    return g / g.max()


def smooth_field(rng: np.random.Generator, n: int, width: float) -> np.ndarray:
    """Spatially smooth random fields over the scalp.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Number of independent fields.
    width : float
        Gaussian smoothing width, in units of the head radius.

    Returns
    -------
    fields : ndarray, shape (n, 62)
        Each row has unit variance over the channels.
    """
    d2 = ((POSITIONS[:, None, :] - POSITIONS[None, :, :]) ** 2).sum(-1)
    k = np.exp(-d2 / (2 * width**2))
    f = rng.standard_normal((n, N_CHANNELS)) @ k
    return f / f.std(axis=1, keepdims=True)
