"""Load a model file (TorchScript ``.pt`` or ``torch.export`` ``.pt2``) and predict from raw
features, through the backend :mod:`models.backends` picks (``backend="auto"``: the fastest one
whose outputs match the eager ones recorded in the file).

Why the settings:

- threads: 1 by default on machines with <= 4 cores — with 2 intra-op threads the batch-1
  latency collapsed under CPU contention on the development machine;
- warm-up: the first calls of a scripted module profile and optimise the graph (240-320 ms
  each), so several calls run at load, at the exact shape live use will send;
- ``torch.no_grad`` rather than ``torch.inference_mode``: scripted modules fail under the
  latter;
- inputs are always padded (mask 0) to ``contract.context_len``: one shape means one optimised
  graph (a new T would re-profile mid-session), and the default variant's outputs do not depend
  on padding (the seed variant was trained on padded sequences anyway).
"""

from __future__ import annotations

import logging
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

from . import backends as bk
from .contract import ModelContract
from .device import resolve_device
from .export import CONTRACT_FILE, example_inputs
from .integrity import verify_model_file

logger = logging.getLogger("cmt_live")

#: Warm-up calls at load (the profiling executor optimises after the first two).
N_WARMUP = 5


def default_threads() -> int | None:
    """1 on machines with <= 4 cores, else None (leave torch's default)."""
    return 1 if (os.cpu_count() or 1) <= 4 else None


def fit_to_context(eeg, eye, eeg_mask, eye_mask, length: int):
    """Sequences ``(B, T, .)`` and masks ``(B, T)`` cut or padded to exactly ``length``
    windows: the most recent kept, padding (mask 0) appended at the end. One shape per model
    means TorchScript never re-optimises mid-session."""
    t = eeg.shape[1]
    if t > length:
        return eeg[:, -length:], eye[:, -length:], eeg_mask[:, -length:], eye_mask[:, -length:]
    if t == length:
        return eeg, eye, eeg_mask, eye_mask

    def padded(a):
        # zeros + copy: np.pad costs ~0.1 ms a call, four calls per live prediction.
        out = np.zeros((a.shape[0], length, *a.shape[2:]), dtype=a.dtype)
        out[:, :t] = a
        return out

    return padded(eeg), padded(eye), padded(eeg_mask), padded(eye_mask)


class Runtime:
    """A loaded model file: contract + compiled module on one device.

    Attributes
    ----------
    contract : ModelContract
    device : torch.device
    kind : {"torchscript", "pt2"}
        The file's format.
    backend : {"torchscript", "onnx", "export", "aoti"}
        What runs the model (:mod:`models.backends`).
    path : Path
    warmup_ms : list of float
        Duration of each warm-up call at load, ms.
    backend_ms : dict of str to float
        Median batch-1 ms of each backend ``auto`` compared (empty when one was named).
    max_diff : dict of str to float
        Largest |backend - eager| on the check inputs, per backend checked.
    """

    def __init__(
        self,
        module,
        contract: ModelContract,
        device: torch.device,
        kind: str,
        path: Path,
        backend: str | None = None,
    ) -> None:
        self._module = module
        self.contract = contract
        self.device = device
        self.kind = kind
        self.backend = backend or ("export" if kind == "pt2" else "torchscript")
        self.path = Path(path)
        self.warmup_ms: list[float] = []
        self.backend_ms: dict[str, float] = {}
        self.max_diff: dict[str, float] = {}

    def __repr__(self) -> str:
        return (
            f"Runtime({self.path.name!r}, kind={self.kind!r}, backend={self.backend!r}, "
            f"device={self.device}, context_len={self.contract.context_len})"
        )

    # ------------------------------------------------------------------ input handling
    def _prepare(self, eeg, eye, eeg_mask, eye_mask) -> tuple[torch.Tensor, ...]:
        cfg = self.contract.config
        eeg = np.asarray(eeg, dtype=np.float32)
        eye = np.asarray(eye, dtype=np.float32)
        if eeg.ndim != 3 or eeg.shape[2] != cfg.n_eeg:
            raise ValueError(
                f"eeg has shape {eeg.shape}; expected (batch, n_windows, {cfg.n_eeg}) raw DE "
                "features in the contract's column order."
            )
        if eye.ndim != 3 or eye.shape[2] != cfg.n_eye or eye.shape[:2] != eeg.shape[:2]:
            raise ValueError(
                f"eye has shape {eye.shape}; expected {(*eeg.shape[:2], cfg.n_eye)} (same batch "
                "and n_windows as eeg)."
            )
        b, t = eeg.shape[:2]
        if t == 0 or b == 0:
            raise ValueError(
                f"Got {b} sequences of {t} windows; pass at least one window (mask 0 marks a "
                "missing modality)."
            )
        masks = []
        for name, m in (("eeg_mask", eeg_mask), ("eye_mask", eye_mask)):
            m = np.ones((b, t), np.float32) if m is None else np.asarray(m, dtype=np.float32)
            if m.shape != (b, t):
                raise ValueError(
                    f"{name} has shape {m.shape}; expected {(b, t)} (1 real, 0 missing)."
                )
            masks.append(m)
        fitted = fit_to_context(eeg, eye, *masks, self.contract.context_len)
        return tuple(torch.from_numpy(np.ascontiguousarray(a)).to(self.device) for a in fitted)

    def _run(self, inputs) -> dict:
        with torch.no_grad():
            return self._module(*inputs)

    # ------------------------------------------------------------------------ public API
    def predict_batch(
        self,
        eeg: np.ndarray,
        eye: np.ndarray,
        eeg_mask: np.ndarray | None = None,
        eye_mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities and modality gates of a batch of sequences.

        Parameters
        ----------
        eeg : ndarray, shape (B, T, n_eeg)
            Raw DE features (not normalised), oldest window first.
        eye : ndarray, shape (B, T, n_eye)
            Raw eye features.
        eeg_mask, eye_mask : ndarray, shape (B, T), optional
            1 for a real window, 0 for a missing one (default all 1). Masked windows may hold
            anything (NaN included); they are ignored.

        Returns
        -------
        probs : ndarray, shape (B, n_classes), float32
            In ``contract.class_names`` order.
        gates : ndarray, shape (B, 2), float32
            Modality weights (EEG, eye), rows sum to 1.

        Notes
        -----
        Only the last ``contract.context_len`` windows are used; shorter sequences are padded.
        """
        out = self._run(self._prepare(eeg, eye, eeg_mask, eye_mask))
        return (
            out["probs"].float().cpu().numpy(),
            out["gates"].float().cpu().numpy(),
        )

    def predict(
        self,
        eeg: np.ndarray,
        eye: np.ndarray,
        eeg_mask: np.ndarray | None = None,
        eye_mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One sequence: eeg (T, n_eeg), eye (T, n_eye), masks (T,) -> probs (C,), gates (2,).

        See :meth:`predict_batch`.
        """
        eeg = np.asarray(eeg, dtype=np.float32)
        eye = np.asarray(eye, dtype=np.float32)
        if eeg.ndim != 2 or eye.ndim != 2:
            raise ValueError(
                f"predict takes one sequence: eeg (n_windows, n_eeg) and eye (n_windows, n_eye); "
                f"got shapes {eeg.shape} and {eye.shape}. Use predict_batch for batches."
            )
        em = None if eeg_mask is None else np.asarray(eeg_mask, np.float32)[None]
        ym = None if eye_mask is None else np.asarray(eye_mask, np.float32)[None]
        probs, gates = self.predict_batch(eeg[None], eye[None], em, ym)
        return probs[0], gates[0]

    def warm_up(self, n_calls: int = N_WARMUP) -> list[float]:
        """Run ``n_calls`` dummy predictions at (1, context_len); returns their ms."""
        cfg = self.contract.config
        L = self.contract.context_len
        eeg = np.broadcast_to(self.contract.norm["eeg_mean"], (1, L, cfg.n_eeg))
        eye = np.broadcast_to(self.contract.norm["eye_mean"], (1, L, cfg.n_eye))
        inputs = self._prepare(eeg, eye, None, None)
        times = []
        for _ in range(n_calls):
            t0 = time.perf_counter()
            out = self._run(inputs)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            times.append((time.perf_counter() - t0) * 1e3)
            if not bool(torch.isfinite(out["probs"]).all()):
                raise RuntimeError(
                    f"{self.path}: the model gives non-finite probabilities on the feature "
                    "means; the file is corrupt or was exported from a diverged training."
                )
        self.warmup_ms = times
        return times


def _bad_file(path: Path, err: Exception) -> ValueError:
    return ValueError(
        f"{path} is not a readable cmt-live model file ({type(err).__name__}: {err}). "
        "Export one with models.export_torchscript (.pt) or models.export_pt2 (.pt2); "
        "cmt-train writes them under its run folder."
    )


def _no_contract(path: Path) -> ValueError:
    return ValueError(
        f"{path} has no embedded {CONTRACT_FILE}: it was not written by "
        "models.export_torchscript / models.export_pt2. Re-export the model with its contract "
        "(cmt-train does this for every fold)."
    )


def _read_contract(path: Path, raw) -> ModelContract:
    if not raw:
        raise _no_contract(path)
    try:
        return ModelContract.from_json(raw)
    except ValueError as err:
        raise ValueError(f"{path}: embedded {CONTRACT_FILE} is invalid: {err}") from err


def _load_torchscript(path: Path, device: torch.device):
    extra = {CONTRACT_FILE: "", bk.CHECK_FILE: "", bk.ONNX_FILE: ""}
    try:
        module = torch.jit.load(str(path), map_location=device, _extra_files=extra)
    except (RuntimeError, ValueError, zipfile.BadZipFile) as err:
        raise _bad_file(path, err) from err
    contract = _read_contract(path, extra[CONTRACT_FILE])
    module.eval()
    return module, contract, extra


def _load_pt2(path: Path, device: torch.device):
    extra = {CONTRACT_FILE: "", bk.CHECK_FILE: ""}
    try:
        program = torch.export.load(str(path), extra_files=extra)
    except (RuntimeError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise _bad_file(path, err) from err
    contract = _read_contract(path, extra[CONTRACT_FILE])
    if device.type != "cpu":
        from torch.export.passes import move_to_device_pass

        program = move_to_device_pass(program, device)
    return program, contract, extra


def _candidates(path, backend, dev, threads, program, module, extra) -> tuple[dict, dict]:
    """({backend: module} that can run this file here, {backend: why not} for the others)."""
    found: dict = {}
    why: dict[str, str] = {}
    if program is not None:  # a .pt2 file
        found["export"] = module
        why["torchscript"] = why["onnx"] = f"{path.name} is a .pt2 file; use the .pt model file"
        if backend in ("auto", "aoti"):
            aoti = bk.load_aoti(program, path, dev, compile_=backend == "aoti")
            if aoti is not None:
                found["aoti"] = aoti
            else:
                why["aoti"] = "not compiled yet on this machine (run once with --backend aoti)"
        return found, why
    found["torchscript"] = module
    why["export"] = why["aoti"] = (
        f"{path.name} is a TorchScript file; export a .pt2 with models.export_pt2"
    )
    if not extra.get(bk.ONNX_FILE):
        why["onnx"] = f"{path.name} carries no ONNX form; re-export it (models.export_torchscript)"
    elif dev.type != "cpu":
        why["onnx"] = "the onnx backend runs on CPU only here; use --device cpu"
    elif not bk.onnxruntime_available():
        why["onnx"] = "onnxruntime is not installed; pip install 'cmt-live[fast]'"
    elif backend in ("auto", "onnx"):
        found["onnx"] = bk.OnnxModule(extra[bk.ONNX_FILE], threads or torch.get_num_threads())
    return found, why


def _choose(path, backend, dev, found, contract, extra) -> tuple[str, dict, dict]:
    """(chosen backend, {backend: max |diff| vs eager}, {backend: median ms} when timed)."""
    check = bk.read_check(extra.get(bk.CHECK_FILE))
    if check is None:  # older files: the file's own program, checked at export, is the reference
        base = next(iter(found))
        inputs = example_inputs(contract)
        with torch.no_grad():
            ref = found[base](*(t.to(dev) for t in inputs))
        check = (inputs, {n: ref[n].float().cpu().numpy() for n in bk.OUTPUT_NAMES})
    names = list(found) if backend == "auto" else [backend]
    diffs = {n: bk.max_difference(found[n], check, dev) for n in names}
    if backend != "auto":
        if not diffs[backend] <= bk.MATCH_ATOL:
            raise ValueError(
                f"{path}: backend {backend!r} differs from the model's eager outputs by "
                f"{diffs[backend]:.2g} (> {bk.MATCH_ATOL}); use --backend auto or torchscript."
            )
        return backend, diffs, {}
    ok = [n for n in names if diffs[n] <= bk.MATCH_ATOL]
    for n in names:
        if n not in ok:
            logger.warning(
                "%s: backend %s differs from eager by %.2g (> %g); not used",
                path,
                n,
                diffs[n],
                bk.MATCH_ATOL,
            )
    if not ok:  # keep the file's own program, which passed the export check (1e-4)
        ok = names[:1]
    if len(ok) == 1:
        return ok[0], diffs, {}
    x = tuple(t[:1].to(dev) for t in check[0])  # batch 1 at context_len, as live sends
    ms = bk.time_backends({n: found[n] for n in ok}, x)
    return min(ms, key=ms.get), diffs, ms


def load_runtime(
    path: str | os.PathLike,
    *,
    device: str | torch.device = "auto",
    threads: int | None = None,
    warmup: int = N_WARMUP,
    backend: str = "auto",
) -> Runtime:
    """Load a model file for prediction.

    Parameters
    ----------
    path : path-like
        ``.pt2`` -> ``torch.export.load``; anything else -> ``torch.jit.load``.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device
        ``"auto"``: CUDA when available, else CPU.
    threads : int | None
        ``torch.set_num_threads`` (process-wide). None: 1 on machines with <= 4 cores, else
        torch's default.
    warmup : int
        Dummy calls at load (0 to skip).
    backend : {"auto", "torchscript", "onnx", "export", "aoti"}
        What runs the model (:mod:`models.backends`). ``"auto"``: of those this file and
        machine offer, the fastest at batch 1 whose outputs match the eager ones within
        ``models.backends.MATCH_ATOL``; a named one that is unavailable or does not match
        raises ValueError saying why.

    Returns
    -------
    Runtime
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Model file {path} does not exist; check the path (cmt-train "
            "writes model.pt and fold_*.pt in its run folder)."
        )
    if zipfile.is_zipfile(path):  # else torch's loader says what the file is not
        # Before torch reads it: torch checks no CRC, so a flipped byte would load.
        verify_model_file(path)
    dev = resolve_device(device)
    if threads is None:
        threads = default_threads()
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads={threads!r} is invalid; use a positive integer or None.")
        torch.set_num_threads(threads)
    if backend not in bk.BACKEND_CHOICES:
        raise ValueError(f"backend={backend!r} is invalid; use one of {bk.BACKEND_CHOICES}.")
    if path.suffix == ".pt2":
        program, contract, extra = _load_pt2(path, dev)
        module, kind = program.module(), "pt2"
    else:
        module, contract, extra = _load_torchscript(path, dev)
        program, kind = None, "torchscript"
    found, why = _candidates(path, backend, dev, threads, program, module, extra)
    if backend != "auto" and backend not in found:
        raise ValueError(f"backend {backend!r} is unavailable for {path}: {why[backend]}.")
    chosen, diffs, ms = _choose(path, backend, dev, found, contract, extra)
    rt = Runtime(found[chosen], contract, dev, kind, path, backend=chosen)
    rt.max_diff, rt.backend_ms = diffs, ms
    if warmup:
        rt.warm_up(warmup)
    logger.info(
        "loaded %s with backend %s on %s, %d thread(s); max |diff| vs eager %s; "
        "batch-1 ms %s; warm-up %s ms",
        path,
        chosen,
        dev,
        torch.get_num_threads(),
        {n: f"{d:.1g}" for n, d in diffs.items()},
        {n: round(v, 2) for n, v in ms.items()} or "-",
        ", ".join(f"{t:.1f}" for t in rt.warmup_ms),
    )
    return rt
