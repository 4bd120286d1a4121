"""The cross-modal transformer, SEED-V data, LOSO training, export and the runtime.

The names below load on first use (PEP 562), so importing ``models`` or its numpy-only
modules (:mod:`models.seedv`, :mod:`models.safe_pickle`, :mod:`models.jsonsafe`) does not
import torch: ``cmt-replay --seedv-times`` reads SEED-V labels without it. Asking for a
torch-dependent name without torch installed raises an ``ImportError`` that says so.
"""

from __future__ import annotations

import importlib

#: Public name -> the submodule that defines it.
_SUBMODULE: dict[str, str] = {
    "CrossModalTransformer": "transformer",
    "ModelConfig": "config",
    "ModelContract": "contract",
    "Runtime": "runtime",
    "export_pt2": "export",
    "export_torchscript": "export",
    "export_untrained": "export",
    "load_runtime": "runtime",
    "load_seed_state_dict": "seed",
}

__all__ = sorted(_SUBMODULE)


def __getattr__(name: str):
    try:
        submodule = _SUBMODULE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    try:
        module = importlib.import_module(f"{__name__}.{submodule}")
    except ModuleNotFoundError as err:
        if (err.name or "").partition(".")[0] != "torch":
            raise
        raise ImportError(
            f"models.{name} needs torch, which cannot be imported here ({err}). Install it "
            "(the Makefile pins the version); models.seedv reads SEED-V files without it."
        ) from err
    value = getattr(module, name)
    globals()[name] = value  # later look-ups find it without calling __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
