"""Cross-validated training of the cross-modal transformer on SEED-V features.

What a run does, and why it is honest:

- Protocols (:mod:`~models.train.folds`): leave one subject out (default; scikit-learn's
  ``LeaveOneGroupOut`` over subjects), cross-session within subject, and SEED-V's
  subject-dependent three folds.
- LOSO validation is made of *whole subjects* drawn (seeded) from the fold's training subjects,
  never the test subject; within a subject, of trials drawn from the training trials. The seed
  repository validated on random trials of its training subjects and reported its last epoch;
  here the epoch kept is the best on the validation set.
- Normalisation statistics (per-feature mean/std) are fitted on the training trials only.
- The test trials are scored once, after training chose everything it chooses.
- Training draws random sub-sequences of trials (length ``1..max_len``, random start) so short
  live contexts classify, and modality dropout so EEG-only and eye-only inputs classify.
- AdamW, linear warm-up then cosine decay, the DANN alpha schedule
  ``alpha = 2 / (1 + exp(-10 p)) - 1`` (``p`` = training progress), gradient clipping, AMP on
  CUDA (off on CPU); loss = CE(emotion) + ``domain_weight`` * CE(subject of the training fold).

Modules: :mod:`~models.train.config` (settings, presets), :mod:`~models.train.settings` (the
TOML file), :mod:`~models.train.folds` (the protocols, validation draws, the deployment
split), :mod:`~models.train.loop` (one training: epochs, schedules, best-on-validation),
:mod:`~models.train.scoring` (trial, window and streaming accuracy),
:mod:`~models.train.baseline` (the scikit-learn baseline), :mod:`~models.train.task` (one fold
task, the same wherever it runs), :mod:`~models.train.runners` (this process, local processes,
Ray), :mod:`~models.train.run` (a whole run: tasks, deployment model, export),
:mod:`~models.train.resume` (the run folder's ``state.json``), :mod:`~models.train.stats`
(per-subject tests, F1, kappa, seeds) and :mod:`~models.train.metrics` (``metrics.json``).
"""

from ..seedv import load_feature_spec
from .config import DEFAULT_CONTEXT_LENGTHS, TrainConfig
from .folds import PROTOCOLS, deployment_split, loso_folds, make_folds
from .loop import MODALITIES, dann_alpha, train_model, warmup_cosine
from .run import export_model, run_cv
from .runners import RunnerSpec
from .scoring import causal_contexts, eager_predictor, score_trials

__all__ = [
    "DEFAULT_CONTEXT_LENGTHS",
    "MODALITIES",
    "PROTOCOLS",
    "RunnerSpec",
    "TrainConfig",
    "causal_contexts",
    "dann_alpha",
    "deployment_split",
    "eager_predictor",
    "export_model",
    "load_feature_spec",
    "loso_folds",
    "make_folds",
    "run_cv",
    "score_trials",
    "train_model",
    "warmup_cosine",
]
