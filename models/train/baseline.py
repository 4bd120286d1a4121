"""The classical baseline: multinomial logistic regression on single windows' features, fitted
on a fold's training (and validation) trials and scored on its test trials, as the SEED-V
papers' linear baselines classify DE and eye features window by window.

Window level: each test window classified alone. Trial level: the mean of the window
probabilities over the trial's first ``max_len`` windows (the windows the transformer sees).
Fitted three times per fold: on EEG + eye, on EEG only and on eye only.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from features.seedv import N_CLASSES

from ..datasets import Normalizer

#: Inputs of the three baselines: (name, use EEG, use eye).
BASELINE_INPUTS = (("both", True, True), ("eeg", True, False), ("eye", False, True))


def _windows(trials: Sequence, norm: Normalizer, eeg: bool, eye: bool) -> np.ndarray:
    parts = []
    for t in trials:
        e, y = norm.transform(t.eeg, t.eye)
        parts.append(np.concatenate([x for x, on in ((e, eeg), (y, eye)) if on], axis=1))
    return np.concatenate(parts)


def baseline_scores(
    train: Sequence,
    test: Sequence,
    *,
    max_len: int = 74,
    seed: int = 0,
    c: float = 1.0,
    n_classes: int = N_CLASSES,
) -> dict:
    """Window- and trial-level accuracy of logistic regression on window features.

    Parameters
    ----------
    train, test : sequences of Trial
        ``eeg (n_windows, 310)``, ``eye (n_windows, 33)``, ``label``.
    max_len : int
        Windows per trial-level prediction.
    seed : int
        Solver seed.
    c : float
        Inverse L2 regularisation strength.
    n_classes : int

    Returns
    -------
    dict
        For each of ``both``, ``eeg``, ``eye``: ``window_acc``, ``n_windows``, ``trial_acc``,
        ``confusion``
        (trial level, true x predicted), ``trial_pred``, ``trial_label``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    norm = Normalizer.fit(train)  # training trials only, as the transformer's
    y_train = np.concatenate([np.full(np.asarray(t.eeg).shape[0], int(t.label)) for t in train])
    labels = np.array([int(t.label) for t in test])
    out = {}
    for name, eeg, eye in BASELINE_INPUTS:
        clf = LogisticRegression(C=c, max_iter=300, random_state=seed)
        with warnings.catch_warnings():
            # A capped solver is part of the baseline's definition, not an error.
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(_windows(train, norm, eeg, eye), y_train)
        correct = n_windows = 0
        trial_pred = []
        for t in test:
            x = _windows([t], norm, eeg, eye)
            probs = np.zeros((x.shape[0], n_classes))
            probs[:, clf.classes_] = clf.predict_proba(x)
            correct += int(np.sum(probs.argmax(axis=1) == int(t.label)))
            n_windows += x.shape[0]
            trial_pred.append(int(probs[:max_len].mean(axis=0).argmax()))
        pred = np.asarray(trial_pred)
        conf = np.zeros((n_classes, n_classes), dtype=int)
        np.add.at(conf, (labels, pred), 1)
        out[name] = {
            "window_acc": correct / n_windows,
            "n_windows": n_windows,
            "trial_acc": float(np.mean(pred == labels)),
            "confusion": conf.tolist(),
            "trial_pred": pred.tolist(),
            "trial_label": labels.tolist(),
        }
    return out
