"""SEED-V's raw release (``EEG_raw/*.cnt`` + ``trial_start_end_timestamp.txt``) -> training data.

Layout read (shared/SEEDV.md §1-3)::

    ROOT/EEG_raw/{subject}_{session}_{YYYYMMDD}.cnt    Neuroscan, 1000 Hz, 62 EEG + 4 others
    ROOT/trial_start_end_timestamp.txt                 clip start/end seconds per session

Each session's 15 clips are cut at the published times (label order
:data:`features.seedv.SEEDV_LABELS`); each clip gives ``floor((end - start) / window_s)``
non-overlapping windows from its start, the count the release has. The EEG goes through the
live preprocessing and ``features.de_features`` exactly as ``cmt-dataset`` does for a lab's
recordings (:mod:`cmt_live.io.to_seedv`), one clip at a time with ``LEAD_S`` seconds before it
so the causal filters have settled (SEED-V leaves at least 15 s between clips). Channels are
picked by name, any case (M1, M2, VEO, HEO are dropped).

Eye features: SEED-V ships no per-sample gaze (``Eye_raw`` holds SMI event tables; see the
README's "Recording formats"), so the eye columns are written as zeros and ``cmt_sim.json``
says so (``feature_source``: EEG ``computed``, eye ``unknown``, every eye column absent): a
model trained on it runs EEG-only live.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from cmt_live._logging import logger
from cmt_live.io.readers import open_raw_eeg, pick_channels, read_seedv_trials
from cmt_live.io.to_seedv import de_windows, preprocessed, write_dataset
from cmt_live.plausibility import eeg_problem
from features import FeatureSpec
from features.constants import N_EYE_FEATURES

#: Seconds of EEG read before each clip for the causal filters to settle.
LEAD_S = 10.0
TIMES_FILE = "trial_start_end_timestamp.txt"
_NAME = re.compile(r"^(\d+)_(\d+)_(\d+)\.cnt$", re.IGNORECASE)


def find_raw_sessions(root: str | Path) -> list[tuple[Path, int, int]]:
    """``(path, subject, session)`` of every ``EEG_raw/{s}_{k}_{date}.cnt``, sorted.

    Raises
    ------
    ValueError
        No such file, or one subject-session twice (with the files named).
    """
    root = Path(root)
    folder = root / "EEG_raw"
    found: dict[tuple[int, int], Path] = {}
    for path in sorted(folder.glob("*.cnt")) + sorted(folder.glob("*.CNT")):
        m = _NAME.match(path.name)
        if m is None:
            logger.warning("%s: not named {subject}_{session}_{date}.cnt; skipped.", path)
            continue
        key = (int(m[1]), int(m[2]))
        if key in found and found[key] != path:
            raise ValueError(
                f"subject {key[0]} session {key[1]} has two files: {found[key]} and "
                f"{path}; move one out of {folder}."
            )
        found[key] = path
    if not found:
        raise ValueError(
            f"{folder} holds no {{subject}}_{{session}}_{{date}}.cnt file; point --seedv-raw at "
            "the SEED-V folder that contains EEG_raw/ and trial_start_end_timestamp.txt."
        )
    return [(p, s, k) for (s, k), p in sorted(found.items())]


def raw_session_trials(
    path, *, subject: int, session: int, times_file, spec: FeatureSpec, cnt_format="auto"
):
    """The 15 clips of one raw SEED-V session as :class:`models.seedv.Trial` records (DE
    computed here, eye columns zero)."""
    from models.seedv import Trial

    start, end, labels = read_seedv_trials(times_file, session)
    raw = open_raw_eeg(path, cnt_format)
    pick_channels(raw, spec.ch_names, path)
    sfreq = float(raw.info["sfreq"])
    t_stop = raw.n_times / sfreq
    trials = []
    for number, (t0, t1, code) in enumerate(zip(start, end, labels), start=1):
        if t1 > t_stop + 1e-9:
            logger.warning(
                "%s: clip %d ends at %.1f s, after the recording (%.1f s); skipped.",
                path,
                number,
                t1,
                t_stop,
            )
            continue
        a = max(0, int(np.floor((t0 - LEAD_S) * sfreq)))
        b = min(raw.n_times, int(np.ceil(t1 * sfreq)) + 1)
        x = raw.get_data(start=a, stop=b)  # volts, the spec's channel order
        y, t_y = preprocessed(x, sfreq, a / sfreq, spec, path)
        problem = eeg_problem(y)  # wrong units would teach the model the mistake
        if problem:
            raise ValueError(f"{path}, clip {number}: {problem}")
        cut = de_windows(y, t_y, float(t0), float(t1), spec)
        if cut is None:
            logger.warning("%s: clip %d is shorter than one window; skipped.", path, number)
            continue
        de = cut[0].astype(np.float32)
        eye = np.zeros((de.shape[0], N_EYE_FEATURES), dtype=np.float32)
        trials.append(Trial(subject, session, number, de, eye, int(code)))
    logger.info("%s: %d clips for subject %d session %d", path, len(trials), subject, session)
    return trials


def build_dataset_from_seedv_raw(
    out, root, *, subjects=None, spec: FeatureSpec | None = None, cnt_format: str = "auto"
) -> dict:
    """Write the sessions under ``root/EEG_raw`` as a SEED-V-layout training directory.

    Parameters
    ----------
    out : str | Path
        Output directory.
    root : str | Path
        The SEED-V folder (``EEG_raw/``, ``trial_start_end_timestamp.txt``).
    subjects : iterable of int | None
        Subjects to convert; None: all.
    spec : FeatureSpec | None
        Feature spec (default ``FeatureSpec()``).
    cnt_format : str
        ``--cnt-format``.

    Returns
    -------
    meta : dict
        What ``cmt_sim.json`` holds.
    """

    spec = spec or FeatureSpec()
    root = Path(root)
    times_file = root / TIMES_FILE
    if not times_file.is_file():
        raise FileNotFoundError(
            f"{times_file} does not exist; it comes with SEED-V's release "
            "(clip start and end seconds per session)."
        )
    sessions = find_raw_sessions(root)
    if subjects is not None:
        wanted = set(subjects)
        sessions = [s for s in sessions if s[1] in wanted]
        if not sessions:
            raise ValueError(f"{root / 'EEG_raw'} holds none of subjects {sorted(wanted)}.")
    trials = []
    for path, subject, session in sessions:
        trials += raw_session_trials(
            path,
            subject=subject,
            session=session,
            times_file=times_file,
            spec=spec,
            cnt_format=cnt_format,
        )
    if not trials:
        raise ValueError(f"{root}: no clip fits in the recordings (are they cut short?).")
    # Read by models.seedv.load_feature_source: the eye columns are zeros, not features.
    eye_absent = list(spec.eye_names)
    feature_source = {"eeg": "computed", "eye": "unknown", "eye_absent": eye_absent}
    return write_dataset(
        out, trials, sessions, spec, source="seedv-raw", feature_source=feature_source
    )
