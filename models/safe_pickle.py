"""A restricted unpickler for data files that hold plain containers and numpy arrays.

SEED-V's feature files store their contents as pickles (shared/SEEDV.md §2.1). Unpickling
runs whatever callable the file names, so a crafted file can run code on load. This module
rebuilds only ``dict``, ``list``, ``tuple``, ``set``, ``int``, ``float``, ``complex``,
``bool``, ``None``, ``str``, ``bytes`` (these need no global at all) and numpy arrays,
dtypes and scalars. Every global a pickle asks for is looked up in :data:`ALLOWED_GLOBALS`;
anything else raises :class:`UnsafePickleError` naming the file and the global.

The table maps names to objects directly instead of importing the named module: old
pickles name ``numpy.core.*``, which numpy 2 only provides through a deprecation shim.
"""

from __future__ import annotations

import io
import pickle

import numpy as np
from numpy._core import multiarray as _multiarray
from numpy._core import numeric as _numeric

#: ``module.name`` -> object, the only globals a pickle may name.
#:
#: ``_reconstruct``/``ndarray``/``dtype`` rebuild arrays (protocols 0-4), ``_frombuffer``
#: rebuilds them under protocol 5, ``scalar`` rebuilds numpy scalars, and ``_codecs.encode``
#: is how protocols 0-2 written by Python 3 store ``bytes`` (a pure text-to-bytes codec call:
#: it imports nothing outside the standard ``encodings`` package and runs no user code).
ALLOWED_GLOBALS: dict[str, object] = {}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    ALLOWED_GLOBALS[f"{_mod}._reconstruct"] = _multiarray._reconstruct
    ALLOWED_GLOBALS[f"{_mod}.scalar"] = _multiarray.scalar
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    ALLOWED_GLOBALS[f"{_mod}._frombuffer"] = _numeric._frombuffer
ALLOWED_GLOBALS["numpy.ndarray"] = np.ndarray
ALLOWED_GLOBALS["numpy.dtype"] = np.dtype
ALLOWED_GLOBALS["_codecs.encode"] = __import__("_codecs").encode


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for a global outside :data:`ALLOWED_GLOBALS`."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, *, source: str):
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str):
        key = f"{module}.{name}"
        obj = ALLOWED_GLOBALS.get(key)
        if obj is not None:
            return obj
        raise UnsafePickleError(
            f"{self._source}: refused to unpickle the global '{key}'. Only plain containers, "
            "numbers, strings and numpy arrays/dtypes/scalars are rebuilt from data files; "
            "this file is not a plain SEED-V feature file (it may be corrupt or crafted to run "
            "code). Do not load it with pickle directly."
        )

    def persistent_load(self, pid):
        raise UnsafePickleError(
            f"{self._source}: refused a persistent id {pid!r}; data files carry none."
        )


def safe_loads(data: bytes | bytearray | memoryview, *, source: str = "<bytes>"):
    """Unpickle ``data`` allowing only plain containers and numpy arrays.

    Parameters
    ----------
    data : bytes-like
        The pickle.
    source : str
        Where it came from (file and member), used in error messages.

    Returns
    -------
    obj
        The rebuilt object.

    Raises
    ------
    UnsafePickleError
        If the pickle names any global outside :data:`ALLOWED_GLOBALS`.
    pickle.UnpicklingError
        If the bytes are not a valid pickle.
    """
    try:
        return _RestrictedUnpickler(io.BytesIO(bytes(data)), source=source).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        raise pickle.UnpicklingError(f"{source}: not a valid pickle ({err}).") from err
