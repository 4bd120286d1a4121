"""The one JSON-safe encoder of ``models/``: model contracts and run folders both use it.

Numpy only. JSON has no NaN or Infinity, so non-finite numbers become ``null``: the output
always passes ``json.dumps(..., allow_nan=False)`` and any JSON reader, and a value reads the
same in a model file's provenance and in a run folder's ``metrics.json``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np


def jsonable(obj):
    """JSON-ready copy of ``obj``.

    Parameters
    ----------
    obj : object
        Nested mappings, lists, tuples, numpy arrays and scalars, numbers, strings, paths.

    Returns
    -------
    object
        Mappings -> ``dict`` with ``str`` keys; lists, tuples and arrays (any shape) -> nested
        lists; numpy scalars -> Python numbers; NaN and +-Inf (Python or numpy) -> ``None``;
        ``None``, ``bool``, ``int``, ``str`` and finite floats unchanged; anything else
        (paths, devices, dtypes) -> ``str(obj)``.
    """
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)
