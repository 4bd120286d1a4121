"""Simulated SEED-V feature files: simulate subjects, compute features, write the layout.

:func:`build_dataset` (``cmt-sim dataset``) runs the simulated raw signals through
``features/`` (the functions live use runs: the causal SEED-V preprocessing, DE, eye features)
and writes them in exactly the released layout (``EEG_DE_features/{s}_123.npz``,
``Eye_movement_features/{s}_123.npz``), plus :data:`features.seedv.SPEC_FILE` beside them
describing the simulation and the feature spec.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from features.seedv import SPEC_FILE

from .scalp import N_CHANNELS
from .schedule import seedv_schedule
from .session import SessionSimulator


def simulate_subject(
    subject: int,
    *,
    seed: int = 0,
    trial_scale: float = 1.0,
    sfreq: float = 200.0,
    gaze_rate: float = 120.0,
    spec=None,
):
    """Simulate the three sessions of one subject and compute their features.

    Parameters
    ----------
    subject : int
        Subject number.
    seed : int
        Dataset seed (see :class:`cmt_live.sim.profiles.SubjectProfile`).
    trial_scale : float
        Multiplies SEED-V's clip and gap durations (trials keep >= 2 windows).
    sfreq : float
        Simulated raw EEG rate, Hz; resampled to ``spec.sfreq`` by the preprocessing.
    gaze_rate : float
        Simulated gaze rate, Hz.
    spec : features.FeatureSpec | None
        Default ``FeatureSpec()``.

    Returns
    -------
    list of models.seedv.Trial
        45 trials (sessions 1..3, trials 1..15), EEG ``(n_windows, 310)`` and eye
        ``(n_windows, 33)`` for each.

    Notes
    -----
    Each session is simulated continuously, with SEED-V's gaps between clips, and streamed
    through the causal :class:`features.preprocess.StreamingPreprocessor` exactly as live
    data would be; a clip ``[start, end)`` becomes ``floor((end - start) / window_s)``
    windows starting at ``start``.
    """
    from features import FeatureSpec, apply_lds, de_features
    from features.preprocess import StreamingPreprocessor
    from models.seedv import Trial

    spec = spec or FeatureSpec()
    trials = []
    for session in (1, 2, 3):
        schedule = seedv_schedule(session, trial_scale, rest=True)
        sim = SessionSimulator(
            subject, seed, sfreq=sfreq, gaze_rate=gaze_rate, schedule=schedule, session=session
        )
        pre = StreamingPreprocessor(N_CHANNELS, sfreq, sfreq_out=spec.sfreq)
        starts = np.concatenate([[0.0], np.cumsum([d for _, d in schedule])])
        win_n = round(spec.window_s * spec.sfreq)
        out_chunks: list[np.ndarray] = []
        out_first = 0  # output index of out_chunks[0][:, 0]
        out_total = 0
        n_in_done = 0
        trial_no = 0
        pending = [(i, lab) for i, (lab, _) in enumerate(schedule) if lab is not None]
        t_feed = 0.0
        while pending:
            i, label = pending[0]
            t0, t1 = starts[i], starts[i + 1]
            # Output sample m is stamped m / sfreq_out, as live (features.preprocess).
            m0 = round(t0 * spec.sfreq)
            # Durations come from a cumulative sum: round off float noise before flooring.
            n_win = int((t1 - t0) / spec.window_s + 1e-6)
            m1 = m0 + n_win * win_n
            if out_total < m1:
                t_feed = max(t_feed, t1) + 1.0
                n_target = round(t_feed * sfreq)
                y = pre.push(sim.eeg(n_target - n_in_done))
                n_in_done = n_target
                out_chunks.append(y)
                out_total += y.shape[1]
                continue
            buf = np.concatenate(out_chunks, axis=1)
            eeg = buf[:, m0 - out_first : m1 - out_first]
            de = de_features(
                eeg,
                spec.sfreq,
                window_s=spec.window_s,
                method=spec.de_method,
                order=spec.order,
                bands=spec.bands,
            )
            eye = _eye_trial(sim, float(t0), n_win, spec.window_s)
            if spec.smoothing == "lds":
                de = apply_lds(de, mode="rts")
                eye = apply_lds(eye, mode="rts")
            trial_no += 1
            trials.append(
                Trial(
                    subject=subject,
                    session=session,
                    trial=trial_no,
                    eeg=de.astype(np.float32),
                    eye=eye.astype(np.float32),
                    label=int(label),
                )
            )
            pending.pop(0)
            # Keep only what later clips still need.
            keep_from = m1
            out_chunks = [buf[:, keep_from - out_first :]]
            out_first = keep_from
    return trials


def _eye_trial(sim: SessionSimulator, t0: float, n_win: int, window_s: float) -> np.ndarray:
    """Eye features ``(n_win, 33)`` of the windows ``[t0 + w window_s, ...)`` of one clip."""
    from features.eye import eye_features_at

    ts, x, y, p1, p2, valid = sim.gaze_segment(t0, t0 + n_win * window_s)
    starts = t0 + np.arange(n_win) * window_s
    return eye_features_at(ts, x, y, p1, p2, valid > 0, starts, window_s=window_s)


def _simulate_job(args):
    """:func:`simulate_subject` of ``(subject, kwargs)``, for a process pool."""
    subject, kwargs = args
    return simulate_subject(subject, **kwargs)


def build_dataset(
    out: str | Path,
    *,
    n_subjects: int = 16,
    trial_scale: float = 1.0,
    seed: int = 0,
    sfreq: float = 200.0,
    gaze_rate: float = 120.0,
    jobs: int = 1,
    progress: bool = True,
) -> dict:
    """Simulate ``n_subjects`` subjects and write them in SEED-V's released layout.

    Parameters
    ----------
    out : path-like
        Output directory; ``EEG_DE_features/`` and ``Eye_movement_features/`` go inside.
    n_subjects : int
        Subjects 1..n_subjects.
    trial_scale : float
        Multiplies SEED-V's clip and gap durations (> 0; trials keep >= 2 windows).
    seed : int
        Dataset seed.
    sfreq : float
        Simulated raw EEG rate, Hz.
    gaze_rate : float
        Simulated gaze rate, Hz.
    jobs : int
        Parallel processes (one subject each); 1 runs in this process.
    progress : bool
        A tqdm bar on stderr.

    Returns
    -------
    dict
        The contents of :data:`features.seedv.SPEC_FILE` written beside the feature
        directories.
    """
    from tqdm import tqdm

    from features import FeatureSpec
    from models.seedv import fingerprint, write_seedv

    if n_subjects < 1:
        raise ValueError(f"n_subjects={n_subjects!r} is invalid; need at least 1 subject.")
    if not trial_scale > 0:
        raise ValueError(f"trial_scale={trial_scale!r} must be > 0 (1 = SEED-V lengths).")
    out = Path(out)
    spec = FeatureSpec()
    kwargs = dict(seed=seed, trial_scale=trial_scale, sfreq=sfreq, gaze_rate=gaze_rate, spec=spec)
    subjects = list(range(1, n_subjects + 1))
    all_trials = []
    bar = tqdm(total=n_subjects, desc="cmt-sim dataset", unit="subject", disable=not progress)
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as ex:
            for trials in ex.map(_simulate_job, [(s, kwargs) for s in subjects]):
                all_trials += trials
                bar.update()
    else:
        for s in subjects:
            all_trials += simulate_subject(s, **kwargs)
            bar.update()
    bar.close()
    write_seedv(out, all_trials)
    meta = {
        "generator": "cmt-sim dataset",
        "synthetic": True,
        "subjects": subjects,
        "seed": seed,
        "trial_scale": trial_scale,
        "raw_sfreq": sfreq,
        "gaze_rate": gaze_rate,
        "preprocessing": "features.preprocess.StreamingPreprocessor (causal, as live)",
        "eye_features": "features.eye.eye_features_at (= eye_features_window per window)",
        "feature_spec": spec.to_dict(),
        "windows_per_subject": sum(t.n_windows for t in all_trials) // n_subjects,
        "fingerprint": fingerprint(all_trials),
        "signal_model": "cmt_live.sim (see cmt_live/sim/session.py); not real data",
    }
    (out / SPEC_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return meta
