"""Compiled forms of a model and the choice between them (``--backend``).

A TorchScript model file (``.pt``) always holds its TorchScript program and may carry, as extra
files beside ``contract.json``:

- ``model.onnx``: the same inference module exported to ONNX (run with ONNX Runtime, the
  ``onnx`` backend; ``pip install 'cmt-live[fast]'``);
- ``check.npz``: the contract's check inputs (:func:`models.export.example_inputs`) and the
  EAGER outputs on them, recorded at export. Every backend is compared with these before use.

A ``torch.export`` file (``.pt2``) gives the ``export`` backend (``program.module()``) and the
``aoti`` backend (AOTInductor: the program compiled to C++ with the local compiler, cached under
``~/.cache/cmt-live/aoti``; compiling takes ~1 min, so ``auto`` only uses an already compiled
package).

``auto`` runs each available backend on the check inputs, drops any whose outputs differ from
the recorded eager ones by more than :data:`MATCH_ATOL`, times the rest briefly at batch 1 and
keeps the fastest. Why ONNX Runtime is usually it on CPU: it fuses the attention and GELU
blocks and runs them with its own kernels, without TorchScript's interpreter between ops.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch

logger = logging.getLogger("cmt_live")

BACKENDS = ("torchscript", "onnx", "export", "aoti")
BACKEND_CHOICES = ("auto", *BACKENDS)
ONNX_FILE = "model.onnx"
CHECK_FILE = "check.npz"
INPUT_NAMES = ("eeg", "eye", "eeg_mask", "eye_mask")
OUTPUT_NAMES = ("logits", "probs", "gates")
#: Largest |backend - eager| (any output) for a backend to be used.
MATCH_ATOL = 1e-5
#: Timed batch-1 calls per backend when ``auto`` chooses.
N_CHOOSE_CALLS = 15


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- at export
def onnx_bytes(module: torch.nn.Module, inputs: tuple) -> bytes | None:
    """The inference module as ONNX bytes (dynamic batch), or None when it cannot be exported.

    Parameters
    ----------
    module : models.export.InferenceModule
        Eval mode, CPU.
    inputs : tuple of Tensor
        Example inputs of batch >= 2 at the contract's ``context_len`` (batch 1 would be
        specialised into the graph).
    """
    buf = io.BytesIO()
    axes = {name: {0: "batch"} for name in (*INPUT_NAMES, *OUTPUT_NAMES)}
    try:
        # The TorchScript-based exporter (deprecated upstream): the torch.export-based one
        # (dynamo=True, torch 2.13, onnxscript 0.7) gave NaN for a sequence whose eye windows
        # are all missing, and was no faster. Its deprecation and tracer warnings are noise
        # here: the result is checked against the eager outputs at every load.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                inputs,
                buf,
                input_names=list(INPUT_NAMES),
                output_names=list(OUTPUT_NAMES),
                dynamic_axes=axes,
                dynamo=False,
            )
    except Exception as err:  # an optional form: the TorchScript program stays the reference
        logger.warning("ONNX export failed (%s: %s); the file has no onnx backend", type(err), err)
        return None
    return buf.getvalue()


def check_bytes(inputs: tuple, outputs: dict) -> str:
    """``check.npz``, base64 text (``.pt2`` archives hold text extras): the check inputs and
    the eager outputs on them (no pickles)."""
    buf = io.BytesIO()
    arrays = {f"in_{n}": t.numpy() for n, t in zip(INPUT_NAMES, inputs)}
    arrays.update({f"out_{n}": outputs[n].numpy() for n in OUTPUT_NAMES})
    np.savez(buf, **arrays)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def read_check(raw: bytes | str) -> tuple[tuple, dict] | None:
    """Inverse of :func:`check_bytes`; None for an empty record (a file without one)."""
    if not raw:
        return None
    with np.load(io.BytesIO(base64.b64decode(raw)), allow_pickle=False) as z:
        inputs = tuple(torch.from_numpy(z[f"in_{n}"]) for n in INPUT_NAMES)
        outputs = {n: z[f"out_{n}"] for n in OUTPUT_NAMES}
    return inputs, outputs


# --------------------------------------------------------------------------- at load
class OnnxModule:
    """ONNX Runtime session with the calling convention of the torch modules: tensors in,
    dict of tensors (``logits``, ``probs``, ``gates``) out.

    Parameters
    ----------
    raw : bytes
        The ONNX model.
    threads : int
        Intra-op threads (1: the same rule as torch's on small machines).
    """

    def __init__(self, raw: bytes, threads: int) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(raw, opts, providers=["CPUExecutionProvider"])

    def __call__(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        feeds = {n: t.detach().cpu().numpy() for n, t in zip(INPUT_NAMES, inputs)}
        out = self._session.run(list(OUTPUT_NAMES), feeds)
        return {n: torch.from_numpy(a) for n, a in zip(OUTPUT_NAMES, out)}

    def eval(self) -> OnnxModule:
        return self


def aoti_cache_dir() -> Path:
    """Where compiled AOTInductor packages are kept (``CMT_LIVE_CACHE`` overrides)."""
    root = os.environ.get("CMT_LIVE_CACHE") or Path.home() / ".cache" / "cmt-live"
    return Path(root) / "aoti"


def aoti_package_path(model_path: Path, device: torch.device) -> Path:
    """Cache path of ``model_path``'s AOTInductor package: keyed by the file's bytes, torch's
    version and the device type (a package is compiled code for this machine)."""
    h = hashlib.sha256(Path(model_path).read_bytes()).hexdigest()[:16]
    return aoti_cache_dir() / f"{h}-torch{torch.__version__}-{device.type}.pt2"


def load_aoti(program, model_path: Path, device: torch.device, *, compile_: bool):
    """The AOTInductor runner of a ``torch.export`` program, compiled once per machine.

    Returns None when no package is cached and ``compile_`` is False.
    """
    pkg = aoti_package_path(model_path, device)
    if not pkg.is_file():
        if not compile_:
            return None
        pkg.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        logger.info("compiling %s with AOTInductor (once per machine; ~1 min)", model_path)
        tmp = pkg.with_name(f"{pkg.stem}.tmp{os.getpid()}.pt2")
        torch._inductor.aoti_compile_and_package(program, package_path=str(tmp))
        tmp.replace(pkg)
        logger.info("AOTInductor package %s in %.0f s", pkg, time.perf_counter() - t0)
    return torch._inductor.aoti_load_package(str(pkg))


def max_difference(module, check: tuple[tuple, dict], device: torch.device) -> float:
    """Largest |module - recorded eager| over ``logits``, ``probs`` and ``gates``; ``inf`` when
    the module gives NaN or Inf where eager gave a finite value (or the other way round)."""
    inputs, want = check
    with torch.no_grad():
        got = module(*(t.to(device) for t in inputs))
    worst = 0.0
    for n in OUTPUT_NAMES:
        a, b = got[n].float().cpu().numpy(), np.asarray(want[n])
        # Non-finite where the reference is non-finite too (a masked window) is agreement.
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        d = np.where(same, 0.0, np.abs(a - b))
        worst = max(worst, float(np.nan_to_num(d, nan=np.inf).max(initial=0.0)))
    return worst


def time_backends(modules: dict, inputs: tuple, n_calls: int = N_CHOOSE_CALLS) -> dict:
    """Median ms per call of each module at ``inputs``, calls interleaved round by round so
        that load from other processes hits them alike, after five untimed calls each (TorchScript
    profiles its first calls, then optimises)."""
    times: dict[str, list[float]] = {name: [] for name in modules}
    with torch.no_grad():
        for module in modules.values():
            for _ in range(5):
                module(*inputs)
        for _ in range(n_calls):
            for name, module in modules.items():
                t0 = time.perf_counter()
                module(*inputs)
                times[name].append((time.perf_counter() - t0) * 1e3)
    return {name: float(np.median(ms)) for name, ms in times.items()}
