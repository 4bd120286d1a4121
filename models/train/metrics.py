"""``metrics.json`` of a run: the per-fold results, their means and population stds over folds,
the summed confusion matrix, and what the run was (data, settings, versions)."""

from __future__ import annotations

import numpy as np

from features.seedv import N_CLASSES
from features.spec import FeatureSpec

from ..config import ModelConfig
from ..jsonsafe import jsonable
from ..version import __version__
from .config import TrainConfig


def mean_std(values) -> dict:
    """``{"mean", "std"}`` of the values that are not None (both None if there are none)."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return {"mean": None, "std": None}
    # Population std (ddof=0), as np.std prints it in the seed's LOSO summary.
    return {"mean": float(v.mean()), "std": float(v.std())}


def build_metrics(
    *,
    data,
    cfg: TrainConfig,
    model_config: ModelConfig,
    folds_total: int,
    fold_results: list[dict],
    deployment: dict | None,
    device: str,
    spec: FeatureSpec,
    spec_source: str,
    wall_s: float,
) -> dict:
    """Assemble ``metrics.json`` from the per-fold results.

    Parameters
    ----------
    data : models.seedv.SeedVData
    cfg : TrainConfig
    model_config : models.ModelConfig
    folds_total : int
        Folds of the full LOSO (``fold_results`` may hold fewer: a partial run).
    fold_results : list of dict
        One per fold done, as written to ``fold_XX_subject_YY.json``.
    deployment : dict | None
        The deployment model's result, if it was trained.
    device : str
    spec : features.spec.FeatureSpec
    spec_source : str
    wall_s : float
        Duration of the run, seconds.

    Returns
    -------
    dict
        JSON-ready (:func:`models.jsonsafe.jsonable`): data, settings, ``summary`` (means and
        population stds over folds, summed confusion), ``folds``, ``deployment``.
    """
    tests = [r["test"] for r in fold_results]
    n_classes = len(tests[0]["confusion"]) if tests else N_CLASSES
    conf = np.zeros((n_classes, n_classes), dtype=int)
    for t in tests:
        conf += np.asarray(t["confusion"], dtype=int)
    lengths = sorted({int(k) for t in tests for k in t["streaming_acc"]})
    summary = {
        "n_folds_done": len(fold_results),
        "n_folds_total": folds_total,
        "complete": len(fold_results) == folds_total,
        "trial_acc": mean_std(t["trial_acc"] for t in tests),
        "trial_acc_eeg_only": mean_std(t.get("trial_acc_eeg_only") for t in tests),
        "trial_acc_eye_only": mean_std(t.get("trial_acc_eye_only") for t in tests),
        "best_val_acc": mean_std(r["best_val_acc"] for r in fold_results),
        "streaming_acc": {
            str(L): mean_std(t["streaming_acc"].get(str(L)) for t in tests) for L in lengths
        },
        "confusion": conf.tolist(),
        "chance": 1.0 / n_classes,
        "fold_wall_s": float(sum(r["wall_s"] for r in fold_results)),
    }
    return jsonable(
        {
            "cmt_live_version": __version__,
            "data": {
                "root": str(data.root),
                "fingerprint": data.fingerprint,
                "subjects": list(data.subjects),
                "n_trials": len(data.trials),
                "n_windows": int(sum(np.asarray(t.eeg).shape[0] for t in data.trials)),
                "issues": list(data.issues),
            },
            "feature_spec": spec.to_dict(),
            "feature_spec_source": spec_source,
            "train_config": cfg.to_dict(),
            "model_config": model_config.to_dict(),
            "device": device,
            "summary": summary,
            "folds": fold_results,
            "deployment": deployment,
            "wall_s": wall_s,
        }
    )
