"""A measured estimate of a run's training time on this machine (for the warning when the
``seed`` preset is asked for on a CPU)."""

from __future__ import annotations

import math
import time

import torch

from ..config import ModelConfig
from ..transformer import CrossModalTransformer
from .config import TrainConfig


def time_per_step(model_config: ModelConfig, batch_size: int, *, steps: int = 2) -> float:
    """Seconds per training step (forward, backward, AdamW) of full-length batches, CPU.

    One warm-up step, then the mean of ``steps`` timed steps.
    """
    torch.manual_seed(0)
    model = CrossModalTransformer(model_config).train()
    opt = torch.optim.AdamW(model.parameters())
    T = int(model_config.max_len)
    eeg = torch.randn(batch_size, T, model_config.n_eeg)
    eye = torch.randn(batch_size, T, model_config.n_eye)
    mask = torch.ones(batch_size, T)
    label = torch.zeros(batch_size, dtype=torch.long)
    domain = torch.zeros(batch_size, dtype=torch.long)
    ce = torch.nn.CrossEntropyLoss()

    def step() -> None:
        out = model.train_forward(eeg, eye, mask, mask, 0.5)
        loss = ce(out["logits"], label) + ce(out["domain_logits"], domain)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def estimate_run_s(
    model_config: ModelConfig, cfg: TrainConfig, n_train_trials: int, n_tasks: int
) -> float:
    """Estimated seconds of training for ``n_tasks`` folds of ``n_train_trials`` trials each
    (training steps only; upper side: every batch timed at full length)."""
    steps = cfg.epochs * math.ceil(n_train_trials / cfg.batch_size) * n_tasks
    return steps * time_per_step(model_config, cfg.batch_size)
