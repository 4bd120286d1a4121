"""The version of the cmt-live distribution (``cmt_live``, ``features``, ``models`` and ``apps``
ship as one), read once from the package metadata so ``pyproject.toml`` is the only place it
is written.

It lives here, the lowest package that needs it (model provenance), since ``models`` depends
on nothing above it; ``cmt_live.__version__`` is this value.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

DISTRIBUTION = "cmt-live"
#: What a source tree that is neither installed nor beside its pyproject.toml reports.
UNKNOWN = "0+unknown"


def _read_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        pass
    # A source tree that was never installed (e.g. run with PYTHONPATH=.): the version its
    # pyproject.toml declares. Only [project] sets a top-level `version = "..."` line there.
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return UNKNOWN
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, flags=re.MULTILINE)
    return match[1] if match else UNKNOWN


__version__: str = _read_version()
