"""Checks made once, before the first window: can this model's feature spec run live?"""

from __future__ import annotations

from features.constants import EYE_FEATURE_NAMES
from features.de import StreamingDE
from features.preprocess import StreamingPreprocessor

from .windowing import WindowSettings


class ContractError(ValueError):
    """The model's contract does not match the streams or the settings (with the fix)."""


def check_spec(spec, *, step_s: float, eeg_sfreq: float | None = None) -> None:
    """Refuse a feature spec live use cannot reproduce, or an EEG rate it cannot use.

    Raises
    ------
    ContractError
        With the reason and the fix.
    """
    if tuple(spec.eye_names) != tuple(EYE_FEATURE_NAMES):
        raise ContractError(
            "The model's eye features differ from the 33 features/ computes "
            f"({len(spec.eye_names)} names, first differences: "
            f"{[a for a, b in zip(spec.eye_names, EYE_FEATURE_NAMES) if a != b][:3]}); retrain "
            "with features.EYE_FEATURE_NAMES."
        )
    if spec.eye_stats != "window":
        raise ContractError(
            f"The model was trained with eye_stats={spec.eye_stats!r} (event statistics per "
            "whole clip), which a live stream cannot compute; retrain with eye_stats='window'."
        )
    try:
        StreamingDE(spec)
        WindowSettings(window_s=spec.window_s, step_s=step_s, sfreq=spec.sfreq)
    except ValueError as err:
        raise ContractError(f"The model's feature spec cannot run live: {err}") from err
    if eeg_sfreq is None:
        return
    if not eeg_sfreq > 0:
        raise ContractError(
            f"The EEG stream declares an irregular rate ({eeg_sfreq}); the model needs regular "
            f"EEG at {spec.sfreq:g} Hz (any rate >= 100 Hz is resampled). Fix the stream's "
            "nominal rate."
        )
    if not spec.preprocess and abs(eeg_sfreq - spec.sfreq) > 1e-9:
        raise ContractError(
            f"The model expects unfiltered EEG at {spec.sfreq:g} Hz but the stream runs at "
            f"{eeg_sfreq:g} Hz; resample at the source or use a model trained at this rate."
        )
    if spec.preprocess:
        try:
            StreamingPreprocessor(1, eeg_sfreq, sfreq_out=spec.sfreq)
        except ValueError as err:
            raise ContractError(
                f"The EEG stream's rate {eeg_sfreq:g} Hz cannot be resampled to the model's "
                f"{spec.sfreq:g} Hz: {err}"
            ) from err
