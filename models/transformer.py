"""The cross-modal transformer (EEG DE + eye features -> emotion), in two variants.

The seven parts (DESIGN.md), in forward order:

1. linear projections of each modality to ``d_model`` and sinusoidal positional encoding;
2. a feature-importance gate per modality;
3. bidirectional cross-modal attention (EEG queries eye, eye queries EEG, residual);
4. per-modality self-attention encoders (post-norm, GELU);
5. masked global average pooling and concatenation;
6. a gradient-reversal domain (subject) classifier, on the training path only;
7. a GELU MLP head (after ``domain_adaptation.default_norm``).

The ``default`` variant adds an explicit modality gate in the fusion: two weights (EEG, eye)
summing to 1, computed per sequence from the pooled modalities and their presence; a modality
with no real window gets weight 0. The ``seed`` variant reproduces the seed repository's forward
pass (its state_dicts load through :func:`models.load_seed_state_dict`); its ``gates`` output is
only the presence of each modality, normalised to sum 1.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .layers import (
    SAFE_MASK_VALUE,
    SEED_MASK_VALUE,
    CrossModalAttention,
    DomainAdaptation,
    EncoderLayer,
    FeatureImportance,
    PositionalEncoding,
    masked_mean,
)


class CrossModalTransformer(nn.Module):
    """EEG + eye cross-modal transformer.

    Parameters
    ----------
    cfg : ModelConfig

    Notes
    -----
    ``forward(eeg, eye, eeg_mask, eye_mask)`` takes normalised features:

    - eeg : Tensor, shape (B, T, n_eeg)
    - eye : Tensor, shape (B, T, n_eye)
    - eeg_mask, eye_mask : Tensor, shape (B, T), float, 1 real window / 0 padding or missing

    with ``1 <= T <= cfg.max_len``, and returns a dict of

    - ``"logits"`` (B, n_classes), ``"probs"`` (B, n_classes) (softmax of the logits),
    - ``"gates"`` (B, 2): modality weights (EEG, eye), each row sums to 1,
    - ``"pooled"`` (B, 2 * d_model): masked time means of the encoded EEG and eye sequences,
      before the modality gate.

    In the default variant the outputs at real windows do not depend on the padding after
    them (values or amount). ``train_forward`` adds ``"domain_logits"``.
    """

    # Constants for TorchScript: the branch of the other variant is compiled away.
    __constants__ = ("use_modality_gate", "max_len", "gate_mask_value")

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if not isinstance(cfg, ModelConfig):
            raise TypeError(
                f"CrossModalTransformer needs a models.ModelConfig, got {type(cfg).__name__}; "
                "use ModelConfig.preset(name)."
            )
        self.config = cfg
        d = cfg.d_model
        seed = cfg.variant == "seed"
        self.use_modality_gate = not seed
        self.max_len = cfg.max_len
        self.gate_mask_value = SAFE_MASK_VALUE
        mask_value = SEED_MASK_VALUE if seed else SAFE_MASK_VALUE
        self.eeg_projection = nn.Linear(cfg.n_eeg, d)
        self.eye_projection = nn.Linear(cfg.n_eye, d)
        self.pos_encoding = PositionalEncoding(d, cfg.max_len)
        self.eeg_importance = FeatureImportance(d, masked=not seed)
        self.eye_importance = FeatureImportance(d, masked=not seed)
        self.cross_modal_attention = CrossModalAttention(d, cfg.n_heads, cfg.dropout, safe=not seed)
        self.eeg_encoder = nn.ModuleList(
            [EncoderLayer(d, cfg.n_heads, cfg.dropout, mask_value) for _ in range(cfg.n_layers)]
        )
        self.eye_encoder = nn.ModuleList(
            [EncoderLayer(d, cfg.n_heads, cfg.dropout, mask_value) for _ in range(cfg.n_layers)]
        )
        if self.use_modality_gate:
            hidden = max(8, d // 4)
            # Input: both pooled modalities and their presence (2 flags).
            self.modality_gate = nn.Sequential(
                nn.Linear(2 * d + 2, hidden), nn.GELU(), nn.Linear(hidden, 2)
            )
            # Zero last layer: training starts from equal weights, i.e. plain concatenation.
            nn.init.zeros_(self.modality_gate[2].weight)
            nn.init.zeros_(self.modality_gate[2].bias)
        self.domain_adaptation = DomainAdaptation(
            2 * d, cfg.n_domains, cfg.dropout, with_subject_norms=seed
        )
        self.classifier = nn.Sequential(
            nn.Linear(2 * d, 256),
            nn.GELU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(256, 128),
            nn.GELU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(128, cfg.n_classes),
        )

    def _encode(
        self, eeg: torch.Tensor, eye: torch.Tensor, eeg_mask: torch.Tensor, eye_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (fused (B, 2d) as the head sees it before its norm, pooled (B, 2d), gates (B, 2))."""
        t = eeg.size(1)
        if t > self.max_len:
            raise ValueError(
                "CrossModalTransformer: sequence length "
                + str(t)
                + " exceeds max_len "
                + str(self.max_len)
                + "; keep the last max_len windows."
            )
        if eye.size(1) != t or eeg_mask.size(1) != t or eye_mask.size(1) != t:
            raise ValueError(
                "CrossModalTransformer: eeg, eye, eeg_mask and eye_mask need the same T "
                "(dimension 1); pad the shorter ones with mask 0."
            )
        e = self.pos_encoding(self.eeg_projection(eeg))
        y = self.pos_encoding(self.eye_projection(eye))
        e = self.eeg_importance(e, eeg_mask)
        y = self.eye_importance(y, eye_mask)
        e, y = self.cross_modal_attention(e, y, eeg_mask, eye_mask)
        for layer in self.eeg_encoder:
            e = layer(e, eeg_mask)
        for layer in self.eye_encoder:
            y = layer(y, eye_mask)
        pooled_eeg = masked_mean(e, eeg_mask)
        pooled_eye = masked_mean(y, eye_mask)
        pooled = torch.cat([pooled_eeg, pooled_eye], dim=-1)
        present = torch.stack([eeg_mask.sum(dim=1) > 0, eye_mask.sum(dim=1) > 0], dim=1)
        if self.use_modality_gate:
            gate_in = torch.cat([pooled, present.to(pooled.dtype)], dim=-1)
            gate_logits = self.modality_gate(gate_in).masked_fill(~present, self.gate_mask_value)
            # Both absent: equal logits give (0.5, 0.5), finite.
            gates = torch.softmax(gate_logits.float(), dim=-1)
            # x2: equal gates leave the features at their scale (plain concatenation).
            w = (2.0 * gates).to(pooled.dtype)
            fused = torch.cat([pooled_eeg * w[:, 0:1], pooled_eye * w[:, 1:2]], dim=-1)
        else:
            p = present.float()
            n = p.sum(dim=1, keepdim=True)
            gates = torch.where(n > 0, p / n.clamp_min(1.0), torch.full_like(p, 0.5))
            fused = pooled
        return fused, pooled, gates

    def forward(
        self, eeg: torch.Tensor, eye: torch.Tensor, eeg_mask: torch.Tensor, eye_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        fused, pooled, gates = self._encode(eeg, eye, eeg_mask, eye_mask)
        logits = self.classifier(self.domain_adaptation(fused))
        return {
            "logits": logits,
            "probs": torch.softmax(logits.float(), dim=-1),
            "gates": gates,
            "pooled": pooled,
        }

    @torch.jit.unused
    def train_forward(
        self,
        eeg: torch.Tensor,
        eye: torch.Tensor,
        eeg_mask: torch.Tensor,
        eye_mask: torch.Tensor,
        alpha: float = 1.0,
    ) -> dict[str, torch.Tensor]:
        """``forward`` plus ``"domain_logits"`` (B, n_domains) through gradient reversal.

        Parameters
        ----------
        alpha : float
            Reversal strength: the domain loss's gradient reaches the features multiplied by
            ``-alpha`` (DANN). The domain classifier itself learns with the plain gradient.
        """
        fused, pooled, gates = self._encode(eeg, eye, eeg_mask, eye_mask)
        logits = self.classifier(self.domain_adaptation(fused))
        return {
            "logits": logits,
            "probs": torch.softmax(logits.float(), dim=-1),
            "gates": gates,
            "pooled": pooled,
            "domain_logits": self.domain_adaptation.domain_logits(fused, alpha),
        }
