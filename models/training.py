"""Leave-one-subject-out (LOSO) training of the cross-modal transformer on SEED-V features.

What a run does, and why it is honest:

- One fold per subject found (scikit-learn's ``LeaveOneGroupOut`` over subject groups).
- Validation is made of *whole subjects* drawn (seeded) from the fold's training subjects, never
  the test subject. The seed repository validated on random trials of its training subjects and
  reported its last epoch; here the epoch kept is the best on the validation subjects.
- Normalisation statistics (per-feature mean/std) are fitted on the training subjects only.
- The held-out subject is scored once, after training chose everything it chooses.
- Training draws random sub-sequences of trials (length ``1..max_len``, random start) so short
  live contexts classify, and modality dropout so EEG-only and eye-only inputs classify.
- AdamW, linear warm-up then cosine decay, the DANN alpha schedule
  ``alpha = 2 / (1 + exp(-10 p)) - 1`` (``p`` = training progress), gradient clipping, AMP on
  CUDA (off on CPU); loss = CE(emotion) + ``domain_weight`` * CE(subject of the training fold).

The deployment model (``model.pt``) is trained after the folds on every subject except a
validation set drawn the same way, for the median best epoch of the folds (an epoch budget that
no test subject chose), keeping the best-on-validation weights inside that budget. Its expected
accuracy on a new subject is the LOSO estimate; its validation score is not a test score.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .datasets import Normalizer, TrialLike, TrialSequenceDataset, collate, pad_sequences

logger = logging.getLogger("cmt_live")

#: Training presets; ``seed`` is the seed repository's published configuration.
TRAIN_PRESETS: dict[str, dict] = {
    "seed": dict(epochs=50, batch_size=32, lr=1e-4, weight_decay=1e-4, domain_weight=0.1),
    "small": dict(epochs=10, batch_size=32, lr=5e-4, weight_decay=1e-4, domain_weight=0.1),
    "tiny": dict(epochs=2, batch_size=16, lr=1e-3, weight_decay=1e-4, domain_weight=0.1),
}

#: Streaming context lengths reported (windows); ``max_len`` is appended as L_max.
DEFAULT_CONTEXT_LENGTHS: tuple[int, ...] = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of a run (the model's sizes live in ``models.ModelConfig``).

    Parameters
    ----------
    preset : str
        Name of the preset the values came from (``seed``, ``small``, ``tiny``).
    epochs, batch_size : int
    lr, weight_decay : float
        AdamW.
    domain_weight : float
        Weight of the subject (domain) cross-entropy behind gradient reversal.
    warmup_frac : float
        Fraction of the steps spent in linear warm-up before the cosine decay.
    grad_clip : float
        Max gradient norm.
    p_drop_eeg, p_drop_eye : float
        Modality dropout probabilities (exclusive: never both).
    random_crop : bool
        Train on random sub-sequences of trials.
    n_val_subjects : int | None
        Validation subjects per fold; ``None`` = 2, or 1 with fewer than 8 subjects.
    seed : int
    context_lengths : tuple of int
        Streaming context lengths L to report (``max_len`` is always added).
    eval_batch_size : int
    """

    preset: str = "seed"
    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 1e-4
    domain_weight: float = 0.1
    warmup_frac: float = 0.05
    grad_clip: float = 1.0
    p_drop_eeg: float = 0.15
    p_drop_eye: float = 0.15
    random_crop: bool = True
    n_val_subjects: int | None = None
    seed: int = 0
    context_lengths: tuple[int, ...] = DEFAULT_CONTEXT_LENGTHS
    eval_batch_size: int = 64

    def __post_init__(self) -> None:
        if self.preset not in TRAIN_PRESETS:
            raise ValueError(
                f"preset={self.preset!r} is invalid; use one of {sorted(TRAIN_PRESETS)}."
            )
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)} is invalid; use an integer >= 1.")
        if self.lr <= 0:
            raise ValueError(f"lr={self.lr} is invalid; use a positive learning rate.")
        if not 0 <= self.warmup_frac < 1:
            raise ValueError(f"warmup_frac={self.warmup_frac} is invalid; use a value in [0, 1).")
        if self.n_val_subjects is not None and self.n_val_subjects < 1:
            raise ValueError(
                f"n_val_subjects={self.n_val_subjects} is invalid; use >= 1 or None (auto)."
            )
        if any(int(c) < 1 for c in self.context_lengths):
            raise ValueError(f"context_lengths={self.context_lengths} must all be >= 1 window.")
        object.__setattr__(self, "context_lengths", tuple(int(c) for c in self.context_lengths))

    @classmethod
    def from_preset(cls, name: str, **overrides) -> TrainConfig:
        """The preset's values, then ``overrides`` (``None`` values are ignored)."""
        if name not in TRAIN_PRESETS:
            raise ValueError(f"preset={name!r} is invalid; use one of {sorted(TRAIN_PRESETS)}.")
        kw = dict(TRAIN_PRESETS[name], preset=name)
        kw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kw)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["context_lengths"] = list(self.context_lengths)
        return d


# ----------------------------------------------------------------------------------- splits
@dataclass(frozen=True)
class Fold:
    """One LOSO fold: its test subject, validation subjects and training subjects."""

    index: int  # 0-based position in the LOSO order
    test_subject: int
    val_subjects: tuple[int, ...]
    train_subjects: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"fold_{self.index + 1:02d}_subject_{self.test_subject:02d}"


def auto_n_val(n_subjects: int) -> int:
    """2 validation subjects, or 1 when there are fewer than 8 subjects."""
    return 2 if n_subjects >= 8 else 1


def loso_folds(subjects: Sequence[int], *, n_val: int | None = None, seed: int = 0) -> list[Fold]:
    """Leave-one-subject-out folds with whole-subject validation sets.

    Parameters
    ----------
    subjects : sequence of int
        Subject ids (duplicates allowed: e.g. one per trial).
    n_val : int | None
        Validation subjects per fold, drawn from the fold's non-test subjects; default
        :func:`auto_n_val`.
    seed : int
        The draw of fold ``k`` depends only on ``(seed, test subject)``.

    Returns
    -------
    list of Fold
        In scikit-learn's ``LeaveOneGroupOut`` order (sorted test subjects).
    """
    from sklearn.model_selection import LeaveOneGroupOut

    groups = np.asarray(sorted({int(s) for s in subjects}))
    if groups.size < 3:
        raise ValueError(
            f"LOSO needs at least 3 subjects (1 test, 1 validation, 1 training); found "
            f"{groups.size}: {groups.tolist()}. Add subjects (e.g. `cmt-sim dataset --subjects 3`)."
        )
    n_val = auto_n_val(groups.size) if n_val is None else int(n_val)
    if not 1 <= n_val <= groups.size - 2:
        raise ValueError(
            f"n_val={n_val} validation subjects is invalid with {groups.size} subjects; use "
            f"1..{groups.size - 2} so each fold keeps a training subject."
        )
    folds = []
    logo = LeaveOneGroupOut()
    for index, (rest_idx, test_idx) in enumerate(logo.split(np.zeros(groups.size), groups=groups)):
        test = int(groups[test_idx][0])
        rest = groups[rest_idx]
        rng = np.random.default_rng([seed, test])
        val = tuple(sorted(int(s) for s in rng.choice(rest, size=n_val, replace=False)))
        train = tuple(int(s) for s in rest if int(s) not in val)
        folds.append(Fold(index, test, val, train))
    return folds


def deployment_split(
    subjects: Sequence[int], *, n_val: int | None = None, seed: int = 0
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(train, val) subjects of the deployment model: every subject, minus a seeded val draw."""
    groups = sorted({int(s) for s in subjects})
    if len(groups) < 2:
        raise ValueError(f"The deployment model needs >= 2 subjects; found {groups}.")
    n_val = min(auto_n_val(len(groups)) if n_val is None else int(n_val), len(groups) - 1)
    rng = np.random.default_rng([seed, 0xDE91])
    val = tuple(sorted(int(s) for s in rng.choice(groups, size=n_val, replace=False)))
    return tuple(s for s in groups if s not in val), val


# -------------------------------------------------------------------------------- schedules
def dann_alpha(progress: float) -> float:
    """Gradient-reversal strength ``2 / (1 + exp(-10 p)) - 1`` for training progress ``p``."""
    p = min(max(float(progress), 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0


def warmup_cosine(step: int, total_steps: int, warmup_steps: int) -> float:
    """LR multiplier: linear warm-up ``(step+1)/warmup``, then cosine from 1 to 0."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(total_steps - warmup_steps, 1)
    p = min(max((step - warmup_steps) / span, 0.0), 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * p))


def progress_bar(*, total: int, desc: str, enabled: bool):
    """A tqdm bar on stderr, shown only when ``enabled`` and stderr is a terminal."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        file=sys.stderr,
        disable=not (enabled and sys.stderr.isatty()),
        leave=False,
        dynamic_ncols=True,
    )


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else is checked."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device={device!r} is invalid; use auto, cpu, cuda or cuda:N.") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} asked for CUDA but none is available; use auto/cpu.")
    return dev


# ------------------------------------------------------------------------------- evaluation
#: ``predict(eeg (B,T,310), eye (B,T,33), eeg_mask (B,T), eye_mask (B,T)) -> probs (B,5)``.
PredictFn = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def predict_sequences(
    predict: PredictFn,
    eeg_list: Sequence[np.ndarray],
    eye_list: Sequence[np.ndarray],
    *,
    batch_size: int = 64,
    pad_to: int | None = None,
    drop: str | None = None,
) -> np.ndarray:
    """Class probabilities of each sequence, batched by similar length.

    Parameters
    ----------
    predict : PredictFn
    eeg_list, eye_list : sequences of ndarray, shapes (T_i, n_eeg) and (T_i, n_eye)
    batch_size : int
    pad_to : int | None
        Pad every batch to this length (the seed pads whole trials to 74); default the batch's
        longest sequence.
    drop : {None, "eeg", "eye"}
        Evaluate with that modality missing (mask and features zero).

    Returns
    -------
    ndarray, shape (n_sequences, n_classes)
    """
    n = len(eeg_list)
    order = np.argsort([x.shape[0] for x in eeg_list], kind="stable")
    out: list[np.ndarray | None] = [None] * n
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        eeg, eye, m_eeg, m_eye = pad_sequences(
            [eeg_list[i] for i in idx], [eye_list[i] for i in idx], pad_to=pad_to
        )
        if drop == "eeg":
            eeg[:], m_eeg[:] = 0.0, 0.0
        elif drop == "eye":
            eye[:], m_eye[:] = 0.0, 0.0
        probs = np.asarray(predict(eeg, eye, m_eeg, m_eye))
        for j, i in enumerate(idx):
            out[i] = probs[j]
    return np.stack(out)


def causal_contexts(x: np.ndarray, context_len: int) -> list[np.ndarray]:
    """For each window t: ``x[max(0, t - L + 1) : t + 1]`` (what live sees after window t)."""
    return [x[max(0, t - context_len + 1) : t + 1] for t in range(x.shape[0])]


def score_trials(
    predict: PredictFn,
    trials: Sequence[TrialLike],
    *,
    max_len: int = 74,
    context_lengths: Sequence[int] = DEFAULT_CONTEXT_LENGTHS,
    batch_size: int = 64,
    n_classes: int = 5,
    modality_ablation: bool = True,
) -> dict:
    """Trial-level and streaming accuracy of ``predict`` on ``trials``.

    Trial level (as the seed reports it): one prediction per trial from its first ``max_len``
    windows, zero-padded to ``max_len`` with masks. Streaming: for every window ``t`` of every
    trial, one prediction from the causal context of the last ``L`` windows (shorter at the
    start of a trial), accuracy over all windows, for each ``L``.

    Returns
    -------
    dict
        ``trial_acc``, ``n_trials``, ``confusion`` (true x predicted counts), ``trial_pred``,
        ``trial_label``, ``streaming_acc`` {L: acc}, ``n_windows``, and with
        ``modality_ablation`` ``trial_acc_eeg_only`` / ``trial_acc_eye_only``.
    """
    if len(trials) == 0:
        raise ValueError("score_trials got no trials.")
    labels = np.array([int(t.label) for t in trials])
    eeg = [np.asarray(t.eeg)[:max_len] for t in trials]
    eye = [np.asarray(t.eye)[:max_len] for t in trials]
    probs = predict_sequences(predict, eeg, eye, batch_size=batch_size, pad_to=max_len)
    pred = probs.argmax(axis=1)
    conf = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(conf, (labels, pred), 1)
    out = {
        "trial_acc": float(np.mean(pred == labels)),
        "n_trials": len(trials),
        "confusion": conf.tolist(),
        "trial_pred": pred.tolist(),
        "trial_label": labels.tolist(),
    }
    if modality_ablation:
        for drop, key in (("eye", "trial_acc_eeg_only"), ("eeg", "trial_acc_eye_only")):
            p = predict_sequences(
                predict, eeg, eye, batch_size=batch_size, pad_to=max_len, drop=drop
            ).argmax(axis=1)
            out[key] = float(np.mean(p == labels))
    lengths = sorted({int(c) for c in context_lengths if int(c) <= max_len} | {int(max_len)})
    streaming = {}
    for L in lengths:
        ctx_eeg, ctx_eye, ctx_lab = [], [], []
        for t in trials:
            ctx_eeg += causal_contexts(np.asarray(t.eeg), L)
            ctx_eye += causal_contexts(np.asarray(t.eye), L)
            ctx_lab += [int(t.label)] * np.asarray(t.eeg).shape[0]
        p = predict_sequences(predict, ctx_eeg, ctx_eye, batch_size=batch_size * 4)
        streaming[str(L)] = float(np.mean(p.argmax(axis=1) == np.asarray(ctx_lab)))
    out["streaming_acc"] = streaming
    out["n_windows"] = int(sum(np.asarray(t.eeg).shape[0] for t in trials))
    return out


def eager_predictor(model: nn.Module, norm: Normalizer, device: torch.device) -> PredictFn:
    """A :data:`PredictFn` over raw features: normalise, run the eager model, softmax."""

    def predict(eeg, eye, eeg_mask, eye_mask):
        e, y = norm.transform(eeg, eye)
        # Padding and missing modalities stay exactly zero after normalisation.
        e = e * eeg_mask[..., None]
        y = y * eye_mask[..., None]
        with torch.no_grad():
            out = model(
                torch.from_numpy(e).to(device),
                torch.from_numpy(y).to(device),
                torch.from_numpy(eeg_mask).to(device),
                torch.from_numpy(eye_mask).to(device),
            )
        return torch.softmax(out["logits"].float(), dim=-1).cpu().numpy()

    return predict


# ---------------------------------------------------------------------------------- training
@dataclass
class FoldTraining:
    """What :func:`train_model` returns."""

    model: nn.Module  # best-on-validation weights, eval mode, on the training device
    norm: Normalizer
    model_config: object  # models.ModelConfig with n_domains set
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0  # 1-based
    best_val_acc: float = float("nan")
    wall_s: float = 0.0


def _set_seed(seed: int) -> None:
    # Dropout and initialisation draw from torch's global generator; the data draws use
    # their own numpy Generators keyed on (seed, epoch, index).
    torch.manual_seed(seed)


def train_model(
    train_trials: Sequence[TrialLike],
    val_trials: Sequence[TrialLike],
    model_config,
    cfg: TrainConfig,
    *,
    epochs: int | None = None,
    device: str | torch.device = "auto",
    seed: int | None = None,
    progress: bool = False,
    desc: str = "train",
) -> FoldTraining:
    """Train one model; keep the epoch with the best validation trial accuracy.

    Parameters
    ----------
    train_trials : sequence of Trial
        Training subjects' trials (normalisation is fitted on these only).
    val_trials : sequence of Trial
        Validation subjects' trials (whole trials scored each epoch; ties broken by loss).
    model_config : models.ModelConfig
        ``n_domains`` is replaced by the number of training subjects.
    cfg : TrainConfig
    epochs : int | None
        Override ``cfg.epochs`` (the deployment model uses the folds' median best epoch).
    device : str | torch.device
    seed : int | None
        Torch/numpy seed of this training (default ``cfg.seed``).
    progress : bool
        tqdm bar on stderr.
    """
    from models import CrossModalTransformer

    if len(train_trials) == 0 or len(val_trials) == 0:
        raise ValueError(
            f"train_model needs training and validation trials; got {len(train_trials)} and "
            f"{len(val_trials)}. Check the subjects of the split."
        )
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    n_epochs = int(cfg.epochs if epochs is None else epochs)
    seed = cfg.seed if seed is None else int(seed)
    t0 = time.perf_counter()
    _set_seed(seed)

    norm = Normalizer.fit(train_trials)
    train_subjects = sorted({int(t.subject) for t in train_trials})
    domains = {s: i for i, s in enumerate(train_subjects)}
    mcfg = replace(model_config, n_domains=len(domains))
    max_len = int(mcfg.max_len)
    train_ds = TrialSequenceDataset(
        train_trials,
        norm,
        max_len=max_len,
        domains=domains,
        random_crop=cfg.random_crop,
        p_drop_eeg=cfg.p_drop_eeg,
        p_drop_eye=cfg.p_drop_eye,
        seed=seed,
    )
    val_ds = TrialSequenceDataset(val_trials, norm, max_len=max_len)
    val_batch = collate([val_ds[i] for i in range(len(val_ds))], pad_to=max_len)

    model = CrossModalTransformer(mcfg).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train_ds) / cfg.batch_size)
    total_steps = n_epochs * steps_per_epoch
    warmup_steps = round(cfg.warmup_frac * total_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: warmup_cosine(s, total_steps, warmup_steps)
    )
    use_amp = dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    ce = nn.CrossEntropyLoss()

    best_key = (-1.0, -math.inf)
    best_state = None
    result = FoldTraining(model=model, norm=norm, model_config=mcfg)
    step = 0
    bar = progress_bar(total=total_steps, desc=desc, enabled=progress)
    try:
        for epoch in range(n_epochs):
            model.train()
            train_ds.set_epoch(epoch)
            perm = np.random.default_rng([seed, epoch, 7]).permutation(len(train_ds))
            sums = {"loss": 0.0, "ce": 0.0, "domain": 0.0}
            n_seen = 0
            for b in range(steps_per_epoch):
                idx = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
                batch = {k: v.to(dev) for k, v in collate([train_ds[i] for i in idx]).items()}
                alpha = dann_alpha(step / max(total_steps, 1))
                with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=use_amp):
                    out = model.train_forward(
                        batch["eeg"], batch["eye"], batch["eeg_mask"], batch["eye_mask"], alpha
                    )
                loss_ce = ce(out["logits"].float(), batch["label"])
                loss_dom = ce(out["domain_logits"].float(), batch["domain"])
                loss = loss_ce + cfg.domain_weight * loss_dom
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"{desc}: non-finite training loss at epoch {epoch + 1}, step {b + 1} "
                        f"(ce={loss_ce.item()}, domain={loss_dom.item()}); lower the learning "
                        f"rate (lr={cfg.lr}) or check the features for NaN/Inf."
                    )
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                scaler.step(opt)
                scaler.update()
                sched.step()
                step += 1
                k = len(idx)
                n_seen += k
                sums["loss"] += loss.item() * k
                sums["ce"] += loss_ce.item() * k
                sums["domain"] += loss_dom.item() * k
                bar.update(1)
            val_acc, val_loss = _validate(model, val_batch, dev, ce)
            rec = {
                "epoch": epoch + 1,
                "train_loss": sums["loss"] / n_seen,
                "train_ce": sums["ce"] / n_seen,
                "train_domain": sums["domain"] / n_seen,
                "val_acc": val_acc,
                "val_loss": val_loss,
                "lr": float(opt.param_groups[0]["lr"]),
                "alpha": dann_alpha(step / max(total_steps, 1)),
            }
            result.history.append(rec)
            bar.set_postfix(loss=f"{rec['train_loss']:.3f}", val_acc=f"{val_acc:.3f}")
            logger.debug("%s epoch %d: %s", desc, epoch + 1, rec)
            key = (val_acc, -val_loss)
            if key > best_key:
                best_key = key
                result.best_epoch = epoch + 1
                result.best_val_acc = val_acc
                best_state = copy.deepcopy(model.state_dict())
    finally:
        bar.close()
    model.load_state_dict(best_state)
    model.eval()
    result.wall_s = time.perf_counter() - t0
    return result


def _validate(model: nn.Module, batch: dict, dev: torch.device, ce) -> tuple[float, float]:
    model.eval()
    b = {k: v.to(dev) for k, v in batch.items()}
    with torch.no_grad():
        out = model(b["eeg"], b["eye"], b["eeg_mask"], b["eye_mask"])
        logits = out["logits"].float()
        loss = ce(logits, b["label"]).item()
        acc = (logits.argmax(dim=1) == b["label"]).float().mean().item()
    return float(acc), float(loss)


# ------------------------------------------------------------------------------------ export
def load_feature_spec(data_root: str | Path):
    """The FeatureSpec of a data directory, and where it came from.

    ``cmt_sim.json`` beside the data (written by ``cmt-sim dataset``) holds the spec the
    simulator computed features with. Without it the directory is taken to be SEED-V's release,
    whose DE features are LDS-smoothed (``FeatureSpec(smoothing="lds")``; SEEDV.md §6): a model
    trained on them expects smoothed features live too.

    Returns
    -------
    spec : features.spec.FeatureSpec
    source : str
    """
    from features.seedv import SPEC_FILE
    from features.spec import FeatureSpec

    path = Path(data_root) / SPEC_FILE
    if path.is_file():
        try:
            meta = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err}); regenerate the dataset.") from err
        spec_dict = meta.get("feature_spec", meta) if isinstance(meta, dict) else None
        if not isinstance(spec_dict, dict):
            raise ValueError(f"{path} holds no feature_spec object; regenerate the dataset.")
        known = set(FeatureSpec.__dataclass_fields__)
        return FeatureSpec.from_dict({k: v for k, v in spec_dict.items() if k in known}), str(path)
    return FeatureSpec(smoothing="lds"), "assumed: SEED-V released features (LDS-smoothed DE)"


def export_model(
    trained: FoldTraining,
    path: Path,
    *,
    feature_spec,
    provenance: dict,
) -> Path:
    """Export the best weights as one TorchScript file with its contract (models API)."""
    from features.seedv import CLASS_NAMES
    from models import ModelContract, export_torchscript

    model = trained.model.to("cpu").eval()
    contract = ModelContract(
        feature_spec=feature_spec,
        norm=trained.norm.to_dict(),
        class_names=tuple(CLASS_NAMES),
        context_len=int(trained.model_config.max_len),
        config=trained.model_config,
        provenance=provenance,
    )
    export_torchscript(model, contract, path)
    return Path(path)


def sanitize(obj):
    """JSON-ready copy: numpy scalars/arrays to Python, tuples to lists."""
    if isinstance(obj, dict):
        return {str(k): sanitize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [sanitize(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# ------------------------------------------------------------------------------ LOSO runner
STATE_FILE = "state.json"
DEPLOYMENT = "deployment"


def _fold_seed(seed: int, test_subject: int) -> int:
    # One seed per (run seed, test subject): a resumed run trains a fold exactly as a fresh one.
    return int(seed) * 100_003 + int(test_subject)


def _atomic_write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(sanitize(obj), indent=2))
    tmp.replace(path)


def _run_identity(cfg: TrainConfig, model_config, fingerprint: str) -> dict:
    return sanitize(
        {
            "train_config": cfg.to_dict(),
            "model_config": asdict(model_config),
            "data_fingerprint": fingerprint,
        }
    )


def _load_state(out: Path, identity: dict) -> dict:
    path = out / STATE_FILE
    if not path.is_file():
        return {"identity": identity, "finished": {}}
    try:
        state = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path} is corrupt ({err}); delete it to retrain every fold, or use another --out."
        ) from err
    old = state.get("identity", {})
    if old != identity:
        diffs = []
        for key in identity:
            a, b = old.get(key), identity[key]
            if isinstance(a, dict) and isinstance(b, dict):
                diffs += [
                    f"{key}.{k}: {a.get(k)!r} -> {b.get(k)!r}"
                    for k in sorted(set(a) | set(b))
                    if a.get(k) != b.get(k)
                ]
            elif a != b:
                diffs.append(f"{key}: {a!r} -> {b!r}")
        raise ValueError(
            f"{out} holds a run with other settings or data ({'; '.join(diffs)}); resuming would "
            "mix models. Use another --out, or delete the run folder to start over."
        )
    return state


def _finished_result(out: Path, state: dict, name: str, model_file: str) -> dict | None:
    rel = state["finished"].get(name)
    if rel is None or not (out / rel).is_file() or not (out / model_file).is_file():
        return None
    return json.loads((out / rel).read_text())


def _provenance(
    *,
    fingerprint: str,
    fold: str,
    test_subject: int | None,
    val_subjects,
    train_subjects,
    metrics: dict,
    cfg: TrainConfig,
    spec_source: str,
) -> dict:
    import cmt_live

    return sanitize(
        {
            "data_fingerprint": fingerprint,
            "fold": fold,
            "test_subject": test_subject,
            "val_subjects": list(val_subjects),
            "train_subjects": list(train_subjects),
            "metrics": metrics,
            "cmt_live_version": cmt_live.__version__,
            "torch_version": torch.__version__,
            "train_config": cfg.to_dict(),
            "feature_spec_source": spec_source,
        }
    )


def run_loso(
    data,
    out_dir: str | Path,
    cfg: TrainConfig,
    *,
    model_config=None,
    folds_limit: int | None = None,
    device: str = "auto",
    progress: bool = False,
    final: bool = True,
    data_root: str | Path | None = None,
) -> dict:
    """Run (or resume) LOSO training and write the run folder.

    Parameters
    ----------
    data : models.seedv.SeedVData
        ``.trials``, ``.subjects``, ``.subject_trials(s)``, ``.fingerprint``, ``.issues``.
    out_dir : str | Path
        Run folder: ``fold_XX_subject_YY.{pt,json}``, ``model.pt``, ``metrics.json``,
        ``report.md``, ``confusion_matrix.png``, ``per_subject.png``, ``curves.png``,
        ``state.json`` (resume bookkeeping).
    cfg : TrainConfig
    model_config : models.ModelConfig | None
        Default ``ModelConfig.preset(cfg.preset)``.
    folds_limit : int | None
        Run only the first K folds (tests, timing estimates). The deployment model is trained
        only once every fold is done.
    device : str
        ``auto``, ``cpu``, ``cuda``...
    progress : bool
        tqdm bars on stderr (only when it is a terminal).
    final : bool
        Train the deployment model ``model.pt`` after the folds.
    data_root : str | Path | None
        Where to look for ``cmt_sim.json`` (default ``data.root``).

    Returns
    -------
    dict
        The content of ``metrics.json``.
    """
    from models import ModelConfig

    from .report import write_report

    t_run = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if model_config is None:
        model_config = ModelConfig.preset(cfg.preset)
    spec, spec_source = load_feature_spec(data_root if data_root is not None else data.root)
    subjects = list(data.subjects)
    folds = loso_folds(subjects, n_val=cfg.n_val_subjects, seed=cfg.seed)
    if folds_limit is not None and folds_limit < 1:
        raise ValueError(f"folds_limit={folds_limit} is invalid; use >= 1 or None (all folds).")
    planned = folds if folds_limit is None else folds[:folds_limit]
    identity = _run_identity(cfg, model_config, data.fingerprint)
    state = _load_state(out, identity)
    dev = resolve_device(device)
    by_subject = {s: data.subject_trials(s) for s in subjects}
    max_len = int(model_config.max_len)
    logger.info(
        "LOSO: %d subjects, %d of %d folds, preset %s, device %s, run folder %s",
        len(subjects),
        len(planned),
        len(folds),
        cfg.preset,
        dev,
        out,
    )

    fold_results = []
    for fold in planned:
        model_file = f"{fold.name}.pt"
        res = _finished_result(out, state, fold.name, model_file)
        if res is not None:
            logger.info("%s already finished; skipping (resume).", fold.name)
            fold_results.append(res)
            continue
        train = [t for s in fold.train_subjects for t in by_subject[s]]
        val = [t for s in fold.val_subjects for t in by_subject[s]]
        test = by_subject[fold.test_subject]
        trained = train_model(
            train,
            val,
            model_config,
            cfg,
            device=dev,
            seed=_fold_seed(cfg.seed, fold.test_subject),
            progress=progress,
            desc=f"fold {fold.index + 1}/{len(folds)} (subject {fold.test_subject})",
        )
        # The held-out subject is scored once, with the weights chosen on validation.
        scores = score_trials(
            eager_predictor(trained.model, trained.norm, dev),
            test,
            max_len=max_len,
            context_lengths=cfg.context_lengths,
            batch_size=cfg.eval_batch_size,
        )
        res = {
            "fold": fold.index + 1,
            "name": fold.name,
            "test_subject": fold.test_subject,
            "val_subjects": list(fold.val_subjects),
            "train_subjects": list(fold.train_subjects),
            "best_epoch": trained.best_epoch,
            "best_val_acc": trained.best_val_acc,
            "epochs": len(trained.history),
            "history": trained.history,
            "wall_s": trained.wall_s,
            "model_file": model_file,
            "test": scores,
        }
        export_model(
            trained,
            out / model_file,
            feature_spec=spec,
            provenance=_provenance(
                fingerprint=data.fingerprint,
                fold=fold.name,
                test_subject=fold.test_subject,
                val_subjects=fold.val_subjects,
                train_subjects=fold.train_subjects,
                metrics={
                    "trial_acc": scores["trial_acc"],
                    "streaming_acc": scores["streaming_acc"],
                    "best_val_acc": trained.best_val_acc,
                    "best_epoch": trained.best_epoch,
                },
                cfg=cfg,
                spec_source=spec_source,
            ),
        )
        _atomic_write_json(out / f"{fold.name}.json", res)
        state["finished"][fold.name] = f"{fold.name}.json"
        _atomic_write_json(out / STATE_FILE, state)
        logger.info(
            "%s: test subject %d trial accuracy %.3f (best epoch %d, val %.3f, %.0f s)",
            fold.name,
            fold.test_subject,
            scores["trial_acc"],
            trained.best_epoch,
            trained.best_val_acc,
            trained.wall_s,
        )
        fold_results.append(res)

    complete = len(planned) == len(folds)
    deployment = None
    if final and complete:
        deployment = _finished_result(out, state, DEPLOYMENT, "model.pt")
        if deployment is None:
            deployment = _train_deployment(
                data, out, cfg, model_config, fold_results, dev, spec, spec_source, progress
            )
            state["finished"][DEPLOYMENT] = "model.json"
            _atomic_write_json(out / STATE_FILE, state)
        else:
            logger.info("Deployment model already trained; skipping (resume).")

    metrics = build_metrics(
        data=data,
        cfg=cfg,
        model_config=model_config,
        folds_total=len(folds),
        fold_results=fold_results,
        deployment=deployment,
        device=str(dev),
        spec=spec,
        spec_source=spec_source,
        wall_s=time.perf_counter() - t_run,
    )
    write_report(out, metrics)
    return metrics


def _train_deployment(
    data, out: Path, cfg, model_config, fold_results, dev, spec, spec_source, progress
) -> dict:
    """``model.pt``: all subjects but a validation draw, for the folds' median best epoch."""
    epochs = max(1, round(float(np.median([r["best_epoch"] for r in fold_results]))))
    train_s, val_s = deployment_split(data.subjects, n_val=cfg.n_val_subjects, seed=cfg.seed)
    train = [t for t in data.trials if t.subject in train_s]
    val = [t for t in data.trials if t.subject in val_s]
    trained = train_model(
        train,
        val,
        model_config,
        cfg,
        epochs=epochs,
        device=dev,
        seed=_fold_seed(cfg.seed, 0),
        progress=progress,
        desc=f"deployment ({epochs} epochs)",
    )
    accs = [r["test"]["trial_acc"] for r in fold_results]
    loso = {"trial_acc_mean": float(np.mean(accs)), "trial_acc_std": float(np.std(accs))}
    res = {
        "name": DEPLOYMENT,
        "model_file": "model.pt",
        "train_subjects": list(train_s),
        "val_subjects": list(val_s),
        "epochs": epochs,
        "best_epoch": trained.best_epoch,
        "val_acc": trained.best_val_acc,
        "history": trained.history,
        "wall_s": trained.wall_s,
        "expected_accuracy": loso,
    }
    export_model(
        trained,
        out / "model.pt",
        feature_spec=spec,
        provenance=_provenance(
            fingerprint=data.fingerprint,
            fold=DEPLOYMENT,
            test_subject=None,
            val_subjects=val_s,
            train_subjects=train_s,
            metrics={"loso": loso, "val_acc": trained.best_val_acc, "epochs": epochs},
            cfg=cfg,
            spec_source=spec_source,
        ),
    )
    _atomic_write_json(out / "model.json", res)
    return res


def _mean_std(values) -> dict:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return {"mean": None, "std": None}
    # Population std (ddof=0), as np.std prints it in the seed's LOSO summary.
    return {"mean": float(v.mean()), "std": float(v.std())}


def build_metrics(
    *,
    data,
    cfg: TrainConfig,
    model_config,
    folds_total: int,
    fold_results: list[dict],
    deployment: dict | None,
    device: str,
    spec,
    spec_source: str,
    wall_s: float,
) -> dict:
    """Assemble ``metrics.json`` from the per-fold results."""
    import cmt_live

    tests = [r["test"] for r in fold_results]
    n_classes = len(tests[0]["confusion"]) if tests else 5
    conf = np.zeros((n_classes, n_classes), dtype=int)
    for t in tests:
        conf += np.asarray(t["confusion"], dtype=int)
    lengths = sorted({int(k) for t in tests for k in t["streaming_acc"]})
    summary = {
        "n_folds_done": len(fold_results),
        "n_folds_total": folds_total,
        "complete": len(fold_results) == folds_total,
        "trial_acc": _mean_std(t["trial_acc"] for t in tests),
        "trial_acc_eeg_only": _mean_std(t.get("trial_acc_eeg_only") for t in tests),
        "trial_acc_eye_only": _mean_std(t.get("trial_acc_eye_only") for t in tests),
        "best_val_acc": _mean_std(r["best_val_acc"] for r in fold_results),
        "streaming_acc": {
            str(L): _mean_std(t["streaming_acc"].get(str(L)) for t in tests) for L in lengths
        },
        "confusion": conf.tolist(),
        "chance": 1.0 / n_classes,
        "fold_wall_s": float(sum(r["wall_s"] for r in fold_results)),
    }
    return sanitize(
        {
            "cmt_live_version": cmt_live.__version__,
            "data": {
                "root": str(data.root),
                "fingerprint": data.fingerprint,
                "subjects": list(data.subjects),
                "n_trials": len(data.trials),
                "n_windows": int(sum(np.asarray(t.eeg).shape[0] for t in data.trials)),
                "issues": list(data.issues),
            },
            "feature_spec": spec.to_dict(),
            "feature_spec_source": spec_source,
            "train_config": cfg.to_dict(),
            "model_config": asdict(model_config),
            "device": device,
            "summary": summary,
            "folds": fold_results,
            "deployment": deployment,
            "wall_s": wall_s,
        }
    )
