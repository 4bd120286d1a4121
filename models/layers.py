"""Building blocks of the cross-modal transformer.

Parameter names follow the seed repository's ``CrossModalTransformer`` so its state_dicts
load unchanged (``models.seed``). Every block scripts (TorchScript) and exports
(``torch.export``); the gradient reversal is a Python ``autograd.Function`` and is only reached
from the training path, never from ``forward``.

Masks are float tensors of shape ``(B, T)``: 1 for a real window, 0 for padding or a missing
modality.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: Score given to masked keys in the corrected variant. Finite and inside float16's range, so
#: a row with no valid key stays finite under AMP (-inf would give NaN) while a masked key's
#: softmax weight, exp(-1e4 - max), is exactly 0 in float32 and float16.
SAFE_MASK_VALUE = -1e4
#: The seed's value (``masked_fill(mask == 0, -1e9)``), kept for exact reproduction.
SEED_MASK_VALUE = -1e9


def sinusoidal_table(max_len: int, d_model: int) -> torch.Tensor:
    """Sinusoidal positional table, shape (1, max_len, d_model): sin on even, cos on odd."""
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model)
    )
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term[: d_model // 2])
    return pe.unsqueeze(0)


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal table (buffer ``pe``, shape (1, max_len, d)) to ``x`` (B, T, d)."""

    def __init__(self, d_model: int, max_len: int) -> None:
        super().__init__()
        self.register_buffer("pe", sinusoidal_table(max_len, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[:, : x.size(1)]


class FeatureImportance(nn.Module):
    """Squeeze-and-excitation style feature gate: ``x * sigmoid(MLP(time mean of x))``.

    Parameters
    ----------
    d_model : int
    masked : bool
        True: the time mean runs over real windows only, so the gate does not depend on how
        much padding follows a sequence. False: the seed's unmasked mean over all T.
    """

    def __init__(self, d_model: int, masked: bool) -> None:
        super().__init__()
        hidden = d_model // 16
        self.gate = nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, d_model))
        self.masked = masked
        for m in self.gate:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, T, d), mask (B, T) -> gated x (B, T, d)."""
        if self.masked:
            m = mask.unsqueeze(-1)
            # clamp: a missing modality (no real window) pools to 0 instead of 0/0.
            pooled = (x * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)
        else:
            pooled = x.mean(dim=1)
        importance = torch.sigmoid(self.gate(pooled))
        return x * importance.unsqueeze(1)


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    key_mask: torch.Tensor,
    n_heads: int,
    mask_value: float,
    dropout_p: float,
) -> torch.Tensor:
    """Multi-head scaled dot-product attention with a key mask.

    Parameters
    ----------
    q : Tensor, shape (B, Tq, d)
    k, v : Tensor, shape (B, Tk, d)
    key_mask : Tensor, shape (B, Tk)
        Keys with 0 get score ``mask_value`` (replaced, as in ``masked_fill``).
    n_heads : int
    mask_value : float
    dropout_p : float
        Dropout on the attention weights (pass 0 in eval).

    Returns
    -------
    Tensor, shape (B, Tq, d)
    """
    b, tq, d = q.shape
    tk = k.size(1)
    hd = d // n_heads
    qh = q.reshape(b, tq, n_heads, hd).transpose(1, 2)
    kh = k.reshape(b, tk, n_heads, hd).transpose(1, 2)
    vh = v.reshape(b, tk, n_heads, hd).transpose(1, 2)
    scores = torch.matmul(qh, kh.transpose(-2, -1)) / math.sqrt(hd)
    scores = scores.masked_fill((key_mask == 0).view(b, 1, 1, tk), mask_value)
    weights = torch.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p, training=True)
    out = torch.matmul(weights, vh)
    return out.transpose(1, 2).reshape(b, tq, d)


class CrossModalAttention(nn.Module):
    """Bidirectional cross-modal attention: EEG queries eye, eye queries EEG, residual.

    One output projection shared by both directions (as in the seed).

    Parameters
    ----------
    d_model, n_heads : int
    dropout : float
        On the attention weights.
    safe : bool
        True (corrected variant): masked keys score ``SAFE_MASK_VALUE`` and a modality with no
        real window contributes nothing to the other (its attended output and the projection
        are multiplied by 0), so EEG-only input equals the EEG path alone. False: the seed.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float, safe: bool) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.dropout_p = float(dropout)
        self.safe = safe
        self.mask_value = SAFE_MASK_VALUE if safe else SEED_MASK_VALUE
        self.eeg_q = nn.Linear(d_model, d_model)
        self.eeg_k = nn.Linear(d_model, d_model)
        self.eeg_v = nn.Linear(d_model, d_model)
        self.eye_q = nn.Linear(d_model, d_model)
        self.eye_k = nn.Linear(d_model, d_model)
        self.eye_v = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        for m in (
            self.eeg_q,
            self.eeg_k,
            self.eeg_v,
            self.eye_q,
            self.eye_k,
            self.eye_v,
            self.output_proj,
        ):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(
        self, eeg: torch.Tensor, eye: torch.Tensor, eeg_mask: torch.Tensor, eye_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """eeg, eye (B, T, d); masks (B, T) -> (eeg_fused, eye_fused), each (B, T, d)."""
        p = self.dropout_p if self.training else 0.0
        eeg_att = attend(
            self.eeg_q(eeg),
            self.eye_k(eye),
            self.eye_v(eye),
            eye_mask,
            self.n_heads,
            self.mask_value,
            p,
        )
        eye_att = attend(
            self.eye_q(eye),
            self.eeg_k(eeg),
            self.eeg_v(eeg),
            eeg_mask,
            self.n_heads,
            self.mask_value,
            p,
        )
        eeg_upd = self.output_proj(eeg_att)
        eye_upd = self.output_proj(eye_att)
        if self.safe:
            eye_present = (eye_mask.sum(dim=1) > 0).to(eeg.dtype).view(-1, 1, 1)
            eeg_present = (eeg_mask.sum(dim=1) > 0).to(eye.dtype).view(-1, 1, 1)
            eeg_upd = eeg_upd * eye_present
            eye_upd = eye_upd * eeg_present
        return eeg + eeg_upd, eye + eye_upd


class SelfAttention(nn.Module):
    """Multi-head self-attention with ``nn.MultiheadAttention``'s parameter names.

    ``in_proj_weight`` (3d, d), ``in_proj_bias`` (3d,), ``out_proj`` — so the seed's
    ``self_attn`` weights load unchanged — but written out so masking is ours: a sequence with
    no real window stays finite (``nn.MultiheadAttention`` returns NaN there).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float, mask_value: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.d_model = d_model
        self.dropout_p = float(dropout)
        self.mask_value = mask_value
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, T, d), mask (B, T) -> (B, T, d)."""
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.chunk(3, dim=-1)
        p = self.dropout_p if self.training else 0.0
        out = attend(q, k, v, mask, self.n_heads, self.mask_value, p)
        return self.out_proj(out)


class EncoderLayer(nn.Module):
    """Post-norm transformer encoder layer (self-attention, GELU feed-forward of 4d)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float, mask_value: float) -> None:
        super().__init__()
        self.self_attn = SelfAttention(d_model, n_heads, dropout, mask_value)
        self.feed_forward = nn.Sequential(
            nn.Linear(d_model, 4 * d_model),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(4 * d_model, d_model),
            nn.Dropout(dropout),
        )
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.self_attn(x, mask)))
        return self.norm2(x + self.feed_forward(x))


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real windows: x (B, T, d), mask (B, T) -> (B, d); 0 where no window is real.

    The seed divides by ``mask.sum + 1e-8``; for a real window count >= 1 that equals this to
    float32 precision, and it is exact 0 for an empty mask either way.
    """
    return (x * mask.unsqueeze(-1)).sum(dim=1) / (mask.sum(dim=1, keepdim=True) + 1e-8)


class _GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient is multiplied by ``-alpha`` on the way back."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:
        ctx.alpha = float(alpha)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        return grad_output.neg() * ctx.alpha, None


def grad_reverse(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """Gradient reversal (DANN): ``y = x``, ``dL/dx = -alpha * dL/dy``."""
    return _GradientReversal.apply(x, alpha)


class DomainAdaptation(nn.Module):
    """The seed's ``domain_adaptation`` block.

    ``default_norm`` (LayerNorm over 2d) is applied to the fused features at inference (the
    seed's path when no subject is given). ``domain_classifier`` (2d -> 256 -> 128 ->
    n_domains, GELU) sees the features through gradient reversal, on the training path only.
    ``subject_norms`` exist in the seed variant so its checkpoints load; they are not used.
    """

    def __init__(
        self, d_fused: int, n_domains: int, dropout: float, with_subject_norms: bool
    ) -> None:
        super().__init__()
        self.domain_classifier = nn.Sequential(
            nn.Linear(d_fused, 256),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(256, 128),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(128, n_domains),
        )
        for m in self.domain_classifier:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        if with_subject_norms:
            self.subject_norms = nn.ModuleList([nn.LayerNorm(d_fused) for _ in range(n_domains)])
        self.default_norm = nn.LayerNorm(d_fused)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.default_norm(x)

    @torch.jit.unused
    def domain_logits(self, x: torch.Tensor, alpha: float) -> torch.Tensor:
        """Domain logits (B, n_domains) of x (B, 2d) through gradient reversal."""
        return self.domain_classifier(grad_reverse(x, alpha))
