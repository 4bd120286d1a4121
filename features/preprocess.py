"""SEED-V preprocessing: resample to 200 Hz, band-pass 1-75 Hz (shared/SEEDV.md §4).

The lab's filter type and order are unpublished; we use a 4th-order Butterworth band-pass
(second-order sections) and a Kaiser-windowed polyphase FIR for resampling (scipy's
``resample_poly`` design). The causal form uses the MINIMUM-PHASE version of that FIR: the same
magnitude response (within 1e-5 dB), so the same band powers, but a group delay of ~8 ms in the
DE bands (1-50 Hz) instead of the linear-phase filter's 50 ms at 500-1000 Hz input.

Causal output sample ``m`` is stamped ``t_first + m / sfreq_out``: the input time of its position
in the input, which at integer ratios (1000 -> 200 Hz) is the newest input sample it uses (as for
the band-pass, whose group delay was never subtracted either). A window of output samples is
therefore complete the moment its last input sample arrives: the filter adds no wait to a live
prediction. What the group delay does is shift the content a window weighs by ~8 ms against its
stamps (0.2% of a 4-s window; EEG against gaze the same); ``bench/bench_resampler.py`` measures
the DE this gives against the zero-phase offline path on the same stamps.

Two forms of the same filters:

- :func:`preprocess_batch` with ``causal=False``: zero-phase (``resample_poly`` +
  ``sosfiltfilt``), for offline analysis of complete recordings.
- :class:`StreamingPreprocessor`, causal and stateful, for live use; :func:`preprocess_batch`
  with ``causal=True`` runs exactly that over a whole recording. Training data that should match
  live features must be made with ``causal=True`` (the simulator does).
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy import signal

SEEDV_SFREQ = 200.0
SEEDV_BAND_HZ = (1.0, 75.0)
FILTER_ORDER = 4


@lru_cache(maxsize=16)
def _bandpass_sos(sfreq: float) -> np.ndarray:
    lo, hi = SEEDV_BAND_HZ
    hi = min(hi, 0.45 * sfreq)  # keep the upper edge below Nyquist at low rates
    return signal.butter(FILTER_ORDER, [lo, hi], btype="bandpass", fs=sfreq, output="sos")


#: Band over which the causal resampler's delay is stated (the DE bands), Hz.
DELAY_BAND_HZ = (1.0, 50.0)


@lru_cache(maxsize=16)
def _linear_phase_fir(up: int, down: int) -> np.ndarray:
    """The anti-aliasing FIR ``resample_poly`` designs for ``up/down`` (gain ``up``)."""
    max_rate = max(up, down)
    half_len = 10 * max_rate
    h = signal.firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * up
    h.flags.writeable = False
    return h


@lru_cache(maxsize=16)
def _resample_fir(up: int, down: int) -> np.ndarray:
    """The causal resampler's FIR: the minimum-phase form of :func:`_linear_phase_fir`, same
    length and magnitude response (homomorphic method, full length)."""
    h = signal.minimum_phase(_linear_phase_fir(up, down), method="homomorphic", half=False)
    h.flags.writeable = False
    return h


def fir_delay_s(h: np.ndarray, fs: float) -> float:
    """Median group delay of FIR ``h`` (at rate ``fs``) over :data:`DELAY_BAND_HZ`, seconds."""
    f = np.linspace(*DELAY_BAND_HZ, 50)
    _, gd = signal.group_delay((h, [1.0]), w=f, fs=fs)
    return float(np.median(gd)) / fs


def _ratio(sfreq_in: float, sfreq_out: float) -> tuple[int, int]:
    frac = Fraction(sfreq_out / sfreq_in).limit_denominator(1000)
    if abs(float(frac) * sfreq_in - sfreq_out) > 1e-6:
        raise ValueError(
            f"Cannot resample {sfreq_in} Hz to {sfreq_out} Hz with a rational ratio of small "
            "integers; resample the stream to a standard rate first."
        )
    return frac.numerator, frac.denominator


def _check(eeg: np.ndarray, sfreq: float) -> np.ndarray:
    eeg = np.asarray(eeg, dtype=np.float64)
    if eeg.ndim != 2:
        raise ValueError(f"eeg must be (n_channels, n_times); got shape {eeg.shape}.")
    if not sfreq >= 100:
        raise ValueError(f"sfreq={sfreq} Hz is too low for SEED-V features (>= 100 Hz).")
    return eeg


def preprocess_batch(
    eeg: np.ndarray, sfreq: float, *, sfreq_out: float = SEEDV_SFREQ, causal: bool = False
) -> tuple[np.ndarray, float]:
    """Resample to ``sfreq_out`` and band-pass 1-75 Hz a whole recording.

    Parameters
    ----------
    eeg : array of shape (n_channels, n_times)
        Volts.
    sfreq : float
        Input rate, Hz.
    sfreq_out : float
        Output rate, Hz (SEED-V: 200).
    causal : bool
        False: zero-phase filters. True: the causal filters of :class:`StreamingPreprocessor`
        (identical output to streaming the recording in any chunking).

    Returns
    -------
    eeg_out : array of shape (n_channels, n_times_out)
    sfreq_out : float
    """
    eeg = _check(eeg, sfreq)
    if causal:
        pre = StreamingPreprocessor(eeg.shape[0], sfreq, sfreq_out=sfreq_out)
        return pre.push(eeg), sfreq_out
    up, down = _ratio(sfreq, sfreq_out)
    if (up, down) != (1, 1):
        eeg = signal.resample_poly(eeg, up, down, axis=-1, window=("kaiser", 5.0))
    return signal.sosfiltfilt(_bandpass_sos(sfreq_out), eeg, axis=-1), sfreq_out


class StreamingPreprocessor:
    """Causal, stateful resampler + band-pass; output independent of the chunking.

    Parameters
    ----------
    n_channels : int
    sfreq_in : float
        Stream rate, Hz.
    sfreq_out : float
        Model rate, Hz.

    Attributes
    ----------
    delay_s : float
        Group delay of the (minimum-phase) resampling FIR, seconds: its median over 1-50 Hz,
        ~8 ms at 500 or 1000 Hz input (it rises to ~14 ms at 75 Hz; the band-pass adds a
        frequency-dependent delay of a few ms too). Stated, not subtracted: output sample ``m``
        is stamped ``t_first + m / sfreq_out`` (module docstring).
    """

    def __init__(self, n_channels: int, sfreq_in: float, *, sfreq_out: float = SEEDV_SFREQ):
        if not sfreq_in >= 100:
            raise ValueError(f"sfreq_in={sfreq_in} Hz is too low for SEED-V features (>= 100).")
        self.n_channels = int(n_channels)
        self.sfreq_in = float(sfreq_in)
        self.sfreq_out = float(sfreq_out)
        self.up, self.down = _ratio(self.sfreq_in, self.sfreq_out)
        self._h = _resample_fir(self.up, self.down) if (self.up, self.down) != (1, 1) else None
        self.delay_s = 0.0 if self._h is None else fir_delay_s(self._h, sfreq_in * self.up)
        self._sos = _bandpass_sos(self.sfreq_out)
        self.reset()

    def reset(self) -> None:
        """Start over (after a gap): filter state and resampler history cleared."""
        self._zi = None
        self._n_in = 0  # input samples consumed so far
        self._n_out = 0  # output samples produced so far
        n_hist = 0 if self._h is None else int(np.ceil(len(self._h) / self.up)) + 1
        self._hist = np.zeros((self.n_channels, n_hist))

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Filter the next samples.

        Parameters
        ----------
        chunk : array of shape (n_channels, n_new)
            Volts, consecutive with the previous call.

        Returns
        -------
        out : array of shape (n_channels, n_out)
            Resampled and band-passed; ``n_out`` varies with the chunking, the concatenated
            output does not.
        """
        x = np.asarray(chunk, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise ValueError(f"chunk must be ({self.n_channels}, n_new); got {x.shape}.")
        if self._h is not None:
            x = self._resample(x)
        if x.shape[1] == 0:
            return x
        if self._zi is None:
            # Start from the steady state of the first sample to avoid a step transient.
            self._zi = signal.sosfilt_zi(self._sos)[:, None, :] * x[:, :1][None]
        y, self._zi = signal.sosfilt(self._sos, x, axis=-1, zi=self._zi)
        return y

    def _resample(self, x: np.ndarray) -> np.ndarray:
        up, down, h = self.up, self.down, self._h
        n_hist = self._hist.shape[1]
        buf = np.concatenate([self._hist, x], axis=1)  # absolute index of buf[:, 0]:
        base = self._n_in - n_hist
        self._n_in += x.shape[1]
        # Output m uses up-sampled index m*down; it needs input j = floor(m*down/up) <= n_in-1.
        m_stop = ((self._n_in - 1) * up) // down + 1
        m = np.arange(self._n_out, m_stop)
        self._n_out = m_stop
        self._hist = buf[:, -n_hist:]
        if m.size == 0:
            return np.zeros((self.n_channels, 0))
        n_taps = n_hist
        out = np.empty((self.n_channels, m.size))
        # Blocks bound the (n_channels, block, n_taps) gather to a few MB on long recordings.
        for lo in range(0, m.size, 1024):
            mb = m[lo : lo + 1024]
            jj = ((mb * down) // up)[:, None] - np.arange(n_taps)[None, :]  # input indices
            k = mb[:, None] * down - jj * up  # tap index into h
            ok = (k >= 0) & (k < len(h)) & (jj >= 0)
            coef = np.where(ok, h[np.clip(k, 0, len(h) - 1)], 0.0)
            idx = np.clip(jj - base, 0, buf.shape[1] - 1)
            out[:, lo : lo + mb.size] = np.einsum("cnt,nt->cn", buf[:, idx], coef)
        return out
