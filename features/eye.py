"""The 33 SEED-V eye-movement features per window, batch and streaming.

Columns follow :data:`features.constants.EYE_FEATURE_NAMES`. Events (blinks, fixations,
saccades) come from :mod:`features.eye_events`, whose docstring defines them and their
thresholds. Per window ``[t_start, t_start + window_s)`` (samples with ``t_start <= t <
t_start + window_s``):

- ``pupil{1,2}_mean`` / ``_std``: mean and standard deviation (``ddof=0``) of the valid,
  finite pupil samples, in the tracker's unit (mm, or px).
- ``pupil{1,2}_de_<lo>_<hi>hz``: pupil DE in the bands of :data:`PUPIL_BANDS`, the EEG
  ``"seedv"`` recipe (``features.de``) on a uniform grid:

  1. Grid: :data:`PUPIL_GRID_HZ` (10 Hz, 5x the top band edge of 1 Hz): ``n = round(window_s
     * 10)`` bins of ``window_s / n`` s each. Each bin holds the mean of the valid pupil
     samples in it (a boxcar anti-alias filter, better than picking one sample per bin); empty
     bins (blinks, gaps) are linearly interpolated from the neighbouring filled bins, and
     held constant beyond the first and last filled bin.
  2. Subtract the window mean (the mean is already a feature; without this the 0-0.2 Hz
     band would be the DC term, i.e. the mean again), multiply by MATLAB's ``hanning(n)``.
  3. ``X = FFT`` with ``N = n`` points: bins are ``1 / window_s`` Hz apart (0.25 Hz at 4 s).
  4. ``PSD_b = mean |X_k|^2`` over bins with ``f_lo <= f_k < f_hi`` (half-open, as the EEG
     DE). A band with no bin at this resolution (0.2 Hz wide bands against 0.25 Hz bins
     happen at some window lengths) takes the single bin nearest its centre. At 4 s the
     bands get 0 Hz, 0.25 Hz, 0.5 Hz and 0.75 Hz respectively.
  5. ``DE_b = log2(100 * max(PSD_b, POWER_FLOOR))`` (the lab's formula; a flat pupil gives
     the finite floor ``log2(100 * 1e-12)``).

- ``dispersion_{x,y}_mean`` / ``_std``: over the window's fixations, of each fixation's
  ``max - min`` of x / y, degrees.
- ``fixation_duration_*``, ``blink_duration_*``, ``saccade_duration_*`` (ms) and
  ``saccade_amplitude_*`` (degrees): mean and standard deviation (``ddof=0``) over the
  window's events.
- The 9 event statistics:

  - ``blink_frequency_hz``, ``fixation_frequency_hz``, ``saccade_frequency_hz``: number of
    events / the window length (s), so events per second.
  - ``fixation_duration_max_ms``: the longest fixation.
  - ``fixation_dispersion_total`` / ``fixation_dispersion_max``: sum / maximum over the
    fixations of the fixation's dispersion ``(max - min of x) + (max - min of y)`` (Salvucci &
    Goldberg's dispersion), degrees.
  - ``saccade_duration_avg_ms``, ``saccade_amplitude_avg_deg``: the means over the saccades.
  - ``saccade_latency_avg_ms``: the mean interval between consecutive saccade onsets, ms
    (the inter-saccade interval: a fixation and the saccade that leads into it).

Empty statistics (no fixation, blink or saccade in the window, fewer than two saccades for
the latency, no valid pupil sample for the pupil features) are **0**, never NaN, so a model
always gets finite input; :func:`eye_features_window` also returns the window's coverage so
the caller can mask windows with little data.

Window-local events: each window's events are detected from that window's samples only, in
both the batch and the streaming forms, so the two give identical numbers (and a live stream
gives the same numbers in any chunking). An event cut by a window edge counts its in-window
part in each window.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .constants import EYE_FEATURE_NAMES, PUPIL_BANDS
from .eye_events import EyeEvents, detect_events, detect_in_range
from .gaze_input import check_gaze, pixels_to_degrees

__all__ = [
    "EVENT_STATS",
    "EyeEvents",
    "detect_events",
    "eye_features",
    "eye_features_window",
    "pixels_to_degrees",
]

#: Uniform grid rate for the pupil DE, Hz: Nyquist 5 Hz is 5x the top band edge (1 Hz).
PUPIL_GRID_HZ = 10.0
#: PSD floor for the pupil DE (squared pupil units): a flat pupil gives a finite DE.
POWER_FLOOR = 1e-12
#: Shortest window: the 0-0.2 Hz band needs bins at most ~1 Hz apart to be told from 0.6-1 Hz.
MIN_WINDOW_S = 1.0
#: Where the 9 event statistics come from: each window, or the whole input (one clip).
EVENT_STATS = ("window", "clip")

N_FEATURES = len(EYE_FEATURE_NAMES)
_N_PER_WINDOW = 24  # the first 24 columns; the last 9 are the event statistics
#: The columns computed from eye events (:func:`event_columns`); 0-11 are the pupils'.
EVENT_COLUMNS = slice(12, 33)


@lru_cache(maxsize=16)
def _pupil_kernel(n_grid: int, window_s: float) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB ``hanning(n_grid)`` and the band-averaging matrix ``(n_bins, n_bands)``."""
    k = np.arange(1, n_grid + 1)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * k / (n_grid + 1))
    freqs = np.arange(n_grid // 2 + 1) / window_s
    avg = np.zeros((freqs.size, len(PUPIL_BANDS)))
    for j, (lo, hi) in enumerate(PUPIL_BANDS):
        sel = (freqs >= lo) & (freqs < hi)
        if not sel.any():  # band narrower than the bin spacing: the bin nearest its centre
            sel = np.arange(freqs.size) == np.argmin(np.abs(freqs - (lo + hi) / 2))
        avg[sel, j] = 1.0 / sel.sum()
    return win, avg


def _pupil_features(
    t: np.ndarray, pupils: tuple[np.ndarray, ...], ok: np.ndarray, t_start: float, window_s: float
) -> np.ndarray:
    """``(n_channels, 6)``: mean, std and the 4 band DEs per pupil channel (see module doc)."""
    n_grid = max(round(window_s * PUPIL_GRID_HZ), 2)
    win, avg = _pupil_kernel(n_grid, float(window_s))
    out = np.zeros((len(pupils), 2 + avg.shape[1]))
    bins = np.clip(((t - t_start) * (n_grid / window_s)).astype(np.intp), 0, n_grid - 1)
    grids = np.zeros((len(pupils), n_grid))
    has = np.zeros(len(pupils), dtype=bool)
    pos = np.arange(n_grid)
    for c, p in enumerate(pupils):
        use = ok & np.isfinite(p)
        if not use.any():
            continue
        pv = p[use]
        out[c, :2] = _mean_std(pv)
        idx = bins[use]
        counts = np.bincount(idx, minlength=n_grid)
        sums = np.bincount(idx, weights=pv, minlength=n_grid)
        filled = counts > 0
        if filled.all():
            grids[c] = sums / counts
        else:
            grids[c] = np.interp(pos, pos[filled], sums[filled] / counts[filled])
        has[c] = True
    if has.any():
        g = grids[has]
        spec = np.fft.rfft((g - g.mean(axis=1, keepdims=True)) * win, axis=1)
        psd = (spec.real**2 + spec.imag**2) @ avg
        out[has, 2:] = np.log2(100.0 * np.maximum(psd, POWER_FLOOR))
    return out


def _mean_std(a: np.ndarray) -> tuple[float, float]:
    """Mean and std (``ddof=0``) of a 1-D array; ``(0, 0)`` when empty (a finite default)."""
    n = a.size
    if n == 0:
        return 0.0, 0.0
    m = float(np.add.reduce(a)) / n
    d = a - m
    return m, float(np.sqrt(np.dot(d, d) / n))


def _event_stats(ev: EyeEvents, duration_s: float) -> np.ndarray:
    """The 9 event statistics (EYE_FEATURE_NAMES[24:]) of ``ev`` over ``duration_s``."""
    disp = ev.fixation_dispersion_x_deg + ev.fixation_dispersion_y_deg
    onsets = ev.saccade_onset_s
    return np.array(
        [
            ev.n_blinks / duration_s,
            ev.n_fixations / duration_s,
            float(np.maximum.reduce(ev.fixation_duration_ms)) if ev.n_fixations else 0.0,
            float(np.add.reduce(disp)),
            float(np.maximum.reduce(disp)) if disp.size else 0.0,
            ev.n_saccades / duration_s,
            _mean_std(ev.saccade_duration_ms)[0],
            _mean_std(ev.saccade_amplitude_deg)[0],
            (onsets[-1] - onsets[0]) / (onsets.size - 1) * 1e3 if onsets.size > 1 else 0.0,
        ]
    )


def event_columns(ev: EyeEvents, duration_s: float) -> np.ndarray:
    """The columns of :data:`EYE_FEATURE_NAMES` that come from eye events (12-32: fixation
    dispersions and durations, saccades, blinks, then the 9 event statistics) over a span of
    ``duration_s`` seconds.

    Returns
    -------
    columns : array of shape (21,)
        ``EYE_FEATURE_NAMES[EVENT_COLUMNS]`` order; statistics of no event are 0.
    """
    out = np.zeros(N_FEATURES - EVENT_COLUMNS.start)
    out[[0, 2]] = _mean_std(ev.fixation_dispersion_x_deg)
    out[[1, 3]] = _mean_std(ev.fixation_dispersion_y_deg)
    out[4:6] = _mean_std(ev.fixation_duration_ms)
    out[[6, 8]] = _mean_std(ev.saccade_duration_ms)
    out[[7, 9]] = _mean_std(ev.saccade_amplitude_deg)
    out[10:12] = _mean_std(ev.blink_duration_ms)
    out[_N_PER_WINDOW - EVENT_COLUMNS.start :] = _event_stats(ev, duration_s)
    return out


def _window_core(t, x, y, p1, p2, ok, t_start: float, window_s: float):
    """Features ``(33,)``, coverage and events of already-validated samples of one window."""
    out = np.zeros(N_FEATURES)
    t_end = t_start + window_s
    ev, valid_time = detect_in_range(t, x, y, ok, t_start, t_end)
    pupil = _pupil_features(t, (p1, p2), ok, t_start, window_s)
    # Column order: EYE_FEATURE_NAMES (SEED-IV's rows, blink duration at 22-23).
    out[0:4] = pupil[:, :2].T.ravel()  # pupil1 mean, pupil2 mean, pupil1 std, pupil2 std
    out[4:12] = pupil[:, 2:].ravel()  # pupil1 DE x 4, pupil2 DE x 4
    out[EVENT_COLUMNS] = event_columns(ev, window_s)
    coverage = min(max(valid_time / window_s, 0.0), 1.0)
    return out, coverage


def _check_window_s(window_s) -> float:
    if not (np.isfinite(window_s) and window_s >= MIN_WINDOW_S):
        raise ValueError(
            f"window_s={window_s!r} is invalid: eye features need windows of at least "
            f"{MIN_WINDOW_S} s (the pupil bands are 0.2 Hz wide). Use window_s=4.0 as SEED-V "
            "does."
        )
    return float(window_s)


def eye_features_window(
    timestamps, x, y, pupil_1, pupil_2, valid=None, *, t_start: float, window_s: float = 4.0
) -> tuple[np.ndarray, float]:
    """The 33 eye features of one window ``[t_start, t_start + window_s)``.

    The streaming form: call it with the gaze samples of each window as they complete.
    Samples outside the window may be passed and are ignored; events are detected from the
    window's samples only (see the module docstring), so this gives exactly the numbers of
    :func:`eye_features` on the same window.

    Parameters
    ----------
    timestamps : array of shape (n,)
        Seconds, non-decreasing (irregular steps and gaps are fine).
    x, y : array of shape (n,)
        Gaze, degrees of visual angle (:func:`pixels_to_degrees` converts pixels); NaN where
        invalid.
    pupil_1, pupil_2 : array of shape (n,)
        The two pupil-size channels (e.g. left/right diameter, mm); NaN where invalid.
    valid : array of shape (n,), bool or numeric, optional
        Validity flags (nonzero = valid), combined with finite x and y.
    t_start : float
        Window start, same clock as ``timestamps``, seconds.
    window_s : float
        Window length, seconds (>= 1).

    Returns
    -------
    values : ndarray of shape (33,)
        In :data:`EYE_FEATURE_NAMES` order, always finite (empty statistics are 0).
    coverage : float
        Fraction of the window covered by valid samples, in [0, 1] (sum of the valid
        samples' intervals, see :mod:`features.eye_events`; 0 for an empty window).
    """
    window_s = _check_window_s(window_s)
    if not np.isfinite(t_start):
        raise ValueError(f"t_start={t_start!r} must be a finite time in seconds.")
    t, x, y, p1, p2, ok = check_gaze(timestamps, x, y, valid, pupil_1=pupil_1, pupil_2=pupil_2)
    i0, i1 = np.searchsorted(t, [t_start, t_start + window_s])
    sl = slice(int(i0), int(i1))
    return _window_core(t[sl], x[sl], y[sl], p1[sl], p2[sl], ok[sl], t_start, window_s)


def eye_features_at(
    timestamps, x, y, pupil_1, pupil_2, valid, starts, *, window_s: float = 4.0
) -> np.ndarray:
    """:func:`eye_features_window` for several windows of one recording.

    Parameters
    ----------
    timestamps, x, y, pupil_1, pupil_2, valid
        As :func:`eye_features_window`.
    starts : array of shape (n_windows,)
        Window starts, same clock as ``timestamps``, seconds; each window is
        ``[start, start + window_s)`` (they may overlap or leave gaps).
    window_s : float

    Returns
    -------
    values : ndarray of shape (n_windows, 33)
        Row ``k`` equals ``eye_features_window(..., t_start=starts[k])[0]``.
    """
    window_s = _check_window_s(window_s)
    starts = np.asarray(starts, dtype=np.float64).reshape(-1)
    if not np.isfinite(starts).all():
        raise ValueError("starts must be finite times in seconds.")
    t, x, y, p1, p2, ok = check_gaze(timestamps, x, y, valid, pupil_1=pupil_1, pupil_2=pupil_2)
    i0 = np.searchsorted(t, starts)
    i1 = np.searchsorted(t, starts + window_s)
    out = np.empty((starts.size, len(EYE_FEATURE_NAMES)))
    for k, (a, b) in enumerate(zip(i0, i1)):
        sl = slice(int(a), int(b))
        out[k] = _window_core(t[sl], x[sl], y[sl], p1[sl], p2[sl], ok[sl], starts[k], window_s)[0]
    return out


def eye_features(
    timestamps,
    x,
    y,
    pupil_1,
    pupil_2,
    *,
    window_s: float = 4.0,
    valid=None,
    event_stats: str = "window",
) -> np.ndarray:
    """The 33 eye features of consecutive, non-overlapping windows from the first timestamp.

    Window ``k`` is ``[t0 + k * window_s, t0 + (k + 1) * window_s)`` with ``t0 =
    timestamps[0]``. A window is computed when the data reach its end: ``t0 + (k + 1) *
    window_s <= timestamps[-1] + 1.5 * period`` (``period`` = median step; the last sample
    stands for one period, and half a period absorbs jitter). Each row equals
    :func:`eye_features_window` on that window (tested).

    Parameters
    ----------
    timestamps : array of shape (n,)
        Seconds, non-decreasing (irregular steps and gaps are fine).
    x, y : array of shape (n,)
        Gaze, degrees of visual angle (:func:`pixels_to_degrees` converts pixels); NaN where
        invalid.
    pupil_1, pupil_2 : array of shape (n,)
        The two pupil-size channels; NaN where invalid.
    window_s : float
        Window length, seconds (SEED-V: 4).
    valid : array of shape (n,), bool or numeric, optional
        Validity flags (nonzero = valid), combined with finite x and y.
    event_stats : {"window", "clip"}
        ``"window"`` (default; live use has no clip): the 9 event statistics of each window.
        ``"clip"``: computed once over all the windows together (events detected over the
        whole span, frequencies per total duration) and repeated on every row, as SEED-V's
        released features probably are.

    Returns
    -------
    features : ndarray of shape (n_windows, 33)
        Columns in :data:`EYE_FEATURE_NAMES` order; durations ms, amplitudes and dispersions
        degrees, frequencies per second. Always finite.
    """
    if event_stats not in EVENT_STATS:
        raise ValueError(
            f"event_stats={event_stats!r} is invalid; use one of {EVENT_STATS} ('window' for "
            "live-compatible features, 'clip' for SEED-V's per-clip statistics)."
        )
    window_s = _check_window_s(window_s)
    t, x, y, p1, p2, ok = check_gaze(timestamps, x, y, valid, pupil_1=pupil_1, pupil_2=pupil_2)
    dt = np.diff(t)
    pos = dt[dt > 0]
    span = float(t[-1] - t[0]) if t.size else 0.0
    n_windows = (
        int(np.floor((span + 1.5 * float(np.median(pos))) / window_s + 1e-9)) if pos.size else 0
    )
    if n_windows < 1:
        raise ValueError(
            f"The gaze input has {t.size} samples spanning {span:.3f} s, less than one "
            f"window_s={window_s} s window. Pass at least {window_s} s of gaze, or a shorter "
            "window_s."
        )
    t0 = float(t[0])
    # The same float arithmetic as a caller of eye_features_window(t_start=t0 + k * window_s).
    starts = t0 + np.arange(n_windows) * window_s
    i0 = np.searchsorted(t, starts)
    i1 = np.searchsorted(t, starts + window_s)
    out = np.empty((n_windows, N_FEATURES))
    for k in range(n_windows):
        sl = slice(int(i0[k]), int(i1[k]))
        out[k], _ = _window_core(
            t[sl], x[sl], y[sl], p1[sl], p2[sl], ok[sl], float(starts[k]), window_s
        )
    if event_stats == "clip":
        t_end = float(starts[-1] + window_s)
        sl = slice(0, int(i1[-1]))
        ev, _ = detect_in_range(t[sl], x[sl], y[sl], ok[sl], t0, t_end)
        out[:, _N_PER_WINDOW:] = _event_stats(ev, n_windows * window_s)
    return out
