"""A LOSO run end to end: every fold (train, choose on validation, score the held-out subject
once, export), then the deployment model, ``metrics.json`` and the report; resumable.

The deployment model (``model.pt``) is trained after the folds on every subject except a
validation set drawn the same way, for the median best epoch of the folds (an epoch budget that
no test subject chose), keeping the best-on-validation weights inside that budget. Its expected
accuracy on a new subject is the LOSO estimate; its validation score is not a test score.
"""

from __future__ import annotations

import logging
import time
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
from .folds import deployment_split, loso_folds
from .loop import FoldTraining, train_model
from .metrics import build_metrics, mean_std
from .resume import STATE_FILE, atomic_write_json, finished_result, load_state, run_identity
from .scoring import eager_predictor, score_trials

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


def _fold_seed(seed: int, test_subject: int) -> int:
    # One seed per (run seed, test subject): a resumed run trains a fold exactly as a fresh one.
    return int(seed) * 100_003 + int(test_subject)


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
    }


def run_loso(
    data,
    out_dir: str | Path,
    cfg: TrainConfig,
    *,
    model_config: ModelConfig | None = None,
    folds_limit: int | None = None,
    device: str = "auto",
    progress: bool = False,
    final: bool = True,
    data_root: str | Path | None = None,
) -> dict:
    """Run (or resume) LOSO training and write the run folder.

    Parameters
    ----------
    data : models.seedv.SeedVData
        ``.trials``, ``.subjects``, ``.subject_trials(s)``, ``.fingerprint``, ``.issues``.
    out_dir : str | Path
        Run folder: ``fold_XX_subject_YY.{pt,json}``, ``model.pt``, ``metrics.json``,
        ``report.md``, ``confusion_matrix.png``, ``per_subject.png``, ``curves.png``,
        ``state.json`` (resume bookkeeping).
    cfg : TrainConfig
    model_config : models.ModelConfig | None
        Default ``ModelConfig.preset(cfg.preset)``.
    folds_limit : int | None
        Run only the first K folds (tests, timing estimates). The deployment model is trained
        only once every fold is done.
    device : str
        ``auto``, ``cpu``, ``cuda``...
    progress : bool
        tqdm bars on stderr (only when it is a terminal).
    final : bool
        Train the deployment model ``model.pt`` after the folds.
    data_root : str | Path | None
        Where to look for ``cmt_sim.json`` (default ``data.root``).

    Returns
    -------
    dict
        The content of ``metrics.json``.
    """
    t_run = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if model_config is None:
        model_config = ModelConfig.preset(cfg.preset)
    spec, spec_source = load_feature_spec(data_root if data_root is not None else data.root)
    source = load_feature_source(data_root if data_root is not None else data.root)
    subjects = list(data.subjects)
    folds = loso_folds(subjects, n_val=cfg.n_val_subjects, seed=cfg.seed)
    if folds_limit is not None and folds_limit < 1:
        raise ValueError(f"folds_limit={folds_limit} is invalid; use >= 1 or None (all folds).")
    planned = folds if folds_limit is None else folds[:folds_limit]
    identity = run_identity(cfg, model_config, data.fingerprint)
    state = load_state(out, identity)
    dev = resolve_device(device)
    by_subject = {s: data.subject_trials(s) for s in subjects}
    max_len = int(model_config.max_len)
    logger.info(
        "LOSO: %d subjects, %d of %d folds, preset %s, device %s, run folder %s",
        len(subjects),
        len(planned),
        len(folds),
        cfg.preset,
        dev,
        out,
    )

    fold_results = []
    for fold in planned:
        model_file = f"{fold.name}.pt"
        res = finished_result(out, state, fold.name, model_file)
        if res is not None:
            logger.info("%s already finished; skipping (resume).", fold.name)
            fold_results.append(res)
            continue
        train = [t for s in fold.train_subjects for t in by_subject[s]]
        val = [t for s in fold.val_subjects for t in by_subject[s]]
        test = by_subject[fold.test_subject]
        trained = train_model(
            train,
            val,
            model_config,
            cfg,
            device=dev,
            seed=_fold_seed(cfg.seed, fold.test_subject),
            progress=progress,
            desc=f"fold {fold.index + 1}/{len(folds)} (subject {fold.test_subject})",
        )
        # The held-out subject is scored once, with the weights chosen on validation.
        scores = score_trials(
            eager_predictor(trained.model, trained.norm, dev),
            test,
            max_len=max_len,
            context_lengths=cfg.context_lengths,
            batch_size=cfg.eval_batch_size,
        )
        res = {
            "fold": fold.index + 1,
            "name": fold.name,
            "test_subject": fold.test_subject,
            "val_subjects": list(fold.val_subjects),
            "train_subjects": list(fold.train_subjects),
            "best_epoch": trained.best_epoch,
            "best_val_acc": trained.best_val_acc,
            "epochs": len(trained.history),
            "history": trained.history,
            "wall_s": trained.wall_s,
            "model_file": model_file,
            "test": scores,
        }
        export_model(
            trained,
            out / model_file,
            feature_spec=spec,
            feature_source=source,
            provenance=_provenance(
                fingerprint=data.fingerprint,
                fold=fold.name,
                test_subject=fold.test_subject,
                val_subjects=fold.val_subjects,
                train_subjects=fold.train_subjects,
                metrics={
                    "trial_acc": scores["trial_acc"],
                    "streaming_acc": scores["streaming_acc"],
                    "best_val_acc": trained.best_val_acc,
                    "best_epoch": trained.best_epoch,
                },
                cfg=cfg,
                spec_source=spec_source,
            ),
        )
        atomic_write_json(out / f"{fold.name}.json", res)
        state["finished"][fold.name] = f"{fold.name}.json"
        atomic_write_json(out / STATE_FILE, state)
        logger.info(
            "%s: test subject %d trial accuracy %.3f (best epoch %d, val %.3f, %.0f s)",
            fold.name,
            fold.test_subject,
            scores["trial_acc"],
            trained.best_epoch,
            trained.best_val_acc,
            trained.wall_s,
        )
        fold_results.append(res)

    complete = len(planned) == len(folds)
    deployment = None
    if final and complete:
        deployment = finished_result(out, state, DEPLOYMENT, "model.pt")
        if deployment is None:
            deployment = _train_deployment(
                data, out, cfg, model_config, fold_results, dev, spec, spec_source, progress, source
            )
            state["finished"][DEPLOYMENT] = "model.json"
            atomic_write_json(out / STATE_FILE, state)
        else:
            logger.info("Deployment model already trained; skipping (resume).")

    metrics = build_metrics(
        data=data,
        cfg=cfg,
        model_config=model_config,
        folds_total=len(folds),
        fold_results=fold_results,
        deployment=deployment,
        device=str(dev),
        spec=spec,
        spec_source=spec_source,
        wall_s=time.perf_counter() - t_run,
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
        seed=_fold_seed(cfg.seed, 0),
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
    atomic_write_json(out / "model.json", res)
    return res
