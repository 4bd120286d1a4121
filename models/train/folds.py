"""The evaluation protocol: leave-one-subject-out folds with whole-subject validation sets,
and the split of the deployment model.

Validation subjects are drawn (seeded) from a fold's training subjects, never the test subject,
so the epoch kept is chosen without the held-out subject.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


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
