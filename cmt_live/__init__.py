"""cmt-live: real-time EEG + eye-tracking emotion monitor.

The package ``cmt_live`` holds everything that touches streams: LSL inlets and outlets, file
replay, the simulator, timestamped ring buffers, windowing, the live loop, sinks and the
command lines. Feature maths lives in :mod:`features`, the model in :mod:`models`, the Qt
monitor in :mod:`apps`.
"""

from features.seedv import CLASS_NAMES
from models.version import __version__

from ._logging import logger, set_log_level
from .records import (
    Chunk,
    FeatureFrame,
    Flag,
    Prediction,
    StreamHealth,
    StreamMeta,
    Window,
)

__all__ = [
    "CLASS_NAMES",
    "Chunk",
    "FeatureFrame",
    "Flag",
    "Prediction",
    "StreamHealth",
    "StreamMeta",
    "Window",
    "__version__",
    "logger",
    "set_log_level",
]
