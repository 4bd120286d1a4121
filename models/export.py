"""Export a trained model as one file whose embedded contract is all live use needs.

The exported module takes RAW features (as ``features/`` computes them) and applies the
contract's normalisation itself (buffers), so the file alone reproduces the model:

``forward(eeg (B, T, n_eeg), eye (B, T, n_eye), eeg_mask (B, T), eye_mask (B, T))`` ->
``{"logits": (B, C), "probs": (B, C), "gates": (B, 2)}``, ``1 <= T <= config.max_len``.

Two formats: TorchScript (scripted + frozen, ``.pt``; deprecated upstream but what the live
monitor ships) and ``torch.export`` (``.pt2``), both with ``contract.json`` and
``integrity.json`` (a hash of every member, checked at load: :mod:`models.integrity`) embedded.
"""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .contract import NORM_KEYS, ModelContract
from .integrity import INTEGRITY_FILE, integrity_record, verify_model_file
from .transformer import CrossModalTransformer

logger = logging.getLogger("cmt_live")

CONTRACT_FILE = "contract.json"
#: Largest |exported - eager| accepted by the self-check at export time.
EXPORT_ATOL = 1e-4


class InferenceModule(nn.Module):
    """Normalisation + model, the module that model files contain.

    Parameters
    ----------
    model : CrossModalTransformer
        Eval-mode model (deep-copied by the exporters before wrapping).
    norm : dict of str to ndarray
        The contract's ``eeg_mean``, ``eeg_std``, ``eye_mean``, ``eye_std``.
    """

    def __init__(self, model: CrossModalTransformer, norm: dict) -> None:
        super().__init__()
        self.model = model
        for key in NORM_KEYS:
            self.register_buffer(key, torch.as_tensor(np.asarray(norm[key], dtype=np.float32)))

    def forward(
        self, eeg: torch.Tensor, eye: torch.Tensor, eeg_mask: torch.Tensor, eye_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        # Same arithmetic as models.datasets.Normalizer.transform (float32 (x - mean) / std,
        # non-finite -> 0), then padding and missing windows are exactly 0 as in training.
        e = torch.nan_to_num((eeg - self.eeg_mean) / self.eeg_std, nan=0.0, posinf=0.0, neginf=0.0)
        y = torch.nan_to_num((eye - self.eye_mean) / self.eye_std, nan=0.0, posinf=0.0, neginf=0.0)
        e = e * eeg_mask.unsqueeze(-1)
        y = y * eye_mask.unsqueeze(-1)
        out = self.model(e, y, eeg_mask, eye_mask)
        return {"logits": out["logits"], "probs": out["probs"], "gates": out["gates"]}


def _inference_module(model: nn.Module, contract: ModelContract) -> InferenceModule:
    if not isinstance(model, CrossModalTransformer):
        raise TypeError(f"Export needs a models.CrossModalTransformer, got {type(model).__name__}.")
    if not isinstance(contract, ModelContract):
        raise TypeError(f"Export needs a models.ModelContract, got {type(contract).__name__}.")
    if model.config != contract.config:
        raise ValueError(
            f"The model's config {model.config} differs from the contract's {contract.config}; "
            "build the contract with config=model.config."
        )
    # A CPU copy: exporting must not move or switch the caller's model to eval.
    clone = copy.deepcopy(model).to("cpu").eval()
    return InferenceModule(clone, contract.norm).eval()


def example_inputs(contract: ModelContract, batch: int = 2, seed: int = 0) -> tuple:
    """Raw-scale random inputs of length ``context_len`` with a short and a missing row."""
    cfg = contract.config
    g = torch.Generator().manual_seed(seed)
    t = contract.context_len
    mean_e = torch.as_tensor(contract.norm["eeg_mean"])
    std_e = torch.as_tensor(contract.norm["eeg_std"])
    mean_y = torch.as_tensor(contract.norm["eye_mean"])
    std_y = torch.as_tensor(contract.norm["eye_std"])
    eeg = mean_e + std_e * torch.randn(batch, t, cfg.n_eeg, generator=g)
    eye = mean_y + std_y * torch.randn(batch, t, cfg.n_eye, generator=g)
    eeg_mask = torch.ones(batch, t)
    eye_mask = torch.ones(batch, t)
    if batch > 1:
        eeg_mask[1, (t + 1) // 2 :] = 0.0
        eye_mask[1, :] = 0.0
    return eeg, eye, eeg_mask, eye_mask


def _check_same(name: str, got: dict, want: dict) -> None:
    for key in ("logits", "probs", "gates"):
        diff = float((got[key] - want[key]).abs().max())
        if not diff <= EXPORT_ATOL:
            raise RuntimeError(
                f"{name}: exported {key!r} differ from eager by {diff:.3g} (> {EXPORT_ATOL}); "
                "this is a bug in the export, please report it with the model config."
            )


def _atomic_target(path: str | os.PathLike) -> tuple[Path, Path]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the suffix: torch.export.save warns about archives not ending in .pt2.
    return path, path.with_name(f"{path.stem}.tmp{path.suffix}")


def _save_with_integrity(save, contract: ModelContract, tmp: Path) -> None:
    """``save(extra_files)`` twice: once to hash the archive (program, weights, contract),
    once more with that hash embedded as ``integrity.json`` (:mod:`models.integrity`)."""
    extra = {CONTRACT_FILE: contract.to_json()}
    save(extra)
    extra[INTEGRITY_FILE] = integrity_record(tmp)
    save(extra)
    try:
        verify_model_file(tmp)  # the two saves must agree on every hashed member
    except ValueError as err:
        raise RuntimeError(
            f"{tmp}: the saved archive differs from the hashed one ({err}); this is a bug in "
            "the export, please report it with the torch version."
        ) from err


def export_torchscript(
    model: CrossModalTransformer, contract: ModelContract, path: str | os.PathLike
) -> Path:
    """Script, freeze and save the inference module with ``contract.json`` embedded.

    Parameters
    ----------
    model : CrossModalTransformer
        Trained model (any device, any mode; a CPU eval copy is exported).
    contract : ModelContract
        ``contract.config`` must equal ``model.config``.
    path : path-like
        Output file (``.pt`` by convention); written atomically.

    Returns
    -------
    Path
        ``path``. Load it with :func:`models.load_runtime` or ``torch.jit.load`` (then the
        contract is ``_extra_files={"contract.json": ""}``).
    """
    module = _inference_module(model, contract)
    frozen = torch.jit.freeze(torch.jit.script(module))
    inputs = example_inputs(contract)
    with torch.no_grad():
        _check_same(f"TorchScript export to {path}", frozen(*inputs), module(*inputs))
    path, tmp = _atomic_target(path)
    _save_with_integrity(
        lambda extra: torch.jit.save(frozen, str(tmp), _extra_files=extra), contract, tmp
    )
    tmp.replace(path)
    logger.info("exported TorchScript model to %s", path)
    return path


def export_pt2(
    model: CrossModalTransformer, contract: ModelContract, path: str | os.PathLike
) -> Path:
    """``torch.export`` the inference module (dynamic batch and T) and save it as ``.pt2``.

    The batch size is dynamic (>= 1) and so is T, from 1 to ``config.max_len``.

    Parameters
    ----------
    model : CrossModalTransformer
    contract : ModelContract
    path : path-like
        Output file (``.pt2`` by convention; :func:`models.load_runtime` picks the loader by
        this suffix); written atomically.

    Returns
    -------
    Path
    """
    module = _inference_module(model, contract)
    cfg = contract.config
    inputs = example_inputs(contract, batch=2)
    if cfg.max_len >= 2 and contract.context_len < 2:
        # Trace with T = 2: an example of size 1 would be specialised to a constant.
        inputs = example_inputs(replace_context(contract, 2), batch=2)
    batch = torch.export.Dim("batch", min=1)
    dims: dict[int, object] = {0: batch}
    if cfg.max_len >= 2:
        dims[1] = torch.export.Dim("n_windows", min=1, max=cfg.max_len)
    with torch.no_grad():
        program = torch.export.export(module, inputs, dynamic_shapes=(dims, dims, dims, dims))
        _check_same(f"torch.export to {path}", program.module()(*inputs), module(*inputs))
    path, tmp = _atomic_target(path)
    _save_with_integrity(
        lambda extra: torch.export.save(program, str(tmp), extra_files=extra), contract, tmp
    )
    tmp.replace(path)
    logger.info("exported torch.export model to %s", path)
    return path


def replace_context(contract: ModelContract, context_len: int) -> ModelContract:
    """The same contract with another ``context_len``."""
    d = contract.to_dict()
    d["context_len"] = int(context_len)
    return ModelContract.from_dict(d)


def export_untrained(
    path: str | os.PathLike,
    *,
    preset: str = "tiny",
    context_len: int = 8,
    spec=None,
    seed: int = 0,
) -> Path:
    """Export an untrained model with identity normalisation: the cost and the plumbing of a
    real model file without training one (tests and benches; its predictions mean nothing).

    Parameters
    ----------
    path : path-like
        Output ``.pt``.
    preset : str
        :meth:`ModelConfig.preset` name.
    context_len : int
        Windows per prediction (also the config's ``max_len``).
    spec : features.FeatureSpec | None
        Feature spec of the contract (default: SEED-V's).
    seed : int
        Weight initialisation seed.
    """
    from features.spec import FeatureSpec

    from .config import ModelConfig

    spec = spec or FeatureSpec()
    torch.manual_seed(seed)
    cfg = ModelConfig.preset(
        preset, max_len=context_len, n_eeg=spec.n_eeg_features, n_eye=spec.n_eye_features
    )
    norm = {
        "eeg_mean": np.zeros(cfg.n_eeg, np.float32),
        "eeg_std": np.ones(cfg.n_eeg, np.float32),
        "eye_mean": np.zeros(cfg.n_eye, np.float32),
        "eye_std": np.ones(cfg.n_eye, np.float32),
    }
    contract = ModelContract(
        feature_spec=spec,
        norm=norm,
        class_names=("Disgust", "Fear", "Sad", "Neutral", "Happy"),
        context_len=context_len,
        config=cfg,
    )
    return export_torchscript(CrossModalTransformer(cfg).eval(), contract, path)
