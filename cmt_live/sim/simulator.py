"""A seeded raw-signal simulator of SEED-V-like sessions: 62-channel EEG and gaze.

Everything here is **synthetic**: a plausible signal model for testing the pipeline end to
end without the licensed data, not a model of real emotion physiology. Pure numpy.

Signal model
------------
EEG (62 channels, :data:`features.constants.SEEDV_CHANNELS`, volts; ~10-50 µV RMS):

- *Background*: per "source" (one under each electrode) a 1/f^chi amplitude spectrum
  (subject-specific exponent) with an alpha peak at the subject's individual alpha frequency
  (posterior) and a beta peak (central), plus a white sensor floor. It is synthesised in
  2-s blocks (random phases, Gaussian amplitudes) with a sine window and 50 % overlap-add
  (sin^2 + cos^2 = 1, so the variance is stationary), so each second depends only on the
  blocks around it.
- *Emotion signatures*: per class a log-amplitude gain per channel and band
  (:data:`EMOTION_EEG_EFFECTS`): e.g. Happy raises temporal beta/gamma and lowers left-frontal
  alpha (approach asymmetry), Fear/Disgust lower right-frontal alpha (withdrawal) and raise
  posterior beta or frontal gamma, Sad and Neutral raise posterior alpha. The gain follows the
  label of the block's centre second, scaled by a slowly varying intensity.
- *Subject shifts*: per subject a random log gain per channel and band, its own scaling and
  idiosyncratic deviation of every emotion signature, its own volume-conduction mixing matrix
  (Gaussian spread over the scalp with a subject-specific width and strength plus random
  leakage), per-channel electrode gains, 1/f exponent and alpha frequency; per session a small
  extra gain (cap placement); per trial a random offset (clip content).
- *Artefacts*: blinks (a 0.2-0.5 s positive wave, ~100 µV at FP1/FP2, decaying backwards),
  horizontal/vertical EOG that follows the simulated gaze (µV per degree at F7/F8 and FP),
  muscle bursts (high-passed noise on temporal sites, 0.3-1.5 s), 50 Hz line noise.

Gaze (~``gaze_rate`` Hz, timestamps jittered by ~1 ms):

- x, y in degrees of visual angle from screen centre (+x right, +y up), a sequence of
  fixations (gamma-distributed durations, 200-600 ms typical, with slow drift and tremor)
  and saccades (amplitudes 1-15°, main-sequence durations 21 ms + 2.2 ms/°, minimum-jerk
  profile).
- pupil_1, pupil_2: left and right pupil diameter in **mm** (baseline 2.8-4.5 mm per subject,
  a small anisocoria), with an emotion-dependent arousal dilation (Fear > Happy > Disgust >
  Neutral > Sad) reached with a 2-s time constant, hippus (slow oscillation, stronger with
  arousal), a per-trial luminance offset and measurement noise.
- valid: 1.0 or 0.0. Blinks (100-400 ms, emotion- and subject-dependent rate) and track
  losses (0.3-2.5 s) give invalid samples whose x, y and pupils are NaN; dropouts (50-400 ms)
  give no samples at all.
- Emotion also shifts fixation duration (Sad longest, Fear shortest), saccade amplitude and
  rate, and blink rate and duration; subjects have their own multipliers of all of these.

Determinism: every random draw is keyed by ``(seed, subject, session, purpose, index)``
(a counter-based scheme: the second, the block or the event number), and event sequences are
generated one event at a time from their own streams, so the same arguments give the same
signals regardless of how they are requested (chunk sizes, or random access with
:meth:`SessionSimulator.eeg_segment`).

Time starts at 0 with the first sample of the session; the schedule repeats cyclically.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from features.constants import BANDS, SEEDV_CHANNELS
from features.seedv import CLASS_NAMES, SEEDV_LABELS, SEEDV_TRIAL_TIMES

N_CHANNELS = len(SEEDV_CHANNELS)
N_BANDS = len(BANDS)
N_CLASSES = len(CLASS_NAMES)
GAZE_CHANNELS = ("x", "y", "pupil_1", "pupil_2", "valid")
GAZE_UNITS = ("degrees", "degrees", "mm", "mm", "")
UV = 1e-6  # volts per microvolt

# Purposes: the third element of every RNG key.
_EEG_BLOCK, _SENSOR, _TRIAL, _BLINKS, _MUSCLE, _GAZE_EVENTS, _GAZE_BLOCK = range(7)
_TRACK_LOSS, _DROPOUT, _MUSCLE_WAVE = range(7, 10)

#: Shortest simulated trial: two 4-s windows, so every trial keeps a sequence.
MIN_TRIAL_S = 8.0

Schedule = list[tuple["int | None", float]]


def seedv_schedule(session: int, trial_scale: float = 1.0, *, rest: bool = False) -> Schedule:
    """SEED-V's label order and clip durations for one session.

    Parameters
    ----------
    session : int
        1, 2 or 3.
    trial_scale : float
        Multiplies every duration (0.1 = a tenth, for tests); trials never get shorter than
        :data:`MIN_TRIAL_S` (two 4-s windows).
    rest : bool
        Also include the gaps of the recording (the 30-s lead-in, intros, self-assessment and
        rest between clips) as ``(None, duration_s)`` segments, so that at ``trial_scale=1``
        every clip starts at its published second.

    Returns
    -------
    list of (label or None, duration_s)
        Durations are ``end - start`` seconds, so ``floor(duration_s / 4)`` is SEED-V's
        window count at ``trial_scale=1``.
    """
    if session not in (1, 2, 3):
        raise ValueError(f"session={session!r} is invalid; SEED-V has sessions 1, 2 and 3.")
    if not trial_scale > 0:
        raise ValueError(f"trial_scale={trial_scale!r} must be > 0 (1.0 = SEED-V's lengths).")
    out: Schedule = []
    starts, ends = SEEDV_TRIAL_TIMES[session - 1]
    prev_end = 0
    for label, start, end in zip(SEEDV_LABELS[session - 1], starts, ends):
        if rest:
            out.append((None, (start - prev_end) * trial_scale))
        out.append((label, max(float(end - start) * trial_scale, MIN_TRIAL_S)))
        prev_end = end
    return out


def _check_schedule(schedule: Sequence) -> tuple[np.ndarray, np.ndarray]:
    labels, durs = [], []
    for i, item in enumerate(schedule):
        try:
            label, dur = item
        except (TypeError, ValueError):
            raise ValueError(
                f"schedule[{i}] = {item!r}; expected (label 0..4 or None, duration_s)."
            ) from None
        if label is not None and (not isinstance(label, (int, np.integer)) or not 0 <= label < 5):
            raise ValueError(
                f"schedule[{i}] has label {label!r}; use 0..4 (Disgust, Fear, Sad, Neutral, "
                "Happy) or None for rest."
            )
        if not (isinstance(dur, (int, float, np.floating, np.integer)) and dur > 0):
            raise ValueError(f"schedule[{i}] has duration {dur!r}; durations must be > 0 s.")
        labels.append(-1 if label is None else int(label))
        durs.append(float(dur))
    if not labels:
        raise ValueError("schedule is empty; give at least one (label, duration_s).")
    return np.array(labels), np.array(durs)


# --- scalp geometry -------------------------------------------------------------------------
_ROW_Y = {"FP": 0.95, "AF": 0.78, "F": 0.58, "FT": 0.32, "FC": 0.32, "T": 0.0, "C": 0.0}
_ROW_Y.update({"TP": -0.32, "CP": -0.32, "P": -0.58, "PO": -0.78, "O": -0.95, "CB": -1.05})
_COL_X = {"Z": 0.0, "1": 0.15, "2": 0.15, "3": 0.33, "4": 0.33, "5": 0.52, "6": 0.52}
_COL_X.update({"7": 0.72, "8": 0.72})


def channel_positions() -> np.ndarray:
    """Approximate 2-D scalp positions of the 62 channels, shape (62, 2): x (right +), y (nose +).

    A flattened 10-10 layout (unit radius), good enough for smooth spatial patterns.
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


POSITIONS = channel_positions()


def _region(name: str) -> np.ndarray:
    """Smooth channel weights (62,) in [0, 1] for a named scalp region."""
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


def _effects_table() -> np.ndarray:
    """Common emotion gains, shape (6, 62, 5): classes 0..4 and row 5 = rest (zeros)."""
    e = np.zeros((N_CLASSES + 1, N_CHANNELS, N_BANDS))
    for cls, items in EMOTION_EEG_EFFECTS.items():
        for band, region, gain in items:
            e[cls, :, _BAND_INDEX[band]] += gain * _region(region)
    return e


# Gaze parameters per class (index 5 = rest, like Neutral).
PUPIL_AROUSAL_MM = np.array([0.2, 0.45, -0.1, 0.0, 0.3, 0.0])
HIPPUS_GAIN = np.array([1.2, 1.5, 0.8, 1.0, 1.3, 1.0])
FIXATION_MS = np.array([330.0, 260.0, 440.0, 360.0, 300.0, 360.0])
SACCADE_AMP_DEG = np.array([4.5, 6.5, 3.0, 4.0, 5.5, 4.0])
BLINKS_PER_MIN = np.array([22.0, 20.0, 12.0, 15.0, 17.0, 15.0])
BLINK_MS = np.array([210.0, 160.0, 260.0, 200.0, 180.0, 200.0])
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


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in key])


def _smooth_field(rng: np.random.Generator, n: int, width: float) -> np.ndarray:
    """Spatially smooth random fields over the scalp, shape (n, 62), unit variance."""
    d2 = ((POSITIONS[:, None, :] - POSITIONS[None, :, :]) ** 2).sum(-1)
    k = np.exp(-d2 / (2 * width**2))
    f = rng.standard_normal((n, N_CHANNELS)) @ k
    return f / f.std(axis=1, keepdims=True)


@dataclass(frozen=True, eq=False)
class SubjectProfile:
    """Everything that makes one simulated subject different from another.

    Built by :meth:`from_seed`; arrays are read-only.

    Attributes
    ----------
    subject, seed : int
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
        Individual alpha frequency.
    line_uv, line_phase : ndarray, shape (62,)
        50 Hz line-noise amplitude (µV) and phase per channel.
    blink_uv, heog_uv_per_deg, veog_uv_per_deg : float
        EOG artefact sizes.
    pupil_mm, anisocoria, arousal_gain : float
        Pupil baseline, relative right/left difference, scale of the arousal dilation.
    fixation_scale, saccade_scale, blink_scale, muscle_scale : float
        Multipliers of the class-level gaze/blink/muscle parameters.
    gaze_class_jitter : ndarray, shape (6, 3)
        Per-class log multipliers of fixation duration, saccade amplitude and blink rate.
    hippus : ndarray, shape (3, 3)
        Hippus components: (frequency Hz, amplitude mm, phase).
    drift : ndarray, shape (3,)
        Vigilance drift: (period s, phase, alpha/theta log gain).
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
        """
        if not isinstance(subject, (int, np.integer)) or isinstance(subject, bool):
            raise ValueError(f"subject={subject!r} must be an int.")
        rng = _rng(seed, subject, 0xC0FFEE)
        # Baseline offsets: a global per-band part plus a smooth spatial part.
        log_gain = (
            0.15 * rng.standard_normal((1, N_BANDS)) + 0.15 * _smooth_field(rng, N_BANDS, 0.35).T
        )
        # Emotion signatures: scaled per class, plus a subject-specific smooth deviation.
        common = _effects_table()
        scale = np.exp(0.25 * rng.standard_normal((N_CLASSES + 1, 1, 1)))
        idio = 0.07 * _smooth_field(rng, (N_CLASSES + 1) * N_BANDS, 0.4).reshape(
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


class _EventProcess:
    """A lazily extended sequence of events drawn one at a time from its own RNG stream.

    ``draw(rng, t) -> (row, t_next)`` gives the next event (a tuple of floats starting with
    ``(start_s, duration_s)``, or None) and where to continue. Extending further never changes
    events already drawn, so the sequence is the same however far ahead, and in what steps, it
    is requested. Durations must not exceed ``max_dur_s`` (used to find overlaps quickly).
    """

    def __init__(self, rng: np.random.Generator, draw, n_fields: int, max_dur_s: float):
        self._rng, self._draw, self._max_dur = rng, draw, max_dur_s
        self._buf = np.zeros((256, n_fields))
        self._n = 0
        self._t_next = 0.0

    def extend_to(self, t: float) -> np.ndarray:
        """All events with start <= t (at least), as an array (n_events, n_fields)."""
        while self._t_next <= t:
            row, self._t_next = self._draw(self._rng, self._t_next)
            if row is None:
                continue
            if self._n == len(self._buf):  # amortised growth, not a copy per event
                self._buf = np.concatenate([self._buf, np.zeros_like(self._buf)])
            self._buf[self._n] = row
            self._n += 1
        return self._buf[: self._n]

    def overlapping(self, t0: float, t1: float) -> np.ndarray:
        """Events whose span ``[start, start + duration)`` meets ``[t0, t1)``."""
        ev = self.extend_to(t1)
        i0 = np.searchsorted(ev[:, 0], t0 - self._max_dur, side="left")
        i1 = np.searchsorted(ev[:, 0], t1, side="left")
        ev = ev[i0:i1]
        return ev[ev[:, 0] + ev[:, 1] > t0]


class SessionSimulator:
    """Continuous EEG and gaze of one simulated subject following a schedule of emotions.

    Parameters
    ----------
    subject : int
    seed : int
        Same ``(subject, seed, session, sfreq, gaze_rate, schedule)`` -> same signals.
    sfreq : float
        EEG rate, Hz; a whole number (200 as SEED-V's features, 1000 as its raw files).
    gaze_rate : float
        Nominal gaze rate, Hz.
    schedule : list of (label or None, duration_s) | None
        Emotion per segment, repeated cyclically; default ``seedv_schedule(session)``.
    session : int
        Session number: a different recording day of the same subject (new noise, small
        extra gains).
    profile : SubjectProfile | None
        Default ``SubjectProfile.from_seed(subject, seed)``.

    Notes
    -----
    Sample ``n`` of the EEG is at ``t = n / sfreq`` seconds; gaze sample ``i`` is nominally at
    ``i / gaze_rate`` and stamped with jitter.
    """

    def __init__(
        self,
        subject: int,
        seed: int = 0,
        *,
        sfreq: float = 200.0,
        gaze_rate: float = 120.0,
        schedule: Sequence | None = None,
        session: int = 1,
        profile: SubjectProfile | None = None,
    ):
        if not (sfreq >= 100 and float(sfreq).is_integer()):
            raise ValueError(
                f"sfreq={sfreq!r} must be a whole number of Hz >= 100 (e.g. 200 or 1000); "
                "the 1-50 Hz bands need it."
            )
        if not 10 <= gaze_rate <= 2000:
            raise ValueError(f"gaze_rate={gaze_rate!r} Hz is out of range; use 10..2000.")
        self.subject, self.seed, self.session = int(subject), int(seed), int(session)
        self.sfreq, self.gaze_rate = float(sfreq), float(gaze_rate)
        self.profile = profile or SubjectProfile.from_seed(subject, seed)
        self.schedule = list(schedule) if schedule is not None else seedv_schedule(session)
        self._labels, durs = _check_schedule(self.schedule)
        self._starts = np.concatenate([[0.0], np.cumsum(durs)])
        self.period_s = float(self._starts[-1])
        self._key = (self.seed, self.subject, self.session)
        rng = _rng(*self._key, 0x5E55)
        # Cap placement of this session: a small extra log gain per channel and band.
        self._session_gain = 0.08 * rng.standard_normal((N_CHANNELS, N_BANDS))
        self._hop = int(self.sfreq)  # samples per second
        self._block_len = 2 * self._hop
        self._spectra()
        self._blocks: dict[int, np.ndarray] = {}
        self._seconds: dict[int, np.ndarray] = {}
        self._eeg_pos = 0
        self._gaze_t = 0.0
        self._gaze_blocks: dict[int, tuple[np.ndarray, ...]] = {}
        p = self.profile
        self._blinks = _EventProcess(_rng(*self._key, _BLINKS), self._draw_blink, 3, 0.5)
        self._muscle = _EventProcess(_rng(*self._key, _MUSCLE), self._draw_muscle, 4, 1.5)
        self._track_loss = _EventProcess(
            _rng(*self._key, _TRACK_LOSS), _renewal(90.0, 0.3, 2.5), 2, 2.5
        )
        self._dropouts = _EventProcess(
            _rng(*self._key, _DROPOUT), _renewal(120.0, 0.05, 0.4), 2, 0.4
        )
        self._gaze_events = _EventProcess(
            _rng(*self._key, _GAZE_EVENTS), self._draw_gaze_event, 9, 2.0
        )
        self._gaze_state = [0.0, 0.0, True]  # x, y, next is a fixation
        self._effects = p.effects + 0.0
        line = p.line_uv
        self._line = (line, p.line_phase)
        self._blink_w = np.exp(-(0.95 - POSITIONS[:, 1]) / 0.18) * (
            1 - 0.3 * np.abs(POSITIONS[:, 0])
        )
        lateral = np.exp(-(((POSITIONS[:, 1] - 0.45) / 0.35) ** 2))
        self._heog_w = POSITIONS[:, 0] * lateral * (np.abs(POSITIONS[:, 0]) > 0.4)
        self._veog_w = np.exp(-(0.95 - POSITIONS[:, 1]) / 0.25)

    # --- schedule ---------------------------------------------------------------------
    def _segment(self, t: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """(global segment index, cycle) of times t >= 0."""
        t = np.asarray(t, dtype=np.float64)
        cycle = np.floor(t / self.period_s)
        local = t - cycle * self.period_s
        idx = np.searchsorted(self._starts, local, side="right") - 1
        idx = np.clip(idx, 0, len(self._labels) - 1)
        return idx + cycle.astype(np.int64) * len(self._labels), cycle

    def _label_index(self, t) -> np.ndarray:
        """Class row 0..4, or 5 for rest, of times t."""
        g, _ = self._segment(np.maximum(t, 0.0))
        lab = self._labels[g % len(self._labels)]
        return np.where(lab < 0, N_CLASSES, lab)

    def label_at(self, t: float) -> int | None:
        """Emotion code 0..4 at time ``t`` seconds (None during rest)."""
        if not t >= 0:
            raise ValueError(f"t={t!r} must be >= 0 s (the session starts at 0).")
        lab = int(self._label_index(t))
        return None if lab == N_CLASSES else lab

    def segment_starts(self, t0: float, t1: float) -> list[tuple[float, int | None]]:
        """Segment starts in ``[t0, t1)``: ``(t_start_s, label or None)``, in time order."""
        out = []
        n = len(self._labels)
        first = int(self._segment(max(t0, 0.0))[0])
        g = first
        while True:
            t = (g // n) * self.period_s + self._starts[g % n]
            if t >= t1:
                break
            if t >= t0:
                lab = int(self._labels[g % n])
                out.append((float(t), None if lab < 0 else lab))
            g += 1
        return out

    def _smoothed(self, per_class: np.ndarray, t: np.ndarray, tau_s: float) -> np.ndarray:
        """A per-class value that approaches each segment's level with time constant tau."""
        g, _ = self._segment(np.maximum(t, 0.0))
        n = len(self._labels)
        lab = self._label_index(t)
        prev = self._labels[(g - 1) % n]
        prev = np.where((prev < 0) | (g == 0), N_CLASSES, prev)
        t_seg = (g // n) * self.period_s + self._starts[g % n]
        w = np.exp(-(np.asarray(t) - t_seg) / tau_s)
        return per_class[lab] * (1 - w) + per_class[prev] * w

    # --- EEG --------------------------------------------------------------------------
    def _spectra(self) -> None:
        p = self.profile
        f = np.fft.rfftfreq(self._block_len, 1.0 / self.sfreq)
        self._freqs = f
        fpos = np.maximum(f, 0.5)
        amp = fpos ** (-p.exponent / 2)
        # Alpha (posterior) and beta (central) peaks, relative to the 1/f floor at 10 Hz.
        post = _region("posterior")
        cent = _region("central")
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
        self._sensor_uv = 1.0
        n = np.arange(self._block_len)
        self._window = np.sin(np.pi * (n + 0.5) / self._block_len)

    def _trial_offset(self, g: int) -> np.ndarray:
        """Log gains of clip ``g`` (global segment index), shape (62, 5)."""
        r = _rng(*self._key, _TRIAL, g)
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
        lab = int(self._label_index(t))
        g = int(self._segment(t)[0])
        intensity = 0.8 + 0.2 * math.sin(2 * math.pi * t / 47.0 + p.drift[1] * 3)
        drift = np.zeros(N_BANDS)
        drift[[1, 2]] = p.drift[2] * math.sin(2 * math.pi * t / p.drift[0] + p.drift[1])
        gains = (
            p.log_gain
            + self._session_gain
            + self._effects[lab] * intensity
            + self._trial_offset(g)
            + drift[None, :]
        )
        amp = self._base * np.exp(gains @ self._band_w)
        r = _rng(*self._key, _EEG_BLOCK, k & 0xFFFFFFFF)
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
        r = _rng(*self._key, _SENSOR, j & 0xFFFFFFFF)
        x += self._sensor_uv * r.standard_normal(x.shape)
        t = (j * h + np.arange(h)) / self.sfreq
        x += self._artefacts(t)
        if len(self._seconds) > 4:
            self._seconds.pop(min(self._seconds))
        self._seconds[j] = x
        return x

    def _artefacts(self, t: np.ndarray) -> np.ndarray:
        p = self.profile
        t0, t1 = float(t[0]), float(t[-1]) + 1.0 / self.sfreq
        out = np.zeros((N_CHANNELS, t.size))
        # Line noise: continuous phase across seconds.
        amp, phase = self._line
        out += amp[:, None] * np.sin(2 * np.pi * 50.0 * t[None, :] + phase[:, None])
        # Blinks: positive bump, frontal.
        for start, dur, size in self._blinks.overlapping(t0 - 0.1, t1):
            span = dur + 0.1
            u = (t - start) / span
            m = (u >= 0) & (u < 1)
            if m.any():
                out[:, m] += (p.blink_uv * size * self._blink_w)[:, None] * np.sin(
                    np.pi * u[m]
                ) ** 2
        # EOG from gaze position (corneo-retinal dipole): follows fixations and saccades.
        gx, gy = self._gaze_xy(t)
        out += (p.heog_uv_per_deg * self._heog_w)[:, None] * gx[None, :]
        out += (p.veog_uv_per_deg * self._veog_w)[:, None] * gy[None, :]
        # Muscle bursts: high-passed noise on one or both temporal sides.
        for start, dur, side, size in self._muscle.overlapping(t0, t1):
            n0 = math.ceil(start * self.sfreq)
            n_ev = max(int(dur * self.sfreq), 2)
            ev_idx = round(start * 1e4)
            r = _rng(*self._key, _MUSCLE_WAVE, ev_idx & 0xFFFFFFFF)
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

    def eeg_segment(self, start: int, n_samples: int) -> np.ndarray:
        """EEG samples ``[start, start + n_samples)`` (random access), shape (62, n), volts."""
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

    def eeg(self, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` of EEG, shape (62, n_samples), volts."""
        x = self.eeg_segment(self._eeg_pos, int(n_samples))
        self._eeg_pos += int(n_samples)
        return x

    @property
    def eeg_samples_done(self) -> int:
        """EEG samples returned by :meth:`eeg` so far."""
        return self._eeg_pos

    # --- events ---------------------------------------------------------------------
    def _draw_blink(self, rng, t):
        cls = int(self._label_index(t))
        p = self.profile
        rate = BLINKS_PER_MIN[cls] * p.blink_scale * math.exp(p.gaze_class_jitter[cls, 2]) / 60
        t_next = t + rng.gamma(2.0, 0.5 / rate)
        dur = float(np.clip(rng.lognormal(math.log(BLINK_MS[cls] / 1000), 0.25), 0.1, 0.4))
        return (t_next, dur, float(rng.uniform(0.7, 1.3))), t_next + dur + 0.05

    def _draw_muscle(self, rng, t):
        cls = int(self._label_index(t))
        rate = MUSCLE_PER_MIN[cls] * self.profile.muscle_scale / 60
        t_next = t + rng.exponential(1 / rate)
        dur = float(rng.uniform(0.3, 1.5))
        size = float(rng.uniform(8.0, 30.0))
        return (t_next, dur, float(rng.uniform()), size), t_next + dur

    def _draw_gaze_event(self, rng, t):
        """Next fixation or saccade: (start, dur, kind, x0, y0, x1, y1, vx, vy)."""
        p = self.profile
        cls = int(self._label_index(t))
        x, y, fixation = self._gaze_state
        if fixation:
            mean_s = FIXATION_MS[cls] / 1000 * p.fixation_scale
            mean_s *= math.exp(p.gaze_class_jitter[cls, 0])
            dur = float(np.clip(rng.gamma(4.0, mean_s / 4), 0.08, 2.0))
            vx, vy = rng.normal(0.0, 0.25, 2)  # drift, deg/s
            x1, y1 = x + vx * dur, y + vy * dur
            row = (t, dur, 0.0, x, y, x1, y1, vx, vy)
            self._gaze_state = [x1, y1, False]
        else:
            mean_a = SACCADE_AMP_DEG[cls] * p.saccade_scale * math.exp(p.gaze_class_jitter[cls, 1])
            amp = float(np.clip(rng.gamma(2.5, mean_a / 2.5), 1.0, 15.0))
            ang = rng.uniform(0, 2 * np.pi)
            turn = rng.normal(0.0, 0.5)
            x1, y1 = x + amp * math.cos(ang), y + amp * math.sin(ang)
            # Near the screen edges (±16°, ±10°) head back towards the centre.
            if abs(x1) > 16 or abs(y1) > 10:
                ang = math.atan2(-y, -x) + turn
                x1, y1 = x + amp * math.cos(ang), y + amp * math.sin(ang)
                x1, y1 = min(max(x1, -16.0), 16.0), min(max(y1, -10.0), 10.0)
                amp = max(math.hypot(x1 - x, y1 - y), 0.1)
            dur = (21.0 + 2.2 * amp) / 1000  # main sequence
            row = (t, dur, 1.0, x, y, x1, y1, 0.0, 0.0)
            self._gaze_state = [x1, y1, True]
        return row, t + dur

    def _gaze_xy(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Eye position (deg) at times t from the fixation/saccade sequence (no noise)."""
        ev = self._gaze_events.extend_to(float(t[-1]) + 0.01)
        i = np.clip(np.searchsorted(ev[:, 0], t, side="right") - 1, 0, len(ev) - 1)
        e = ev[i]
        tau = np.clip((t - e[:, 0]) / e[:, 1], 0.0, 1.0)
        sacc = e[:, 2] > 0.5
        # Fixation: linear drift; saccade: minimum-jerk profile.
        s = np.where(sacc, tau**3 * (10 - 15 * tau + 6 * tau**2), tau)
        return e[:, 3] + (e[:, 5] - e[:, 3]) * s, e[:, 4] + (e[:, 6] - e[:, 4]) * s

    # --- gaze -------------------------------------------------------------------------
    def _gaze_block(self, b: int) -> tuple[np.ndarray, ...]:
        """Gaze samples with nominal time in second b: (t_nominal, stamp, x, y, p1, p2, valid)."""
        blk = self._gaze_blocks.get(b)
        if blk is not None:
            return blk
        p = self.profile
        i0, i1 = math.ceil(b * self.gaze_rate), math.ceil((b + 1) * self.gaze_rate)
        t = np.arange(i0, i1) / self.gaze_rate
        n = t.size
        r = _rng(*self._key, _GAZE_BLOCK, b & 0xFFFFFFFF)
        jitter = np.clip(r.normal(0.0, 0.001, n), -0.003, 0.003)
        x, y = self._gaze_xy(t)
        x = x + r.normal(0.0, 0.02, n)  # tremor / measurement noise
        y = y + r.normal(0.0, 0.02, n)
        arousal = self._smoothed(PUPIL_AROUSAL_MM, t, 2.0) * p.arousal_gain
        hippus_gain = self._smoothed(HIPPUS_GAIN, t, 2.0)
        hip = sum(a * np.sin(2 * np.pi * f * t + ph) for f, a, ph in p.hippus) * hippus_gain
        g, _ = self._segment(t)
        # Clip luminance: one pupil offset per segment (not related to the emotion).
        uniq, inv = np.unique(g, return_inverse=True)
        lum = np.array([_rng(*self._key, _TRIAL, int(gi), 1).normal(0, 0.2) for gi in uniq])[inv]
        p1 = p.pupil_mm + arousal + hip + lum + r.normal(0.0, 0.015, n)
        p2 = p1 * (1 + p.anisocoria) + r.normal(0.0, 0.015, n)
        valid = np.ones(n)
        for start, dur, *_ in self._blinks.overlapping(t[0], t[-1] + 1e-9):
            valid[(t >= start) & (t < start + dur)] = 0.0
        for start, dur in self._track_loss.overlapping(t[0], t[-1] + 1e-9):
            valid[(t >= start) & (t < start + dur)] = 0.0
        keep = np.ones(n, dtype=bool)
        for start, dur in self._dropouts.overlapping(t[0], t[-1] + 1e-9):
            keep &= ~((t >= start) & (t < start + dur))
        bad = valid == 0
        for a in (x, y, p1, p2):
            a[bad] = np.nan
        blk = tuple(a[keep] for a in (t, t + jitter, x, y, p1, p2, valid))
        if len(self._gaze_blocks) > 4:
            self._gaze_blocks.pop(min(self._gaze_blocks))
        self._gaze_blocks[b] = blk
        return blk

    def gaze_segment(self, t0: float, t1: float) -> tuple[np.ndarray, ...]:
        """Gaze samples with nominal time in ``[t0, t1)`` (random access).

        Returns
        -------
        timestamps : ndarray (n,)
            Seconds, jittered (monotonic).
        x, y : ndarray (n,)
            Degrees; NaN where invalid.
        pupil_1, pupil_2 : ndarray (n,)
            Left/right pupil diameter, mm; NaN where invalid.
        valid : ndarray (n,)
            1.0 or 0.0.
        """
        if not 0 <= t0 <= t1:
            raise ValueError(f"Need 0 <= t0 <= t1; got t0={t0}, t1={t1}.")
        parts = [self._gaze_block(b) for b in range(int(t0), math.ceil(t1) + 1)]
        cols = [np.concatenate([pt[c] for pt in parts]) for c in range(7)]
        m = (cols[0] >= t0) & (cols[0] < t1)
        return tuple(c[m] for c in cols[1:])

    def gaze_until(self, t: float) -> tuple[np.ndarray, ...]:
        """Gaze samples from where the last call stopped up to nominal time ``t`` (exclusive).

        Returns ``(timestamps, x, y, pupil_1, pupil_2, valid)`` as :meth:`gaze_segment`.
        """
        t = float(t)
        if t <= self._gaze_t:
            return tuple(np.zeros(0) for _ in range(6))
        out = self.gaze_segment(self._gaze_t, t)
        self._gaze_t = t
        return out

    def blinks(self, t0: float, t1: float) -> np.ndarray:
        """Blinks starting in ``[t0, t1)``: rows (start_s, duration_s, size), for tests."""
        ev = self._blinks.extend_to(t1)
        return ev[(ev[:, 0] >= t0) & (ev[:, 0] < t1)] if len(ev) else ev


def _soft_box(f: np.ndarray, lo: float, hi: float, edge: float) -> np.ndarray:
    """1 on [lo, hi), raised-cosine edges of ``edge`` Hz centred on lo and hi."""

    def step(x):
        return np.clip(0.5 + 0.5 * np.sin(np.pi * np.clip(x / edge, -0.5, 0.5)), 0.0, 1.0)

    return step(f - lo) * step(hi - f)


def _renewal(mean_interval_s: float, dur_lo: float, dur_hi: float):
    def draw(rng, t):
        t_next = t + rng.exponential(mean_interval_s)
        dur = float(rng.uniform(dur_lo, dur_hi))
        return (t_next, dur), t_next + dur

    return draw
