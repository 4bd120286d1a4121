"""Small, typed, immutable records passed between the stages (DESIGN.md, "Records").

``Chunk -> Window -> FeatureFrame -> Prediction``, plus :class:`StreamHealth` for sinks that
show how the inputs behave. Arrays inside the records are made read-only on construction so a
stage cannot change what another stage already saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from features.seedv import CLASS_NAMES

#: Order of the modality gates.
MODALITIES: tuple[str, ...] = ("eeg", "eye")


class Flag:
    """String flags carried by windows, feature frames and predictions.

    Plain strings (not an Enum) so they go to CSV/JSON logs and LSL unchanged.
    """

    EEG_MISSING = "eeg_missing"  # no EEG in this window (no stream, or stream lost)
    EYE_MISSING = "eye_missing"  # no gaze in this window (no stream given, lost, or all invalid)
    EEG_STALE = "eeg_stale"  # the EEG stream stopped delivering (watchdog)
    EYE_STALE = "eye_stale"
    EEG_GAP = "eeg_gap"  # the window overlaps a gap in the EEG timestamps
    EYE_GAP = "eye_gap"  # the window overlaps a gaze gap longer than track loss
    EEG_NONFINITE = "eeg_nonfinite"  # NaN/Inf samples in the window
    EEG_FLAT = "eeg_flat"  # at least one flat channel (DE floored)
    EYE_LOW_COVERAGE = "eye_low_coverage"  # too few valid gaze samples for features
    # The model's eye features were not computed by features/ (a release's): eye input masked.
    EYE_MASKED_RELEASE = "eye_masked_release"
    EYE_RELEASE_TRUSTED = "eye_release_trusted"  # ... used anyway (--trust-release-eye-features)
    TIMESTAMP_FAULT = "timestamp_fault"  # backward jump / duplicate stamps seen in the window
    NO_VALID_CONTEXT = "no_valid_context"  # no window in the model context is usable
    # Values outside physiological / training ranges (cmt_live.plausibility): wrong units.
    EEG_IMPLAUSIBLE = "eeg_implausible_units"
    EYE_IMPLAUSIBLE = "eye_implausible_units"
    EEG_INTERPOLATED = "eeg_interpolated"  # missing channels filled from the montage
    # The stream has been away longer than the user's limit (--loss-limit): said loudly.
    EEG_LOST = "eeg_lost"
    EYE_LOST = "eye_lost"


#: Bit order of the flags in the prediction outlet's ``flags`` channel (bit i = FLAG_BITS[i]);
#: the outlet's description lists it, so consumers read the order instead of assuming it.
FLAG_BITS: tuple[str, ...] = tuple(v for k, v in vars(Flag).items() if k.isupper())


def flag_mask(flags) -> int:
    """The flags as a bit mask (:data:`FLAG_BITS`); an unknown flag sets bit ``len(FLAG_BITS)``."""
    mask = 0
    for f in flags:
        mask |= 1 << (FLAG_BITS.index(f) if f in FLAG_BITS else len(FLAG_BITS))
    return mask


def _frozen(a: np.ndarray, dtype=None) -> np.ndarray:
    a = np.array(a, dtype=dtype, copy=True)
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class StreamMeta:
    """What identifies an input stream.

    Parameters
    ----------
    name, type, source_id, hostname : str
        LSL identity fields; ``source_id`` pins a stream across restarts.
    sfreq : float
        Nominal sampling rate in Hz; ``0.0`` for irregular streams.
    ch_names : tuple of str
        Channel labels in stream order.
    units : tuple of str
        Per-channel unit strings as declared (e.g. ``"microvolts"``); empty if unknown.
    created_at : float
        LSL ``created_at`` of the outlet (seconds on the sender's clock).
    """

    name: str
    type: str = ""
    source_id: str = ""
    hostname: str = ""
    sfreq: float = 0.0
    ch_names: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    created_at: float = 0.0

    @property
    def n_channels(self) -> int:
        return len(self.ch_names)


@dataclass(frozen=True, eq=False)
class Chunk:
    """Samples pulled from one stream.

    Parameters
    ----------
    data : array of shape (n_samples, n_channels), float32
    timestamps : array of shape (n_samples,), float64
        Seconds on the local LSL clock (after clock correction).
    stream : StreamMeta
    """

    data: np.ndarray
    timestamps: np.ndarray
    stream: StreamMeta

    def __post_init__(self) -> None:
        data = _frozen(self.data, np.float32)
        ts = _frozen(self.timestamps, np.float64)
        if data.ndim != 2 or ts.shape != (data.shape[0],):
            raise ValueError(
                f"Chunk data must be (n_samples, n_channels) with one timestamp per sample; "
                f"got data {data.shape} and timestamps {ts.shape}."
            )
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "timestamps", ts)


@dataclass(frozen=True, eq=False)
class Window:
    """One analysis window of both modalities, cut on the LSL clock.

    Parameters
    ----------
    t_end : float
        End of the window, LSL seconds. The window spans ``[t_end - window_s, t_end)``.
    window_s : float
    eeg : array of shape (n_channels, n_times) or None
        EEG in volts at ``sfreq``, channels in the model's order; None when missing.
    sfreq : float
        EEG sampling rate of ``eeg`` in Hz.
    gaze_timestamps : array of shape (n_gaze,)
        Per-sample LSL seconds (irregular).
    gaze : array of shape (n_gaze, 5)
        Columns ``x_deg, y_deg, pupil_1, pupil_2, valid`` (valid is 1.0/0.0; invalid samples
        may hold NaN).
    eeg_valid, eye_valid : bool
        Whether the modality is usable for features.
    flags : frozenset of str
        :class:`Flag` values explaining what is wrong, if anything.
    gaze_end : float or None
        The window's gaze is the samples stamped before ``gaze_end`` (< ``t_end``): the gaze
        stream lagged and the window closed after ``gaze_wait_s`` with what had arrived. None:
        all its gaze. Logged (:class:`cmt_live.sinks.SessionLog`, rows ``gaze_cutoff``) so a
        replay cuts the same gaze (:func:`cmt_live.sinks.read_gaze_cutoffs`).
    """

    t_end: float
    window_s: float
    eeg: np.ndarray | None
    sfreq: float
    gaze_timestamps: np.ndarray
    gaze: np.ndarray
    eeg_valid: bool
    eye_valid: bool
    flags: frozenset[str] = field(default_factory=frozenset)
    gaze_end: float | None = None

    def __post_init__(self) -> None:
        if self.eeg is not None:
            object.__setattr__(self, "eeg", _frozen(self.eeg, np.float64))
        object.__setattr__(self, "gaze_timestamps", _frozen(self.gaze_timestamps, np.float64))
        object.__setattr__(self, "gaze", _frozen(self.gaze, np.float64).reshape(-1, 5))
        object.__setattr__(self, "flags", frozenset(self.flags))


@dataclass(frozen=True, eq=False)
class FeatureFrame:
    """Features of one window, in the model contract's column order.

    Parameters
    ----------
    t_end : float
        LSL seconds.
    eeg : array of shape (n_eeg_features,)
        DE features (310 for 62 channels x 5 bands).
    eye : array of shape (33,)
        Eye features in ``features.EYE_FEATURE_NAMES`` order.
    eeg_valid, eye_valid : bool
    flags : frozenset of str
    gaze_end : float or None
        The window's :attr:`Window.gaze_end` (its gaze cut-off when the gaze stream lagged).
    """

    t_end: float
    eeg: np.ndarray
    eye: np.ndarray
    eeg_valid: bool
    eye_valid: bool
    flags: frozenset[str] = field(default_factory=frozenset)
    gaze_end: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "eeg", _frozen(self.eeg, np.float32))
        object.__setattr__(self, "eye", _frozen(self.eye, np.float32))
        object.__setattr__(self, "flags", frozenset(self.flags))


@dataclass(frozen=True, eq=False)
class Prediction:
    """One model output, ready for every sink.

    Parameters
    ----------
    t_end : float
        End of the newest window in the context, LSL seconds.
    probs : array of shape (5,)
        Class probabilities in :data:`CLASS_NAMES` order.
    gates : array of shape (2,)
        Modality weights (EEG, eye), summing to 1.
    label : str
        ``CLASS_NAMES[argmax(probs)]``.
    flags : frozenset of str
    t_computed : float
        LSL seconds when the prediction was made (latency = t_computed - t_end).
    compute_ms : float
        Feature + model time for this step, milliseconds.
    n_context : int
        Windows in the model context (valid ones).
    budget : dict of str to float
        Where the time from ``t_end`` to the prediction went, ms, in :data:`BUDGET_KEYS`
        order (pipeline clock; meaningful live, where it is the LSL clock):

        - ``wait_eeg``: ``t_end`` until the EEG buffer held the window's last sample (the
          source's chunking, transport, the loop's wake-up; negative when that sample,
          stamped one period before ``t_end``, came before ``t_end``);
        - ``wait_gaze``: then until the window was cut (gaze passing its end, bounded by
          ``gaze_wait_s``);
        - ``queue``: then until its features started (other windows due at once);
        - ``features`` and ``model`` (its share of the model call);
        - ``sinks``: time in the sinks called before the one reading it, in the order they
          were added (``cmt-live``: the outlet, then the session log, which so records the
          outlet's time, then the monitor).
    """

    t_end: float
    probs: np.ndarray
    gates: np.ndarray
    label: str
    flags: frozenset[str] = field(default_factory=frozenset)
    t_computed: float = 0.0
    compute_ms: float = 0.0
    n_context: int = 0
    budget: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        probs = _frozen(self.probs, np.float64)
        gates = _frozen(self.gates, np.float64)
        if probs.shape != (len(CLASS_NAMES),) or gates.shape != (len(MODALITIES),):
            raise ValueError(
                f"Prediction needs probs of shape (5,) and gates of shape (2,); "
                f"got {probs.shape} and {gates.shape}."
            )
        object.__setattr__(self, "probs", probs)
        object.__setattr__(self, "gates", gates)
        object.__setattr__(self, "flags", frozenset(self.flags))

    @property
    def confidence(self) -> float:
        return float(self.probs.max())


#: The parts of a prediction's latency budget (:attr:`Prediction.budget`), in order.
BUDGET_KEYS = ("wait_eeg", "wait_gaze", "queue", "features", "model", "sinks")


@dataclass(frozen=True)
class StreamHealth:
    """How one input stream behaves right now (for the dashboard and the GUI).

    Parameters
    ----------
    name : str
        Stream name.
    status : str
        ``"connected"``, ``"stale"``, ``"recovering"`` or ``"absent"``.
    nominal_rate : float
        Declared rate in Hz (0 for irregular).
    effective_rate : float
        Samples per second over the last few seconds.
    clock_offset_s : float
        Last LSL ``time_correction`` (seconds to add to the sender's stamps).
    latency_s : float
        ``local_clock() - newest timestamp`` when last pulled.
    n_samples : int
        Samples received in total.
    n_dropped : int
        Samples lost (ring-buffer overflow, gaps inferred from a counter or the rate).
    n_timestamp_faults : int
        Backward jumps and duplicate stamps seen.
    gaps : tuple of (float, float)
        Recent gaps ``(t_start, t_end)`` in LSL seconds.
    t : float
        LSL seconds when this snapshot was taken.
    """

    name: str
    status: str
    nominal_rate: float = 0.0
    effective_rate: float = 0.0
    clock_offset_s: float = 0.0
    latency_s: float = 0.0
    n_samples: int = 0
    n_dropped: int = 0
    n_timestamp_faults: int = 0
    gaps: tuple[tuple[float, float], ...] = ()
    t: float = 0.0
