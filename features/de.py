"""Differential entropy (DE) of EEG bands, batch and streaming.

Two methods, both on signals in microvolts (the lab's convention; inputs are volts and scaled
here, so a unit change shifts DE by a constant):

``"seedv"`` (default), the SEED lab's routine (shared/SEEDV.md §6), per channel and window of
``L = window_s * sfreq`` samples:

1. ``x_w[n] = x[n] * w[n]`` with MATLAB's ``hanning(L)``,
   ``w[n] = 0.5 - 0.5 cos(2 pi n / (L + 1))``, ``n = 1..L`` (no zero end points), as in the
   lab's ``STFT.m``.
2. ``X = FFT(x_w)`` with ``N = L`` points. The lab's routines use ``N = 256`` (or ``stftn``) and
   so *crop* a 4-s, 200-Hz window to its first 256 samples (1.28 s); we keep the whole window
   (``N = L``), which uses all the data and gives 1/window_s Hz bins. SEED-V's exact N is
   unpublished; calibrate on the real files (SEEDV.md §6) before claiming equality.
3. ``PSD_b = mean |X_k|^2`` over the bins ``k`` with ``f_lo <= k * sfreq / N < f_hi``
   (half-open, so adjacent bands share no bin; the lab's 1-based ``fix()`` rule shares the
   edge bin and shifts one bin down).
4. ``DE_b = log2(100 * PSD_b)``.

``"gaussian"``: 4th-order Butterworth band-pass per band (second-order sections, causal
``sosfilt`` over the recording, started at the steady state of the first sample; the streaming
form carries the filter state between windows, so both give the same numbers), then per window
``DE_b = 1/2 ln(2 pi e var_b)``, the DE of a Gaussian. Causal rather than zero-phase on purpose:
``sosfiltfilt`` squares the magnitude response, which narrows the band and lowers the variance,
so a model trained on zero-phase features would see other numbers live.

Columns: ``order="band-major"`` puts ``col = band * n_channels + ch`` (the lab's own layout,
SEEDV.md §5); ``"channel-major"`` puts ``col = ch * n_bands + band`` (torcheeg's).

A flat channel has zero power; its PSD (or variance) is floored at :data:`POWER_FLOOR_UV2`
so DE stays finite (``log2(100 * 1e-12)`` = -33.2 for seedv) and the streaming form flags it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
from scipy import signal

from .constants import BANDS
from .spec import DE_METHODS, ORDERS, FeatureSpec

#: Power floor in µV² (PSD for seedv, variance for gaussian): keeps DE finite on flat channels.
POWER_FLOOR_UV2 = 1e-12
#: Shortest window: delta (1-4 Hz) needs bins 1 Hz apart, i.e. at least 1 s.
MIN_WINDOW_S = 1.0
_V_TO_UV = 1e6
#: float32 values per block of the seedv FFT (1 MB, ~5 windows of 62 x 800): the temporaries
#: stay in cache and are not fresh pages on every call (measured: 1.5-2x faster per window
#: than one pass over 64 windows, 10x on an hour of EEG).
_BLOCK_VALUES = 1 << 18


def _check_params(sfreq: float, window_s: float, method: str, order: str, bands) -> int:
    if method not in DE_METHODS:
        raise ValueError(f"method={method!r} is invalid; use one of {DE_METHODS}.")
    if order not in ORDERS:
        raise ValueError(f"order={order!r} is invalid; use one of {ORDERS}.")
    top = max(hi for _, _, hi in bands)
    if not sfreq >= 2 * top:
        raise ValueError(
            f"sfreq={sfreq} Hz is too low for the {top:g} Hz upper band edge (Nyquist "
            f"{sfreq / 2:g} Hz); record or resample at >= {2 * top:g} Hz."
        )
    if not window_s >= MIN_WINDOW_S:
        raise ValueError(
            f"window_s={window_s} is too short: the delta band (1-4 Hz) needs >= "
            f"{MIN_WINDOW_S} s windows. Use window_s=4.0 as SEED-V does."
        )
    n_times = round(window_s * sfreq)
    if abs(n_times - window_s * sfreq) > 1e-6:
        raise ValueError(
            f"window_s * sfreq = {window_s * sfreq} is not a whole number of samples; pick "
            "window_s so that window_s * sfreq is an integer."
        )
    return n_times


@lru_cache(maxsize=32)
def _seedv_kernel(n_times: int, sfreq: float, bands: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Window in µV per volt ``(n_times,)`` float32 and band-averaging matrix
    ``(n_bins, n_bands)`` float32.

    The volts -> µV factor is folded into the window so one float32 multiply does the unit
    change, the cast and the windowing.
    """
    n = np.arange(1, n_times + 1)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / (n_times + 1))
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    avg = np.zeros((freqs.size, len(bands)))
    for b, (name, lo, hi) in enumerate(bands):
        sel = (freqs >= lo) & (freqs < hi)
        if not sel.any():
            raise ValueError(f"Band {name} ({lo}-{hi} Hz) has no FFT bin at this window length.")
        avg[sel, b] = 1.0 / sel.sum()
    window_uv = (window * _V_TO_UV).astype(np.float32)
    avg = avg.astype(np.float32)
    window_uv.flags.writeable = False
    avg.flags.writeable = False
    return window_uv, avg


@lru_cache(maxsize=32)
def band_sos(sfreq: float, bands: tuple, order: int = 4) -> tuple[np.ndarray, ...]:
    """Butterworth band-pass sections per band (``"gaussian"`` method)."""
    # A band reaching Nyquist (gamma's 50 Hz at sfreq = 100) has no upper edge to design:
    # it is a high-pass, which is what "31 Hz up to Nyquist" means.
    return tuple(
        signal.butter(order, lo, btype="highpass", fs=sfreq, output="sos")
        if hi >= sfreq / 2
        else signal.butter(order, [lo, hi], btype="bandpass", fs=sfreq, output="sos")
        for _, lo, hi in bands
    )


def _reorder(de: np.ndarray, order: str) -> np.ndarray:
    """``(n_windows, n_channels, n_bands)`` -> ``(n_windows, n_channels * n_bands)``."""
    if order == "band-major":
        de = de.transpose(0, 2, 1)
    return de.reshape(de.shape[0], -1)


def _seedv_windows(windows_v: np.ndarray, sfreq: float, bands: tuple) -> np.ndarray:
    """DE of ``(..., n_times)`` windows in volts -> ``(..., n_bands)``.

    The FFT runs in float32 (twice as fast as float64 here; DE changes by < 1e-5 bits), in
    µV so the floor and the ``100 *`` factor act on the lab's units. Windows go through in
    blocks of :data:`_BLOCK_VALUES` so the temporaries stay in cache: one pass over a whole
    hour of EEG at once is 10x slower per window (page faults on 100s of MB of temporaries).
    A NaN/Inf sample makes its window's values NaN/Inf (the Hann window has no zero end
    points), so callers can check finiteness on the small result.
    """
    window_uv, avg = _seedv_kernel(windows_v.shape[-1], float(sfreq), bands)
    lead, n_times = windows_v.shape[:-1], windows_v.shape[-1]
    rows = windows_v.reshape(-1, n_times)
    psd = np.empty((rows.shape[0], avg.shape[1]), dtype=np.float32)
    step = max(1, _BLOCK_VALUES // n_times)
    # NaN/Inf input (batch: raised by the caller) must not warn on its way through.
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(0, rows.shape[0], step):
            scaled = np.multiply(rows[i : i + step], window_uv, dtype=np.float32)
            spec = scipy.fft.rfft(scaled, axis=-1, workers=1, overwrite_x=True)
            power = spec.real**2
            power += spec.imag**2
            np.matmul(power, avg, out=psd[i : i + step])
        de = np.log2(100.0 * np.maximum(psd.astype(np.float64), POWER_FLOOR_UV2))
    return de.reshape(*lead, avg.shape[1])


def _gaussian_de(var_uv2: np.ndarray) -> np.ndarray:
    return 0.5 * np.log(2 * np.pi * np.e * np.maximum(var_uv2, POWER_FLOOR_UV2))


def _check_eeg(eeg: np.ndarray) -> np.ndarray:
    eeg = np.asarray(eeg)
    if eeg.ndim != 2:
        raise ValueError(
            f"eeg must be 2-D (n_channels, n_times); got shape {eeg.shape}. Stack windows "
            "end to end, or use StreamingDE for one window."
        )
    if not np.issubdtype(eeg.dtype, np.number):
        raise ValueError(f"eeg must be numeric; got dtype {eeg.dtype}.")
    return eeg


def _raise_nonfinite(used: np.ndarray, n_times: int) -> None:
    bad = ~np.isfinite(used)
    if not bad.any():
        raise ValueError(
            "eeg overflows float32 power: its largest magnitude is "
            f"{np.abs(used).max():g}; eeg must be in volts (divide µV by 1e6)."
        )
    ch, idx = np.argwhere(bad)[0]
    raise ValueError(
        f"eeg has {int(bad.sum())} non-finite samples, first in channel {ch} at sample {idx} "
        f"(window {idx // n_times}). Interpolate or drop them, or use StreamingDE, which "
        "marks such windows invalid."
    )


def de_features(
    eeg: np.ndarray,
    sfreq: float,
    *,
    window_s: float = 4.0,
    method: str = "seedv",
    order: str = "band-major",
    bands: tuple = BANDS,
) -> np.ndarray:
    """DE features of consecutive non-overlapping windows.

    Parameters
    ----------
    eeg : array of shape (n_channels, n_times)
        EEG in volts.
    sfreq : float
        Sampling rate in Hz (>= 100 for the 50 Hz gamma edge).
    window_s : float
        Window length in seconds; windows start at the first sample, a partial last window
        is dropped.
    method : {"seedv", "gaussian"}
        See the module docstring for the formulas.
    order : {"band-major", "channel-major"}
        Column order.
    bands : tuple of (name, low_hz, high_hz)

    Returns
    -------
    de : array of shape (n_windows, n_channels * n_bands)
        float64.

    Raises
    ------
    ValueError
        On a wrong shape, too low sfreq, too short window or recording, NaN/Inf samples
        (naming channel and window).
    """
    eeg = _check_eeg(eeg)
    bands = tuple(tuple(b) for b in bands)
    n_times = _check_params(float(sfreq), window_s, method, order, bands)
    n_ch, total = eeg.shape
    n_win = total // n_times
    if n_win == 0:
        hint = " (is the array transposed?)" if n_ch > total else ""
        raise ValueError(
            f"eeg has {total} samples, shorter than one {window_s} s window ({n_times} samples "
            f"at {sfreq} Hz){hint}. Pass at least {n_times} samples as (n_channels, n_times)."
        )
    used = eeg[:, : n_win * n_times]
    if method == "seedv":
        # FFT along contiguous memory, (n_ch, n_win, n_times); transpose the small result.
        de = _seedv_windows(used.reshape(n_ch, n_win, n_times), float(sfreq), bands)
        # A non-finite sample leaves its window non-finite: check the small result and
        # search the samples only when something is wrong (saves a pass over the input).
        if not np.isfinite(de).all():
            _raise_nonfinite(used, n_times)
        de = de.transpose(1, 0, 2)
        return _reorder(de, order)
    if not np.isfinite(used).all():
        _raise_nonfinite(used, n_times)
    de = np.empty((n_win, n_ch, len(bands)))
    x_uv = used * _V_TO_UV
    for b, sos in enumerate(band_sos(float(sfreq), bands)):
        zi = signal.sosfilt_zi(sos)[:, None, :] * x_uv[:, :1][None]
        filtered, _ = signal.sosfilt(sos, x_uv, axis=-1, zi=zi)
        var = filtered.reshape(n_ch, n_win, n_times).var(axis=-1)
        de[:, :, b] = _gaussian_de(var).T
    return _reorder(de, order)


class StreamingDE:
    """DE of one window at a time, numerically identical to :func:`de_features`.

    Parameters
    ----------
    spec : FeatureSpec
        Uses ``sfreq``, ``window_s``, ``bands``, ``de_method``, ``order``.

    Notes
    -----
    ``"seedv"`` has no state: the same window gives the same numbers as the batch function.
    For ``"gaussian"`` the band-pass state is carried between calls, so consecutive windows
    match the batch function over the same recording; call :meth:`reset` after a gap.
    """

    def __init__(self, spec: FeatureSpec):
        self.spec = spec
        self.n_times = _check_params(
            spec.sfreq, spec.window_s, spec.de_method, spec.order, spec.bands
        )
        self.n_channels = len(spec.ch_names)
        self._zi: list[np.ndarray] | None = None

    def reset(self) -> None:
        """Forget filter state (after a gap, or when the stream format changes)."""
        self._zi = None

    def transform(self, eeg_window: np.ndarray) -> tuple[np.ndarray, bool, set[str]]:
        """DE of one window.

        Parameters
        ----------
        eeg_window : array of shape (n_channels, n_times)
            Volts, ``n_times = window_s * sfreq``.

        Returns
        -------
        values : array of shape (n_channels * n_bands,)
            NaN when the window is invalid.
        valid : bool
            False when the window holds NaN/Inf.
        flags : set of str
            ``"nonfinite"`` (window rejected), ``"flat"`` (a channel at the power floor).
        """
        x = np.asarray(eeg_window, dtype=np.float64)
        expected = (self.n_channels, self.n_times)
        if x.shape != expected:
            raise ValueError(
                f"eeg_window has shape {x.shape}; expected {expected} (n_channels, "
                f"window_s * sfreq) for this spec."
            )
        n_bands = len(self.spec.bands)
        # ptp is NaN/Inf exactly when the channel holds NaN/Inf, and 0 when it is flat:
        # one pass answers both questions.
        spread = np.ptp(x, axis=-1)
        if not np.isfinite(spread).all():
            self.reset()  # a causal filter fed NaN never recovers
            return np.full(self.n_channels * n_bands, np.nan), False, {"nonfinite"}
        if self.spec.de_method == "seedv":
            de = _seedv_windows(x[None], self.spec.sfreq, self.spec.bands)
        else:
            x_uv = x * _V_TO_UV
            sos_list = band_sos(self.spec.sfreq, self.spec.bands)
            if self._zi is None:
                self._zi = [
                    signal.sosfilt_zi(sos)[:, None, :] * x_uv[:, :1][None] for sos in sos_list
                ]
            var = np.empty((self.n_channels, n_bands))
            for b, sos in enumerate(sos_list):
                y, self._zi[b] = signal.sosfilt(sos, x_uv, axis=-1, zi=self._zi[b])
                var[:, b] = y.var(axis=-1)
            de = _gaussian_de(var)[None]
        flags = set()
        if (spread == 0).any():
            flags.add("flat")
        return _reorder(de, self.spec.order)[0], True, flags


def flat_channels(eeg_window: np.ndarray) -> np.ndarray:
    """Indices of channels with zero peak-to-peak in ``(n_channels, n_times)``."""
    return np.flatnonzero(np.ptp(np.asarray(eeg_window), axis=-1) == 0)
