"""EEG at the stream's rate -> filtered, resampled, restamped samples at the model's rate.

Raw volts in the model's channel order go through
:class:`features.preprocess.StreamingPreprocessor` (resampling to the contract's sfreq and the
SEED-V band-pass, the causal filters ``cmt-sim dataset`` used for the training data) into a
ring buffer at the model's rate. Each output sample is stamped with the input time of its
position in the input (interpolated from the input stamps; at integer ratios the newest input
it uses), so a window is complete the moment its last input sample arrives. The filters' group
delays are not subtracted (see :class:`features.preprocess.StreamingPreprocessor`). A timestamp
jump or a NaN burst restarts the preprocessor (a causal filter fed NaN never recovers); NaN
samples are stored as NaN so the windows that hold them are flagged, not silently filled.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from features.preprocess import StreamingPreprocessor

from .ring_buffer import RingBuffer
from .settings import Settings


class EegConditioner:
    """Preprocess and restamp EEG into :attr:`buffer` (see the module docstring).

    Parameters
    ----------
    settings : Settings
        Uses ``spec`` (channels, ``sfreq``, ``preprocess``), ``eeg_sfreq``, ``buffer_s`` and
        ``windows.restart_gap_periods``.

    Attributes
    ----------
    buffer : RingBuffer
        EEG at the model rate, ``(n_times, n_channels)`` volts, stamps on the input clock.
    """

    def __init__(self, settings: Settings):
        spec = settings.spec
        self.n_channels = len(spec.ch_names)
        self.sfreq_in = float(settings.eeg_sfreq)
        self.sfreq_out = float(spec.sfreq)
        self.buffer = RingBuffer(
            self.n_channels,
            int(np.ceil(settings.buffer_s * spec.sfreq)),
            np.float64,
            name="eeg (model rate)",
        )
        self._pre = (
            StreamingPreprocessor(self.n_channels, self.sfreq_in, sfreq_out=self.sfreq_out)
            if spec.preprocess
            else None
        )
        self._restart_s = settings.windows.restart_gap_periods / self.sfreq_in
        self._run_open = False  # a preprocessor run is in progress
        self._last_in: tuple[int, float] | None = None  # (run input index, stamp) of last sample
        self._run_n_in = 0
        self._run_n_out = 0

    def push(self, data: np.ndarray, timestamps: np.ndarray) -> None:
        """EEG samples in volts, model channel order, at the stream's rate.

        Parameters
        ----------
        data : array of shape (n_samples, n_channels)
        timestamps : array of shape (n_samples,)
            Seconds, increasing.
        """
        x = np.asarray(data, dtype=np.float64)
        ts = np.asarray(timestamps, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_channels or ts.shape != (x.shape[0],):
            raise ValueError(
                f"EEG needs data (n_samples, {self.n_channels}) in the model's channel order "
                f"and one timestamp per sample; got {x.shape} and {ts.shape}."
            )
        if ts.size == 0:
            return
        finite = np.isfinite(x).all(axis=1)
        # Split where the stamps jump (outage) or finiteness changes (NaN burst).
        cuts = np.flatnonzero((np.diff(ts) > self._restart_s) | (finite[1:] != finite[:-1])) + 1
        if self._last_in is not None and ts[0] - self._last_in[1] > self._restart_s:
            self._run_open = False
        bounds = [0, *cuts.tolist(), ts.size]
        for a, b in pairwise(bounds):
            if a > 0 and ts[a] - ts[a - 1] > self._restart_s:
                self._run_open = False
            if finite[a]:
                self._push_finite(x[a:b], ts[a:b])
            else:
                self._push_nonfinite(ts[a:b])

    def _push_finite(self, x: np.ndarray, ts: np.ndarray) -> None:
        if not self._run_open:
            if self._pre is not None:
                self._pre.reset()
            self._run_open = True
            self._last_in = None
            self._run_n_in = 0
            self._run_n_out = 0
        n = ts.size
        idx = self._run_n_in + np.arange(n)
        if self._pre is None:
            y, out_ts = x.T, ts
        else:
            y = self._pre.push(x.T)
            m = self._run_n_out + np.arange(y.shape[1])
            pos = m * (self._pre.down / self._pre.up)
            if self._last_in is not None:
                xp = np.concatenate([[self._last_in[0]], idx])
                fp = np.concatenate([[self._last_in[1]], ts])
            else:
                xp, fp = idx, ts
            out_ts = np.interp(pos, xp, fp)
            self._run_n_out += y.shape[1]
        self._run_n_in += n
        self._last_in = (int(idx[-1]), float(ts[-1]))
        self._store(y.T, out_ts)

    def _push_nonfinite(self, ts: np.ndarray) -> None:
        self._run_open = False
        self._last_in = (0, float(ts[-1]))
        period = 1.0 / self.sfreq_out
        if abs(self.sfreq_in - self.sfreq_out) < 1e-9:
            out_ts = ts
        else:
            out_ts = ts[0] + np.arange(int((ts[-1] - ts[0]) / period) + 1) * period
        self._store(np.full((out_ts.size, self.n_channels), np.nan), out_ts)

    def _store(self, y: np.ndarray, ts: np.ndarray) -> None:
        y, ts = self.buffer.newer(y, ts)
        if ts.size:
            self.buffer.push(y, ts)
