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
from .stats import across_seeds, mean_std, model_summary

#: Model kinds of ``metrics.json``'s statistics: (name, modality of the fold tasks, result key).
MODEL_KINDS = (
    ("transformer", "both", "test"),
    ("transformer_eeg", "eeg", "test"),
    ("transformer_eye", "eye", "test"),
    ("baseline", "both", "baseline.both"),
    ("baseline_eeg", "both", "baseline.eeg"),
    ("baseline_eye", "both", "baseline.eye"),
)


def statistics(results: list[dict], seeds: list[int], n_classes: int) -> dict:
    """Per model kind: each seed's :func:`~models.train.stats.model_summary` and the aggregate
    over seeds; kinds with no results (a modality not trained, no baseline) are left out."""
    out = {}
    for kind, modality, key in MODEL_KINDS:
        per_seed = {}
        for seed in seeds:
            rs = [
                r
                for r in results
                if r.get("seed", seeds[0]) == seed and r.get("modality", "both") == modality
            ]
            if key.startswith("baseline"):
                rs = [r for r in rs if r.get("baseline")]
            if rs:
                per_seed[str(seed)] = model_summary(rs, n_classes=n_classes, key=key)
        if per_seed:
            summaries = list(per_seed.values())
            out[kind] = {"per_seed": per_seed, "across_seeds": across_seeds(summaries)}
    return out


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
    protocol: str = "loso",
    seeds: list[int] | None = None,
    modalities: list[str] | None = None,
    all_results: list[dict] | None = None,
    retries: dict | None = None,
    runner: dict | None = None,
    settings: dict | None = None,
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
    protocol : str
    seeds : list of int | None
        Default ``[cfg.seed]``.
    modalities : list of str | None
        Default ``["both"]``.
    all_results : list of dict | None
        Every fold task's result (all seeds and modalities); default ``fold_results``.
    retries : dict | None
        Retries spent per fold task.
    runner : dict | None
        How the folds ran.
    settings : dict | None
        The resolved settings of the command line.

    Returns
    -------
    dict
        JSON-ready (:func:`models.jsonsafe.jsonable`): data, settings, ``summary`` (means and
        population stds over folds of the first seed's fused models, summed confusion),
        ``statistics`` (per model kind: per-seed summaries and the aggregate over seeds, see
        :mod:`~models.train.stats`), ``folds``, ``deployment``.
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
    seeds = list(seeds) if seeds is not None else [cfg.seed]
    modalities = list(modalities) if modalities is not None else ["both"]
    every = fold_results if all_results is None else all_results
    summary["window_acc"] = mean_std(t.get("window_acc") for t in tests)
    return jsonable(
        {
            "cmt_live_version": __version__,
            "protocol": protocol,
            "seeds": seeds,
            "modalities": modalities,
            "runner": runner,
            "retries": dict(retries or {}),
            "settings": settings,
            "statistics": statistics(every, seeds, n_classes),
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
