"""The live settings: one frozen record, built once from the model contract and the flags.

The command line makes a :class:`Settings` when it knows the model and the streams' rates,
and passes it down; everything below reads it and nothing re-checks it. Building it is the
check: a spec live use cannot reproduce, a step off the sample grid or an unusable EEG rate
raise :class:`ContractError` with the reason and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from features.constants import EYE_FEATURE_NAMES, eye_column_order
from features.seedv import CLASS_NAMES
from features.spec import FeatureSpec
from models.contract import COMPUTED, LIVE_SOURCES

from .plausibility import POLICIES
from .source import SourceInfo
from .windowing import WindowSettings


class ContractError(ValueError):
    """The model's contract does not match the streams or the settings (with the fix)."""


@dataclass(frozen=True)
class Settings:
    """What the pipeline needs to know, checked on construction.

    Parameters
    ----------
    spec : FeatureSpec
        The model's feature spec (channels, ``sfreq``, ``window_s``, bands, ...).
    context_len : int
        Windows the model sees (the contract's ``context_len``).
    class_names : tuple of str
        The model's class order; must be SEED-V's.
    step_s : float
        Time between window ends, seconds.
    eeg_sfreq : float | None
        Rate of the EEG stream, Hz (resampled to ``spec.sfreq``); None: ``spec.sfreq``.
    has_gaze : bool
        Whether a gaze stream exists (without one, windows never wait for gaze).
    gaze_sfreq : float
        Nominal gaze rate, Hz, for the coverage check (0: irregular).
    buffer_s : float
        Seconds of EEG (at the model rate) and gaze held.
    min_eye_coverage : float
        Below this fraction of valid gaze a window has no eye features.
    gaze_wait_s : float
        How long (EEG time) a due window waits for gaze to reach its end, seconds.
    max_behind : int
        Overflow policy: more due windows than this at once skips to the newest (logged).
    eye_source : str
        Where the model's eye training features came from (the contract's
        ``feature_source["eye"]``, :mod:`models.contract`).
    eye_absent : tuple of str
        Eye columns the training data did not have; fed as NaN (the training mean).
    trust_release_eye : bool
        Use eye features from a release anyway (``--trust-release-eye-features``).
    implausible : ``"mask"`` | ``"flag"``
        What to do with a window whose EEG or gaze units are implausible
        (:mod:`cmt_live.plausibility`): withhold that modality from the model, or predict from
        it anyway; both flag the window and its prediction.
    pupil_scale : float
        Factor applied to both pupil columns before anything else (``--pupil-scale``), for a
        tracker whose pupil unit differs from the model's.
    filled_channels : tuple of str
        Model channels the source fills by interpolation (``--fill-missing``): every window
        with EEG is flagged ``eeg_interpolated``.

    Attributes
    ----------
    windows : WindowSettings
        The windowing part, derived once.
    eye_policy : {"use", "masked", "trusted"}
        ``"masked"``: the eye features were not computed by ``features/`` (a release's, or
        unknown), so the eye input is masked (EEG only, flag ``eye_masked_release``) — live
        numbers would mean something else. ``"trusted"``: the same, overridden by the user
        (flag ``eye_release_trusted``).

    Raises
    ------
    ContractError
        With the reason and the fix.
    """

    spec: FeatureSpec
    context_len: int = 1
    class_names: tuple[str, ...] = CLASS_NAMES
    step_s: float = 1.0
    eeg_sfreq: float | None = None
    has_gaze: bool = True
    gaze_sfreq: float = 0.0
    buffer_s: float = 30.0
    min_eye_coverage: float = 0.5
    gaze_wait_s: float = 0.25
    max_behind: int = 5
    eye_source: str = COMPUTED
    eye_absent: tuple[str, ...] = ()
    trust_release_eye: bool = False
    implausible: str = "mask"
    pupil_scale: float = 1.0
    filled_channels: tuple[str, ...] = ()
    windows: WindowSettings = field(init=False, repr=False, compare=False)
    eye_policy: str = field(init=False, compare=False)

    @classmethod
    def from_contract(cls, contract, **overrides) -> Settings:
        """Settings for a model's contract (``models.ModelContract``) plus the flags."""
        return cls(
            spec=contract.feature_spec,
            context_len=contract.context_len,
            class_names=tuple(contract.class_names),
            eye_source=contract.feature_source["eye"],
            eye_absent=tuple(contract.feature_source["eye_absent"]),
            **overrides,
        )

    @classmethod
    def for_source(cls, contract, info: SourceInfo, **overrides) -> Settings:
        """Settings for a model and the streams a source opened (their rates, gaze or not)."""
        return cls.from_contract(
            contract,
            eeg_sfreq=info.eeg.sfreq,
            has_gaze=info.gaze is not None,
            gaze_sfreq=info.gaze.sfreq if info.gaze is not None else 0.0,
            filled_channels=tuple(info.filled_channels),
            **overrides,
        )

    def __post_init__(self) -> None:
        spec = self.spec
        if self.eeg_sfreq is None:
            object.__setattr__(self, "eeg_sfreq", float(spec.sfreq))
        if tuple(self.class_names) != CLASS_NAMES:
            raise ContractError(
                f"The model's classes {self.class_names} differ from {CLASS_NAMES}; retrain "
                "with SEED-V's class order."
            )
        if self.eye_source in LIVE_SOURCES:
            policy = "use"
        else:
            policy = "trusted" if self.trust_release_eye else "masked"
        object.__setattr__(self, "eye_policy", policy)
        # Same names in another order (a model of an older column order) are mapped by name.
        if policy != "masked" and eye_column_order(spec.eye_names) is None:
            raise ContractError(
                "The model's eye features differ from the 33 features/ computes "
                f"({len(spec.eye_names)} names; not ours: "
                f"{[a for a in spec.eye_names if a not in EYE_FEATURE_NAMES][:3]}); "
                "retrain with features.EYE_FEATURE_NAMES."
            )
        if policy == "use" and spec.eye_stats != "window":
            raise ContractError(
                f"The model was trained with eye_stats={spec.eye_stats!r} (event statistics "
                "per whole clip), which a live stream cannot compute; retrain with "
                "eye_stats='window'."
            )
        if not self.eeg_sfreq > 0:
            raise ContractError(
                f"The EEG stream declares an irregular rate ({self.eeg_sfreq}); the model needs "
                f"regular EEG at {spec.sfreq:g} Hz (any rate >= 100 Hz is resampled). Fix the "
                "stream's nominal rate."
            )
        if not spec.preprocess and abs(self.eeg_sfreq - spec.sfreq) > 1e-9:
            raise ContractError(
                f"The model expects unfiltered EEG at {spec.sfreq:g} Hz but the stream runs at "
                f"{self.eeg_sfreq:g} Hz; resample at the source or use a model trained at this "
                "rate."
            )
        if spec.preprocess and not self.eeg_sfreq >= 100:
            raise ContractError(
                f"The EEG stream's rate {self.eeg_sfreq:g} Hz is too low to resample to the "
                f"model's {spec.sfreq:g} Hz (SEED-V features need >= 100 Hz)."
            )
        if not self.buffer_s >= 2 * spec.window_s:
            raise ValueError(
                f"buffer_s={self.buffer_s} must hold at least two windows ({2 * spec.window_s} s)."
            )
        if self.implausible not in POLICIES:
            raise ValueError(
                f"implausible={self.implausible!r}; expected one of {POLICIES} (--implausible)."
            )
        if not (np.isfinite(self.pupil_scale) and self.pupil_scale > 0):
            raise ValueError(f"--pupil-scale {self.pupil_scale} is invalid; it must be > 0.")
        unknown = sorted(set(self.filled_channels) - set(spec.ch_names))
        if unknown:
            raise ValueError(f"filled_channels {unknown} are not the model's channels.")
        if int(self.context_len) != self.context_len or self.context_len < 1:
            raise ValueError(f"context_len must be a positive integer; got {self.context_len}.")
        try:
            windows = WindowSettings(
                window_s=spec.window_s,
                step_s=self.step_s,
                sfreq=spec.sfreq,
                gaze_sfreq=self.gaze_sfreq,
                min_eye_coverage=self.min_eye_coverage,
                gaze_wait_s=self.gaze_wait_s,
                max_behind=self.max_behind,
            )
        except ValueError as err:
            raise ContractError(f"These settings cannot run the model live: {err}") from err
        object.__setattr__(self, "windows", windows)
