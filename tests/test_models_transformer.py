"""CrossModalTransformer: config, masks, padding, missing modalities, gates, gradient reversal."""

from __future__ import annotations

import io

import pytest
import torch

from models import CrossModalTransformer, ModelConfig
from models.layers import grad_reverse

pytestmark = pytest.mark.usefixtures("one_thread")


def _model(variant="default", seed=0, **kw) -> CrossModalTransformer:
    torch.manual_seed(seed)
    model = CrossModalTransformer(ModelConfig.preset("tiny", variant=variant, **kw))
    with torch.no_grad():
        # Random modality gate (it starts at zero = equal weights) so the gate is exercised.
        if variant == "default":
            for p in model.modality_gate.parameters():
                p.normal_(0.0, 0.5)
    return model.eval()


def _inputs(b=3, t=10, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(b, t, 310, generator=g),
        torch.randn(b, t, 33, generator=g),
        torch.ones(b, t),
        torch.ones(b, t),
    )


# ---------------------------------------------------------------------------- config
def test_presets_and_round_trip():
    assert ModelConfig.preset("seed").d_model == 512
    assert (ModelConfig.preset("seed").n_heads, ModelConfig.preset("seed").n_layers) == (8, 4)
    assert ModelConfig.preset("default") == ModelConfig()
    assert ModelConfig.preset("small").d_model < ModelConfig().d_model
    tiny = ModelConfig.preset("tiny", n_domains=3)
    assert (tiny.d_model, tiny.n_heads, tiny.n_layers, tiny.n_domains) == (16, 2, 1, 3)
    assert ModelConfig.from_dict(tiny.to_dict()) == tiny
    assert tiny.replace(variant="seed").variant == "seed"


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"d_model": 20, "n_heads": 8}, "d_model=20 is invalid with n_heads=8"),
        ({"d_model": 8, "n_heads": 2}, "must be even, >= 16"),
        ({"variant": "fast"}, r"variant='fast' is invalid; use one of \('default', 'seed'\)"),
        ({"dropout": 1.0}, "dropout=1.0 is invalid"),
        ({"max_len": 0}, "max_len=0 is invalid"),
        ({"n_domains": 0}, "n_domains=0 is invalid"),
    ],
)
def test_config_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**kw)


def test_config_unknown_names():
    with pytest.raises(ValueError, match=r"preset='huge' is invalid"):
        ModelConfig.preset("huge")
    with pytest.raises(ValueError, match=r"Unknown ModelConfig fields \['width'\]"):
        ModelConfig.from_dict({"width": 3})
    with pytest.raises(TypeError, match=r"needs a models\.ModelConfig"):
        CrossModalTransformer({"d_model": 16})


# ---------------------------------------------------------------------------- forward
@pytest.mark.parametrize("variant", ["default", "seed"])
def test_output_shapes_and_probabilities(variant):
    model = _model(variant)
    out = model(*_inputs(b=4, t=7))
    assert set(out) == {"logits", "probs", "gates", "pooled"}
    assert out["logits"].shape == (4, 5) and out["probs"].shape == (4, 5)
    assert out["gates"].shape == (4, 2) and out["pooled"].shape == (4, 32)
    torch.testing.assert_close(out["probs"], torch.softmax(out["logits"], dim=-1))
    torch.testing.assert_close(out["gates"].sum(dim=1), torch.ones(4))


def test_too_long_or_mismatched_sequences_raise():
    model = _model()
    eeg, eye, em, ym = _inputs(b=1, t=75)
    with pytest.raises(ValueError, match="sequence length 75 exceeds max_len 74"):
        model(eeg, eye, em, ym)
    eeg, eye, em, ym = _inputs(b=1, t=5)
    with pytest.raises(ValueError, match="need the same T"):
        model(eeg, eye[:, :4], em, ym[:, :4])


def test_default_variant_ignores_padding():
    """Same real windows, then 0 or 20 padded windows full of garbage: same outputs."""
    model = _model()
    eeg, eye, em, ym = _inputs(b=2, t=10)
    em[1, 6:] = 0.0  # a shorter sequence inside the batch
    ym[1, 6:] = 0.0
    g = torch.Generator().manual_seed(9)
    pad = 20

    def padded(x):
        return torch.cat([x, 5.0 * torch.randn(x.shape[0], pad, x.shape[2], generator=g)], 1)

    def padded_mask(m):
        return torch.cat([m, torch.zeros(m.shape[0], pad)], 1)

    with torch.no_grad():
        short = model(eeg, eye, em, ym)
        long = model(padded(eeg), padded(eye), padded_mask(em), padded_mask(ym))
        # Row 1 again, alone and without any padding: batch composition does not matter.
        alone = model(eeg[1:, :6], eye[1:, :6], em[1:, :6], ym[1:, :6])
    for key in ("logits", "gates", "pooled"):
        torch.testing.assert_close(long[key], short[key], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(alone[key][0], short[key][1], atol=1e-5, rtol=1e-5)


def test_seed_variant_depends_on_padding():
    """The seed's importance gate averages over padding too: documenting the bug we fix."""
    model = _model("seed")
    eeg, eye, em, ym = _inputs(b=1, t=10)
    z = torch.zeros(1, 30, 310), torch.zeros(1, 30, 33), torch.zeros(1, 30)
    with torch.no_grad():
        short = model(eeg, eye, em, ym)["logits"]
        long = model(
            torch.cat([eeg, z[0]], 1),
            torch.cat([eye, z[1]], 1),
            torch.cat([em, z[2]], 1),
            torch.cat([ym, z[2]], 1),
        )["logits"]
    assert (long - short).abs().max() > 1e-4


@pytest.mark.parametrize("missing", ["eeg", "eye"])
def test_missing_modality_gets_zero_gate_and_is_ignored(missing):
    model = _model()
    eeg, eye, em, ym = _inputs(b=2, t=8)
    idx = 0 if missing == "eeg" else 1
    (em if missing == "eeg" else ym).zero_()
    with torch.no_grad():
        out = model(eeg, eye, em, ym)
        # Other values in the missing modality change nothing.
        if missing == "eeg":
            other = model(100.0 * torch.randn_like(eeg), eye, em, ym)
        else:
            other = model(eeg, 100.0 * torch.randn_like(eye), em, ym)
    for v in out.values():
        assert torch.isfinite(v).all()
    assert (out["gates"][:, idx] < 1e-6).all()
    torch.testing.assert_close(out["gates"][:, 1 - idx], torch.ones(2))
    torch.testing.assert_close(other["logits"], out["logits"], atol=1e-5, rtol=1e-5)


def test_both_modalities_missing_is_finite():
    model = _model()
    eeg, eye, em, ym = _inputs(b=2, t=5)
    with torch.no_grad():
        out = model(eeg, eye, torch.zeros_like(em), torch.zeros_like(ym))
    assert all(torch.isfinite(v).all() for v in out.values())
    torch.testing.assert_close(out["gates"], torch.full((2, 2), 0.5))


def test_modality_gate_is_learned_per_sequence():
    model = _model()
    out = model(*_inputs(b=4, t=6))["gates"]
    assert (out - 0.5).abs().max() > 1e-3  # not a constant split
    assert not torch.allclose(out[0], out[1])
    # A fresh model starts at equal weights (zero-initialised last gate layer).
    fresh = CrossModalTransformer(ModelConfig.preset("tiny")).eval()
    torch.testing.assert_close(fresh(*_inputs(b=2, t=3))["gates"], torch.full((2, 2), 0.5))


def test_seed_variant_gates_are_modality_presence():
    model = _model("seed")
    eeg, eye, em, ym = _inputs(b=3, t=4)
    ym[1] = 0.0
    em[2] = 0.0
    gates = model(eeg, eye, em, ym)["gates"]
    torch.testing.assert_close(gates, torch.tensor([[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]]))


# ---------------------------------------------------------------------- training path
def test_gradient_reversal_known_answer():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    w = torch.tensor([0.5, 4.0, -1.0])
    y = grad_reverse(x, 0.3)
    torch.testing.assert_close(y, x.detach())
    (y * w).sum().backward()
    torch.testing.assert_close(x.grad, -0.3 * w)


def test_train_forward_reverses_gradient_to_features_only():
    """d(domain logits)/d(features) arrives as -alpha x the plain gradient; the domain
    classifier's own gradient is the plain one."""
    model = _model()
    inputs = _inputs(b=3, t=5)
    alpha = 0.25
    feat = model.eeg_projection.weight
    head = model.domain_adaptation.domain_classifier[0].weight

    out = model.train_forward(*inputs, alpha)
    assert out["domain_logits"].shape == (3, model.config.n_domains)
    g_feat, g_head = torch.autograd.grad(out["domain_logits"].sum(), [feat, head])

    fused, _, _ = model._encode(*inputs)  # the same features, no reversal
    plain = model.domain_adaptation.domain_classifier(fused)
    p_feat, p_head = torch.autograd.grad(plain.sum(), [feat, head])

    assert p_feat.abs().max() > 0
    torch.testing.assert_close(g_feat, -alpha * p_feat, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(g_head, p_head, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out["logits"], model(*inputs)["logits"])


def test_scripted_module_saves_without_the_domain_head():
    """TorchScript cannot save a Python autograd.Function: it must stay off forward."""
    model = _model()
    scripted = torch.jit.script(model)
    buf = io.BytesIO()
    torch.jit.save(scripted, buf)
    buf.seek(0)
    loaded = torch.jit.load(buf)
    inputs = _inputs(b=2, t=4)
    with torch.no_grad():
        torch.testing.assert_close(loaded(*inputs)["logits"], model(*inputs)["logits"])


def test_seeded_init_reproducible():
    torch.manual_seed(7)
    a = CrossModalTransformer(ModelConfig.preset("tiny"))
    torch.manual_seed(7)
    b = CrossModalTransformer(ModelConfig.preset("tiny"))
    torch.manual_seed(8)
    c = CrossModalTransformer(ModelConfig.preset("tiny"))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)


def test_dropout_only_in_training_mode():
    model = _model(dropout=0.5)
    inputs = _inputs(b=2, t=6)
    with torch.no_grad():
        a, b = model(*inputs)["logits"], model(*inputs)["logits"]
        model.train()
        torch.manual_seed(0)
        c = model(*inputs)["logits"]
        torch.manual_seed(1)
        d = model(*inputs)["logits"]
    torch.testing.assert_close(a, b)
    assert (c - d).abs().max() > 1e-4


def test_learns_a_separable_task_with_either_modality():
    """Known answer: the class is in the sign of EEG feature 0 and eye feature 0; trained with
    one modality sometimes dropped, both single-modality inputs classify."""
    torch.manual_seed(0)
    model = CrossModalTransformer(ModelConfig.preset("tiny", n_domains=2, dropout=0.0))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)

    def batch(n, drop=None):
        y = torch.randint(0, 2, (n,), generator=g)
        sign = (2.0 * y - 1.0)[:, None]
        eeg = 0.5 * torch.randn(n, 4, 310, generator=g)
        eye = 0.5 * torch.randn(n, 4, 33, generator=g)
        eeg[..., 0] += 2.0 * sign
        eye[..., 0] += 2.0 * sign
        em, ym = torch.ones(n, 4), torch.ones(n, 4)
        if drop is None:
            r = torch.rand(n, generator=g)
            em[r < 0.3] = 0.0
            ym[r > 0.7] = 0.0
        elif drop == "eye":
            ym.zero_()
        else:
            em.zero_()
        return eeg, eye, em, ym, y

    model.train()
    for _ in range(60):
        eeg, eye, em, ym, y = batch(32)
        out = model.train_forward(eeg, eye, em, ym, 0.1)
        loss = torch.nn.functional.cross_entropy(out["logits"], y)
        loss = loss + 0.1 * torch.nn.functional.cross_entropy(
            out["domain_logits"], torch.zeros_like(y)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        for drop in ("eye", "eeg"):
            eeg, eye, em, ym, y = batch(200, drop)
            acc = (model(eeg, eye, em, ym)["logits"].argmax(1) == y).float().mean()
            assert acc > 0.9, (drop, acc)
