"""Scoring a predictor on trials: trial-level accuracy (as the seed reports it), streaming
accuracy over causal contexts of ``L`` windows (as live use sees them), modality ablations.

A predictor is any :data:`PredictFn`: the eager model during training
(:func:`eager_predictor`) or a loaded model file (``models.evaluate``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from features.seedv import N_CLASSES

from ..datasets import Normalizer, TrialLike, pad_sequences
from .config import DEFAULT_CONTEXT_LENGTHS

#: ``predict(eeg (B,T,310), eye (B,T,33), eeg_mask (B,T), eye_mask (B,T)) -> probs (B,5)``.
PredictFn = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def predict_sequences(
    predict: PredictFn,
    eeg_list: Sequence[np.ndarray],
    eye_list: Sequence[np.ndarray],
    *,
    batch_size: int = 64,
    pad_to: int | None = None,
    drop: str | None = None,
) -> np.ndarray:
    """Class probabilities of each sequence, batched by similar length.

    Parameters
    ----------
    predict : PredictFn
    eeg_list, eye_list : sequences of ndarray, shapes (T_i, n_eeg) and (T_i, n_eye)
    batch_size : int
    pad_to : int | None
        Pad every batch to this length (the seed pads whole trials to 74); default the batch's
        longest sequence.
    drop : {None, "eeg", "eye"}
        Evaluate with that modality missing (mask and features zero).

    Returns
    -------
    ndarray, shape (n_sequences, n_classes)
    """
    n = len(eeg_list)
    order = np.argsort([x.shape[0] for x in eeg_list], kind="stable")
    out: list[np.ndarray | None] = [None] * n
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        eeg, eye, m_eeg, m_eye = pad_sequences(
            [eeg_list[i] for i in idx], [eye_list[i] for i in idx], pad_to=pad_to
        )
        if drop == "eeg":
            eeg[:], m_eeg[:] = 0.0, 0.0
        elif drop == "eye":
            eye[:], m_eye[:] = 0.0, 0.0
        probs = np.asarray(predict(eeg, eye, m_eeg, m_eye))
        for j, i in enumerate(idx):
            out[i] = probs[j]
    return np.stack(out)


def causal_contexts(x: np.ndarray, context_len: int) -> list[np.ndarray]:
    """For each window t: ``x[max(0, t - L + 1) : t + 1]`` (what live sees after window t)."""
    return [x[max(0, t - context_len + 1) : t + 1] for t in range(x.shape[0])]


def score_trials(
    predict: PredictFn,
    trials: Sequence[TrialLike],
    *,
    max_len: int = 74,
    context_lengths: Sequence[int] = DEFAULT_CONTEXT_LENGTHS,
    batch_size: int = 64,
    n_classes: int = N_CLASSES,
    modality_ablation: bool = True,
    drop: str | None = None,
) -> dict:
    """Trial-level and streaming accuracy of ``predict`` on ``trials``.

    Trial level (as the seed reports it): one prediction per trial from its first ``max_len``
    windows, zero-padded to ``max_len`` with masks. Streaming: for every window ``t`` of every
    trial, one prediction from the causal context of the last ``L`` windows (shorter at the
    start of a trial), accuracy over all windows, for each ``L``.

    Parameters
    ----------
    predict : PredictFn
    trials : sequence of Trial
        ``eeg (n_windows, 310)``, ``eye (n_windows, 33)``, ``label``.
    max_len : int
        Windows per trial-level prediction (the model's ``max_len``); also L_max.
    context_lengths : sequence of int
        Streaming context lengths L, windows (those above ``max_len`` are dropped).
    batch_size : int
        Sequences per call of ``predict`` (x4 for the short streaming contexts).
    n_classes : int
        Size of the confusion matrix.
    modality_ablation : bool
        Also score with the eye (EEG only) and the EEG (eye only) masked out of the inputs
        (a masked-input ablation of this model, not a model trained on one modality).
    drop : {None, "eeg", "eye"}
        Score every prediction with that modality missing (a single-modality model); no
        ablation then.

    Returns
    -------
    dict
        ``trial_acc``, ``n_trials``, ``confusion`` (true x predicted counts), ``trial_pred``,
        ``trial_label``, ``streaming_acc`` {L: acc} (L = 1 is always there), ``window_acc``
        (each window classified alone, as papers report window-level accuracy: L = 1),
        ``n_windows``, and with
        ``modality_ablation`` ``trial_acc_eeg_only`` / ``trial_acc_eye_only``.
    """
    if len(trials) == 0:
        raise ValueError("score_trials got no trials.")
    labels = np.array([int(t.label) for t in trials])
    eeg = [np.asarray(t.eeg)[:max_len] for t in trials]
    eye = [np.asarray(t.eye)[:max_len] for t in trials]
    probs = predict_sequences(predict, eeg, eye, batch_size=batch_size, pad_to=max_len, drop=drop)
    pred = probs.argmax(axis=1)
    conf = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(conf, (labels, pred), 1)
    out = {
        "trial_acc": float(np.mean(pred == labels)),
        "n_trials": len(trials),
        "confusion": conf.tolist(),
        "trial_pred": pred.tolist(),
        "trial_label": labels.tolist(),
    }
    if modality_ablation and drop is None:
        for masked, key in (("eye", "trial_acc_eeg_only"), ("eeg", "trial_acc_eye_only")):
            p = predict_sequences(
                predict, eeg, eye, batch_size=batch_size, pad_to=max_len, drop=masked
            ).argmax(axis=1)
            out[key] = float(np.mean(p == labels))
    lengths = sorted({int(c) for c in context_lengths if int(c) <= max_len} | {1, int(max_len)})
    streaming = {}
    for L in lengths:
        ctx_eeg, ctx_eye, ctx_lab = [], [], []
        for t in trials:
            ctx_eeg += causal_contexts(np.asarray(t.eeg), L)
            ctx_eye += causal_contexts(np.asarray(t.eye), L)
            ctx_lab += [int(t.label)] * np.asarray(t.eeg).shape[0]
        p = predict_sequences(predict, ctx_eeg, ctx_eye, batch_size=batch_size * 4, drop=drop)
        streaming[str(L)] = float(np.mean(p.argmax(axis=1) == np.asarray(ctx_lab)))
    out["streaming_acc"] = streaming
    out["window_acc"] = streaming["1"]
    out["n_windows"] = int(sum(np.asarray(t.eeg).shape[0] for t in trials))
    return out


def eager_predictor(model: nn.Module, norm: Normalizer, device: torch.device) -> PredictFn:
    """A :data:`PredictFn` over raw features: normalise, run the eager model, softmax."""

    def predict(eeg, eye, eeg_mask, eye_mask):
        e, y = norm.transform(eeg, eye)
        # Padding and missing modalities stay exactly zero after normalisation.
        e = e * eeg_mask[..., None]
        y = y * eye_mask[..., None]
        with torch.no_grad():
            out = model(
                torch.from_numpy(e).to(device),
                torch.from_numpy(y).to(device),
                torch.from_numpy(eeg_mask).to(device),
                torch.from_numpy(eye_mask).to(device),
            )
        return torch.softmax(out["logits"].float(), dim=-1).cpu().numpy()

    return predict
