"""SEED-V features: differential entropy of EEG bands and the 33 eye-movement features.

Pure numpy/scipy, with batch and streaming forms of the same functions; knows nothing of LSL,
torch or Qt.
"""

from .constants import (
    BANDS,
    EYE_EVENT_STAT_NAMES,
    EYE_FEATURE_NAMES,
    N_EEG_FEATURES,
    N_EYE_FEATURES,
    PUPIL_BANDS,
    SEEDV_CHANNELS,
)
from .de import StreamingDE, de_features
from .eye import detect_events, eye_features, pixels_to_degrees
from .lds import CausalLDS, apply_lds
from .preprocess import StreamingPreprocessor, preprocess_batch
from .spec import FeatureSpec

__all__ = [
    "BANDS",
    "EYE_EVENT_STAT_NAMES",
    "EYE_FEATURE_NAMES",
    "N_EEG_FEATURES",
    "N_EYE_FEATURES",
    "PUPIL_BANDS",
    "SEEDV_CHANNELS",
    "CausalLDS",
    "FeatureSpec",
    "StreamingDE",
    "StreamingPreprocessor",
    "apply_lds",
    "de_features",
    "detect_events",
    "eye_features",
    "pixels_to_degrees",
    "preprocess_batch",
]
