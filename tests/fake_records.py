"""Records for tests that feed sinks: a prediction with known probabilities."""

import numpy as np

from cmt_live.records import Prediction
from features.seedv import CLASS_NAMES


def prediction(t: float, k: int, *, flags=(), conf: float = 0.8) -> Prediction:
    """A prediction at ``t`` (LSL s) for class ``k`` with probability ``conf``."""
    probs = np.full(5, (1 - conf) / 4)
    probs[k] = conf
    return Prediction(
        t_end=t,
        probs=probs,
        gates=np.array([0.7, 0.3]),
        label=CLASS_NAMES[k],
        flags=frozenset(flags),
        t_computed=t + 0.02,
        compute_ms=2.0,
        n_context=3,
    )
