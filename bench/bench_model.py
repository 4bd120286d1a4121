"""Model benchmark: batch-1 latency per backend and training throughput per preset.

Run from the repository root::

    .venv/bin/python bench/bench_model.py            # ~2-3 min on 2 cores
    .venv/bin/python bench/bench_model.py --quick    # fewer calls, no seed-size training
    .venv/bin/python bench/bench_model.py --aoti     # also AOTInductor (compiles: minutes)
    .venv/bin/python bench/bench_model.py --device cuda   # also CUDA (when present)

Latency: one sequence of L windows through the inference module that model files contain
(normalisation + model, raw features in, probs and gates out) for d_model 256
(``ModelConfig.preset("default")``, the live default, L in 1, 16, 74), 512 (the seed's size,
L = 16) and 64 (``small``, the demo model, L = 8), side by side in one run:

- eager: the Python module under ``torch.no_grad`` (the reference: ``x eager`` is each
  backend's p50 over eager's);
- torchscript: ``models.export_torchscript`` (scripted + frozen) loaded with ``torch.jit.load``;
- onnx: the ONNX form the same file carries, in ONNX Runtime (``models.backends.OnnxModule``);
- export: ``models.export_pt2`` loaded with ``torch.export.load(...).module()``;
- aoti (``--aoti``): that program compiled by AOTInductor.

``max|diff|`` is the largest difference from eager over logits, probs and gates on the
contract's check inputs. CPU figures use one intra-op thread (what ``models.load_runtime`` picks
on small machines). Backends are interleaved round by round so that load from other processes
hits them alike; p50 and p99 are over all timed calls. Then ``load_runtime(backend="auto")``
on the ``.pt`` file: which backend it chose and ``runtime.predict`` through it (numpy in:
padding to the context and conversion included) — the live path.

Training: optimizer steps per second (AdamW, ``train_forward`` with the domain head, batch
32, T = 74 — full-length trials, the worst case) per model preset; on CUDA with AMP.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from features.seedv import CLASS_NAMES  # noqa: E402
from features.spec import FeatureSpec  # noqa: E402
from models import (  # noqa: E402
    CrossModalTransformer,
    ModelConfig,
    ModelContract,
    export_pt2,
    export_torchscript,
    load_runtime,
)
from models import backends as bk  # noqa: E402
from models.export import InferenceModule, example_inputs  # noqa: E402

#: issue 14: L = 16, d256, the backend auto chooses, CPU, one thread; the demo model (small, L 8)
TARGETS_P99_MS = {("default", 16): 6.0, ("small", 8): 2.0}
#: (preset, lengths) benched.
CASES = (("default", (1, 16, 74)), ("seed", (16,)), ("small", (8,)))


def _contract(cfg: ModelConfig, context_len: int) -> ModelContract:
    rng = np.random.default_rng(0)
    norm = {
        "eeg_mean": rng.normal(size=cfg.n_eeg).astype(np.float32),
        "eeg_std": rng.uniform(0.5, 2, cfg.n_eeg).astype(np.float32),
        "eye_mean": rng.normal(size=cfg.n_eye).astype(np.float32),
        "eye_std": rng.uniform(0.5, 2, cfg.n_eye).astype(np.float32),
    }
    return ModelContract(FeatureSpec(), norm, CLASS_NAMES, context_len, cfg, {"bench": True})


def _percentiles(ms: list[float]) -> tuple[float, float]:
    a = np.asarray(ms)
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def _backends(model, contract, device, tmp: Path, name: str, aoti: bool) -> tuple[dict, Path]:
    ts_path = export_torchscript(model, contract, tmp / f"{name}.pt")
    pt2_path = export_pt2(model, contract, tmp / f"{name}.pt2")
    found = {
        "eager": InferenceModule(model, contract.norm).to(device).eval(),
        "torchscript": torch.jit.load(str(ts_path), map_location=device),
    }
    extra = {bk.ONNX_FILE: ""}
    torch.jit.load(str(ts_path), _extra_files=extra)
    if device.type == "cpu" and extra[bk.ONNX_FILE] and bk.onnxruntime_available():
        found["onnx"] = bk.OnnxModule(extra[bk.ONNX_FILE], torch.get_num_threads())
    program = torch.export.load(str(pt2_path))
    if device.type != "cpu":
        from torch.export.passes import move_to_device_pass

        program = move_to_device_pass(program, device)
    found["export"] = program.module()
    if aoti:
        t0 = time.perf_counter()
        found["aoti"] = bk.load_aoti(program, pt2_path, device, compile_=True)
        print(f"  (AOTInductor compiled {name} in {time.perf_counter() - t0:.0f} s)")
    return found, ts_path


def bench_latency(
    preset: str,
    lengths: tuple,
    device: torch.device,
    calls: int,
    tmp: Path,
    budget_s: float,
    aoti: bool,
) -> list[dict]:
    torch.manual_seed(0)
    cfg = ModelConfig.preset(preset, max_len=max(74, *lengths))
    model = CrossModalTransformer(cfg).eval()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rows = []
    rounds = 10
    for length in lengths:
        contract = _contract(cfg, length)
        backends, ts_path = _backends(model, contract, device, tmp, f"{preset}{length}", aoti)
        inputs = example_inputs(contract)
        with torch.no_grad():
            want = backends["eager"](*(t.to(device) for t in inputs))
        check = (inputs, {n: want[n].float().cpu().numpy() for n in bk.OUTPUT_NAMES})
        diffs = {n: bk.max_difference(fn, check, device) for n, fn in backends.items()}
        x = tuple(t[:1].to(device) for t in example_inputs(contract, seed=length))
        times: dict[str, list[float]] = {name: [] for name in backends}
        with torch.no_grad():
            for fn in backends.values():  # warm-up: TorchScript profiles, then optimises
                for _ in range(8):
                    fn(*x)
            sync()
            t0 = time.perf_counter()
            backends["eager"](*x)
            sync()
            # At most `calls` per backend, fewer for slow cases: ~budget_s each.
            est_ms = (time.perf_counter() - t0) * 1e3
            per_round = max(2, min(calls, int(budget_s * 1e3 / max(est_ms, 1e-3))) // rounds)
            for _ in range(rounds):
                for name, fn in backends.items():
                    for _ in range(per_round):
                        t0 = time.perf_counter()
                        fn(*x)
                        sync()
                        times[name].append((time.perf_counter() - t0) * 1e3)
        eager_p50 = _percentiles(times["eager"])[0]
        for name, ms in times.items():
            p50, p99 = _percentiles(ms)
            rows.append(
                {
                    "preset": preset,
                    "d": cfg.d_model,
                    "L": length,
                    "backend": name,
                    "p50": p50,
                    "p99": p99,
                    "n": len(ms),
                    "ratio": p50 / eager_p50,
                    "diff": diffs[name],
                }
            )
        if (preset, length) not in TARGETS_P99_MS and length != max(lengths):
            continue
        # The live path: load_runtime(auto) on the .pt file, then Runtime.predict (numpy in).
        rt = load_runtime(ts_path, device=device, threads=torch.get_num_threads())
        rng = np.random.default_rng(0)
        eeg = rng.normal(size=(length, cfg.n_eeg)).astype(np.float32)
        eye = rng.normal(size=(length, cfg.n_eye)).astype(np.float32)
        m = np.ones(length, np.float32)
        chosen_p50 = _percentiles(times.get(rt.backend, times["eager"]))[0]
        ms = []
        for _ in range(max(50, min(calls, int(budget_s * 1e3 / max(chosen_p50, 1e-3))))):
            t0 = time.perf_counter()
            rt.predict(eeg, eye, m, m)
            ms.append((time.perf_counter() - t0) * 1e3)
        p50, p99 = _percentiles(ms)
        rows.append(
            {
                "preset": preset,
                "d": cfg.d_model,
                "L": length,
                "backend": f"auto={rt.backend}",
                "p50": p50,
                "p99": p99,
                "n": len(ms),
                "ratio": p50 / eager_p50,
                "diff": rt.max_diff[rt.backend],
            }
        )
    return rows


def bench_training(preset: str, device: torch.device, steps: int) -> float:
    torch.manual_seed(0)
    cfg = ModelConfig.preset(preset)
    model = CrossModalTransformer(cfg).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4)
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    g = torch.Generator().manual_seed(0)
    b, t = 32, cfg.max_len
    eeg = torch.randn(b, t, cfg.n_eeg, generator=g).to(device)
    eye = torch.randn(b, t, cfg.n_eye, generator=g).to(device)
    mask = torch.ones(b, t, device=device)
    y = torch.randint(0, cfg.n_classes, (b,), generator=g).to(device)
    dom = torch.randint(0, cfg.n_domains, (b,), generator=g).to(device)
    ce = torch.nn.CrossEntropyLoss()

    def step():
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
            out = model.train_forward(eeg, eye, mask, mask, 0.5)
        loss = ce(out["logits"].float(), y) + 0.1 * ce(out["domain_logits"].float(), dom)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()

    step()  # allocator and kernels warm
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer calls; skip seed-size training")
    p.add_argument("--calls", type=int, default=200, help="most timed calls per backend and L")
    p.add_argument(
        "--budget-s", type=float, default=1.5, help="time per backend and L (fewer calls if slow)"
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, or both (cpu,cuda)")
    p.add_argument("--threads", type=int, default=1, help="CPU intra-op threads (default 1)")
    p.add_argument("--aoti", action="store_true", help="also AOTInductor (compiles, minutes)")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore", message=r".*torch\.jit\..*is deprecated")
    torch.set_num_threads(args.threads)
    calls = 60 if args.quick else args.calls
    budget_s = 0.5 if args.quick else args.budget_s
    devices = []
    for name in args.device.split(","):
        if name == "cuda" and not torch.cuda.is_available():
            print("CUDA not available: skipping CUDA figures", file=sys.stderr)
            continue
        devices.append(torch.device(name))
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), cpus={os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("CMT_LIVE_CACHE", str(Path(tmp) / "cache"))
        for dev in devices:
            print(f"\n== batch-1 latency on {dev} (ms) ==")
            print(
                f"{'d_model':>7} {'L':>3} {'backend':>18} {'p50':>8} {'p99':>8} {'x eager':>8} "
                f"{'max|diff|':>10} {'n':>5}"
            )
            for preset, lengths in CASES:
                for r in bench_latency(preset, lengths, dev, calls, Path(tmp), budget_s, args.aoti):
                    print(
                        f"{r['d']:>7} {r['L']:>3} {r['backend']:>18} {r['p50']:8.2f} "
                        f"{r['p99']:8.2f} {r['ratio']:8.2f} {r['diff']:10.1e} {r['n']:>5}"
                    )
                    target = TARGETS_P99_MS.get((r["preset"], r["L"]))
                    if dev.type == "cpu" and target and r["backend"].startswith("auto="):
                        verdicts.append((r, target))
    for r, target in verdicts:
        verdict = "meets" if r["p99"] <= target else "MISSES"
        print(
            f"target: {r['preset']} (d{r['d']}), L={r['L']}, {r['backend']}, CPU, "
            f"{args.threads} thread: p99 {r['p99']:.2f} ms {verdict} <= {target} ms"
        )
    presets = ["tiny", "small", "default"] + ([] if args.quick else ["seed"])
    for dev in devices:
        amp = ", AMP" if dev.type == "cuda" else ""
        print(f"\n== training steps/s on {dev} (batch 32, T=74{amp}) ==")
        for preset in presets:
            steps = 2 if (dev.type == "cpu" and preset in ("default", "seed")) else 10
            rate = bench_training(preset, dev, steps)
            cfg = ModelConfig.preset(preset)
            n_params = sum(p.numel() for p in CrossModalTransformer(cfg).parameters())
            print(
                f"{preset:>8} (d{cfg.d_model}, {n_params / 1e6:.2f} M params): {rate:7.2f} steps/s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
