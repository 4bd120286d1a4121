"""Seed compatibility: a state_dict of the seed's CrossModalTransformer imports and reproduces it.

``SeedReference`` below is an independent, plain implementation of the seed repository's
forward pass written from its description (names and order of operations; issue 3), not from
models/. It uses ``nn.MultiheadAttention`` for the encoders, as the seed does, while models/
writes its own attention: the two must agree.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from models import CrossModalTransformer, ModelConfig, load_seed_state_dict
from models.seed import seed_config

D, HEADS, LAYERS, DOMAINS, MAX_LEN = 32, 4, 2, 16, 74


# ----------------------------------------------------------------- independent reference
class RefPositionalEncoding(nn.Module):
    def __init__(self, d, max_len):
        super().__init__()
        pe = torch.zeros(max_len, d)
        pos = torch.arange(max_len).float().unsqueeze(1)
        div = torch.exp(torch.arange(0, d, 2).float() * -(math.log(10000.0) / d))
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        self.register_buffer("pe", pe.unsqueeze(0))

    def forward(self, x):
        return x + self.pe[:, : x.size(1)]


class RefImportance(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.gate = nn.Sequential(nn.Linear(d, d // 16), nn.GELU(), nn.Linear(d // 16, d))

    def forward(self, x):
        importance = torch.sigmoid(self.gate(x.mean(dim=1)))  # unmasked time mean
        return x * importance.unsqueeze(1)


class RefCrossModal(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h, self.hd = h, d // h
        for name in ("eeg_q", "eeg_k", "eeg_v", "eye_q", "eye_k", "eye_v", "output_proj"):
            setattr(self, name, nn.Linear(d, d))

    def _heads(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.h, self.hd).transpose(1, 2)

    def _direction(self, q_lin, k_lin, v_lin, xq, xkv, key_mask):
        b, t, d = xq.shape
        q, k, v = self._heads(q_lin(xq)), self._heads(k_lin(xkv)), self._heads(v_lin(xkv))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.hd)
        expanded = key_mask[:, None, None, :].expand(-1, self.h, t, -1)
        scores = scores.masked_fill(expanded == 0, -1e9)
        out = torch.softmax(scores, dim=-1) @ v
        return out.transpose(1, 2).contiguous().view(b, t, d)

    def forward(self, eeg, eye, eeg_mask, eye_mask):
        eeg_att = self._direction(self.eeg_q, self.eye_k, self.eye_v, eeg, eye, eye_mask)
        eye_att = self._direction(self.eye_q, self.eeg_k, self.eeg_v, eye, eeg, eeg_mask)
        return eeg + self.output_proj(eeg_att), eye + self.output_proj(eye_att)


class RefEncoderLayer(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, h, batch_first=True)
        self.feed_forward = nn.Sequential(
            nn.Linear(d, 4 * d), nn.GELU(), nn.Dropout(0.1), nn.Linear(4 * d, d), nn.Dropout(0.1)
        )
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)

    def forward(self, x, mask):
        attn, _ = self.self_attn(x, x, x, key_padding_mask=mask == 0)
        x = self.norm1(x + attn)
        return self.norm2(x + self.feed_forward(x))


class RefDomainAdaptation(nn.Module):
    def __init__(self, d2, n):
        super().__init__()
        self.domain_classifier = nn.Sequential(
            nn.Linear(d2, 256),
            nn.GELU(),
            nn.Dropout(0.1),
            nn.Linear(256, 128),
            nn.GELU(),
            nn.Dropout(0.1),
            nn.Linear(128, n),
        )
        self.subject_norms = nn.ModuleList([nn.LayerNorm(d2) for _ in range(n)])
        self.default_norm = nn.LayerNorm(d2)


class SeedReference(nn.Module):
    def __init__(self, d=D, h=HEADS, n_layers=LAYERS, n_domains=DOMAINS):
        super().__init__()
        self.eeg_projection = nn.Linear(310, d)
        self.eye_projection = nn.Linear(33, d)
        self.pos_encoding = RefPositionalEncoding(d, MAX_LEN)
        self.eeg_importance = RefImportance(d)
        self.eye_importance = RefImportance(d)
        self.cross_modal_attention = RefCrossModal(d, h)
        self.eeg_encoder = nn.ModuleList([RefEncoderLayer(d, h) for _ in range(n_layers)])
        self.eye_encoder = nn.ModuleList([RefEncoderLayer(d, h) for _ in range(n_layers)])
        self.domain_adaptation = RefDomainAdaptation(2 * d, n_domains)
        self.classifier = nn.Sequential(
            nn.Linear(2 * d, 256),
            nn.GELU(),
            nn.Dropout(0.1),
            nn.Linear(256, 128),
            nn.GELU(),
            nn.Dropout(0.1),
            nn.Linear(128, 5),
        )

    @staticmethod
    def _pool(x, mask):
        return (x * mask.unsqueeze(-1)).sum(dim=1) / (mask.sum(dim=1, keepdim=True) + 1e-8)

    def forward(self, eeg, eye, eeg_mask, eye_mask):
        e = self.eeg_importance(self.pos_encoding(self.eeg_projection(eeg)))
        y = self.eye_importance(self.pos_encoding(self.eye_projection(eye)))
        e, y = self.cross_modal_attention(e, y, eeg_mask, eye_mask)
        for layer in self.eeg_encoder:
            e = layer(e, eeg_mask)
        for layer in self.eye_encoder:
            y = layer(y, eye_mask)
        fused = torch.cat([self._pool(e, eeg_mask), self._pool(y, eye_mask)], dim=-1)
        return self.classifier(self.domain_adaptation.default_norm(fused))


def _randomised_reference(seed=0, **kw) -> SeedReference:
    """Random weights everywhere (biases, norms and the positional table included), so a
    parameter that failed to load or a wrong order of operations shows up."""
    torch.manual_seed(seed)
    ref = SeedReference(**kw)
    with torch.no_grad():
        for name, p in ref.named_parameters():
            if p.ndim >= 2:
                p.normal_(0.0, 1.0 / math.sqrt(p.shape[1]))
            else:
                p.normal_(0.0, 0.1)
                if "norm" in name and name.endswith("weight"):
                    p.add_(1.0)
        ref.pos_encoding.pe.add_(0.05 * torch.randn_like(ref.pos_encoding.pe))
    return ref.eval()


def _padded_batch(lengths, t, seed=1):
    g = torch.Generator().manual_seed(seed)
    b = len(lengths)
    eeg = torch.randn(b, t, 310, generator=g)
    eye = torch.randn(b, t, 33, generator=g)
    mask = torch.zeros(b, t)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1.0
    # Zero padding, as the seed's loader writes it.
    return eeg * mask[..., None], eye * mask[..., None], mask, mask.clone()


# -------------------------------------------------------------------------------- tests
def test_config_inferred_from_state_dict():
    sd = _randomised_reference().state_dict()
    cfg = seed_config(sd, n_heads=HEADS)
    assert cfg == ModelConfig(
        d_model=D, n_heads=HEADS, n_layers=LAYERS, max_len=MAX_LEN, variant="seed", n_domains=16
    )


@pytest.mark.parametrize("t", [MAX_LEN, 20])
def test_seed_state_dict_reproduces_reference(t):
    torch.set_num_threads(1)
    ref = _randomised_reference()
    model = load_seed_state_dict(ref.state_dict(), n_heads=HEADS)
    assert isinstance(model, CrossModalTransformer) and not model.training
    assert model.config.variant == "seed"
    eeg, eye, eeg_mask, eye_mask = _padded_batch([t, 13, 1, t // 2], t)
    eye_mask[1, 9:] = 0.0  # eye shorter than EEG in one trial
    with torch.no_grad():
        want = ref(eeg, eye, eeg_mask, eye_mask)
        got = model(eeg, eye, eeg_mask, eye_mask)["logits"]
    assert want.abs().max() > 0.1  # a meaningful comparison, not two near-zero outputs
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_seed_import_from_file_with_dataparallel_prefix(tmp_path):
    ref = _randomised_reference(seed=3)
    path = tmp_path / "model_fold_1.pth"
    torch.save({f"module.{k}": v for k, v in ref.state_dict().items()}, path)
    model = load_seed_state_dict(path, n_heads=HEADS)
    eeg, eye, eeg_mask, eye_mask = _padded_batch([MAX_LEN, 40], MAX_LEN, seed=4)
    with torch.no_grad():
        torch.testing.assert_close(
            model(eeg, eye, eeg_mask, eye_mask)["logits"],
            ref(eeg, eye, eeg_mask, eye_mask),
            atol=1e-5,
            rtol=1e-5,
        )


def test_seed_variant_scripts_and_matches():
    ref = _randomised_reference(seed=5)
    model = load_seed_state_dict(ref.state_dict(), n_heads=HEADS)
    scripted = torch.jit.freeze(torch.jit.script(model))
    eeg, eye, eeg_mask, eye_mask = _padded_batch([MAX_LEN, 7], MAX_LEN, seed=6)
    with torch.no_grad():
        torch.testing.assert_close(
            scripted(eeg, eye, eeg_mask, eye_mask)["logits"],
            ref(eeg, eye, eeg_mask, eye_mask),
            atol=1e-5,
            rtol=1e-5,
        )


def test_bad_state_dicts_are_named():
    sd = _randomised_reference().state_dict()
    with pytest.raises(ValueError, match=r"keys \['eeg_projection.weight'\] are missing"):
        load_seed_state_dict({k: v for k, v in sd.items() if k != "eeg_projection.weight"})
    with pytest.raises(ValueError, match=r"missing \['classifier.3.weight'\]"):
        load_seed_state_dict(
            {k: v for k, v in sd.items() if k != "classifier.3.weight"}, n_heads=HEADS
        )
    with pytest.raises(ValueError, match="n_heads=3 does not divide"):
        load_seed_state_dict(sd, n_heads=3)
    bad = dict(sd)
    bad["classifier.3.weight"] = torch.zeros(7, 7)
    with pytest.raises(ValueError, match="does not fit the seed architecture"):
        load_seed_state_dict(bad, n_heads=HEADS)
    with pytest.raises(TypeError, match="needs a state_dict"):
        load_seed_state_dict([1, 2, 3])


def test_missing_seed_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.pth does not exist"):
        load_seed_state_dict(tmp_path / "nope.pth")
    lfs = tmp_path / "lfs.pth"
    lfs.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 88402849\n")
    with pytest.raises(ValueError, match="git lfs pull"):
        load_seed_state_dict(lfs)
