"""Training one model: the epoch loop (AdamW, warm-up + cosine, the DANN alpha schedule,
gradient clipping, AMP on CUDA) and the best-on-validation choice of epoch.

Loss = CE(emotion) + ``domain_weight`` * CE(subject of the training fold), the subject head
behind gradient reversal with ``alpha = 2 / (1 + exp(-10 p)) - 1`` (``p`` = training progress).
The epoch kept is the one with the best validation trial accuracy (ties: lower loss).
"""

from __future__ import annotations

import copy
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from ..config import ModelConfig
from ..datasets import Normalizer, TrialLike, TrialSequenceDataset, collate
from ..device import resolve_device
from ..transformer import CrossModalTransformer
from .config import TrainConfig

logger = logging.getLogger("cmt_live")

#: What a model is trained on: both modalities (with modality dropout) or one only.
MODALITIES = ("both", "eeg", "eye")


def dann_alpha(progress: float) -> float:
    """Gradient-reversal strength ``2 / (1 + exp(-10 p)) - 1`` for training progress ``p``."""
    p = min(max(float(progress), 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0


def warmup_cosine(step: int, total_steps: int, warmup_steps: int) -> float:
    """LR multiplier: linear warm-up ``(step+1)/warmup``, then cosine from 1 to 0."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(total_steps - warmup_steps, 1)
    p = min(max((step - warmup_steps) / span, 0.0), 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * p))


def progress_bar(*, total: int, desc: str, enabled: bool):
    """A tqdm bar on stderr, shown only when ``enabled`` and stderr is a terminal."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        file=sys.stderr,
        disable=not (enabled and sys.stderr.isatty()),
        leave=False,
        dynamic_ncols=True,
    )


@dataclass
class FoldTraining:
    """What :func:`train_model` returns."""

    model: nn.Module  # best-on-validation weights, eval mode, on the training device
    norm: Normalizer
    model_config: ModelConfig  # n_domains set to the number of training subjects
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0  # 1-based
    best_val_acc: float = float("nan")
    wall_s: float = 0.0


def _set_seed(seed: int) -> None:
    # Dropout and initialisation draw from torch's global generator; the data draws use
    # their own numpy Generators keyed on (seed, epoch, index).
    torch.manual_seed(seed)


def train_model(
    train_trials: Sequence[TrialLike],
    val_trials: Sequence[TrialLike],
    model_config: ModelConfig,
    cfg: TrainConfig,
    *,
    epochs: int | None = None,
    device: str | torch.device = "auto",
    seed: int | None = None,
    progress: bool = False,
    desc: str = "train",
    modality: str = "both",
) -> FoldTraining:
    """Train one model; keep the epoch with the best validation trial accuracy.

    Parameters
    ----------
    train_trials : sequence of Trial
        Training subjects' trials (normalisation is fitted on these only).
    val_trials : sequence of Trial
        Validation subjects' trials (whole trials scored each epoch; ties broken by loss).
    model_config : models.ModelConfig
        ``n_domains`` is replaced by the number of training subjects.
    cfg : TrainConfig
    epochs : int | None
        Override ``cfg.epochs`` (the deployment model uses the folds' median best epoch).
    device : str | torch.device
    seed : int | None
        Torch/numpy seed of this training (default ``cfg.seed``).
    progress : bool
        tqdm bar on stderr.
    desc : str
        Label of the progress bar, the progress lines and error messages.
    modality : {"both", "eeg", "eye"}
        ``eeg`` / ``eye``: a single-modality model, trained and validated with the other
        modality always missing (its features and mask zero), instead of modality dropout.

    Returns
    -------
    FoldTraining
        The best-on-validation model (eval mode, on ``device``) and its history.
    """
    if len(train_trials) == 0 or len(val_trials) == 0:
        raise ValueError(
            f"train_model needs training and validation trials; got {len(train_trials)} and "
            f"{len(val_trials)}. Check the subjects of the split."
        )
    if modality not in MODALITIES:
        raise ValueError(f"modality={modality!r} is invalid; use one of {MODALITIES}.")
    dev = resolve_device(device)
    n_epochs = int(cfg.epochs if epochs is None else epochs)
    seed = cfg.seed if seed is None else int(seed)
    t0 = time.perf_counter()
    _set_seed(seed)

    norm = Normalizer.fit(train_trials)
    train_subjects = sorted({int(t.subject) for t in train_trials})
    domains = {s: i for i, s in enumerate(train_subjects)}
    mcfg = replace(model_config, n_domains=len(domains))
    max_len = int(mcfg.max_len)
    train_ds = TrialSequenceDataset(
        train_trials,
        norm,
        max_len=max_len,
        domains=domains,
        random_crop=cfg.random_crop,
        p_drop_eeg={"both": cfg.p_drop_eeg, "eeg": 0.0, "eye": 1.0}[modality],
        p_drop_eye={"both": cfg.p_drop_eye, "eeg": 1.0, "eye": 0.0}[modality],
        seed=seed,
    )
    val_ds = TrialSequenceDataset(val_trials, norm, max_len=max_len)
    val_batch = collate([val_ds[i] for i in range(len(val_ds))], pad_to=max_len)
    missing = {"eeg": "eye", "eye": "eeg"}.get(modality)
    if missing is not None:
        val_batch[missing] = torch.zeros_like(val_batch[missing])
        val_batch[f"{missing}_mask"] = torch.zeros_like(val_batch[f"{missing}_mask"])

    model = CrossModalTransformer(mcfg).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train_ds) / cfg.batch_size)
    total_steps = n_epochs * steps_per_epoch
    warmup_steps = round(cfg.warmup_frac * total_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: warmup_cosine(s, total_steps, warmup_steps)
    )
    use_amp = dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    ce = nn.CrossEntropyLoss()

    best_key = (-1.0, -math.inf)
    best_state = None
    result = FoldTraining(model=model, norm=norm, model_config=mcfg)
    step = 0
    bar = progress_bar(total=total_steps, desc=desc, enabled=progress)
    try:
        for epoch in range(n_epochs):
            model.train()
            train_ds.set_epoch(epoch)
            perm = np.random.default_rng([seed, epoch, 7]).permutation(len(train_ds))
            sums = {"loss": 0.0, "ce": 0.0, "domain": 0.0}
            n_seen = 0
            for b in range(steps_per_epoch):
                idx = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
                batch = {k: v.to(dev) for k, v in collate([train_ds[i] for i in idx]).items()}
                alpha = dann_alpha(step / max(total_steps, 1))
                with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=use_amp):
                    out = model.train_forward(
                        batch["eeg"], batch["eye"], batch["eeg_mask"], batch["eye_mask"], alpha
                    )
                loss_ce = ce(out["logits"].float(), batch["label"])
                loss_dom = ce(out["domain_logits"].float(), batch["domain"])
                loss = loss_ce + cfg.domain_weight * loss_dom
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"{desc}: non-finite training loss at epoch {epoch + 1}, step {b + 1} "
                        f"(ce={loss_ce.item()}, domain={loss_dom.item()}); lower the learning "
                        f"rate (lr={cfg.lr}) or check the features for NaN/Inf."
                    )
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                scaler.step(opt)
                scaler.update()
                sched.step()
                step += 1
                k = len(idx)
                n_seen += k
                sums["loss"] += loss.item() * k
                sums["ce"] += loss_ce.item() * k
                sums["domain"] += loss_dom.item() * k
                bar.update(1)
            val_acc, val_loss = _validate(model, val_batch, dev, ce)
            rec = {
                "epoch": epoch + 1,
                "train_loss": sums["loss"] / n_seen,
                "train_ce": sums["ce"] / n_seen,
                "train_domain": sums["domain"] / n_seen,
                "val_acc": val_acc,
                "val_loss": val_loss,
                "lr": float(opt.param_groups[0]["lr"]),
                "alpha": dann_alpha(step / max(total_steps, 1)),
            }
            result.history.append(rec)
            bar.set_postfix(loss=f"{rec['train_loss']:.3f}", val_acc=f"{val_acc:.3f}")
            # Where no bar shows (a log file, a cluster worker), one line per epoch instead.
            log = logger.info if progress and bar.disable else logger.debug
            log(
                "%s: epoch %d/%d loss %.4f val_acc %.3f (%.0f s)",
                desc,
                epoch + 1,
                n_epochs,
                rec["train_loss"],
                val_acc,
                time.perf_counter() - t0,
            )
            key = (val_acc, -val_loss)
            if key > best_key:
                best_key = key
                result.best_epoch = epoch + 1
                result.best_val_acc = val_acc
                best_state = copy.deepcopy(model.state_dict())
    finally:
        bar.close()
    model.load_state_dict(best_state)
    model.eval()
    result.wall_s = time.perf_counter() - t0
    return result


def _validate(model: nn.Module, batch: dict, dev: torch.device, ce) -> tuple[float, float]:
    model.eval()
    b = {k: v.to(dev) for k, v in batch.items()}
    with torch.no_grad():
        out = model(b["eeg"], b["eye"], b["eeg_mask"], b["eye_mask"])
        logits = out["logits"].float()
        loss = ce(logits, b["label"]).item()
        acc = (logits.argmax(dim=1) == b["label"]).float().mean().item()
    return float(acc), float(loss)
