"""Import a state_dict saved by the seed repository's ``CrossModalTransformer``.

The seed (torchgreedy/Cross-Modal-Transformer-for-Robust-Emotion-Recognition) saves
``model.state_dict()`` with its own module names; :class:`models.CrossModalTransformer` with
``variant="seed"`` uses the same names and the same forward pass, so the import is a
``load_state_dict`` after reading the sizes off the tensors. Its checkpoints carry no
normalisation statistics: compute them from the training subjects of that fold before
exporting (``models.datasets.Normalizer.fit``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from .config import ModelConfig
from .transformer import CrossModalTransformer

_REQUIRED = (
    "eeg_projection.weight",
    "eye_projection.weight",
    "pos_encoding.pe",
    "classifier.6.weight",
    "domain_adaptation.domain_classifier.6.weight",
)


def seed_config(state_dict: Mapping[str, torch.Tensor], *, n_heads: int = 8) -> ModelConfig:
    """The :class:`ModelConfig` (``variant="seed"``) a seed state_dict was built with.

    Parameters
    ----------
    state_dict : mapping of str to Tensor
    n_heads : int
        Attention heads. Weights do not record how they are split into heads, so this cannot
        be inferred; the seed's published configuration uses 8.

    Returns
    -------
    ModelConfig
    """
    missing = [k for k in _REQUIRED if k not in state_dict]
    if missing:
        raise ValueError(
            f"Not a seed CrossModalTransformer state_dict: keys {missing} are missing "
            f"(got {len(state_dict)} keys, e.g. {list(state_dict)[:3]}). Pass the dict saved by "
            "the seed's torch.save(model.state_dict(), ...)."
        )
    d_model, n_eeg = state_dict["eeg_projection.weight"].shape
    n_eye = state_dict["eye_projection.weight"].shape[1]
    layers = {
        int(m.group(1))
        for k in state_dict
        if (m := re.match(r"eeg_encoder\.(\d+)\.", k)) is not None
    }
    if not layers:
        raise ValueError("Seed state_dict has no eeg_encoder.N.* keys; the file is incomplete.")
    if d_model % n_heads:
        raise ValueError(
            f"n_heads={n_heads} does not divide the state_dict's d_model={d_model}; pass the "
            "n_heads the checkpoint was trained with."
        )
    return ModelConfig(
        n_eeg=int(n_eeg),
        n_eye=int(n_eye),
        n_classes=int(state_dict["classifier.6.weight"].shape[0]),
        d_model=int(d_model),
        n_heads=int(n_heads),
        n_layers=max(layers) + 1,
        dropout=0.1,
        max_len=int(state_dict["pos_encoding.pe"].shape[1]),
        variant="seed",
        n_domains=int(state_dict["domain_adaptation.domain_classifier.6.weight"].shape[0]),
    )


def load_seed_state_dict(
    state_dict: Mapping[str, torch.Tensor] | str | Path, *, n_heads: int = 8
) -> CrossModalTransformer:
    """Build the seed's architecture from one of its state_dicts, in eval mode.

    Parameters
    ----------
    state_dict : mapping of str to Tensor, or path
        What the seed saved (``torch.save(model.state_dict(), path)``), or that file's path
        (read with ``torch.load(weights_only=True)``). A ``module.`` prefix (DataParallel) is
        stripped.
    n_heads : int
        Attention heads (not recorded in the weights; the seed's published value is 8).

    Returns
    -------
    CrossModalTransformer
        ``variant="seed"``, eval mode, on CPU. ``module(eeg, eye, eeg_mask, eye_mask)`` with
        zero-padded inputs gives the seed's ``emotion_logits`` as ``"logits"`` (the seed's
        inference path: no subject groups, so ``domain_adaptation.default_norm``).
    """
    if isinstance(state_dict, (str, Path)):
        path = Path(state_dict)
        if not path.is_file():
            raise FileNotFoundError(f"Seed checkpoint {path} does not exist; check the path.")
        try:
            state_dict = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ValueError(
                f"Could not read seed checkpoint {path} with torch.load(weights_only=True): "
                f"{err}. If it is a Git LFS pointer, run `git lfs pull` first."
            ) from err
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"load_seed_state_dict needs a state_dict (mapping of names to tensors) or a path, "
            f"got {type(state_dict).__name__}."
        )
    sd = {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state_dict.items()}
    cfg = seed_config(sd, n_heads=n_heads)
    model = CrossModalTransformer(cfg)
    try:
        result = model.load_state_dict(sd, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise ValueError(
            f"The state_dict does not fit the seed architecture inferred from it ({cfg}): "
            f"{err}. Is it a seed CrossModalTransformer checkpoint?"
        ) from err
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            "The state_dict does not match the seed architecture inferred from it "
            f"({cfg}): missing {result.missing_keys[:8]}, unexpected "
            f"{result.unexpected_keys[:8]}. Is it a seed CrossModalTransformer checkpoint?"
        )
    return model.eval()
