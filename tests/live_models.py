"""Small model files for the live tests (untrained: shapes and plumbing, not accuracy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from features.spec import FeatureSpec
from models import CrossModalTransformer, ModelConfig, ModelContract, export_torchscript


def make_model_file(path: Path, *, spec: FeatureSpec | None = None, context_len: int = 8) -> Path:
    """Export an untrained tiny model with identity normalisation and ``spec``."""
    torch.manual_seed(0)
    spec = spec or FeatureSpec()
    cfg = ModelConfig.preset(
        "tiny", max_len=context_len, n_eeg=spec.n_eeg_features, n_eye=spec.n_eye_features
    )
    model = CrossModalTransformer(cfg).eval()
    norm = {
        "eeg_mean": np.zeros(cfg.n_eeg, np.float32),
        "eeg_std": np.ones(cfg.n_eeg, np.float32),
        "eye_mean": np.zeros(cfg.n_eye, np.float32),
        "eye_std": np.ones(cfg.n_eye, np.float32),
    }
    contract = ModelContract(
        feature_spec=spec,
        norm=norm,
        class_names=("Disgust", "Fear", "Sad", "Neutral", "Happy"),
        context_len=context_len,
        config=cfg,
    )
    export_torchscript(model, contract, path)
    return Path(path)
