"""Trial sequences for training and evaluation: normalisation, sub-sequence sampling, collation.

A SEED-V trial is a sequence of 4-s windows, ``eeg (n_windows, 310)`` and ``eye (n_windows,
33)``. The model sees a batch of such sequences padded to a common length, with one mask per
modality (1 = a real window, 0 = padding or a missing modality).

Training draws a random contiguous sub-sequence of each trial (random length ``1..max_len``,
random start) so that short live contexts classify, and drops one modality now and then
(modality dropout) so that EEG-only and eye-only inputs classify. The draws depend only on
``(seed, epoch, index)``: a run reproduces whatever the order in which items are fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import Dataset


class TrialLike(Protocol):
    """What the training code needs of a trial (``models.seedv.Trial`` has it)."""

    subject: int
    eeg: np.ndarray
    eye: np.ndarray
    label: int


@dataclass(frozen=True)
class Normalizer:
    """Per-feature z-scoring, fitted on training windows only.

    Attributes
    ----------
    eeg_mean, eeg_std : ndarray, shape (n_eeg,), float32
    eye_mean, eye_std : ndarray, shape (n_eye,), float32
    """

    eeg_mean: np.ndarray
    eeg_std: np.ndarray
    eye_mean: np.ndarray
    eye_std: np.ndarray

    #: Floor of the std so a constant feature (e.g. a flat simulated channel) maps to 0, not inf.
    MIN_STD = 1e-6

    @classmethod
    def fit(cls, trials: Sequence[TrialLike]) -> Normalizer:
        """Mean and std of every feature over all windows of ``trials``.

        Non-finite values are ignored (NaN-aware statistics), so one bad window does not poison
        a feature; a feature with no finite value gets mean 0 and std 1.
        """
        if len(trials) == 0:
            raise ValueError("Normalizer.fit got no trials; pass the training subjects' trials.")
        out = {}
        for name in ("eeg", "eye"):
            x = np.concatenate([np.asarray(getattr(t, name), dtype=np.float64) for t in trials])
            x = np.where(np.isfinite(x), x, np.nan)
            n_ok = np.sum(np.isfinite(x), axis=0)
            with np.errstate(invalid="ignore"):
                mean = np.where(n_ok > 0, np.nansum(x, axis=0) / np.maximum(n_ok, 1), 0.0)
                var = np.where(
                    n_ok > 0, np.nansum((x - mean) ** 2, axis=0) / np.maximum(n_ok, 1), 1.0
                )
            std = np.maximum(np.sqrt(var), cls.MIN_STD)
            out[f"{name}_mean"] = mean.astype(np.float32)
            out[f"{name}_std"] = std.astype(np.float32)
        return cls(**out)

    def to_dict(self) -> dict[str, np.ndarray]:
        """The contract's ``norm`` dict (float32 arrays)."""
        return {
            "eeg_mean": self.eeg_mean,
            "eeg_std": self.eeg_std,
            "eye_mean": self.eye_mean,
            "eye_std": self.eye_std,
        }

    def transform(self, eeg: np.ndarray, eye: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Z-score; non-finite values become 0 (the mean), float32.

        Parameters
        ----------
        eeg : ndarray, shape (..., n_eeg)
        eye : ndarray, shape (..., n_eye)
        """
        e = (np.asarray(eeg, dtype=np.float32) - self.eeg_mean) / self.eeg_std
        y = (np.asarray(eye, dtype=np.float32) - self.eye_mean) / self.eye_std
        return (
            np.nan_to_num(e, nan=0.0, posinf=0.0, neginf=0.0),
            np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0),
        )


@dataclass(frozen=True)
class Sample:
    """One sequence: normalised features of contiguous windows, masks, label, domain."""

    eeg: np.ndarray  # (T, n_eeg) float32
    eye: np.ndarray  # (T, n_eye) float32
    eeg_mask: np.ndarray  # (T,) float32, 1 real / 0 missing
    eye_mask: np.ndarray  # (T,) float32
    label: int
    domain: int


class TrialSequenceDataset(Dataset):
    """Normalised trials as sequences, optionally randomly cropped, with modality dropout.

    Parameters
    ----------
    trials : sequence of Trial
        ``.subject``, ``.eeg (n, n_eeg)``, ``.eye (n, n_eye)``, ``.label``.
    norm : Normalizer
        Fitted on training subjects only (the caller's job; see ``models.train``).
    max_len : int
        Longest sequence the model takes (SEED-V: 74 windows). Longer trials are truncated to
        their first ``max_len`` windows when not cropping.
    domains : dict of int -> int | None
        Subject id -> domain index ``0..n_domains-1`` (the training fold's subjects); subjects
        not in it (validation, test) get domain ``-1``.
    random_crop : bool
        Draw a random contiguous sub-sequence: length uniform in ``1..min(n, max_len)``, start
        uniform. Off for evaluation (whole trial).
    p_drop_eeg, p_drop_eye : float
        Probability of zeroing the EEG (resp. eye) mask and features of a sample; the two events
        exclude each other, so a sample never loses both modalities.
    seed : int
        Base seed of the draws; call :meth:`set_epoch` each epoch for fresh draws.
    """

    def __init__(
        self,
        trials: Sequence[TrialLike],
        norm: Normalizer,
        *,
        max_len: int = 74,
        domains: dict[int, int] | None = None,
        random_crop: bool = False,
        p_drop_eeg: float = 0.0,
        p_drop_eye: float = 0.0,
        seed: int = 0,
    ) -> None:
        if max_len < 1:
            raise ValueError(f"max_len={max_len} is invalid; use a positive number of windows.")
        for name, p in (("p_drop_eeg", p_drop_eeg), ("p_drop_eye", p_drop_eye)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name}={p} is invalid; use a probability in [0, 1].")
        if p_drop_eeg + p_drop_eye > 1.0:
            raise ValueError(
                f"p_drop_eeg + p_drop_eye = {p_drop_eeg + p_drop_eye} > 1; the two drops exclude "
                "each other, so their sum must be at most 1."
            )
        empty = [i for i, t in enumerate(trials) if np.asarray(t.eeg).shape[0] == 0]
        if empty:
            raise ValueError(f"Trials {empty[:5]} have no windows; drop them before training.")
        self.trials = list(trials)
        self.max_len = int(max_len)
        self.domains = dict(domains or {})
        self.random_crop = bool(random_crop)
        self.p_drop_eeg = float(p_drop_eeg)
        self.p_drop_eye = float(p_drop_eye)
        self.seed = int(seed)
        self.epoch = 0
        # Normalise once: every epoch crops the same normalised arrays.
        self._eeg, self._eye = [], []
        for t in self.trials:
            e, y = norm.transform(t.eeg, t.eye)
            self._eeg.append(e)
            self._eye.append(y)

    def set_epoch(self, epoch: int) -> None:
        """Select the random draws of ``epoch`` (crops and drops depend on seed, epoch, index)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.trials)

    def __getitem__(self, index: int) -> Sample:
        t = self.trials[index]
        eeg, eye = self._eeg[index], self._eye[index]
        n = eeg.shape[0]
        eeg_on = eye_on = 1.0
        if self.random_crop or self.p_drop_eeg or self.p_drop_eye:
            rng = np.random.default_rng([self.seed, self.epoch, index])
        if self.random_crop:
            length = int(rng.integers(1, min(n, self.max_len) + 1))
            start = int(rng.integers(0, n - length + 1))
        else:
            length, start = min(n, self.max_len), 0
        eeg = eeg[start : start + length]
        eye = eye[start : start + length]
        if self.p_drop_eeg or self.p_drop_eye:
            u = float(rng.random())
            if u < self.p_drop_eeg:
                eeg_on = 0.0
            elif u < self.p_drop_eeg + self.p_drop_eye:
                eye_on = 0.0
        if eeg_on == 0.0:
            eeg = np.zeros_like(eeg)
        if eye_on == 0.0:
            eye = np.zeros_like(eye)
        return Sample(
            eeg=eeg,
            eye=eye,
            eeg_mask=np.full(length, eeg_on, dtype=np.float32),
            eye_mask=np.full(length, eye_on, dtype=np.float32),
            label=int(t.label),
            domain=int(self.domains.get(int(t.subject), -1)),
        )


def collate(samples: Sequence[Sample], *, pad_to: int | None = None) -> dict[str, torch.Tensor]:
    """Right-pad samples to a common length.

    Parameters
    ----------
    samples : sequence of Sample
    pad_to : int | None
        Pad every sequence to this length (e.g. 74, as the seed pads whole trials); default the
        longest in the batch. Shorter than the longest sample raises.

    Returns
    -------
    dict
        ``eeg (B, T, n_eeg)``, ``eye (B, T, n_eye)``, ``eeg_mask (B, T)``, ``eye_mask (B, T)``
        float32 tensors, ``label (B,)`` and ``domain (B,)`` int64 tensors.
    """
    if len(samples) == 0:
        raise ValueError("collate got an empty batch.")
    longest = max(s.eeg.shape[0] for s in samples)
    n_t = longest if pad_to is None else int(pad_to)
    if n_t < longest:
        raise ValueError(f"pad_to={pad_to} is shorter than the longest sample ({longest} windows).")
    b = len(samples)
    eeg = np.zeros((b, n_t, samples[0].eeg.shape[1]), dtype=np.float32)
    eye = np.zeros((b, n_t, samples[0].eye.shape[1]), dtype=np.float32)
    eeg_mask = np.zeros((b, n_t), dtype=np.float32)
    eye_mask = np.zeros((b, n_t), dtype=np.float32)
    for i, s in enumerate(samples):
        n = s.eeg.shape[0]
        eeg[i, :n], eye[i, :n] = s.eeg, s.eye
        eeg_mask[i, :n], eye_mask[i, :n] = s.eeg_mask, s.eye_mask
    return {
        "eeg": torch.from_numpy(eeg),
        "eye": torch.from_numpy(eye),
        "eeg_mask": torch.from_numpy(eeg_mask),
        "eye_mask": torch.from_numpy(eye_mask),
        "label": torch.tensor([s.label for s in samples], dtype=torch.int64),
        "domain": torch.tensor([s.domain for s in samples], dtype=torch.int64),
    }


def pad_sequences(
    eeg_list: Sequence[np.ndarray], eye_list: Sequence[np.ndarray], *, pad_to: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Right-pad raw (or normalised) sequences and build all-ones masks over real windows.

    Returns
    -------
    eeg : ndarray, shape (B, T, n_eeg), float32
    eye : ndarray, shape (B, T, n_eye), float32
    eeg_mask, eye_mask : ndarray, shape (B, T), float32
    """
    if len(eeg_list) != len(eye_list) or len(eeg_list) == 0:
        raise ValueError(
            f"pad_sequences got {len(eeg_list)} EEG and {len(eye_list)} eye sequences; pass the "
            "same positive number of each."
        )
    for i, (e, y) in enumerate(zip(eeg_list, eye_list)):
        if e.shape[0] != y.shape[0]:
            raise ValueError(
                f"Sequence {i} has {e.shape[0]} EEG windows but {y.shape[0]} eye windows; the "
                "two modalities must cover the same windows."
            )
    longest = max(x.shape[0] for x in eeg_list)
    n_t = longest if pad_to is None else max(int(pad_to), longest)
    b = len(eeg_list)
    eeg = np.zeros((b, n_t, eeg_list[0].shape[1]), dtype=np.float32)
    eye = np.zeros((b, n_t, eye_list[0].shape[1]), dtype=np.float32)
    mask = np.zeros((b, n_t), dtype=np.float32)
    for i, (e, y) in enumerate(zip(eeg_list, eye_list)):
        n = e.shape[0]
        eeg[i, :n], eye[i, :n], mask[i, :n] = e, y, 1.0
    return eeg, eye, mask, mask.copy()
