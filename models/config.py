"""Architecture settings of the cross-modal transformer (frozen, validated once)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

VARIANTS = ("default", "seed")

#: Named sizes. ``seed`` is the seed repository's published configuration (its ``train.py``
#: defaults: d_model 512, 8 heads, 4 encoder layers, dropout 0.1, 16 subjects) built with the
#: corrected ("default") architecture; ``ModelConfig.preset("seed", variant="seed")`` gives the
#: seed's exact architecture, which :func:`models.load_seed_state_dict` builds for checkpoints.
PRESETS: dict[str, dict] = {
    "seed": {"d_model": 512, "n_heads": 8, "n_layers": 4, "dropout": 0.1},
    "default": {"d_model": 256, "n_heads": 8, "n_layers": 4, "dropout": 0.1},
    "small": {"d_model": 64, "n_heads": 4, "n_layers": 2, "dropout": 0.1},
    "tiny": {"d_model": 16, "n_heads": 2, "n_layers": 1, "dropout": 0.1},
}


@dataclass(frozen=True)
class ModelConfig:
    """Sizes and variant of :class:`models.CrossModalTransformer`.

    Parameters
    ----------
    n_eeg : int
        EEG features per window (SEED-V: 62 channels x 5 bands = 310).
    n_eye : int
        Eye features per window (SEED-V: 33).
    n_classes : int
        Emotion classes (SEED-V: 5).
    d_model : int
        Model width; even, a multiple of ``n_heads`` and at least 16 (the importance gate's
        bottleneck is ``d_model // 16``).
    n_heads : int
        Attention heads (cross-modal and self-attention).
    n_layers : int
        Self-attention encoder layers per modality.
    dropout : float
        Dropout probability in [0, 1).
    max_len : int
        Longest sequence, in windows (SEED-V's longest trial: 74 windows of 4 s).
    variant : {"default", "seed"}
        ``"seed"`` reproduces the seed repository's forward pass exactly (importance gate from
        the unmasked time mean, so outputs depend on padding; no modality gate).
        ``"default"`` fixes that: masked time mean, missing-modality-safe attention and an
        explicit two-way modality gate in the fusion.
    n_domains : int
        Classes of the gradient-reversal domain (subject) classifier.
    """

    n_eeg: int = 310
    n_eye: int = 33
    n_classes: int = 5
    d_model: int = 256
    n_heads: int = 8
    n_layers: int = 4
    dropout: float = 0.1
    max_len: int = 74
    variant: str = "default"
    n_domains: int = 16

    def __post_init__(self) -> None:
        for name in ("n_eeg", "n_eye", "n_classes", "n_heads", "n_layers", "max_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"ModelConfig.{name}={value!r} is invalid; it must be a positive integer."
                )
        if self.n_domains < 1:
            raise ValueError(
                f"ModelConfig.n_domains={self.n_domains!r} is invalid; use the number of "
                "training subjects (>= 1)."
            )
        if self.d_model < 16 or self.d_model % self.n_heads or self.d_model % 2:
            raise ValueError(
                f"ModelConfig.d_model={self.d_model} is invalid with n_heads={self.n_heads}; "
                "d_model must be even, >= 16 and a multiple of n_heads."
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ModelConfig.dropout={self.dropout!r} is invalid; use 0 <= p < 1.")
        if self.variant not in VARIANTS:
            raise ValueError(
                f"ModelConfig.variant={self.variant!r} is invalid; use one of {VARIANTS}."
            )

    @classmethod
    def preset(cls, name: str, **overrides) -> ModelConfig:
        """A named configuration (``seed``, ``default``, ``small``, ``tiny``), then overrides.

        Examples
        --------
        >>> ModelConfig.preset("small").d_model
        64
        >>> ModelConfig.preset("seed", variant="seed").variant
        'seed'
        """
        if name not in PRESETS:
            raise ValueError(f"preset={name!r} is invalid; use one of {sorted(PRESETS)}.")
        return cls(**{**PRESETS[name], **overrides})

    def replace(self, **changes) -> ModelConfig:
        """A copy with ``changes`` (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise with their names."""
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f"Unknown ModelConfig fields {sorted(unknown)}; the model file may come from a "
                "newer cmt-live. Upgrade cmt-live or re-export the model."
            )
        return cls(**d)
