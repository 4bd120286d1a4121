"""A run end to end: every fold task (seeds x modalities x folds of the protocol) on a runner,
each finished fold written by the driver as it arrives, then the deployment model (LOSO),
``metrics.json`` and the report; resumable.

The deployment model (``model.pt``) is trained after the folds on every subject except a
validation set drawn the same way, for the median best epoch of the folds (an epoch budget that
no test subject chose), keeping the best-on-validation weights inside that budget. Its expected
accuracy on a new subject is the LOSO estimate; its validation score is not a test score.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from features.seedv import CLASS_NAMES
from features.spec import FeatureSpec

from ..config import ModelConfig
from ..contract import ModelContract
from ..device import resolve_device
from ..export import export_torchscript
from ..report import write_report
from ..seedv import load_feature_source, load_feature_spec
from ..version import __version__
from .config import TrainConfig
from .folds import deployment_split, make_folds
from .loop import MODALITIES, FoldTraining, train_model
from .metrics import build_metrics
from .resume import STATE_FILE, atomic_write_json, finished_result, load_state, run_identity
from .runners import RunnerSpec, TaskContext, run_tasks
from .stats import mean_std
from .task import FoldTask, rebuild

logger = logging.getLogger("cmt_live")

#: Name of the deployment model's result in ``state.json``.
DEPLOYMENT = "deployment"


def export_model(
    trained: FoldTraining,
    path: Path,
    *,
    feature_spec: FeatureSpec,
    provenance: dict,
    feature_source: dict | None = None,
) -> Path:
    """Export trained weights as one TorchScript file with its contract.

    Parameters
    ----------
    trained : FoldTraining
        What :func:`~models.train.train_model` returned; its model is moved to the CPU.
    path : Path
        Output ``.pt``.
    feature_spec : features.spec.FeatureSpec
        The spec the training features were computed with (:func:`load_feature_spec`).
    provenance : dict
        Facts stored in the contract (fold, subjects, metrics, versions).
    feature_source : dict | None
        Where each modality's features came from (:func:`models.seedv.load_feature_source`);
        default both computed by ``features/``.

    Returns
    -------
    Path
        ``path``.
    """
    model = trained.model.to("cpu").eval()
    contract = ModelContract(
        feature_spec=feature_spec,
        norm=trained.norm.to_dict(),
        class_names=tuple(CLASS_NAMES),
        context_len=int(trained.model_config.max_len),
        config=trained.model_config,
        provenance=provenance,
        **({"feature_source": feature_source} if feature_source is not None else {}),
    )
    export_torchscript(model, contract, path)
    return Path(path)


def _provenance(
    *,
    fingerprint: str,
    fold: str,
    test_subject: int | None,
    val_subjects,
    train_subjects,
    metrics: dict,
    cfg: TrainConfig,
    spec_source: str,
    extra: dict | None = None,
) -> dict:
    # The contract passes it through jsonable when the model is exported.
    return {
        "data_fingerprint": fingerprint,
        "fold": fold,
        "test_subject": test_subject,
        "val_subjects": list(val_subjects),
        "train_subjects": list(train_subjects),
        "metrics": metrics,
        "cmt_live_version": __version__,
        "torch_version": torch.__version__,
        "train_config": cfg.to_dict(),
        "feature_spec_source": spec_source,
        **(extra or {}),
    }


def _task_tag(seed: int, first_seed: int, modality: str) -> str:
    # The first seed's fused folds keep the historical names (fold_01_subject_01.pt).
    return ("" if seed == first_seed else f"seed{seed}_") + (
        "" if modality == "both" else f"{modality}_"
    )


def plan_tasks(
    trials,
    protocol: str,
    cfg: TrainConfig,
    seeds: Sequence[int],
    modalities: Sequence[str],
    folds_limit: int | None = None,
) -> tuple[list[FoldTask], int]:
    """The fold tasks of a run and the number of folds of the protocol.

    Folds are drawn per seed (the validation draws depend on it); ``folds_limit`` keeps the
    first K folds of each seed and modality.
    """
    if folds_limit is not None and folds_limit < 1:
        raise ValueError(f"folds_limit={folds_limit} is invalid; use >= 1 or None (all folds).")
    bad = [m for m in modalities if m not in MODALITIES]
    if bad or not modalities:
        raise ValueError(f"modalities={list(modalities)} is invalid; use some of {MODALITIES}.")
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={list(seeds)} is invalid; give distinct integers, e.g. 0,1,2.")
    n_val = cfg.n_val_subjects if protocol == "loso" else cfg.n_val_trials
    tasks, n_folds = [], 0
    for seed in seeds:
        folds = make_folds(protocol, trials, n_val=n_val, seed=seed)
        n_folds = len(folds)
        planned = folds if folds_limit is None else folds[:folds_limit]
        for modality in modalities:
            tag = _task_tag(seed, seeds[0], modality)
            tasks += [FoldTask(f, int(seed), modality, n_folds, tag) for f in planned]
    return tasks, n_folds


def write_history_csv(path: Path, history: list[dict]) -> None:
    """The per-epoch log of one training as CSV (one row per epoch)."""
    if not history:
        return
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    tmp.replace(path)


def run_cv(
    data,
    out_dir: str | Path,
    cfg: TrainConfig,
    *,
    model_config: ModelConfig | None = None,
    protocol: str = "loso",
    seeds: Sequence[int] | None = None,
    modalities: Sequence[str] = ("both",),
    runner: RunnerSpec | None = None,
    folds_limit: int | None = None,
    device: str = "auto",
    progress: bool = False,
    final: bool = True,
    baseline: bool = True,
    data_root: str | Path | None = None,
    settings: dict | None = None,
) -> dict:
    """Run (or resume) cross-validated training and write the run folder.

    Parameters
    ----------
    data : models.seedv.SeedVData
        ``.trials``, ``.subjects``, ``.fingerprint``, ``.issues``, ``.root``.
    out_dir : str | Path
        Run folder: ``<fold>.{pt,json,csv}`` per fold task, ``model.pt``, ``metrics.json``,
        ``report.md``, figures, ``state.json`` (resume bookkeeping).
    cfg : TrainConfig
    model_config : models.ModelConfig | None
        Default ``ModelConfig.preset(cfg.preset)``.
    protocol : {"loso", "cross-session", "subject-dependent"}
    seeds : sequence of int | None
        Run seeds (default ``(cfg.seed,)``); statistics are aggregated over them.
    modalities : sequence of {"both", "eeg", "eye"}
        Models to train per fold: fused and/or single-modality models trained as such.
    runner : RunnerSpec | None
        Where the folds run (default: in this process).
    folds_limit : int | None
        Run only the first K folds per seed and modality (tests, timing estimates). The
        deployment model is trained only once every fold is done.
    device : str
        ``auto``, ``cpu``, ``cuda``...
    progress : bool
        Progress bars on a terminal, progress lines otherwise.
    final : bool
        Train the deployment model ``model.pt`` after the folds (LOSO only).
    baseline : bool
        Fit the scikit-learn baseline on every fused fold.
    data_root : str | Path | None
        Where to look for ``cmt_sim.json`` (default ``data.root``).
    settings : dict | None
        The resolved settings of the command line, stored in ``metrics.json``.

    Returns
    -------
    dict
        The content of ``metrics.json``.
    """
    t_run = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runner = runner or RunnerSpec()
    if model_config is None:
        model_config = ModelConfig.preset(cfg.preset)
    seeds = [int(s) for s in (seeds if seeds is not None else [cfg.seed])]
    cfg = replace(cfg, seed=seeds[0])
    spec, spec_source = load_feature_spec(data_root if data_root is not None else data.root)
    tasks, n_folds = plan_tasks(data.trials, protocol, cfg, seeds, modalities, folds_limit)
    identity = run_identity(cfg, model_config, data.fingerprint, protocol=protocol)
    source = load_feature_source(data_root if data_root is not None else data.root)
    state = load_state(out, identity)
    dev = resolve_device(device)
    logger.info(
        "%s: %d subjects, %d fold tasks (%d folds x %d seed(s) x %s), preset %s, device %s, "
        "runner %s, run folder %s",
        protocol,
        len(data.subjects),
        len(tasks),
        n_folds,
        len(seeds),
        "/".join(modalities),
        cfg.preset,
        dev,
        runner.kind if runner.kind != "jobs" else f"{runner.jobs} processes",
        out,
    )

    results: dict[str, dict] = {}
    todo = []
    for task in tasks:
        res = finished_result(out, state, task.name, f"{task.name}.pt")
        if res is not None:
            logger.info("%s already finished; skipping (resume).", task.name)
            results[task.name] = res
        else:
            todo.append(task)

    def on_result(task: FoldTask, outcome: dict) -> None:
        res = outcome["result"]
        s = res["test"]
        export_model(
            rebuild(outcome),
            out / res["model_file"],
            feature_spec=spec,
            feature_source=source,
            provenance=_provenance(
                fingerprint=data.fingerprint,
                fold=task.name,
                test_subject=task.fold.test_subject,
                val_subjects=task.fold.val_subjects,
                train_subjects=task.fold.train_subjects,
                metrics={
                    "trial_acc": s["trial_acc"],
                    "window_acc": s["window_acc"],
                    "streaming_acc": s["streaming_acc"],
                    "best_val_acc": res["best_val_acc"],
                    "best_epoch": res["best_epoch"],
                },
                cfg=replace(cfg, seed=task.seed),
                spec_source=spec_source,
                extra={"protocol": protocol, "modality": task.modality, "part": task.fold.part},
            ),
        )
        write_history_csv(out / f"{task.name}.csv", res["history"])
        atomic_write_json(out / f"{task.name}.json", res)
        state["finished"][task.name] = f"{task.name}.json"
        atomic_write_json(out / STATE_FILE, state)
        results[task.name] = res
        logger.info(
            "%s: trial accuracy %.3f, window %.3f (best epoch %d, val %.3f, %.0f s) [%d/%d]",
            task.name,
            s["trial_acc"],
            s["window_acc"],
            res["best_epoch"],
            res["best_val_acc"],
            res["wall_s"],
            len(results),
            len(tasks),
        )

    ctx = TaskContext(
        trials=data.trials,
        model_config=model_config,
        cfg=cfg,
        device=str(dev) if runner.kind != "ray" else device,
        threads=runner.threads,
        progress=progress,
        log_level=logger.getEffectiveLevel(),
        baseline=baseline,
    )
    retries = run_tasks(todo, ctx, runner, on_result)
    ordered = [results[t.name] for t in tasks]
    primary = [r for t, r in zip(tasks, ordered) if t.seed == seeds[0] and t.modality == "both"]
    if not primary:  # a run of single-modality models only: report the first modality's
        primary = [r for t, r in zip(tasks, ordered) if t.seed == seeds[0]]

    complete = len(primary) == n_folds
    deployment = None
    if final and complete and protocol == "loso" and "both" in modalities:
        deployment = finished_result(out, state, DEPLOYMENT, "model.pt")
        if deployment is None:
            deployment = _train_deployment(
                data, out, cfg, model_config, primary, dev, spec, spec_source, progress, source
            )
            state["finished"][DEPLOYMENT] = "model.json"
            atomic_write_json(out / STATE_FILE, state)
        else:
            logger.info("Deployment model already trained; skipping (resume).")

    metrics = build_metrics(
        data=data,
        cfg=cfg,
        model_config=model_config,
        folds_total=n_folds,
        fold_results=primary,
        deployment=deployment,
        device=str(dev),
        spec=spec,
        spec_source=spec_source,
        wall_s=time.perf_counter() - t_run,
        protocol=protocol,
        seeds=seeds,
        modalities=list(modalities),
        all_results=ordered,
        retries=retries,
        runner=runner.describe(),
        settings=settings,
    )
    write_report(out, metrics)
    return metrics


def _train_deployment(
    data, out: Path, cfg, model_config, fold_results, dev, spec, spec_source, progress, source
) -> dict:
    """``model.pt``: all subjects but a validation draw, for the folds' median best epoch."""
    epochs = max(1, round(float(np.median([r["best_epoch"] for r in fold_results]))))
    train_s, val_s = deployment_split(data.subjects, n_val=cfg.n_val_subjects, seed=cfg.seed)
    train = [t for t in data.trials if t.subject in train_s]
    val = [t for t in data.trials if t.subject in val_s]
    trained = train_model(
        train,
        val,
        model_config,
        cfg,
        epochs=epochs,
        device=dev,
        seed=int(cfg.seed) * 100_003,
        progress=progress,
        desc=f"deployment ({epochs} epochs)",
    )
    acc = mean_std(r["test"]["trial_acc"] for r in fold_results)  # as metrics.json's summary
    loso = {"trial_acc_mean": acc["mean"], "trial_acc_std": acc["std"]}
    res = {
        "name": DEPLOYMENT,
        "model_file": "model.pt",
        "train_subjects": list(train_s),
        "val_subjects": list(val_s),
        "epochs": epochs,
        "best_epoch": trained.best_epoch,
        "val_acc": trained.best_val_acc,
        "history": trained.history,
        "wall_s": trained.wall_s,
        "expected_accuracy": loso,
    }
    export_model(
        trained,
        out / "model.pt",
        feature_spec=spec,
        feature_source=source,
        provenance=_provenance(
            fingerprint=data.fingerprint,
            fold=DEPLOYMENT,
            test_subject=None,
            val_subjects=val_s,
            train_subjects=train_s,
            metrics={"loso": loso, "val_acc": trained.best_val_acc, "epochs": epochs},
            cfg=cfg,
            spec_source=spec_source,
        ),
    )
    write_history_csv(out / "model.csv", trained.history)
    atomic_write_json(out / "model.json", res)
    return res
