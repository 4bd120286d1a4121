"""Simulated EEG: 62 channels of background rhythms, emotion signatures and artefacts.

EEG (62 channels, :data:`features.constants.SEEDV_CHANNELS`, volts; ~10-50 µV RMS):

- *Background*: per "source" (one under each electrode) a 1/f^chi amplitude spectrum
  (subject-specific exponent) with an alpha peak at the subject's individual alpha frequency
  (posterior) and a beta peak (central), plus a white sensor floor. It is synthesised in
  2-s blocks (random phases, Gaussian amplitudes) with a sine window and 50 % overlap-add
  (sin^2 + cos^2 = 1, so the variance is stationary), so each second depends only on the
  blocks around it.
- *Emotion signatures*: per class a log-amplitude gain per channel and band
  (:data:`cmt_live.sim.profiles.EMOTION_EEG_EFFECTS`): e.g. Happy raises temporal beta/gamma
  and lowers left-frontal alpha (approach asymmetry), Fear/Disgust lower right-frontal alpha
  (withdrawal) and raise posterior beta or frontal gamma, Sad and Neutral raise posterior
  alpha. The gain follows the label of the block's centre second, scaled by a slowly varying
  intensity.
- *Subject shifts*: per subject a random log gain per channel and band, its own scaling and
  idiosyncratic deviation of every emotion signature, its own volume-conduction mixing matrix
  (Gaussian spread over the scalp with a subject-specific width and strength plus random
  leakage), per-channel electrode gains, 1/f exponent and alpha frequency
  (:class:`cmt_live.sim.profiles.SubjectProfile`); per session a small extra gain (cap
  placement); per trial a random offset (clip content).
- *Artefacts*: blinks (a 0.2-0.5 s positive wave, ~100 µV at FP1/FP2, decaying backwards),
  horizontal/vertical EOG that follows the simulated gaze (µV per degree at F7/F8 and FP),
  muscle bursts (high-passed noise on temporal sites, 0.3-1.5 s), 50 Hz line noise. Blinks
  and gaze come from the session's :class:`cmt_live.sim.gaze.EyeSimulator`.

Synthetic, not a model of real physiology. Pure numpy.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from features.constants import BANDS

from .gaze import EyeSimulator
from .profiles import N_BANDS, SubjectProfile
from .randomness import (
    EEG_BLOCK,
    MUSCLE,
    MUSCLE_WAVE,
    SENSOR,
    SESSION_GAIN,
    TRIAL,
    EventProcess,
    keyed_rng,
)
from .scalp import N_CHANNELS, POSITIONS, region
from .schedule import Timeline

UV = 1e-6  # volts per microvolt
#: Muscle bursts per minute, per class row (index 5 = rest).
MUSCLE_PER_MIN = np.array([3.0, 2.0, 1.0, 1.0, 2.0, 1.0])


def _one_blas_thread():
    """Run the small matrix products single-threaded.

    A (62 x 62) @ (62 x 400) product took 1.3 ms with OpenBLAS's 2 threads on a loaded 2-core
    machine and 0.09 ms with one: thread hand-off dominates products this small.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an optional speed-up (threadpoolctl comes with scikit-learn)
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _soft_box(f: np.ndarray, lo: float, hi: float, edge: float) -> np.ndarray:
    """1 on [lo, hi), raised-cosine edges of ``edge`` Hz centred on lo and hi."""

    def step(x):
        return np.clip(0.5 + 0.5 * np.sin(np.pi * np.clip(x / edge, -0.5, 0.5)), 0.0, 1.0)

    return step(f - lo) * step(hi - f)


class EegSimulator:
    """The EEG half of a simulated session, by random access to whole seconds.

    Parameters
    ----------
    profile : SubjectProfile
    timeline : Timeline
        The session's schedule.
    key : tuple of int
        ``(seed, subject, session)``: the prefix of every RNG key.
    sfreq : float
        EEG rate, Hz; a whole number (checked by the caller).
    eyes : EyeSimulator
        The same session's eyes: blinks and gaze position drive the EOG artefacts.

    Notes
    -----
    Sample ``n`` is at ``t = n / sfreq`` seconds. Second ``j`` is the overlap-add of spectral
    blocks ``j`` and ``j + 1`` plus sensor noise and artefacts; a few blocks and seconds are
    cached, so sequential reads cost one block per second.
    """

    def __init__(
        self,
        profile: SubjectProfile,
        timeline: Timeline,
        key: tuple[int, int, int],
        sfreq: float,
        eyes: EyeSimulator,
    ):
        self.profile, self.timeline, self._key, self._eyes = profile, timeline, key, eyes
        self.sfreq = float(sfreq)
        rng = keyed_rng(*key, SESSION_GAIN)
        # Cap placement of this session: a small extra log gain per channel and band.
        self._session_gain = 0.08 * rng.standard_normal((N_CHANNELS, N_BANDS))
        self._hop = int(self.sfreq)  # samples per second
        self._block_len = 2 * self._hop
        self._spectra()
        self._blocks: dict[int, np.ndarray] = {}
        self._seconds: dict[int, np.ndarray] = {}
        self._muscle = EventProcess(keyed_rng(*key, MUSCLE), self._draw_muscle, 4, 1.5)
        self._blink_w = np.exp(-(0.95 - POSITIONS[:, 1]) / 0.18) * (
            1 - 0.3 * np.abs(POSITIONS[:, 0])
        )
        lateral = np.exp(-(((POSITIONS[:, 1] - 0.45) / 0.35) ** 2))
        self._heog_w = POSITIONS[:, 0] * lateral * (np.abs(POSITIONS[:, 0]) > 0.4)
        self._veog_w = np.exp(-(0.95 - POSITIONS[:, 1]) / 0.25)

    def _spectra(self) -> None:
        """Per-source amplitude spectra (µV), band weights and the block window."""
        p = self.profile
        f = np.fft.rfftfreq(self._block_len, 1.0 / self.sfreq)
        self._freqs = f
        fpos = np.maximum(f, 0.5)
        amp = fpos ** (-p.exponent / 2)
        # Alpha (posterior) and beta (central) peaks, relative to the 1/f floor at 10 Hz.
        post = region("posterior")
        cent = region("central")
        alpha = np.exp(-0.5 * ((f - p.alpha_hz) / 1.2) ** 2)
        beta = np.exp(-0.5 * ((f - 20.0) / 3.0) ** 2)
        ref = 10.0 ** (-p.exponent / 2)
        base = amp[None, :] + ref * (
            (1.0 + 2.5 * post[:, None]) * alpha[None, :] + (0.3 + 0.8 * cent[:, None]) * beta
        )
        base[:, f < 0.5] = 0.0
        base[:, f > 0.47 * self.sfreq] = 0.0  # no power at Nyquist
        # Normalise so a source has rms_uv (variance of irfft = 2/L^2 sum |A|^2).
        var = 2.0 / self._block_len**2 * (base**2).sum(axis=1)
        self._base = base * (p.rms_uv / np.sqrt(var))[:, None]
        # Smooth band weights (n_bands, n_freqs): 1 inside, cosine edges 1 Hz wide.
        w = np.zeros((N_BANDS, f.size))
        for b, (_, lo, hi) in enumerate(BANDS):
            w[b] = _soft_box(f, lo, hi, 1.0)
        self._band_w = w
        n = np.arange(self._block_len)
        self._window = np.sin(np.pi * (n + 0.5) / self._block_len)

    def _trial_offset(self, g: int) -> np.ndarray:
        """Log gains of clip ``g`` (global segment index), shape (62, 5)."""
        r = keyed_rng(*self._key, TRIAL, g)
        return 0.07 * r.standard_normal((1, N_BANDS)) + 0.05 * r.standard_normal(
            (N_CHANNELS, N_BANDS)
        )

    def _block(self, k: int) -> np.ndarray:
        """Spectral block k: samples [(k-1) hop, (k+1) hop), windowed, shape (62, 2 hop) µV."""
        blk = self._blocks.get(k)
        if blk is not None:
            return blk
        p = self.profile
        t = max(float(k), 0.0)
        lab = int(self.timeline.class_row(t))
        g = int(self.timeline.segment(t)[0])
        intensity = 0.8 + 0.2 * math.sin(2 * math.pi * t / 47.0 + p.drift[1] * 3)
        drift = np.zeros(N_BANDS)
        drift[[1, 2]] = p.drift[2] * math.sin(2 * math.pi * t / p.drift[0] + p.drift[1])
        gains = (
            p.log_gain
            + self._session_gain
            + p.effects[lab] * intensity
            + self._trial_offset(g)
            + drift[None, :]
        )
        amp = self._base * np.exp(gains @ self._band_w)
        r = keyed_rng(*self._key, EEG_BLOCK, k)
        z = r.standard_normal((2, N_CHANNELS, self._freqs.size))
        src = np.fft.irfft(amp * (z[0] + 1j * z[1]) / np.sqrt(2), n=self._block_len, axis=1)
        blk = (p.mixing @ src) * self._window
        if len(self._blocks) > 8:
            self._blocks.pop(min(self._blocks))
        self._blocks[k] = blk
        return blk

    def _second(self, j: int) -> np.ndarray:
        """EEG second j: samples [j hop, (j+1) hop), shape (62, hop), µV."""
        sec = self._seconds.get(j)
        if sec is not None:
            return sec
        h = self._hop
        x = self._block(j)[:, h:] + self._block(j + 1)[:, :h]
        x = x * self.profile.channel_gain[:, None]
        r = keyed_rng(*self._key, SENSOR, j)
        x += r.standard_normal(x.shape)  # 1 µV sensor noise
        t = (j * h + np.arange(h)) / self.sfreq
        x += self._artefacts(t)
        if len(self._seconds) > 4:
            self._seconds.pop(min(self._seconds))
        self._seconds[j] = x
        return x

    def _artefacts(self, t: np.ndarray) -> np.ndarray:
        """Line noise, blinks, EOG and muscle at times ``t`` (s), shape (62, n), µV."""
        p = self.profile
        t0, t1 = float(t[0]), float(t[-1]) + 1.0 / self.sfreq
        out = np.zeros((N_CHANNELS, t.size))
        # Line noise: continuous phase across seconds.
        amp, phase = p.line_uv, p.line_phase
        out += amp[:, None] * np.sin(2 * np.pi * 50.0 * t[None, :] + phase[:, None])
        # Blinks: positive bump, frontal.
        for start, dur, size in self._eyes.blinks.overlapping(t0 - 0.1, t1):
            span = dur + 0.1
            u = (t - start) / span
            m = (u >= 0) & (u < 1)
            if m.any():
                out[:, m] += (p.blink_uv * size * self._blink_w)[:, None] * np.sin(
                    np.pi * u[m]
                ) ** 2
        # EOG from gaze position (corneo-retinal dipole): follows fixations and saccades.
        gx, gy = self._eyes.position(t)
        out += (p.heog_uv_per_deg * self._heog_w)[:, None] * gx[None, :]
        out += (p.veog_uv_per_deg * self._veog_w)[:, None] * gy[None, :]
        # Muscle bursts: high-passed noise on one or both temporal sides.
        for start, dur, side, size in self._muscle.overlapping(t0, t1):
            n0 = math.ceil(start * self.sfreq)
            n_ev = max(int(dur * self.sfreq), 2)
            ev_idx = round(start * 1e4)
            r = keyed_rng(*self._key, MUSCLE_WAVE, ev_idx)
            wave = np.diff(r.standard_normal(n_ev + 1)) * np.hanning(n_ev)
            s = np.round(t * self.sfreq).astype(np.int64) - n0
            m = (s >= 0) & (s < n_ev)
            if m.any():
                xs = POSITIONS[:, 0]
                if side < 0.33:
                    w = np.exp(-(((xs + 0.92) / 0.25) ** 2))
                elif side < 0.66:
                    w = np.exp(-(((xs - 0.92) / 0.25) ** 2))
                else:
                    w = np.exp(-(((np.abs(xs) - 0.92) / 0.25) ** 2))
                w = w * np.exp(-((POSITIONS[:, 1] / 0.6) ** 2))
                out[:, m] += (size * w)[:, None] * wave[s[m]][None, :]
        return out

    def _draw_muscle(self, rng, t):
        """Next muscle burst after ``t`` s: (start_s, duration_s, side, size_uv)."""
        cls = int(self.timeline.class_row(t))
        rate = MUSCLE_PER_MIN[cls] * self.profile.muscle_scale / 60
        t_next = t + rng.exponential(1 / rate)
        dur = float(rng.uniform(0.3, 1.5))
        size = float(rng.uniform(8.0, 30.0))
        return (t_next, dur, float(rng.uniform()), size), t_next + dur

    def segment(self, start: int, n_samples: int) -> np.ndarray:
        """EEG samples ``[start, start + n_samples)`` (random access).

        Returns
        -------
        eeg : ndarray, shape (62, n_samples)
            Volts.
        """
        if start < 0 or n_samples < 0:
            raise ValueError(f"start={start}, n_samples={n_samples} must be >= 0.")
        if n_samples == 0:
            return np.zeros((N_CHANNELS, 0))
        h = self._hop
        j0, j1 = start // h, (start + n_samples - 1) // h
        with _one_blas_thread():
            x = np.concatenate([self._second(j) for j in range(j0, j1 + 1)], axis=1)
        off = start - j0 * h
        return x[:, off : off + n_samples] * UV
