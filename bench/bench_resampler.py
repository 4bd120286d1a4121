"""The causal resampler's filter: its delay and its effect on DE against the offline path.

Live input at 500-1000 Hz is resampled to the model's 200 Hz by a causal FIR
(``features.preprocess.StreamingPreprocessor``); training data made by ``cmt-sim dataset`` /
``cmt-dataset`` runs the same code. This bench compares, on 1000 Hz EEG-like noise (1/f
background + a 10 Hz alpha rhythm + 40 Hz activity, 16 channels, 10 minutes):

- ``zero-phase``: the offline path (``preprocess_batch(causal=False)``: ``resample_poly`` +
  ``sosfiltfilt``), the reference;
- ``linear-phase causal``: the previous live filter (the same Kaiser FIR, causal; 50 ms delay);
- ``minimum-phase causal``: the live filter now (same magnitude, ~8 ms delay);
- shorter candidates (minimum phase): a 31-tap equiripple FIR (pass 0-60 Hz, stop from 150
  Hz: aliases land above 50 Hz, outside the DE bands) and a 41-tap Kaiser FIR: a
  minimum-phase low-pass whose stop band starts at 150 Hz still delays the 1-50 Hz band by 5-6
  ms (the delay follows the transition width, not the length).

Columns: the group delay (median over 1-50 Hz), the worst pass-band deviation over 1-50 Hz and
the least stop-band attenuation from 150 Hz (what aliases into 0-50 Hz at 200 Hz).

DE features (SEED-V method, 4-s windows) of each causal output are compared with the
reference's: median and 99th percentile of |delta DE| (DE is log-power, so 0.01 ~ 1% power)
and the correlation, twice: on the same stamps (``as stamped``: how the live loop and the
training data cut windows, each output sample stamped with the newest input it uses, so the
filter adds no wait to a prediction) and with the output shifted back by its group delay
(``delay removed``: what stamping ``t - delay`` would give, at the cost of waiting the delay
for every window's last sample).

    .venv/bin/python bench/bench_resampler.py
"""

from __future__ import annotations

import sys
from unittest import mock

import numpy as np
from scipy import signal

from features import preprocess as pp
from features.de import de_features

FS_IN, FS_OUT, N_CH, MINUTES = 1000.0, 200.0, 16, 10


def eeg_like(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(MINUTES * 60 * FS_IN)
    spec = np.fft.rfft(rng.standard_normal((N_CH, n)), axis=1)
    f = np.fft.rfftfreq(n, 1 / FS_IN)
    spec /= np.maximum(f, 0.5)[None] ** 0.5  # 1/f power
    x = np.fft.irfft(spec, n, axis=1)
    x /= x.std(axis=1, keepdims=True)
    t = np.arange(n) / FS_IN
    amp = 1 + 0.5 * np.sin(2 * np.pi * t / 20)  # slowly varying alpha power
    x += 2 * amp * np.sin(2 * np.pi * 10 * t)[None] + 0.5 * np.sin(2 * np.pi * 40 * t)[None]
    return 10e-6 * x


def causal(x: np.ndarray, fir) -> tuple[np.ndarray, float]:
    with mock.patch.object(pp, "_resample_fir", fir):
        pre = pp.StreamingPreprocessor(x.shape[0], FS_IN, sfreq_out=FS_OUT)
        return pre.push(x), pre.delay_s


def _short_remez(up: int, down: int) -> np.ndarray:
    h = signal.remez(31, [0, 60, 150, 500], [1, 0], weight=[1, 10], fs=1000.0)
    return signal.minimum_phase(h, method="homomorphic", half=False) * up


def _short_kaiser(up: int, down: int) -> np.ndarray:
    h = signal.firwin(41, 100.0, window=("kaiser", 5.0), fs=1000.0)
    return signal.minimum_phase(h, method="homomorphic", half=False) * up


def _response(h: np.ndarray) -> tuple[float, float]:
    """(max |pass-band deviation| over 1-50 Hz, min stop-band attenuation from 150 Hz), dB."""
    w, resp = signal.freqz(h / h.sum(), worN=8192, fs=FS_IN)
    db = 20 * np.log10(np.abs(resp) + 1e-300)
    return float(np.abs(db[(w >= 1) & (w <= 50)]).max()), float(-db[w >= 150].max())


def main() -> int:
    x = eeg_like()
    ref, _ = pp.preprocess_batch(x, FS_IN, sfreq_out=FS_OUT, causal=False)
    runs = {
        "linear-phase causal": causal(x, pp._linear_phase_fir),
        "minimum-phase causal": causal(x, pp._resample_fir),
        "31-tap equiripple": causal(x, _short_remez),
        "41-tap Kaiser": causal(x, _short_kaiser),
    }
    firs = {
        "linear-phase causal": pp._linear_phase_fir(1, 5),
        "minimum-phase causal": pp._resample_fir(1, 5),
        "31-tap equiripple": _short_remez(1, 5),
        "41-tap Kaiser": _short_kaiser(1, 5),
    }
    skip = int(8 * FS_OUT)  # the band-pass start-up transient and the first windows
    de_ref = de_features(ref[:, skip:], FS_OUT)
    print(
        f"{N_CH} channels of 1000 Hz EEG-like noise, {MINUTES} min -> 200 Hz, DE of 4-s "
        f"windows vs the zero-phase offline path ({de_ref.shape[0]} windows):"
    )
    head = f"{'|dDE| p50':>10} {'|dDE| p99':>10} {'corr':>8}"
    print(f"{'':>49} {'as stamped':^30} {'delay removed':^30}")
    print(f"{'filter':>22} {'delay ms':>9} {'pass dB':>8} {'stop dB':>8} {head} {head}")
    for name, (y, delay_s) in runs.items():
        ripple, stop = _response(firs[name])
        cells = []
        for shift in (0, round(delay_s * FS_OUT)):  # whole output samples (5 ms at 200 Hz)
            ys = y[:, skip + shift :]
            n = min(ys.shape[1], ref.shape[1] - skip)
            de = de_features(ys[:, :n], FS_OUT)
            m = min(len(de), len(de_ref))
            d = np.abs(de[:m] - de_ref[:m])
            corr = np.corrcoef(de[:m].ravel(), de_ref[:m].ravel())[0, 1]
            cells.append(f"{np.median(d):10.4f} {np.percentile(d, 99):10.4f} {corr:8.5f}")
        print(f"{name:>22} {delay_s * 1e3:9.1f} {ripple:8.3f} {stop:8.1f} " + " ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
