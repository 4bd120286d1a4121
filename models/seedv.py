"""SEED-V feature files: a validating reader and a writer of the released layout.

Layout (shared/SEEDV.md §1-3)::

    ROOT/EEG_DE_features/{subject}_123.npz        members 'data', 'label'
    ROOT/Eye_movement_features/{subject}_123.npz  members 'data', 'label'

Each member is a pickled ``dict`` stored as a 0-d ``|S`` bytes array; keys are ``int`` 0..44
(``key = (session - 1) * 15 + trial - 1``), ``data[k]`` is ``(n_windows, 310)`` (EEG DE) or
``(n_windows, 33)`` (eye), and ``label[k]`` repeats the trial's emotion code (0 Disgust,
1 Fear, 2 Sad, 3 Neutral, 4 Happy) once per window.

The pickles are rebuilt by :func:`models.safe_pickle.safe_loads`, which refuses anything but
plain containers and numpy arrays; the files are opened with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from features.constants import N_EEG_FEATURES, N_EYE_FEATURES
from features.seedv import (
    CLASS_NAMES,
    EEG_DIR,
    EYE_DIR,
    N_CLASSES,
    N_KEYS,
    N_TRIALS_PER_SESSION,
    SEEDV_LABELS,
    SPEC_FILE,
    check_session,
)
from features.spec import FeatureSpec

from .seedv_file import read_feature_file, subjects_in

logger = logging.getLogger("cmt_live")


@dataclass(frozen=True, eq=False)
class Trial:
    """One clip of one subject.

    Parameters
    ----------
    subject : int
        Subject number (1..16 in the release).
    session : int
        1..3 (``key // 15 + 1``).
    trial : int
        1..15 within the session (``key % 15 + 1``).
    eeg : ndarray, shape (n_windows, 310), float32
        EEG DE features, one row per 4-s window.
    eye : ndarray, shape (n_windows, 33), float32
        Eye-movement features, same windows.
    label : int
        Emotion code 0..4 (Disgust, Fear, Sad, Neutral, Happy).
    """

    subject: int
    session: int
    trial: int
    eeg: np.ndarray
    eye: np.ndarray
    label: int

    @property
    def key(self) -> int:
        """The file's dict key, 0..44."""
        return (self.session - 1) * N_TRIALS_PER_SESSION + self.trial - 1

    @property
    def n_windows(self) -> int:
        return int(self.eeg.shape[0])


@dataclass
class SeedVData:
    """What :func:`load_seedv` read.

    Attributes
    ----------
    root : Path
    trials : list of Trial
        Sorted by (subject, session, trial).
    issues : list of str
        Everything the validation found and repaired or tolerated (truncations, non-finite
        values, labels that differ from the published order).
    fingerprint : str
        sha256 over subjects, keys, labels and the float32 feature bytes: equal data, equal hash.
    """

    root: Path
    trials: list[Trial]
    issues: list[str] = field(default_factory=list)
    fingerprint: str = ""

    @property
    def subjects(self) -> list[int]:
        return sorted({t.subject for t in self.trials})

    def subject_trials(self, subject: int) -> list[Trial]:
        return [t for t in self.trials if t.subject == subject]

    def summary(self) -> str:
        """A few lines for reports: counts, per-class windows, issues, fingerprint."""
        n_win = sum(t.n_windows for t in self.trials)
        per_class = np.zeros(N_CLASSES, dtype=int)
        for t in self.trials:
            per_class[t.label] += t.n_windows
        lines = [
            f"SEED-V features at {self.root}: {len(self.subjects)} subjects "
            f"({_ranges(self.subjects)}), {len(self.trials)} trials, {n_win} windows.",
            "Windows per class: "
            + ", ".join(f"{n} {c}" for n, c in zip(per_class, CLASS_NAMES))
            + ".",
            f"Fingerprint: sha256:{self.fingerprint[:16]}",
        ]
        if self.issues:
            lines.append(f"{len(self.issues)} issue(s):")
            lines.extend(f"  - {s}" for s in self.issues)
        else:
            lines.append("No issues found.")
        return "\n".join(lines)


def _ranges(values: Sequence[int]) -> str:
    out, vals = [], sorted(values)
    i = 0
    while i < len(vals):
        j = i
        while j + 1 < len(vals) and vals[j + 1] == vals[j] + 1:
            j += 1
        out.append(str(vals[i]) if i == j else f"{vals[i]}-{vals[j]}")
        i = j + 1
    return ", ".join(out)


def read_spec_file(root: str | Path) -> dict | None:
    """The metadata this project writes beside a dataset it made (:data:`SPEC_FILE`: the
    feature spec, ``"partial"``, how it was made), or None for SEED-V's own release.

    Raises
    ------
    ValueError
        The file is not a JSON object (with the fix).
    """
    return _read_meta(Path(root) / SPEC_FILE)


def _read_meta(path: Path) -> dict | None:
    # read_spec_file's body, given the file's path (load_feature_spec names it in its errors).
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); regenerate the dataset.") from err
    if not isinstance(meta, dict):
        raise ValueError(f"{path} holds no JSON object; regenerate the dataset.")
    return meta


def load_feature_spec(data_root: str | Path):
    """The FeatureSpec of a data directory, and where it came from.

    ``cmt_sim.json`` beside the data (written by ``cmt-sim dataset`` and ``cmt-dataset``) holds
    the spec the features were computed with. Without it the directory is taken to be SEED-V's
    release: its DE is LDS-smoothed (``smoothing="lds"``; SEEDV.md §6) and its 9 eye event
    statistics are per clip (``eye_stats="clip"``, as measured on SEED-IV, SEEDV.md §7b). The
    rest of the release's definitions are unpublished, which :func:`load_feature_source`
    records (``"release"``) so live use masks the eye input of such a model.

    Parameters
    ----------
    data_root : str | Path
        A SEED-V-layout feature directory.

    Returns
    -------
    spec : features.spec.FeatureSpec
    source : str
        The file read, or why the release's spec was assumed.

    Raises
    ------
    ValueError
        ``cmt_sim.json`` is not valid JSON or holds no feature spec.
    """
    path = Path(data_root) / SPEC_FILE
    meta = _read_meta(path)
    if meta is not None:
        spec_dict = meta.get("feature_spec", meta)
        if not isinstance(spec_dict, dict):
            raise ValueError(f"{path} holds no feature_spec object; regenerate the dataset.")
        known = set(FeatureSpec.__dataclass_fields__)
        return FeatureSpec.from_dict({k: v for k, v in spec_dict.items() if k in known}), str(path)
    return (
        FeatureSpec(smoothing="lds", eye_stats="clip"),
        "assumed: SEED-V released features (LDS-smoothed DE, per-clip eye event statistics)",
    )


def load_feature_source(data_root: str | Path) -> dict:
    """Where each modality's features in a data directory came from (the model contract's
    ``feature_source``, :mod:`models.contract`).

    ``cmt_sim.json`` present: its ``"feature_source"`` (``cmt-dataset`` writes one when the eye
    features were derived from event tables), else both ``"computed"`` by ``features/``. Absent:
    SEED-V's release, both ``"release"`` (definitions other than ours or unpublished).

    Raises
    ------
    ValueError
        ``cmt_sim.json`` is not a JSON object, or its ``feature_source`` is invalid.
    """
    from .contract import RELEASE, check_feature_source, default_feature_source

    path = Path(data_root) / SPEC_FILE
    meta = _read_meta(path)
    if meta is None:
        return {"eeg": RELEASE, "eye": RELEASE, "eye_absent": []}
    spec, _ = load_feature_spec(data_root)
    try:
        return check_feature_source(
            meta.get("feature_source", default_feature_source()), spec.eye_names
        )
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err


def load_seedv(
    root: str | Path,
    *,
    subjects: Iterable[int] | None = None,
    strict: bool = False,
    complete: bool | None = None,
) -> SeedVData:
    """Read and validate a SEED-V feature directory.

    Parameters
    ----------
    root : str | Path
        Directory holding ``EEG_DE_features/`` and ``Eye_movement_features/``.
    subjects : iterable of int | None
        Subjects to read; default every ``{n}_123.npz`` found.
    strict : bool
        Raise on non-finite feature values instead of recording them in ``.issues``.
    complete : bool | None
        Require all 45 trials per subject (the release). None: as the directory says — a
        ``cmt_sim.json`` with ``"partial": true`` (a lab's own recordings, written by
        ``cmt-dataset``) allows any subset.

    Returns
    -------
    SeedVData

    Raises
    ------
    FileNotFoundError
        Missing root, directory or subject file (named, with the directory).
    ValueError
        A file that is not in the released format (wrong keys, widths, labels), EEG and eye
        labels that disagree, or non-finite values with ``strict=True``.
    models.safe_pickle.UnsafePickleError
        A pickle that asks for anything beyond plain containers and numpy arrays.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"SEED-V directory {root} does not exist. Pass the folder that contains "
            f"{EEG_DIR}/ and {EYE_DIR}/ (or create one with `cmt-sim dataset --out DIR`)."
        )
    dirs = {"EEG": root / EEG_DIR, "eye": root / EYE_DIR}
    for what, d in dirs.items():
        if not d.is_dir():
            raise FileNotFoundError(
                f"{root} has no {d.name}/ directory (the {what} features). Expected the SEED-V "
                f"layout {EEG_DIR}/{{1..16}}_123.npz and {EYE_DIR}/{{1..16}}_123.npz."
            )
    if subjects is None:
        found_eeg, found_eye = subjects_in(dirs["EEG"]), subjects_in(dirs["eye"])
        for what, have, other in (("EEG", found_eeg, found_eye), ("eye", found_eye, found_eeg)):
            lacking = sorted(other - have)
            if lacking:
                raise FileNotFoundError(
                    f"{dirs[what]} lacks the files of subjects {lacking} "
                    f"({', '.join(f'{s}_123.npz' for s in lacking)}) that the other modality "
                    "has. Restore them, or pass subjects=... to load a subset."
                )
        wanted = sorted(found_eeg)
        if not wanted:
            raise FileNotFoundError(
                f"{dirs['EEG']} holds no '{{subject}}_123.npz' files; is {root} a SEED-V directory?"
            )
    else:
        wanted = sorted({int(s) for s in subjects})
        if not wanted:
            raise ValueError("subjects is empty; pass None to read every subject found.")
        for d in dirs.values():
            lacking = [s for s in wanted if not (d / f"{s}_123.npz").is_file()]
            if lacking:
                raise FileNotFoundError(
                    f"Subjects {lacking} have no file in {d} (expected "
                    f"{', '.join(f'{s}_123.npz' for s in lacking)})."
                )

    if complete is None:
        complete = not (read_spec_file(root) or {}).get("partial", False)
    trials: list[Trial] = []
    issues: list[str] = []
    # Eye columns the dataset says it lacks (event-derived eye features) are NaN by design.
    absent = load_feature_source(root)["eye_absent"]
    eye_ok = np.ones(N_EYE_FEATURES, dtype=bool)
    if absent:
        names = load_feature_spec(root)[0].eye_names
        eye_ok[[names.index(c) for c in absent]] = False
        issues.append(
            f"eye columns {absent} are absent by design (cmt_sim.json feature_source): NaN, "
            "read as the training mean."
        )
    for s in wanted:
        eeg, eeg_lab, eeg_issues = read_feature_file(
            dirs["EEG"] / f"{s}_123.npz", N_EEG_FEATURES, complete
        )
        eye, eye_lab, eye_issues = read_feature_file(
            dirs["eye"] / f"{s}_123.npz", N_EYE_FEATURES, complete
        )
        issues += [f"subject {s}: {m}" for m in eeg_issues + eye_issues]
        if set(eeg) != set(eye):
            raise ValueError(
                f"subject {s}: the EEG and eye files hold different trials "
                f"({sorted(set(eeg) ^ set(eye))} in only one)."
            )
        order_differs = []
        for k in sorted(eeg):
            session, trial = k // N_TRIALS_PER_SESSION + 1, k % N_TRIALS_PER_SESSION + 1
            where = f"subject {s}, session {session}, trial {trial} (key {k})"
            if k in eeg_lab and k in eye_lab and eeg_lab[k] != eye_lab[k]:
                raise ValueError(
                    f"{where}: EEG label {eeg_lab[k]} and eye label {eye_lab[k]} disagree; the "
                    "two files do not describe the same trials."
                )
            label = eeg_lab.get(k, eye_lab.get(k))
            x_eeg, x_eye = eeg[k], eye[k]
            if x_eeg.shape[0] != x_eye.shape[0]:
                n = min(x_eeg.shape[0], x_eye.shape[0])
                msg = (
                    f"{where}: {x_eeg.shape[0]} EEG windows but {x_eye.shape[0]} eye windows; "
                    f"truncated both to {n}."
                )
                logger.warning(msg)
                issues.append(msg)
                x_eeg, x_eye = x_eeg[:n], x_eye[:n]
            if label is None:
                msg = f"{where}: no windows; trial skipped."
                logger.warning(msg)
                issues.append(msg)
                continue
            for what, x in (("EEG", x_eeg), ("eye", x_eye[:, eye_ok])):
                n_bad = int(x.size - np.count_nonzero(np.isfinite(x)))
                if n_bad:
                    msg = f"{where}: {n_bad} non-finite {what} feature values (NaN/Inf)."
                    if strict:
                        raise ValueError(msg + " Fix the file or load with strict=False.")
                    logger.warning(msg)
                    issues.append(msg)
            if label != SEEDV_LABELS[session - 1][trial - 1]:
                order_differs.append(trial + (session - 1) * N_TRIALS_PER_SESSION - 1)
            trials.append(
                Trial(
                    subject=s,
                    session=session,
                    trial=trial,
                    eeg=np.ascontiguousarray(x_eeg, dtype=np.float32),
                    eye=np.ascontiguousarray(x_eye, dtype=np.float32),
                    label=int(label),
                )
            )
        if order_differs:
            issues.append(
                f"subject {s}: labels of keys {order_differs} differ from SEED-V's published "
                "label order (SEEDV.md §3); the stored per-window labels are used."
            )
    data = SeedVData(root=root, trials=trials, issues=issues)
    data.fingerprint = fingerprint(trials)
    logger.info(
        "Read SEED-V features of %d subjects from %s (%d issues).", len(wanted), root, len(issues)
    )
    return data


def fingerprint(trials: Sequence[Trial]) -> str:
    """sha256 hex digest over (subject, session, trial, label, shapes, float32 bytes)."""
    h = hashlib.sha256(b"seedv-features-v1")
    for t in sorted(trials, key=lambda t: (t.subject, t.session, t.trial)):
        h.update(np.array([t.subject, t.session, t.trial, t.label], dtype="<i8").tobytes())
        for x in (t.eeg, t.eye):
            x = np.ascontiguousarray(x, dtype="<f4")
            h.update(np.array(x.shape, dtype="<i8").tobytes())
            h.update(x.tobytes())
    return h.hexdigest()


def write_seedv(
    root: str | Path,
    trials: Iterable[Trial],
    *,
    dtype: np.dtype | type = np.float64,
    complete: bool = True,
) -> list[Path]:
    """Write trials in the released layout (both directories, one npz per subject).

    Parameters
    ----------
    root : str | Path
        Output directory (created).
    trials : iterable of Trial
        Every subject needs all 45 (session, trial) pairs; EEG and eye of a trial must have
        the same number of windows.
    dtype : numpy dtype
        Feature dtype in the files (the release's is unknown, float64 likely; SEEDV.md §2.1).
    complete : bool
        Require all 45 keys per subject (False: a lab's own recordings, any subset).

    Returns
    -------
    list of Path
        The files written.

    Notes
    -----
    ``np.savez(path, data=pickle.dumps(dict), label=pickle.dumps(dict))``: each member is a
    0-d ``|S`` array, readable with the official ``pickle.loads(np.load(path)['data'])``.
    Labels are ``int64`` arrays repeating the code once per window.
    """
    root = Path(root)
    by_subject: dict[int, dict[int, Trial]] = {}
    for t in trials:
        check_session(t.session)
        if not 1 <= t.trial <= N_TRIALS_PER_SESSION:
            raise ValueError(f"Trial.trial={t.trial} is invalid; use 1..15.")
        if t.eeg.ndim != 2 or t.eeg.shape[1] != N_EEG_FEATURES or t.eye.ndim != 2:
            raise ValueError(
                f"subject {t.subject} key {t.key}: eeg {t.eeg.shape} / eye {t.eye.shape}; "
                f"expected (n, {N_EEG_FEATURES}) and (n, {N_EYE_FEATURES})."
            )
        if t.eye.shape[1] != N_EYE_FEATURES or t.eye.shape[0] != t.eeg.shape[0]:
            raise ValueError(
                f"subject {t.subject} key {t.key}: eye {t.eye.shape} must be "
                f"({t.eeg.shape[0]}, {N_EYE_FEATURES}) to match eeg {t.eeg.shape}."
            )
        if not 0 <= int(t.label) < N_CLASSES:
            raise ValueError(f"subject {t.subject} key {t.key}: label {t.label} not in 0..4.")
        keyed = by_subject.setdefault(int(t.subject), {})
        if t.key in keyed:
            raise ValueError(f"subject {t.subject} key {t.key} given twice.")
        keyed[t.key] = t
    for s, keyed in sorted(by_subject.items()):
        missing = sorted(set(range(N_KEYS)) - set(keyed))
        if missing and complete:
            raise ValueError(
                f"subject {s} lacks keys {missing}; a SEED-V file holds all 45 trials "
                "(3 sessions x 15)."
            )
    written = []
    for d in (EEG_DIR, EYE_DIR):
        (root / d).mkdir(parents=True, exist_ok=True)
    for s, keyed in sorted(by_subject.items()):
        for d, attr in ((EEG_DIR, "eeg"), (EYE_DIR, "eye")):
            data = {k: np.asarray(getattr(keyed[k], attr), dtype=dtype) for k in sorted(keyed)}
            label = {
                k: np.full(keyed[k].n_windows, int(keyed[k].label), dtype=np.int64)
                for k in sorted(keyed)
            }
            path = root / d / f"{s}_123.npz"
            np.savez(path, data=pickle.dumps(data), label=pickle.dumps(label))
            written.append(path)
    return written
