"""Model contract, TorchScript / torch.export files and the runtime that loads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from features.seedv import CLASS_NAMES
from features.spec import FeatureSpec
from models import (
    CrossModalTransformer,
    ModelConfig,
    ModelContract,
    Runtime,
    export_pt2,
    export_torchscript,
    load_runtime,
)
from models.backends import max_difference, onnxruntime_available

CONTEXT = 6


pytestmark = pytest.mark.usefixtures("one_thread")


def _norm(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "eeg_mean": rng.normal(5.0, 1.0, 310).astype(np.float32),
        "eeg_std": rng.uniform(0.5, 2.0, 310).astype(np.float32),
        "eye_mean": rng.normal(0.0, 3.0, 33).astype(np.float32),
        "eye_std": rng.uniform(0.1, 4.0, 33).astype(np.float32),
    }


def _contract(cfg, context_len=CONTEXT, **kw) -> ModelContract:
    return ModelContract(
        feature_spec=FeatureSpec(),
        norm=_norm(),
        class_names=CLASS_NAMES,
        context_len=context_len,
        config=cfg,
        provenance=kw.pop("provenance", {"fold": 1}),
        **kw,
    )


@pytest.fixture(scope="module")
def trained():
    """A tiny model with randomised weights (incl. the modality gate) and its contract."""
    torch.manual_seed(0)
    cfg = ModelConfig.preset("tiny", n_domains=3)
    model = CrossModalTransformer(cfg)
    with torch.no_grad():
        for p in model.modality_gate.parameters():
            p.normal_(0.0, 0.5)
    return model.eval(), _contract(cfg)


def _raw_inputs(b=4, t=CONTEXT, seed=1):
    """Raw-scale features; row 1 short, row 2 without eye, row 3 without EEG; NaN in masked
    windows (a live window that failed) must not leak."""
    rng = np.random.default_rng(seed)
    norm = _norm()
    eeg = (norm["eeg_mean"] + norm["eeg_std"] * rng.normal(size=(b, t, 310))).astype(np.float32)
    eye = (norm["eye_mean"] + norm["eye_std"] * rng.normal(size=(b, t, 33))).astype(np.float32)
    eeg_mask = np.ones((b, t), np.float32)
    eye_mask = np.ones((b, t), np.float32)
    if b >= 4:
        eeg_mask[1, t // 2 :] = eye_mask[1, t // 2 :] = 0.0
        eye_mask[2] = 0.0
        eeg_mask[3] = 0.0
        eye[2, 0] = np.nan
        eeg[3, :2] = np.inf
    return eeg, eye, eeg_mask, eye_mask


def _eager(model, contract, eeg, eye, eeg_mask, eye_mask):
    """Normalise as training does (z-score, non-finite -> 0, masked -> 0) and run eager."""
    n = contract.norm
    e = np.nan_to_num((eeg - n["eeg_mean"]) / n["eeg_std"], nan=0.0, posinf=0.0, neginf=0.0)
    y = np.nan_to_num((eye - n["eye_mean"]) / n["eye_std"], nan=0.0, posinf=0.0, neginf=0.0)
    e, y = e * eeg_mask[..., None], y * eye_mask[..., None]
    with torch.no_grad():
        out = model(
            *(torch.from_numpy(np.asarray(a, np.float32)) for a in (e, y, eeg_mask, eye_mask))
        )
    return out["probs"].numpy(), out["gates"].numpy()


# --------------------------------------------------------------------------- contract
def test_contract_json_round_trip():
    cfg = ModelConfig.preset("tiny")
    c = _contract(
        cfg,
        provenance={"fold": np.int64(2), "acc": np.float32(0.5), "bad": float("nan"), "t": (1, 2)},
    )
    text = c.to_json()
    d = json.loads(text)
    assert d["format"] == "cmt-live-model" and d["context_len"] == CONTEXT
    assert d["provenance"] == {"fold": 2, "acc": 0.5, "bad": None, "t": [1, 2]}
    back = ModelContract.from_json(text)
    assert back == c
    assert back.feature_spec == FeatureSpec() and back.config == cfg
    for k, v in c.norm.items():
        assert back.norm[k].dtype == np.float32 and np.array_equal(back.norm[k], v)
    assert not back.feature_spec.mismatches(FeatureSpec())
    assert back.feature_spec.mismatches(FeatureSpec(sfreq=250.0)) == ["sfreq: 200.0 != 250.0"]


def test_contract_errors():
    cfg = ModelConfig.preset("tiny")
    with pytest.raises(ValueError, match=r"context_len=75 is invalid; use an integer in 1\.\.74"):
        _contract(cfg, context_len=75)
    bad = _norm()
    bad["eye_std"] = bad["eye_std"][:30]
    with pytest.raises(ValueError, match=r"norm\['eye_std'\] must be 33 finite values"):
        ModelContract(FeatureSpec(), bad, CLASS_NAMES, 4, cfg)
    bad = _norm()
    bad["eeg_std"][3] = 0.0
    with pytest.raises(ValueError, match=r"norm\['eeg_std'\] has values <= 0 \(at \[3\]\)"):
        ModelContract(FeatureSpec(), bad, CLASS_NAMES, 4, cfg)
    with pytest.raises(ValueError, match=r"norm lacks \['eye_mean', 'eye_std'\]"):
        ModelContract(
            FeatureSpec(), {k: _norm()[k] for k in ("eeg_mean", "eeg_std")}, CLASS_NAMES, 4, cfg
        )
    with pytest.raises(ValueError, match="class_names has 2 names"):
        ModelContract(FeatureSpec(), _norm(), ("a", "b"), 4, cfg)
    with pytest.raises(ValueError, match="gives 305 EEG and 33 eye features"):
        ModelContract(
            FeatureSpec(ch_names=FeatureSpec().ch_names[:61]), _norm(), CLASS_NAMES, 4, cfg
        )
    with pytest.raises(ValueError, match="Not a cmt-live model contract"):
        ModelContract.from_json('{"hello": 1}')
    d = _contract(cfg).to_dict()
    d["format_version"] = 99
    with pytest.raises(ValueError, match="format_version=99 is not supported"):
        ModelContract.from_dict(d)
    with pytest.raises(ValueError, match="not valid JSON"):
        ModelContract.from_json("{")


# ------------------------------------------------------------------------------ export
@pytest.mark.parametrize(("export", "suffix"), [(export_torchscript, ".pt"), (export_pt2, ".pt2")])
def test_exported_file_equals_eager(trained, tmp_path, export, suffix):
    model, contract = trained
    path = export(model, contract, tmp_path / f"model{suffix}")
    assert path.is_file() and not list(tmp_path.glob("*.tmp*"))
    rt = load_runtime(path, device="cpu", threads=1)
    assert isinstance(rt, Runtime) and rt.kind == ("pt2" if suffix == ".pt2" else "torchscript")
    assert rt.contract == contract and rt.device == torch.device("cpu")
    assert len(rt.warmup_ms) == 5
    inputs = _raw_inputs()
    probs, gates = rt.predict_batch(*inputs)
    want_p, want_g = _eager(model, contract, *inputs)
    assert probs.shape == (4, 5) and gates.shape == (4, 2) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, want_p, atol=1e-5)
    np.testing.assert_allclose(gates, want_g, atol=1e-5)
    assert gates[2, 1] < 1e-6 and gates[3, 0] < 1e-6  # missing modalities
    # one sequence; shorter than the context (padded) and longer (the last L windows kept)
    p1, g1 = rt.predict(inputs[0][1, :3], inputs[1][1, :3], inputs[2][1, :3], inputs[3][1, :3])
    np.testing.assert_allclose(p1, probs[1], atol=1e-5)
    np.testing.assert_allclose(g1, gates[1], atol=1e-5)
    e, y, em, ym = _raw_inputs(b=1, t=CONTEXT + 4, seed=3)
    p2, _ = rt.predict(e[0], y[0], em[0], ym[0])
    np.testing.assert_allclose(
        p2, _eager(model, contract, e[:, 4:], y[:, 4:], em[:, 4:], ym[:, 4:])[0][0], atol=1e-5
    )


def test_torchscript_file_is_self_describing(trained, tmp_path):
    """Plain torch.jit.load gives the module and the contract: the file alone is enough."""
    model, contract = trained
    path = export_torchscript(model, contract, tmp_path / "m.pt")
    extra = {"contract.json": ""}
    module = torch.jit.load(str(path), _extra_files=extra)
    assert ModelContract.from_json(extra["contract.json"]) == contract
    inputs = _raw_inputs()
    with torch.no_grad():
        out = module(*(torch.from_numpy(a) for a in inputs))
    np.testing.assert_allclose(out["probs"].numpy(), _eager(model, contract, *inputs)[0], atol=1e-5)


def test_export_leaves_the_model_alone_and_checks_the_config(trained, tmp_path):
    model, contract = trained
    model.train()
    try:
        export_torchscript(model, contract, tmp_path / "a.pt")
        assert model.training
    finally:
        model.eval()
    other = _contract(ModelConfig.preset("tiny", n_domains=4))
    with pytest.raises(ValueError, match="differs from the contract's"):
        export_torchscript(model, other, tmp_path / "b.pt")
    with pytest.raises(TypeError, match=r"needs a models\.CrossModalTransformer"):
        export_pt2(torch.nn.Linear(2, 2), contract, tmp_path / "c.pt2")


def test_seed_variant_exports(tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig.preset("tiny", variant="seed", max_len=8)
    model = CrossModalTransformer(cfg).eval()
    contract = _contract(cfg, context_len=8)
    inputs = _raw_inputs(t=8)
    for path in (
        export_torchscript(model, contract, tmp_path / "s.pt"),
        export_pt2(model, contract, tmp_path / "s.pt2"),
    ):
        probs, _ = load_runtime(path, device="cpu", warmup=1).predict_batch(*inputs)
        np.testing.assert_allclose(probs, _eager(model, contract, *inputs)[0], atol=1e-5)


FRESH = textwrap.dedent(
    """
    import sys
    import numpy as np
    from models import load_runtime
    ref = np.load(sys.argv[1])
    for arg in sys.argv[2:]:
        path, backend = arg.split("@")
        rt = load_runtime(path, device="cpu", threads=1, backend=backend)
        assert rt.backend == backend, (rt.backend, backend)
        probs, gates = rt.predict_batch(ref["eeg"], ref["eye"], ref["eeg_mask"], ref["eye_mask"])
        d = max(np.abs(probs - ref["probs"]).max(), np.abs(gates - ref["gates"]).max())
        print(path, rt.backend, "max_abs_diff", d)
        if not d < 1e-5:
            sys.exit(1)
    """
)


def test_fresh_process_reproduces_eager(trained, tmp_path):
    """Every backend ``auto`` can choose here (TorchScript, ONNX Runtime when installed,
    torch.export) gives the eager outputs, NaN and Inf in masked windows included, in a new
    process. (AOTInductor: ``auto`` only takes an already compiled package, and compiling
    takes minutes, so it is checked by bench/bench_model.py, not here.)"""
    model, contract = trained
    inputs = _raw_inputs(seed=11)
    probs, gates = _eager(model, contract, *inputs)
    ref = tmp_path / "expected.npz"
    np.savez(
        ref, **dict(zip(("eeg", "eye", "eeg_mask", "eye_mask"), inputs)), probs=probs, gates=gates
    )
    pt = export_torchscript(model, contract, tmp_path / "m.pt")
    pt2 = export_pt2(model, contract, tmp_path / "m.pt2")
    found = load_runtime(pt, device="cpu", threads=1, warmup=0).max_diff
    assert ("onnx" in found) == onnxruntime_available()
    paths = [f"{pt}@{b}" for b in found] + [f"{pt2}@export"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CMT_LIVE_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", FRESH, str(ref), *paths],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("max_abs_diff") == len(paths)


@pytest.mark.skipif(not onnxruntime_available(), reason="onnxruntime not installed")
def test_auto_drops_a_backend_that_differs_from_eager(trained, tmp_path):
    """A file whose ONNX form was swapped for another model's: ``auto`` measures the
    difference from the recorded eager outputs and keeps TorchScript; naming onnx fails in
    one line."""
    model, contract = trained
    good = export_torchscript(model, contract, tmp_path / "good.pt")
    torch.manual_seed(5)
    other = export_torchscript(
        CrossModalTransformer(model.config).eval(), contract, tmp_path / "o.pt"
    )
    extra = {"contract.json": "", "check.npz": "", "model.onnx": ""}
    module = torch.jit.load(str(good), _extra_files=extra)
    swapped = {"model.onnx": ""}
    torch.jit.load(str(other), _extra_files=swapped)
    extra["model.onnx"] = swapped["model.onnx"]
    torch.jit.save(module, str(tmp_path / "bad.pt"), _extra_files=extra)
    rt = load_runtime(tmp_path / "bad.pt", device="cpu", threads=1, warmup=0)
    assert rt.backend == "torchscript" and rt.max_diff["onnx"] > 1e-3
    with pytest.raises(ValueError, match=r"backend 'onnx' differs from the model's eager outputs"):
        load_runtime(tmp_path / "bad.pt", device="cpu", threads=1, backend="onnx")
    ok = load_runtime(good, device="cpu", threads=1, backend="onnx", warmup=0)
    assert ok.backend == "onnx" and ok.max_diff["onnx"] <= 1e-5


def test_a_backend_giving_nan_where_eager_is_finite_never_matches():
    """Python's max() would drop a NaN difference; a NaN where eager has a number is the worst
    mismatch, and a NaN where eager has NaN (a masked window) is agreement."""
    want = {"logits": np.array([[0.5, np.nan]]), "probs": np.ones((1, 2)), "gates": np.ones((1, 2))}

    def backend(probs):
        out = {"logits": torch.tensor([[0.5, float("nan")]]), "gates": torch.ones(1, 2)}
        return lambda: {**out, "probs": torch.tensor(probs)}

    check = ((), want)
    cpu = torch.device("cpu")
    assert max_difference(backend([[1.0, 1.0]]), check, cpu) == 0.0
    assert max_difference(backend([[1.0, float("nan")]]), check, cpu) == float("inf")
    assert max_difference(backend([[1.0, 1.25]]), check, cpu) == 0.25


def test_unavailable_backend_says_why(trained, tmp_path):
    model, contract = trained
    pt = export_torchscript(model, contract, tmp_path / "m.pt", with_onnx=False)
    with pytest.raises(ValueError, match=r"backend 'onnx' is unavailable .* carries no ONNX form"):
        load_runtime(pt, device="cpu", backend="onnx")
    with pytest.raises(ValueError, match=r"backend 'aoti' is unavailable .* TorchScript file"):
        load_runtime(pt, device="cpu", backend="aoti")
    with pytest.raises(ValueError, match=r"backend='fast' is invalid"):
        load_runtime(pt, device="cpu", backend="fast")
    assert load_runtime(pt, device="cpu", warmup=0).backend == "torchscript"


# ------------------------------------------------------------------------------ errors
def test_load_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.pt does not exist"):
        load_runtime(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model at all" * 10)
    with pytest.raises(
        ValueError, match=r"junk\.pt is not a readable cmt-live model file.*export_torchscript"
    ):
        load_runtime(junk, device="cpu")
    junk2 = tmp_path / "junk.pt2"
    junk2.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(ValueError, match=r"junk\.pt2 is not a readable cmt-live model file"):
        load_runtime(junk2, device="cpu")
    # A valid TorchScript file without a contract
    bare = tmp_path / "bare.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(bare))
    with pytest.raises(ValueError, match=r"bare\.pt has no embedded contract\.json.*Re-export"):
        load_runtime(bare, device="cpu")


def test_runtime_argument_errors(trained, tmp_path):
    model, contract = trained
    path = export_torchscript(model, contract, tmp_path / "m.pt")
    with pytest.raises(ValueError, match="device='tpu' is invalid"):
        load_runtime(path, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available here"):
            load_runtime(path, device="cuda")
    with pytest.raises(ValueError, match="threads=0 is invalid"):
        load_runtime(path, device="cpu", threads=0)
    rt = load_runtime(path, device="cpu", threads=1, warmup=0)
    assert torch.get_num_threads() == 1 and rt.warmup_ms == []
    e, y, em, ym = _raw_inputs()
    with pytest.raises(
        ValueError, match=r"eeg has shape \(4, 6, 300\); expected \(batch, n_windows, 310\)"
    ):
        rt.predict_batch(e[..., :300], y, em, ym)
    with pytest.raises(ValueError, match=r"eye has shape \(4, 5, 33\); expected \(4, 6, 33\)"):
        rt.predict_batch(e, y[:, :5], em, ym)
    with pytest.raises(ValueError, match=r"eye_mask has shape \(4, 5\); expected \(4, 6\)"):
        rt.predict_batch(e, y, em, ym[:, :5])
    with pytest.raises(ValueError, match="predict takes one sequence"):
        rt.predict(e, y)
    with pytest.raises(ValueError, match="pass at least one window"):
        rt.predict(e[0, :0], y[0, :0])
