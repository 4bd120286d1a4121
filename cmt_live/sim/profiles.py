"""Simulated subjects: the emotion signatures and everything that makes one subject differ.

:data:`EMOTION_EEG_EFFECTS` is the common (synthetic) EEG signature of each class;
:class:`SubjectProfile` draws a subject's own version of it, volume conduction, electrode gains,
spectrum, artefact sizes, pupils and gaze habits from ``(subject, seed)``. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.constants import BANDS
from features.seedv import N_CLASSES

from .randomness import PROFILE, keyed_rng
from .scalp import N_CHANNELS, POSITIONS, region, smooth_field

N_BANDS = len(BANDS)

#: Synthetic emotion signatures: class -> [(band, region, log-amplitude gain)].
#: A gain g multiplies the band's amplitude by e^g (power by e^2g, SEED DE by 2g/ln 2).
EMOTION_EEG_EFFECTS: dict[int, list[tuple[str, str, float]]] = {
    0: [  # Disgust: withdrawal asymmetry, frontal gamma, central theta
        ("alpha", "frontal_right", -0.22),
        ("gamma", "frontal", 0.25),
        ("theta", "central", 0.15),
    ],
    1: [  # Fear: withdrawal asymmetry, posterior beta, frontal-midline theta
        ("alpha", "frontal_right", -0.18),
        ("beta", "posterior", 0.25),
        ("theta", "frontal_mid", 0.2),
        ("gamma", "temporal", 0.1),
    ],
    2: [  # Sad: posterior alpha and frontal delta up, temporal gamma down
        ("alpha", "posterior", 0.18),
        ("delta", "frontal", 0.18),
        ("gamma", "temporal", -0.2),
    ],
    3: [  # Neutral: relaxed posterior alpha, quieter beta
        ("alpha", "posterior", 0.25),
        ("beta", "central", -0.12),
    ],
    4: [  # Happy: approach asymmetry, temporal beta/gamma
        ("alpha", "frontal_left", -0.22),
        ("gamma", "temporal", 0.3),
        ("beta", "temporal", 0.2),
    ],
}
_BAND_INDEX = {b[0]: i for i, b in enumerate(BANDS)}


def effects_table() -> np.ndarray:
    """Common emotion log-amplitude gains, shape (6, 62, 5): classes 0..4, row 5 = rest (0)."""
    e = np.zeros((N_CLASSES + 1, N_CHANNELS, N_BANDS))
    for cls, items in EMOTION_EEG_EFFECTS.items():
        for band, where, gain in items:
            e[cls, :, _BAND_INDEX[band]] += gain * region(where)
    return e


@dataclass(frozen=True, eq=False)
class SubjectProfile:
    """Everything that makes one simulated subject different from another.

    Built by :meth:`from_seed`; arrays are read-only.

    Attributes
    ----------
    subject, seed : int
        Subject number and dataset seed it was drawn from.
    log_gain : ndarray, shape (62, 5)
        Baseline log-amplitude offset per channel and band.
    effects : ndarray, shape (6, 62, 5)
        This subject's emotion log-amplitude gains (classes 0..4, row 5 = rest).
    mixing : ndarray, shape (62, 62)
        Volume conduction from sources to electrodes.
    channel_gain : ndarray, shape (62,)
        Electrode gain.
    rms_uv : float
        Background RMS per source, µV.
    exponent : float
        1/f exponent of the power spectrum.
    alpha_hz : float
        Individual alpha frequency, Hz.
    line_uv, line_phase : ndarray, shape (62,)
        50 Hz line-noise amplitude (µV) and phase (rad) per channel.
    blink_uv, heog_uv_per_deg, veog_uv_per_deg : float
        EOG artefact sizes: blink peak, µV; µV per degree of horizontal/vertical gaze.
    pupil_mm, anisocoria, arousal_gain : float
        Pupil baseline (mm), relative right/left difference, scale of the arousal dilation.
    fixation_scale, saccade_scale, blink_scale, muscle_scale : float
        Multipliers of the class-level gaze/blink/muscle parameters.
    gaze_class_jitter : ndarray, shape (6, 3)
        Per-class log multipliers of fixation duration, saccade amplitude and blink rate.
    hippus : ndarray, shape (3, 3)
        Hippus components: (frequency Hz, amplitude mm, phase rad).
    drift : ndarray, shape (3,)
        Vigilance drift: (period s, phase rad, alpha/theta log gain).
    """

    subject: int
    seed: int
    log_gain: np.ndarray
    effects: np.ndarray
    mixing: np.ndarray
    channel_gain: np.ndarray
    rms_uv: float
    exponent: float
    alpha_hz: float
    line_uv: np.ndarray
    line_phase: np.ndarray
    blink_uv: float
    heog_uv_per_deg: float
    veog_uv_per_deg: float
    pupil_mm: float
    anisocoria: float
    arousal_gain: float
    fixation_scale: float
    saccade_scale: float
    blink_scale: float
    muscle_scale: float
    gaze_class_jitter: np.ndarray
    hippus: np.ndarray
    drift: np.ndarray

    @classmethod
    def from_seed(cls, subject: int, seed: int = 0) -> SubjectProfile:
        """Draw a subject. Same ``(subject, seed)``, same profile.

        Parameters
        ----------
        subject : int
            Subject number (>= 1 by convention; any int works).
        seed : int
            Dataset seed: the same subject number under another seed is another person.

        Returns
        -------
        SubjectProfile
        """
        if not isinstance(subject, (int, np.integer)) or isinstance(subject, bool):
            raise ValueError(f"subject={subject!r} must be an int.")
        rng = keyed_rng(seed, subject, PROFILE)
        # Baseline offsets: a global per-band part plus a smooth spatial part.
        log_gain = (
            0.15 * rng.standard_normal((1, N_BANDS)) + 0.15 * smooth_field(rng, N_BANDS, 0.35).T
        )
        # Emotion signatures: scaled per class, plus a subject-specific smooth deviation.
        common = effects_table()
        scale = np.exp(0.25 * rng.standard_normal((N_CLASSES + 1, 1, 1)))
        idio = 0.07 * smooth_field(rng, (N_CLASSES + 1) * N_BANDS, 0.4).reshape(
            N_CLASSES + 1, N_BANDS, N_CHANNELS
        ).transpose(0, 2, 1)
        effects = common * scale + idio
        effects[N_CLASSES] = 0.0  # rest is the subject's baseline
        # Volume conduction: Gaussian spread with subject width/strength, plus random leakage.
        d2 = ((POSITIONS[:, None, :] - POSITIONS[None, :, :]) ** 2).sum(-1)
        width = rng.uniform(0.15, 0.35)
        spread = rng.uniform(0.3, 0.8) * np.exp(-d2 / (2 * width**2))
        np.fill_diagonal(spread, 1.0)
        mixing = spread + 0.08 * rng.standard_normal((N_CHANNELS, N_CHANNELS))
        mixing /= np.sqrt((mixing**2).sum(axis=1, keepdims=True))
        pupil_mm = rng.uniform(2.8, 4.5)
        p = dict(
            subject=int(subject),
            seed=int(seed),
            log_gain=log_gain,
            effects=effects,
            mixing=mixing,
            channel_gain=np.exp(0.15 * rng.standard_normal(N_CHANNELS)),
            rms_uv=float(rng.uniform(12.0, 25.0)),
            exponent=float(rng.uniform(1.3, 2.1)),
            alpha_hz=float(rng.uniform(8.8, 11.5)),
            line_uv=rng.uniform(0.3, 3.0) * np.exp(0.3 * rng.standard_normal(N_CHANNELS)),
            line_phase=rng.uniform(0, 2 * np.pi, N_CHANNELS),
            blink_uv=float(rng.uniform(70.0, 160.0)),
            heog_uv_per_deg=float(rng.uniform(3.0, 8.0)),
            veog_uv_per_deg=float(rng.uniform(2.0, 6.0)),
            pupil_mm=float(pupil_mm),
            anisocoria=float(rng.normal(0.0, 0.03)),
            arousal_gain=float(np.exp(0.3 * rng.standard_normal())),
            fixation_scale=float(np.exp(0.2 * rng.standard_normal())),
            saccade_scale=float(np.exp(0.2 * rng.standard_normal())),
            blink_scale=float(np.exp(0.35 * rng.standard_normal())),
            muscle_scale=float(np.exp(0.4 * rng.standard_normal())),
            gaze_class_jitter=0.1 * rng.standard_normal((N_CLASSES + 1, 3)),
            hippus=np.column_stack(
                [
                    rng.uniform([0.05, 0.2, 0.5], [0.2, 0.5, 0.9]),
                    rng.uniform(0.03, 0.1, 3),
                    rng.uniform(0, 2 * np.pi, 3),
                ]
            ),
            drift=np.array([rng.uniform(600, 1800), rng.uniform(0, 2 * np.pi), 0.1]),
        )
        for v in p.values():
            if isinstance(v, np.ndarray):
                v.flags.writeable = False
        return cls(**p)
