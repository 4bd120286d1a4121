"""Leave-one-subject-out (LOSO) training of the cross-modal transformer on SEED-V features.

What a run does, and why it is honest:

- One fold per subject found (scikit-learn's ``LeaveOneGroupOut`` over subject groups).
- Validation is made of *whole subjects* drawn (seeded) from the fold's training subjects, never
  the test subject. The seed repository validated on random trials of its training subjects and
  reported its last epoch; here the epoch kept is the best on the validation subjects.
- Normalisation statistics (per-feature mean/std) are fitted on the training subjects only.
- The held-out subject is scored once, after training chose everything it chooses.
- Training draws random sub-sequences of trials (length ``1..max_len``, random start) so short
  live contexts classify, and modality dropout so EEG-only and eye-only inputs classify.
- AdamW, linear warm-up then cosine decay, the DANN alpha schedule
  ``alpha = 2 / (1 + exp(-10 p)) - 1`` (``p`` = training progress), gradient clipping, AMP on
  CUDA (off on CPU); loss = CE(emotion) + ``domain_weight`` * CE(subject of the training fold).

Modules: :mod:`~models.train.config` (settings, presets), :mod:`~models.train.folds` (the
protocol: LOSO folds, validation subjects, the deployment split), :mod:`~models.train.loop`
(one training: epochs, schedules, best-on-validation), :mod:`~models.train.scoring` (trial and
streaming accuracy), :mod:`~models.train.run` (a whole run: folds, deployment model, export),
:mod:`~models.train.resume` (the run folder's ``state.json``) and :mod:`~models.train.metrics`
(``metrics.json``).
"""

from ..seedv import load_feature_spec
from .config import DEFAULT_CONTEXT_LENGTHS, TrainConfig
from .folds import deployment_split, loso_folds
from .loop import dann_alpha, train_model, warmup_cosine
from .run import export_model, run_loso
from .scoring import causal_contexts, eager_predictor, score_trials

__all__ = [
    "DEFAULT_CONTEXT_LENGTHS",
    "TrainConfig",
    "causal_contexts",
    "dann_alpha",
    "deployment_split",
    "eager_predictor",
    "export_model",
    "load_feature_spec",
    "loso_folds",
    "run_loso",
    "score_trials",
    "train_model",
    "warmup_cosine",
]
