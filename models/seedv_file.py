"""One SEED-V feature file: its members, keys, widths and labels, checked (see
:mod:`models.seedv` for the layout and the reader of a whole directory)."""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from features.seedv import N_CLASSES, N_KEYS

from .safe_pickle import safe_loads

_FILE_RE = re.compile(r"^(\d+)_123\.npz$")


def subjects_in(directory: Path) -> set[int]:
    """Subject numbers of the ``{subject}_123.npz`` files in ``directory``."""
    return {int(m[1]) for p in directory.iterdir() if (m := _FILE_RE.match(p.name))}


def _read_member(npz, name: str, path: Path):
    if name not in npz.files:
        raise ValueError(
            f"{path} has no member '{name}' (members: {npz.files}); a SEED-V feature file has "
            "'data' and 'label'."
        )
    try:
        arr = npz[name]
    except ValueError as err:
        # np.load(allow_pickle=False) refuses object arrays: not the released bytes layout.
        raise ValueError(
            f"{path}: member '{name}' is a pickled object array, not the released 0-d bytes "
            f"array; refusing to unpickle it ({err})."
        ) from err
    if arr.dtype.kind != "S" or arr.ndim != 0:
        raise ValueError(
            f"{path}: member '{name}' has dtype {arr.dtype} and shape {arr.shape}; expected a "
            "0-d bytes array holding a pickled dict, as in the SEED-V release."
        )
    # .tobytes() keeps the full item; .item() would strip trailing NUL bytes of the pickle.
    obj = safe_loads(arr.tobytes(), source=f"{path} [{name}]")
    if not isinstance(obj, dict):
        raise ValueError(
            f"{path}: member '{name}' holds a {type(obj).__name__}; expected a dict keyed "
            f"0..{N_KEYS - 1}."
        )
    return obj


def _read_members(path: Path):
    """``data`` and ``label`` of one file; anything unreadable is one ValueError naming it."""
    fix = "re-copy it from the release (or rerun cmt-dataset / cmt-sim dataset)"
    # Our own handle: np.load leaks its file when the zip is unreadable.
    with open(path, "rb") as f:
        head = f.read(4)
        if not head:
            raise ValueError(f"{path} is empty (0 bytes); {fix}.")
        if head[:2] != b"PK":  # numpy would suggest unpickling it: never for a data file
            raise ValueError(
                f"{path} is not an .npz (zip) file (it starts with {head!r}); a SEED-V feature "
                f"file is an npz archive; {fix}."
            )
        f.seek(0)
        try:
            with np.load(f, allow_pickle=False) as npz:
                return _read_member(npz, "data", path), _read_member(npz, "label", path)
        except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as err:
            raise ValueError(
                f"{path} is truncated or corrupt ({type(err).__name__}: {err}); {fix}."
            ) from err


def read_feature_file(
    path: Path, width: int, complete: bool = True
) -> tuple[dict[int, np.ndarray], dict[int, int], list[str]]:
    """Read and check one subject's feature file.

    Parameters
    ----------
    path : Path
        ``{subject}_123.npz`` of one modality.
    width : int
        Features per window: 310 (EEG DE) or 33 (eye).
    complete : bool
        Require the keys 0..44; ``False`` accepts any subset (a lab's own recordings, written
        by ``cmt-dataset``). The released SEED-V files hold all 45.

    Returns
    -------
    feats : dict of int to ndarray, shape (n_windows, width)
        Per key, in the file's dtype; rows beyond the label count are cut.
    labels : dict of int to int
        Per key with at least one window, the trial's emotion code 0..4.
    issues : list of str
        What was repaired (feature rows and labels of different counts).
    """
    issues: list[str] = []
    data, label = _read_members(path)
    for name, d in (("data", data), ("label", label)):
        keys = set(d)
        bad = [k for k in keys if not isinstance(k, (int, np.integer))]
        if bad:
            raise ValueError(
                f"{path}: '{name}' has non-integer keys {sorted(map(repr, bad))[:5]}; "
                f"expected int keys 0..{N_KEYS - 1}."
            )
        missing = sorted(set(range(N_KEYS)) - {int(k) for k in keys}) if complete else []
        extra = sorted({int(k) for k in keys} - set(range(N_KEYS)))
        if missing or extra or (not complete and set(data) != set(label)):
            raise ValueError(
                f"{path}: '{name}' keys are wrong (missing {missing}, unexpected {extra}); "
                f"expected exactly 0..{N_KEYS - 1}."
            )
    feats: dict[int, np.ndarray] = {}
    labels: dict[int, int] = {}
    for k in sorted(int(k) for k in data):
        x = np.asarray(data[k])
        if x.ndim != 2 or x.shape[1] != width or x.dtype.kind not in "fiu":
            raise ValueError(
                f"{path}: data[{k}] has shape {x.shape} and dtype {x.dtype}; expected a "
                f"numeric (n_windows, {width}) array. Is this file in the right directory?"
            )
        lab = np.asarray(label[k]).reshape(-1)
        if lab.size == 0 and x.shape[0] > 0:
            raise ValueError(f"{path}: label[{k}] is empty but data[{k}] has {x.shape[0]} rows.")
        if lab.size:
            if lab.dtype.kind not in "fiu" or not np.all(lab == lab[0]):
                raise ValueError(
                    f"{path}: label[{k}] must repeat one emotion code per window; got values "
                    f"{np.unique(lab)[:10]}."
                )
            code = float(lab[0])
            if code != int(code) or not 0 <= code < N_CLASSES:
                raise ValueError(
                    f"{path}: label[{k}] = {lab[0]!r}; expected an emotion code 0..4 "
                    "(0 Disgust, 1 Fear, 2 Sad, 3 Neutral, 4 Happy)."
                )
            labels[k] = int(code)
        if lab.size != x.shape[0]:
            n = min(lab.size, x.shape[0])
            issues.append(
                f"{path.name} key {k}: {x.shape[0]} feature rows but {lab.size} labels; "
                f"truncated to {n}."
            )
            x = x[:n]
        feats[k] = x
    return feats, labels, issues
