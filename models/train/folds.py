"""The evaluation protocols: which trials train, validate and test each fold.

- ``loso`` (leave one subject out): one fold per subject; validation = whole subjects drawn
  (seeded) from the fold's training subjects, never the test subject.
- ``cross-session``: per subject, one fold per session (train on the subject's two other
  sessions, test on the held-out one): 3 folds per subject.
- ``subject-dependent``: per subject, SEED-V's three-fold split of Liu et al. (2021): each
  session's 15 trials are cut into the first, middle and last five, and the same part of the
  three sessions is pooled into one fold (trials 1-5, 6-10 or 11-15 of every session).

In the two within-subject protocols the validation trials are drawn (seeded) from the fold's
training trials, one per emotion where the training trials allow it, so the epoch kept is
chosen without the test trials.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: The protocols ``cmt-train --protocol`` accepts; the first is the default.
PROTOCOLS = ("loso", "cross-session", "subject-dependent")

#: Trials per part of a session in the ``subject-dependent`` protocol (15 = 3 x 5).
PART_SIZE = 5


@dataclass(frozen=True)
class Fold:
    """One fold: its test subject, validation and training subjects, and, for the within-subject
    protocols, the held-out part and the validation trials.

    Attributes
    ----------
    index : int
        0-based position in the protocol's order.
    test_subject : int
    val_subjects, train_subjects : tuple of int
        LOSO: whole subjects. Within-subject protocols: ``(test_subject,)`` and ``()``.
    protocol : str
        One of :data:`PROTOCOLS`.
    part : int | None
        Held-out session (``cross-session``) or trial part 1..3 (``subject-dependent``).
    val_trials : tuple of (session, trial)
        Within-subject protocols: the test subject's trials used for validation.
    """

    index: int
    test_subject: int
    val_subjects: tuple[int, ...]
    train_subjects: tuple[int, ...]
    protocol: str = "loso"
    part: int | None = None
    val_trials: tuple[tuple[int, int], ...] = ()

    @property
    def name(self) -> str:
        base = f"fold_{self.index + 1:02d}_subject_{self.test_subject:02d}"
        if self.protocol == "cross-session":
            return f"{base}_session_{self.part}"
        if self.protocol == "subject-dependent":
            return f"{base}_part_{self.part}"
        return base

    def is_test(self, trial) -> bool:
        """Whether ``trial`` (``subject``, ``session``, ``trial``) is in this fold's test set."""
        if int(trial.subject) != self.test_subject:
            return False
        if self.protocol == "loso":
            return True
        return _part_of(trial, self.protocol) == self.part

    def split(self, trials: Sequence) -> tuple[list, list, list]:
        """(train, val, test) trials of this fold, in the order of ``trials``."""
        train, val, test = [], [], []
        for t in trials:
            s = int(t.subject)
            if self.protocol == "loso":
                if s == self.test_subject:
                    test.append(t)
                elif s in self.val_subjects:
                    val.append(t)
                elif s in self.train_subjects:
                    train.append(t)
            elif s == self.test_subject:
                if self.is_test(t):
                    test.append(t)
                elif (int(t.session), int(t.trial)) in self.val_trials:
                    val.append(t)
                else:
                    train.append(t)
        return train, val, test


def _part_of(trial, protocol: str) -> int:
    if protocol == "cross-session":
        return int(trial.session)
    return (int(trial.trial) - 1) // PART_SIZE + 1


def auto_n_val(n_subjects: int) -> int:
    """2 validation subjects, or 1 when there are fewer than 8 subjects."""
    return 2 if n_subjects >= 8 else 1


def make_folds(
    protocol: str, trials: Sequence, *, n_val: int | None = None, seed: int = 0
) -> list[Fold]:
    """The folds of ``protocol`` over ``trials``.

    Parameters
    ----------
    protocol : str
        One of :data:`PROTOCOLS`.
    trials : sequence of Trial
        ``subject``, ``session``, ``trial``, ``label``.
    n_val : int | None
        LOSO: validation subjects per fold (default :func:`auto_n_val`). Within-subject
        protocols: validation trials per fold (default one per emotion, 5).
    seed : int
        The draws of a fold depend only on ``(seed, fold)``.

    Returns
    -------
    list of Fold
    """
    if protocol == "loso":
        return loso_folds([t.subject for t in trials], n_val=n_val, seed=seed)
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol={protocol!r} is invalid; use one of {', '.join(PROTOCOLS)}.")
    by_subject: dict[int, list] = {}
    for t in trials:
        by_subject.setdefault(int(t.subject), []).append(t)
    folds: list[Fold] = []
    for subject in sorted(by_subject):
        own = by_subject[subject]
        parts = sorted({_part_of(t, protocol) for t in own})
        if len(parts) < 2:
            raise ValueError(
                f"--protocol {protocol} needs at least 2 {_unit(protocol)}s of subject {subject}; "
                f"found {parts}. Use --protocol loso, or data with all 3 sessions."
            )
        for part in parts:
            rest = [t for t in own if _part_of(t, protocol) != part]
            rng = np.random.default_rng([seed, subject, part])
            val = _draw_val(rest, n_val, rng)
            if len(val) >= len(rest):
                raise ValueError(
                    f"n_val={n_val} validation trials leave no training trial for subject "
                    f"{subject} ({len(rest)} trials outside the held-out {_unit(protocol)}); "
                    "use fewer."
                )
            folds.append(
                Fold(len(folds), subject, (subject,), (), protocol, part, tuple(sorted(val)))
            )
    return folds


def _unit(protocol: str) -> str:
    return "session" if protocol == "cross-session" else "trial part"


def _draw_val(trials: Sequence, n_val: int | None, rng: np.random.Generator) -> list:
    """(session, trial) of the validation draw: one per label, or ``n_val`` at random."""
    keys = [(int(t.session), int(t.trial)) for t in trials]
    if n_val is None:
        chosen = []
        for label in sorted({int(t.label) for t in trials}):
            own = [k for k, t in zip(keys, trials) if int(t.label) == label]
            if len(own) > 1:  # keep at least one training trial of every emotion
                chosen.append(own[int(rng.integers(len(own)))])
        return chosen
    if n_val < 1:
        raise ValueError(f"n_val={n_val} is invalid; use >= 1 validation trial.")
    idx = rng.choice(len(keys), size=min(int(n_val), len(keys)), replace=False)
    return [keys[i] for i in sorted(idx)]


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
