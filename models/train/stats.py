"""The statistics of ``report.md``: per-subject accuracies with a binomial test against chance,
macro-F1, Cohen's kappa, per-class precision and recall, and the aggregation over seeds
(mean ± std over seeds of the per-subject means).

Everything is computed from what the fold results store (predictions, labels, per-length
streaming accuracies and window counts), so a report can be rebuilt from the run folder.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mean_std(values) -> dict:
    """``{"mean", "std"}`` of the values that are not None (both None if there are none)."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return {"mean": None, "std": None}
    # Population std (ddof=0), as np.std prints it in the seed's LOSO summary.
    return {"mean": float(v.mean()), "std": float(v.std())}


def classification_stats(conf) -> dict:
    """Macro-F1, Cohen's kappa and per-class precision/recall of a confusion matrix.

    Parameters
    ----------
    conf : array-like, shape (n_classes, n_classes)
        Counts, rows true, columns predicted.

    Returns
    -------
    dict
        ``accuracy``, ``macro_f1`` (mean over classes with any true or predicted sample),
        ``kappa``, ``precision`` and ``recall`` (lists; None where undefined), ``n``.
    """
    c = np.asarray(conf, dtype=float)
    n = c.sum()
    if n == 0:
        return {"accuracy": None, "macro_f1": None, "kappa": None, "precision": [], "recall": []}
    tp = np.diag(c)
    pred, true = c.sum(axis=0), c.sum(axis=1)
    precision = [float(tp[i] / pred[i]) if pred[i] else None for i in range(len(tp))]
    recall = [float(tp[i] / true[i]) if true[i] else None for i in range(len(tp))]
    f1 = [2 * tp[i] / (pred[i] + true[i]) for i in range(len(tp)) if pred[i] + true[i] > 0]
    po = tp.sum() / n
    pe = float(np.sum(pred * true)) / n**2
    kappa = 0.0 if pe == 1 else (po - pe) / (1 - pe)
    return {
        "accuracy": float(po),
        "macro_f1": float(np.mean(f1)),
        "kappa": float(kappa),
        "precision": precision,
        "recall": recall,
        "n": int(n),
    }


def binomial_p(correct: int, n: int, chance: float) -> float:
    """One-sided p of ``correct`` hits out of ``n`` or more under chance level ``chance``."""
    from scipy.stats import binomtest

    return float(binomtest(int(correct), int(n), float(chance), alternative="greater").pvalue)


def _confusion(pred, label, n_classes: int) -> np.ndarray:
    conf = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(conf, (np.asarray(label, dtype=int), np.asarray(pred, dtype=int)), 1)
    return conf


def per_subject(results: Sequence[dict], *, n_classes: int, key: str = "test") -> list[dict]:
    """Per-subject scores pooled over the subject's folds (1 in LOSO, 3 within subject).

    Parameters
    ----------
    results : sequence of dict
        Fold results of one seed and one model kind.
    n_classes : int
    key : str
        ``test`` (the transformer) or ``baseline.<both|eeg|eye>``.

    Returns
    -------
    list of dict
        Sorted by subject: ``subject``, ``n_trials``, ``correct``, ``trial_acc``,
        ``window_acc``, ``p_chance`` (binomial, one-sided, trial level), ``streaming_acc``
        {L: acc} (empty for the baseline), ``n_windows``, ``confusion``.
    """
    by: dict[int, list[dict]] = {}
    for r in results:
        scores = r
        for part in key.split("."):
            scores = (scores or {}).get(part)
        if scores is not None and "trial_pred" in scores and "test_subject" in r:
            by.setdefault(int(r["test_subject"]), []).append(scores)
    rows = []
    for subject in sorted(by):
        parts = by[subject]
        pred = np.concatenate([p["trial_pred"] for p in parts]).astype(int)
        label = np.concatenate([p["trial_label"] for p in parts]).astype(int)
        correct, n = int(np.sum(pred == label)), int(label.size)
        row = {
            "subject": subject,
            "n_trials": n,
            "correct": correct,
            "trial_acc": correct / n,
            "p_chance": binomial_p(correct, n, 1.0 / n_classes),
            "confusion": _confusion(pred, label, n_classes).tolist(),
        }
        w = np.asarray([p["n_windows"] for p in parts], dtype=float)
        row["n_windows"] = int(w.sum())
        row["window_acc"] = float(np.dot(w, [p["window_acc"] for p in parts]) / w.sum())
        lengths = sorted({int(k) for p in parts for k in p.get("streaming_acc", {})})
        row["streaming_acc"] = {
            str(L): float(np.dot(w, [p["streaming_acc"][str(L)] for p in parts]) / w.sum())
            for L in lengths
        }
        rows.append(row)
    return rows


def model_summary(results: Sequence[dict], *, n_classes: int, key: str = "test") -> dict:
    """One seed's summary of one model kind: means over subjects and pooled statistics.

    Returns
    -------
    dict
        ``subjects`` (:func:`per_subject`), ``trial_acc`` / ``window_acc`` (mean and population
        std over subjects), ``streaming_acc`` {L: mean over subjects}, ``stats``
        (:func:`classification_stats` of the confusion pooled over all folds),
        ``n_significant`` (subjects above chance at p < 0.05).
    """
    rows = per_subject(results, n_classes=n_classes, key=key)
    conf = np.zeros((n_classes, n_classes), dtype=int)
    for r in rows:
        conf += np.asarray(r["confusion"], dtype=int)
    lengths = sorted({int(k) for r in rows for k in r.get("streaming_acc", {})})
    return {
        "subjects": rows,
        "trial_acc": mean_std(r["trial_acc"] for r in rows),
        "window_acc": mean_std(r["window_acc"] for r in rows),
        "streaming_acc": {
            str(L): mean_std(r["streaming_acc"].get(str(L)) for r in rows) for L in lengths
        },
        "stats": classification_stats(conf),
        "confusion": conf.tolist(),
        "n_significant": int(sum(r["p_chance"] < 0.05 for r in rows)),
    }


def across_seeds(summaries: Sequence[dict]) -> dict:
    """Mean ± population std over seeds of each seed's per-subject mean (and of macro-F1, κ)."""
    return {
        "n_seeds": len(summaries),
        "trial_acc": mean_std(s["trial_acc"]["mean"] for s in summaries),
        "window_acc": mean_std(s["window_acc"]["mean"] for s in summaries),
        "macro_f1": mean_std(s["stats"]["macro_f1"] for s in summaries),
        "kappa": mean_std(s["stats"]["kappa"] for s in summaries),
    }
