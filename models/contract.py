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
#: 2 added ``feature_source``. A version-1 reader would ignore that field and feed a release's
#: eye columns to the model live, so version-2 files are refused by it ("upgrade cmt-live").
FORMAT_VERSION = 2
#: Versions this cmt-live reads (1: before feature provenance; see :func:`v1_feature_source`).
READABLE_VERSIONS = (1, 2)
NORM_KEYS = ("eeg_mean", "eeg_std", "eye_mean", "eye_std")

#: Where a modality's training features came from (``ModelContract.feature_source``):
#: ``computed`` by ``features/`` from raw samples under the contract's spec (simulated data,
#: ``cmt-dataset``); ``events`` computed by ``features/`` with our definitions from a tracker's
#: own event tables (SEED-V's ``Eye_raw``; some columns absent, see ``eye_absent``);
#: ``release`` taken from a published release whose definitions differ or are unpublished
#: (SEED-V's npz without our spec); ``unknown``: a version-1 file that does not say.
COMPUTED, EVENTS, RELEASE, UNKNOWN = "computed", "events", "release", "unknown"
FEATURE_SOURCES = (COMPUTED, EVENTS, RELEASE, UNKNOWN)
#: Sources whose numbers live use reproduces (the others are masked live unless overridden).
LIVE_SOURCES = (COMPUTED, EVENTS)
MODALITIES = ("eeg", "eye")


def default_feature_source() -> dict:
    """Both modalities computed by ``features/``, no absent eye column."""
    return {"eeg": COMPUTED, "eye": COMPUTED, "eye_absent": []}


def v1_feature_source(provenance: Mapping) -> dict:
    """The feature source of a version-1 model file, which did not record one.

    ``cmt-train`` wrote ``provenance["feature_spec_source"]``: the ``cmt_sim.json`` it read
    (features computed by ``features/``), or ``"assumed: SEED-V released features ..."``
    when there was none (the release: both modalities ``release``). Without that key (a model
    exported by hand or by an older tool) nothing is known, so both are ``unknown``, which live
    use treats as ``release``: the safe default, since trusting foreign eye columns gives
    confident predictions from features that mean something else, while masking them gives an
    EEG-only prediction that says so (and ``--trust-release-eye-features`` or a re-export
    restores the eye).
    """
    src = provenance.get("feature_spec_source") if isinstance(provenance, Mapping) else None
    if isinstance(src, str) and src:
        kind = RELEASE if src.startswith("assumed") else COMPUTED
    else:
        kind = UNKNOWN
    return {"eeg": kind, "eye": kind, "eye_absent": []}


def check_feature_source(source: Mapping, eye_names) -> dict:
    """``source`` validated and normalised (a plain dict with the three keys).

    Raises
    ------
    ValueError
        Unknown keys or values, or absent eye columns that are not eye feature names.
    """
    if not isinstance(source, Mapping):
        raise ValueError(
            f"feature_source must be a dict like {default_feature_source()}; got "
            f"{type(source).__name__}."
        )
    unknown = set(source) - {*MODALITIES, "eye_absent"}
    if unknown:
        raise ValueError(
            f"feature_source has unknown keys {sorted(unknown)}; use 'eeg', 'eye' and "
            "'eye_absent' (upgrade cmt-live if the model file is newer)."
        )
    out = {}
    for m in MODALITIES:
        v = source.get(m, COMPUTED)
        if v not in FEATURE_SOURCES:
            raise ValueError(
                f"feature_source[{m!r}]={v!r} is invalid; use one of {FEATURE_SOURCES}."
            )
        out[m] = v
    absent = [str(c) for c in source.get("eye_absent") or ()]
    bad = [c for c in absent if c not in eye_names]
    if bad:
        raise ValueError(
            f"feature_source['eye_absent'] names {bad[:5]}, which are not eye features of the "
            "spec; list columns of feature_spec.eye_names."
        )
    out["eye_absent"] = absent
    return out


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
    feature_source : dict
        ``{"eeg": s, "eye": s, "eye_absent": [names]}`` with ``s`` one of
        :data:`FEATURE_SOURCES`: where the training features of each modality came from, and
        the eye columns the training data did not have (NaN there; live use feeds NaN too, which
        the model file maps to the training mean). Default: both ``computed``.
    """

    feature_spec: FeatureSpec
    norm: dict
    class_names: tuple
    context_len: int
    config: ModelConfig
    provenance: dict = field(default_factory=dict)
    feature_source: dict = field(default_factory=default_feature_source)

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
        object.__setattr__(
            self,
            "feature_source",
            check_feature_source(self.feature_source, self.feature_spec.eye_names),
        )

    def live_ready(self, modality: str) -> bool:
        """Whether live use reproduces the training features of ``modality`` ("eeg"/"eye")."""
        return self.feature_source[modality] in LIVE_SOURCES

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
            "feature_source": self.feature_source,
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
        if version not in READABLE_VERSIONS:
            raise ValueError(
                f"Model contract format_version={version!r} is not supported (this cmt-live reads "
                f"{list(READABLE_VERSIONS)}); upgrade cmt-live or re-export the model."
            )
        required = ("feature_spec", "norm", "class_names", "context_len", "config")
        missing = [k for k in required + ("feature_source",) * (version >= 2) if k not in d]
        if missing:
            raise ValueError(f"Model contract lacks {missing}; re-export the model.")
        return cls(
            feature_spec=FeatureSpec.from_dict(dict(d["feature_spec"])),
            norm={k: np.asarray(v, dtype=np.float32) for k, v in dict(d["norm"]).items()},
            class_names=tuple(d["class_names"]),
            context_len=int(d["context_len"]),
            config=ModelConfig.from_dict(dict(d["config"])),
            provenance=dict(d.get("provenance") or {}),
            feature_source=(
                d["feature_source"]
                if version >= 2
                else v1_feature_source(d.get("provenance") or {})
            ),
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
