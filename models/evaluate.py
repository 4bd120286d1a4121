"""Score a saved model file on one subject's SEED-V features (the seed had ``evaluate.py``).

The model file is loaded through the same runtime the live monitor uses
(``models.load_runtime``), so the numbers are those of the shipped artifact, normalisation
statistics and all, not of an eager model in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .seedv import load_feature_spec
from .train import DEFAULT_CONTEXT_LENGTHS, score_trials

logger = logging.getLogger("cmt_live")


def evaluate_model(
    model_path: str | Path,
    data_root: str | Path,
    subject: int,
    *,
    device: str = "auto",
    context_lengths: Sequence[int] = DEFAULT_CONTEXT_LENGTHS,
    batch_size: int = 64,
) -> dict:
    """Trial-level and streaming accuracy of a model file on one subject.

    Parameters
    ----------
    model_path : str | Path
        A TorchScript model file written by ``cmt-train`` (``fold_XX_subject_YY.pt`` or
        ``model.pt``).
    data_root : str | Path
        SEED-V feature directory.
    subject : int
        Subject to score.
    device : str
        ``auto``, ``cpu`` or ``cuda``.
    context_lengths : sequence of int
        Streaming context lengths L (``max_len`` is added).
    batch_size : int

    Returns
    -------
    dict
        What :func:`models.train.score_trials` returns, plus ``subject``, ``model``,
        ``held_out`` (False when the model saw the subject in training or validation, so the
        score is not a test score), ``provenance`` and ``spec_mismatches`` (differences between
        the model's feature spec and the data's).
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(
            f"Model file {model_path} does not exist; pass a .pt written by cmt-train."
        )
    from models import load_runtime
    from models.seedv import load_seedv

    data = load_seedv(data_root, subjects=[int(subject)])
    runtime = load_runtime(model_path, device=device)
    contract = runtime.contract
    prov = dict(contract.provenance or {})
    seen = set(prov.get("train_subjects") or []) | set(prov.get("val_subjects") or [])
    held_out = int(subject) not in seen
    if not held_out:
        logger.warning(
            "Subject %d was among the training/validation subjects of %s; its score is not a "
            "held-out (test) score.",
            subject,
            model_path.name,
        )
    spec, _ = load_feature_spec(data_root)
    mismatches = contract.feature_spec.mismatches(spec)
    if mismatches:
        logger.warning(
            "The model's feature spec differs from the data's: %s", "; ".join(mismatches)
        )

    def predict(eeg, eye, eeg_mask, eye_mask):
        probs, _gates = runtime.predict_batch(eeg, eye, eeg_mask, eye_mask)
        return np.asarray(probs)

    scores = score_trials(
        predict,
        data.trials,
        max_len=int(contract.config.max_len),
        context_lengths=context_lengths,
        batch_size=batch_size,
    )
    scores.update(
        subject=int(subject),
        model=str(model_path),
        held_out=held_out,
        provenance=prov,
        spec_mismatches=mismatches,
        data_fingerprint=data.fingerprint,
    )
    return scores
