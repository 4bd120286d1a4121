"""Gaze input: checks of a gaze stream's arrays, and screen pixels to degrees of visual angle."""

from __future__ import annotations

import numpy as np


def pixels_to_degrees(
    x_px,
    y_px,
    *,
    screen_w_px: float,
    screen_h_px: float,
    screen_w_cm: float,
    distance_cm: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Screen pixels to degrees of visual angle from the screen centre.

    Pixels are taken as square (``screen_w_cm / screen_w_px`` cm each way); each axis is
    converted on its own, ``deg = atan(offset_cm / distance_cm)``, which is exact on the two
    axes through the centre and within ~1 % elsewhere for screens under ±20°.

    Parameters
    ----------
    x_px, y_px : array of shape (n,)
        Gaze in pixels, origin top-left, y down (the usual screen convention).
    screen_w_px, screen_h_px : float
        Screen resolution, pixels.
    screen_w_cm : float
        Visible screen width, cm.
    distance_cm : float
        Eye-to-screen distance, cm.

    Returns
    -------
    x_deg, y_deg : ndarray of shape (n,)
        Degrees from the centre, +x right, +y up. NaN stays NaN.
    """
    for name, value in (
        ("screen_w_px", screen_w_px),
        ("screen_h_px", screen_h_px),
        ("screen_w_cm", screen_w_cm),
        ("distance_cm", distance_cm),
    ):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(
                f"{name}={value!r} is invalid; it must be a positive number (screen size in "
                "pixels and cm, viewing distance in cm)."
            )
    cm_per_px = screen_w_cm / screen_w_px
    x_cm = (np.asarray(x_px, dtype=np.float64) - screen_w_px / 2) * cm_per_px
    y_cm = (screen_h_px / 2 - np.asarray(y_px, dtype=np.float64)) * cm_per_px
    return np.degrees(np.arctan2(x_cm, distance_cm)), np.degrees(np.arctan2(y_cm, distance_cm))


def check_gaze(timestamps, x, y, valid=None, **channels) -> tuple[np.ndarray, ...]:
    """Validate a gaze stream; return float64 ``timestamps, x, y``, the channels and ``ok``.

    ``ok`` is ``valid`` (nonzero) and finite x and y. Raises ``ValueError`` naming the bad
    argument and the fix: not 1-D, lengths that differ, non-finite or decreasing timestamps.
    """
    arrays = {"timestamps": timestamps, "x": x, "y": y, **channels}
    if valid is not None:
        arrays["valid"] = valid
    out = {}
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.ndim != 1:
            raise ValueError(
                f"{name} must be 1-D (n_samples,); got shape {a.shape}. Pass one array per channel."
            )
        if name != "valid":
            if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
                raise ValueError(f"{name} must be numeric; got dtype {a.dtype}.")
            a = a.astype(np.float64, copy=False)
        out[name] = a
    lengths = {name: a.size for name, a in out.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"gaze arrays differ in length: {lengths}. Pass the same samples to every "
            "argument (one entry per gaze sample)."
        )
    t = out["timestamps"]
    if not np.isfinite(t).all():
        bad = np.flatnonzero(~np.isfinite(t))
        raise ValueError(
            f"timestamps has {bad.size} non-finite values (first at index {bad[0]}); drop "
            "those samples before computing eye features."
        )
    back = np.flatnonzero(np.diff(t) < 0)
    if back.size:
        raise ValueError(
            f"timestamps go backwards at {back.size} steps (first at index {back[0] + 1}: "
            f"{t[back[0]]!r} -> {t[back[0] + 1]!r}; indices {(back[:5] + 1).tolist()}...). "
            "Sort the samples by time first, e.g. order = np.argsort(timestamps, "
            "kind='stable') and index every array with it."
        )
    ok = np.isfinite(out["x"]) & np.isfinite(out["y"])
    if valid is not None:
        v = out["valid"]
        if v.dtype == bool:
            ok &= v
        elif np.issubdtype(v.dtype, np.number):
            ok &= np.nan_to_num(v.astype(np.float64), nan=0.0) != 0
        else:
            raise ValueError(
                f"valid must be a boolean or numeric flag array (nonzero = valid); got dtype "
                f"{v.dtype}."
            )
    extra = tuple(out[name] for name in channels)
    return (t, out["x"], out["y"], *extra, ok)
