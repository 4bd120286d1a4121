"""Small model files for the live tests (untrained: shapes and plumbing, not accuracy)."""

from __future__ import annotations

from pathlib import Path

from features.spec import FeatureSpec
from models import export_untrained


def make_model_file(path: Path, *, spec: FeatureSpec | None = None, context_len: int = 8) -> Path:
    """Export an untrained tiny model with identity normalisation and ``spec``."""
    return Path(export_untrained(path, preset="tiny", context_len=context_len, spec=spec))
