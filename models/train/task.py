"""One fold task: train one model on a fold's training trials, choose its epoch on the fold's
validation trials, score the test trials once, and fit the scikit-learn baseline on the same
split. The same function runs in the driver, in a local worker process (``--jobs``) and in a
Ray task (``--ray``), so a fold's result does not depend on where it ran.

A task returns plain data (the result dict, the weights as CPU tensors, the normaliser and the
model settings); the driver writes every file, so workers need no access to the run folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ..config import ModelConfig
from ..datasets import Normalizer
from ..device import resolve_device
from ..transformer import CrossModalTransformer
from .baseline import baseline_scores
from .config import TrainConfig
from .folds import Fold
from .loop import FoldTraining, train_model
from .scoring import eager_predictor, score_trials

logger = logging.getLogger("cmt_live")


@dataclass(frozen=True)
class FoldTask:
    """One unit of work: a fold, trained with one seed on one modality set.

    Attributes
    ----------
    fold : Fold
    seed : int
        The run seed (the fold's torch/numpy seed is derived from it and the fold).
    modality : {"both", "eeg", "eye"}
    n_folds : int
        Folds of the protocol (for messages).
    tag : str
        Prefix of the file names (``""`` for the first seed's fused model, so a one-seed run
        names its files as before: ``fold_01_subject_01.pt``).
    """

    fold: Fold
    seed: int
    modality: str = "both"
    n_folds: int = 0
    tag: str = ""

    @property
    def name(self) -> str:
        return f"{self.tag}{self.fold.name}"

    @property
    def desc(self) -> str:
        what = "" if self.modality == "both" else f", {self.modality} only"
        return (
            f"fold {self.fold.index + 1}/{self.n_folds} (subject {self.fold.test_subject}"
            f"{'' if self.fold.part is None else f' part {self.fold.part}'}{what}, "
            f"seed {self.seed})"
        )


def fold_seed(seed: int, fold: Fold) -> int:
    """Torch/numpy seed of a fold: depends only on the run seed and the fold's test unit, so a
    resumed or remote fold trains exactly as a fresh local one."""
    part = 0 if fold.part is None else 1000 * int(fold.part)
    return int(seed) * 100_003 + part + int(fold.test_subject)


def run_fold_task(
    task: FoldTask,
    trials,
    model_config: ModelConfig,
    cfg: TrainConfig,
    *,
    device: str = "auto",
    threads: int | None = None,
    progress: bool = False,
    baseline: bool = True,
) -> dict:
    """Train, choose and score one fold.

    Parameters
    ----------
    task : FoldTask
    trials : sequence of Trial
        All trials of the run (the fold selects its own).
    model_config : models.ModelConfig
    cfg : TrainConfig
        ``seed`` is replaced by ``task.seed``.
    device : str
    threads : int | None
        torch and BLAS CPU threads of the task (a worker gets its share of the cores); ``None``
        leaves both pools as they are.
    progress : bool
        Progress bar or lines.
    baseline : bool
        Also fit the scikit-learn baseline (fused models only).

    Returns
    -------
    dict
        ``result`` (JSON-ready: what ``<name>.json`` holds), ``state_dict`` (CPU tensors),
        ``norm`` (normaliser arrays), ``model_config`` (dict, ``n_domains`` set).
    """
    if threads is None:
        return _run_fold_task(task, trials, model_config, cfg, device, progress, baseline)
    torch.set_num_threads(int(threads))
    # The BLAS/OpenMP pools of numpy and scikit-learn (the baseline) get the same share: with
    # their default of one thread per core, the baseline of a fold ran 7x slower on a busy
    # 2-core machine (149 s against 20 s with one thread).
    with threadpool_limits(limits=int(threads)):
        return _run_fold_task(task, trials, model_config, cfg, device, progress, baseline)


def _run_fold_task(task, trials, model_config, cfg, device, progress, baseline) -> dict:
    cfg = replace(cfg, seed=int(task.seed))
    fold = task.fold
    train, val, test = fold.split(trials)
    if not test:
        raise ValueError(f"{task.name}: the fold has no test trials; check the data's subjects.")
    dev = resolve_device(device)
    trained = train_model(
        train,
        val,
        model_config,
        cfg,
        device=dev,
        seed=fold_seed(task.seed, fold),
        progress=progress,
        desc=task.desc,
        modality=task.modality,
    )
    drop = {"eeg": "eye", "eye": "eeg"}.get(task.modality)
    scores = score_trials(
        eager_predictor(trained.model, trained.norm, dev),
        test,
        max_len=int(model_config.max_len),
        context_lengths=cfg.context_lengths,
        batch_size=cfg.eval_batch_size,
        drop=drop,
    )
    result = {
        "fold": fold.index + 1,
        "name": task.name,
        "protocol": fold.protocol,
        "seed": int(task.seed),
        "modality": task.modality,
        "test_subject": fold.test_subject,
        "part": fold.part,
        "val_subjects": list(fold.val_subjects),
        "train_subjects": list(fold.train_subjects),
        "val_trials": [list(k) for k in fold.val_trials],
        "n_train_trials": len(train),
        "n_val_trials": len(val),
        "best_epoch": trained.best_epoch,
        "best_val_acc": trained.best_val_acc,
        "epochs": len(trained.history),
        "history": trained.history,
        "wall_s": trained.wall_s,
        "model_file": f"{task.name}.pt",
        "test": scores,
    }
    if baseline and task.modality == "both":
        result["baseline"] = baseline_scores(
            train + val, test, max_len=int(model_config.max_len), seed=task.seed
        )
    model = trained.model.to("cpu")
    return {
        "result": result,
        "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "norm": trained.norm.to_dict(),
        "model_config": trained.model_config.to_dict(),
    }


def rebuild(outcome: dict) -> FoldTraining:
    """The trained model of a task's outcome (eval mode, CPU), for export by the driver."""
    mcfg = ModelConfig.from_dict(outcome["model_config"])
    model = CrossModalTransformer(mcfg)
    model.load_state_dict(outcome["state_dict"])
    model.eval()
    r = outcome["result"]
    return FoldTraining(
        model=model,
        # Copies: arrays from Ray's object store are read-only views.
        norm=Normalizer(**{k: np.array(v) for k, v in outcome["norm"].items()}),
        model_config=mcfg,
        history=r["history"],
        best_epoch=r["best_epoch"],
        best_val_acc=r["best_val_acc"],
        wall_s=r["wall_s"],
    )
