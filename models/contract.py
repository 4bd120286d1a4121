"""The model contract: everything live use must match, embedded in the model file as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from features.spec import FeatureSpec

from .config import ModelConfig
from .jsonsafe import jsonable

FORMAT = "cmt-live-model"
FORMAT_VERSION = 1
NORM_KEYS = ("eeg_mean", "eeg_std", "eye_mean", "eye_std")


@dataclass(frozen=True)
class ModelContract:
    """What a model file promises and needs.

    Parameters
    ----------
    feature_spec : features.spec.FeatureSpec
        How the features were computed (channels and order, sfreq, window, bands, DE method,
        column order, eye feature names). Live use compares it with its own spec
        (``contract.feature_spec.mismatches(spec)``).
    norm : dict of str to ndarray
        ``eeg_mean``, ``eeg_std`` (n_eeg,) and ``eye_mean``, ``eye_std`` (n_eye,), float32,
        fitted on the training subjects; raw features are z-scored with them.
    class_names : tuple of str
        Output order of ``probs``.
    context_len : int
        Windows per prediction L (1 <= L <= config.max_len); the runtime keeps the last L.
    config : ModelConfig
        Architecture.
    provenance : dict
        Facts: data fingerprint, fold, metrics, versions; stored as
        :func:`models.jsonsafe.jsonable` makes them (NaN and Inf become ``None``).
    """

    feature_spec: FeatureSpec
    norm: dict
    class_names: tuple
    context_len: int
    config: ModelConfig
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.feature_spec, FeatureSpec):
            raise TypeError(
                f"ModelContract.feature_spec must be a features.spec.FeatureSpec, got "
                f"{type(self.feature_spec).__name__}."
            )
        if not isinstance(self.config, ModelConfig):
            raise TypeError(
                f"ModelContract.config must be a models.ModelConfig, got "
                f"{type(self.config).__name__}."
            )
        cfg = self.config
        if (self.feature_spec.n_eeg_features, self.feature_spec.n_eye_features) != (
            cfg.n_eeg,
            cfg.n_eye,
        ):
            raise ValueError(
                f"ModelContract: the feature spec gives {self.feature_spec.n_eeg_features} EEG "
                f"and {self.feature_spec.n_eye_features} eye features but the model takes "
                f"{cfg.n_eeg} and {cfg.n_eye}; export with the spec the model was trained on."
            )
        missing = [k for k in NORM_KEYS if k not in self.norm]
        if missing:
            raise ValueError(
                f"ModelContract.norm lacks {missing}; pass Normalizer.to_dict() of the "
                "training subjects."
            )
        norm = {}
        for key in NORM_KEYS:
            arr = np.asarray(self.norm[key], dtype=np.float32)
            n = cfg.n_eeg if key.startswith("eeg") else cfg.n_eye
            if arr.shape != (n,) or not np.all(np.isfinite(arr)):
                raise ValueError(
                    f"ModelContract.norm[{key!r}] must be {n} finite values; got shape "
                    f"{arr.shape}. Refit the normaliser on the training subjects."
                )
            if key.endswith("std") and np.any(arr <= 0):
                bad = np.flatnonzero(arr <= 0)[:5]
                raise ValueError(
                    f"ModelContract.norm[{key!r}] has values <= 0 (at {bad}); "
                    "standard deviations must be positive (floor them, e.g. at 1e-6)."
                )
            norm[key] = arr
        object.__setattr__(self, "norm", norm)
        names = tuple(str(c) for c in self.class_names)
        if len(names) != cfg.n_classes:
            raise ValueError(
                f"ModelContract.class_names has {len(names)} names {names} for a model with "
                f"{cfg.n_classes} classes."
            )
        object.__setattr__(self, "class_names", names)
        L = self.context_len
        if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or not 1 <= L <= cfg.max_len:
            raise ValueError(
                f"ModelContract.context_len={L!r} is invalid; use an integer in 1..{cfg.max_len} "
                "(the model's max_len)."
            )
        object.__setattr__(self, "context_len", int(L))
        object.__setattr__(self, "provenance", jsonable(dict(self.provenance or {})))

    def to_dict(self) -> dict:
        """JSON-ready dict (arrays as lists)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "feature_spec": self.feature_spec.to_dict(),
            "norm": {k: v.tolist() for k, v in self.norm.items()},
            "class_names": list(self.class_names),
            "context_len": self.context_len,
            "config": self.config.to_dict(),
            "provenance": self.provenance,
        }

    def to_json(self) -> str:
        """The contract as JSON text (what model files embed as ``contract.json``)."""
        return json.dumps(self.to_dict(), indent=1, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping) -> ModelContract:
        """Inverse of :meth:`to_dict`."""
        fmt = d.get("format") if isinstance(d, Mapping) else None
        if fmt != FORMAT:
            raise ValueError(
                f"Not a cmt-live model contract (format={fmt!r}, "
                f"expected {FORMAT!r}); re-export the model with models.export_torchscript."
            )
        version = d.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(
                f"Model contract format_version={version!r} is not supported (this cmt-live reads "
                f"{FORMAT_VERSION}); upgrade cmt-live or re-export the model."
            )
        missing = [
            k
            for k in ("feature_spec", "norm", "class_names", "context_len", "config")
            if k not in d
        ]
        if missing:
            raise ValueError(f"Model contract lacks {missing}; re-export the model.")
        return cls(
            feature_spec=FeatureSpec.from_dict(dict(d["feature_spec"])),
            norm={k: np.asarray(v, dtype=np.float32) for k, v in dict(d["norm"]).items()},
            class_names=tuple(d["class_names"]),
            context_len=int(d["context_len"]),
            config=ModelConfig.from_dict(dict(d["config"])),
            provenance=dict(d.get("provenance") or {}),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelContract:
        """Inverse of :meth:`to_json`."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"Model contract is not valid JSON ({err}); re-export the model."
            ) from err
        return cls.from_dict(d)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelContract):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # mutable numpy arrays inside
