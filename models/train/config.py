"""Optimisation settings of a LOSO run (:class:`TrainConfig`) and the named presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: Streaming context lengths reported (windows); ``max_len`` is appended as L_max.
DEFAULT_CONTEXT_LENGTHS: tuple[int, ...] = (1, 2, 4, 8, 16)

#: Training presets; ``seed`` is the seed repository's published configuration.
TRAIN_PRESETS: dict[str, dict] = {
    "seed": dict(epochs=50, batch_size=32, lr=1e-4, weight_decay=1e-4, domain_weight=0.1),
    "small": dict(epochs=10, batch_size=32, lr=5e-4, weight_decay=1e-4, domain_weight=0.1),
    "tiny": dict(epochs=2, batch_size=16, lr=1e-3, weight_decay=1e-4, domain_weight=0.1),
}


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of a run (the model's sizes live in ``models.ModelConfig``).

    Parameters
    ----------
    preset : str
        Name of the preset the values came from (``seed``, ``small``, ``tiny``).
    epochs, batch_size : int
    lr, weight_decay : float
        AdamW.
    domain_weight : float
        Weight of the subject (domain) cross-entropy behind gradient reversal.
    warmup_frac : float
        Fraction of the steps spent in linear warm-up before the cosine decay.
    grad_clip : float
        Max gradient norm.
    p_drop_eeg, p_drop_eye : float
        Modality dropout probabilities (exclusive: never both).
    random_crop : bool
        Train on random sub-sequences of trials.
    n_val_subjects : int | None
        LOSO: validation subjects per fold; ``None`` = 2, or 1 with fewer than 8 subjects.
    n_val_trials : int | None
        Within-subject protocols: validation trials per fold, drawn from the training trials;
        ``None`` = one per emotion.
    seed : int
    context_lengths : tuple of int
        Streaming context lengths L to report (``max_len`` is always added).
    eval_batch_size : int
    """

    preset: str = "seed"
    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 1e-4
    domain_weight: float = 0.1
    warmup_frac: float = 0.05
    grad_clip: float = 1.0
    p_drop_eeg: float = 0.15
    p_drop_eye: float = 0.15
    random_crop: bool = True
    n_val_subjects: int | None = None
    n_val_trials: int | None = None
    seed: int = 0
    context_lengths: tuple[int, ...] = DEFAULT_CONTEXT_LENGTHS
    eval_batch_size: int = 64

    def __post_init__(self) -> None:
        if self.preset not in TRAIN_PRESETS:
            raise ValueError(
                f"preset={self.preset!r} is invalid; use one of {sorted(TRAIN_PRESETS)}."
            )
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)} is invalid; use an integer >= 1.")
        if self.lr <= 0:
            raise ValueError(f"lr={self.lr} is invalid; use a positive learning rate.")
        if not 0 <= self.warmup_frac < 1:
            raise ValueError(f"warmup_frac={self.warmup_frac} is invalid; use a value in [0, 1).")
        for name in ("n_val_subjects", "n_val_trials"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}={value} is invalid; use >= 1 or None (auto).")
        for name in ("p_drop_eeg", "p_drop_eye"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}={getattr(self, name)} is invalid; use [0, 1].")
        if any(int(c) < 1 for c in self.context_lengths):
            raise ValueError(f"context_lengths={self.context_lengths} must all be >= 1 window.")
        object.__setattr__(self, "context_lengths", tuple(int(c) for c in self.context_lengths))

    @classmethod
    def from_preset(cls, name: str, **overrides) -> TrainConfig:
        """The preset's values, then ``overrides`` (``None`` values are ignored)."""
        if name not in TRAIN_PRESETS:
            raise ValueError(f"preset={name!r} is invalid; use one of {sorted(TRAIN_PRESETS)}.")
        kw = dict(TRAIN_PRESETS[name], preset=name)
        kw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kw)

    def to_dict(self) -> dict:
        """The settings as a JSON-ready dict (``context_lengths`` as a list)."""
        d = asdict(self)
        d["context_lengths"] = list(self.context_lengths)
        return d
