"""From recorded sessions to training data, through the same features/ as live use.

A lab records sessions (``cmt-live --record`` or LabRecorder: EEG, Gaze and a Markers stream
whose labels are the emotion names at each trial start) and turns them into a directory in the
SEED-V layout that ``cmt-train`` reads::

    cmt-dataset --out mydata s01_a.xdf:1:1 s01_b.xdf:1:2 s02_a.xdf:2:1

Each ``FILE:SUBJECT:SESSION`` gives one session: an XDF file, or an EEG file and a gaze file
joined by ``+`` (``s01.cnt+s01.asc:1:1``, gaze read with the ``--gaze-*`` / screen options of
:mod:`cmt_live.io.options`). A file without a Markers stream takes its trials from
``--seedv-times`` (SEED-V's clip times and label order for the session). A trial starts at a
marker naming an emotion (``Disgust``, ``Fear``, ``Sad``, ``Neutral``, ``Happy``, any case)
and lasts until the next marker or the end of the EEG; other markers (``Rest``) end the
current trial. Features are
computed exactly as live: the EEG is resampled and band-passed with the causal preprocessing,
cut into non-overlapping ``window_s`` windows from each trial start, and goes through
``features.de_features``; gaze through ``features.eye.eye_features_at`` (which is
``eye_features_window`` per window) on the same spans.
The EEG is assumed continuous (an outage inside a trial shifts its windows: record again or
drop that trial).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cmt_live._logging import logger
from cmt_live.channels import match_channels, match_gaze_channels
from cmt_live.io.options import RecordingOptions
from cmt_live.io.readers import eeg_volts, read_recording, seedv_trial_markers, select_streams
from cmt_live.plausibility import UnitsCheck, eeg_problem
from features import FeatureSpec, apply_lds, de_features
from features.eye import eye_features_at
from features.preprocess import StreamingPreprocessor
from features.seedv import CLASS_NAMES, N_TRIALS_PER_SESSION, SPEC_FILE

_CODES = {name.lower(): i for i, name in enumerate(CLASS_NAMES)}


def trial_segments(marker_ts, marker_labels, t_stop: float) -> list[tuple[float, float, int]]:
    """``(t_start, t_end, code)`` of every trial announced by emotion markers."""
    out = []
    for i, (t, label) in enumerate(zip(marker_ts, marker_labels)):
        code = _CODES.get(str(label).strip().lower())
        if code is None:
            continue
        t_next = marker_ts[i + 1] if i + 1 < len(marker_ts) else t_stop
        out.append((float(t), float(min(t_next, t_stop)), code))
    return out


def preprocessed(x: np.ndarray, sfreq: float, t_first: float, spec: FeatureSpec, path):
    """EEG as the model sees it (live preprocessing, causal) and each output sample's time.

    Parameters
    ----------
    x : array of shape (n_channels, n_times)
        Volts, in the spec's channel order.
    sfreq : float
        Input rate, Hz.
    t_first : float
        Time of the first input sample, seconds.

    Returns
    -------
    y : array of shape (n_channels, n_out)
        At ``spec.sfreq``.
    t_y : array of shape (n_out,)
        Stamp of each output sample on the input clock (as live: the filters' group delay is
        not subtracted, :mod:`features.preprocess`).
    """
    if spec.preprocess:
        pre = StreamingPreprocessor(x.shape[0], sfreq, sfreq_out=spec.sfreq)
        y = pre.push(x)
    elif sfreq == spec.sfreq:
        y = x
    else:
        raise ValueError(f"{path}: EEG at {sfreq} Hz, the spec wants {spec.sfreq} Hz.")
    return y, t_first + np.arange(y.shape[1]) / spec.sfreq


def de_windows(y: np.ndarray, t_y: np.ndarray, t0: float, t1: float, spec: FeatureSpec):
    """DE of the non-overlapping windows of ``[t0, t1)`` (LDS-smoothed when the spec says),
    and each window's start time; None when not one whole window fits in ``y``."""
    n_win_samples = round(spec.window_s * spec.sfreq)
    m0 = int(np.searchsorted(t_y, t0))
    n_win = min(int((t1 - t0) / spec.window_s + 1e-6), (y.shape[1] - m0) // n_win_samples)
    if n_win < 1:
        return None
    de = de_features(
        y[:, m0 : m0 + n_win * n_win_samples],
        spec.sfreq,
        window_s=spec.window_s,
        method=spec.de_method,
        order=spec.order,
        bands=spec.bands,
    )
    if spec.smoothing == "lds":
        de = apply_lds(de, mode="rts")
    return de, t_y[m0 : m0 + n_win * n_win_samples : n_win_samples]


def session_trials(
    path,
    *,
    subject: int,
    session: int,
    spec: FeatureSpec | None = None,
    options: RecordingOptions | None = None,
    seedv_times=None,
):
    """The trials of one recorded session as :class:`models.seedv.Trial` records.

    ``path``: an XDF file, or ``"EEG+GAZE"`` (an EEG file and a gaze file). ``seedv_times``:
    SEED-V's ``trial_start_end_timestamp.txt``, the trials of a file without markers.
    """
    from models.seedv import Trial

    spec = spec or FeatureSpec()
    eeg_path, _, gaze_path = str(path).partition("+")
    streams = read_recording(eeg_path, gaze=gaze_path or None, options=options)
    if seedv_times is not None and not any(s.type.lower() == "markers" for s in streams):
        streams.append(seedv_trial_markers(seedv_times, session))
    eeg, gaze, markers = select_streams(streams)
    if gaze is None or markers is None:
        raise ValueError(
            f"{path}: training data needs a gaze and a Markers stream besides the EEG; it holds "
            f"{'no gaze' if gaze is None else 'no markers'}"
            + (
                " (join a gaze file: EEG+GAZE:SUBJECT:SESSION)."
                if gaze is None
                else " (give the trial times with --seedv-times)."
            )
        )
    idx = match_channels(eeg.ch_names, spec.ch_names)
    y, t_y = preprocessed(eeg_volts(eeg, idx).T, eeg.sfreq, eeg.timestamps[0], spec, path)
    g = np.asarray(gaze.data, dtype=np.float64)[:, match_gaze_channels(gaze.ch_names)]
    # Training data in wrong units would teach the model the mistake: refuse (one line).
    problem = eeg_problem(y) or UnitsCheck(None).eye(g)
    if problem:
        raise ValueError(f"{path}: {problem}")
    g_ts = gaze.timestamps
    labels = [row[0] for row in markers.data]
    segments = trial_segments(markers.timestamps, labels, float(t_y[-1]) + 1 / spec.sfreq)
    if len(segments) > N_TRIALS_PER_SESSION:
        raise ValueError(
            f"{path}: {len(segments)} trials; the SEED-V layout holds {N_TRIALS_PER_SESSION} per "
            "session. Split the recording into sessions."
        )
    trials = []
    for number, (t0, t1, code) in enumerate(segments, start=1):
        cut = de_windows(y, t_y, t0, t1, spec)
        if cut is None:
            logger.warning(
                "%s: trial %d (%s) is shorter than one window; skipped.",
                path,
                number,
                CLASS_NAMES[code],
            )
            continue
        de, starts = cut
        eye = eye_features_at(g_ts, *g[:, :4].T, g[:, 4] > 0, starts, window_s=spec.window_s)
        if spec.smoothing == "lds":
            eye = apply_lds(eye, mode="rts")
        trials.append(
            Trial(subject, session, number, de.astype(np.float32), eye.astype(np.float32), code)
        )
    logger.info("%s: %d trials for subject %d session %d", path, len(trials), subject, session)
    return trials


def build_dataset_from_recordings(
    out,
    sessions,
    *,
    spec: FeatureSpec | None = None,
    options: RecordingOptions | None = None,
    seedv_times=None,
) -> dict:
    """Write ``sessions`` (``(path, subject, session)`` tuples) as a SEED-V-layout directory.

    Returns the metadata written to ``cmt_sim.json`` (the feature spec, ``"partial": true``
    since a lab's sessions rarely hold SEED-V's 45 trials).
    """

    spec = spec or FeatureSpec()
    seen = set()
    trials = []
    for path, subject, session in sessions:
        if (subject, session) in seen:
            raise ValueError(f"subject {subject} session {session} is given twice.")
        seen.add((subject, session))
        trials += session_trials(
            path,
            subject=subject,
            session=session,
            spec=spec,
            options=options,
            seedv_times=seedv_times,
        )
    if not trials:
        raise ValueError("No trials found in the recordings (no emotion markers?).")
    return write_dataset(out, trials, sessions, spec, source="recordings")


def write_dataset(out, trials, sessions, spec: FeatureSpec, *, source: str, **extra) -> dict:
    """Write ``trials`` as a SEED-V-layout directory and its ``cmt_sim.json``.

    ``sessions``: the ``(path, subject, session)`` recordings they came from; ``source``
    and ``extra`` go into the metadata (``"partial": true``: rarely SEED-V's 45 trials).
    Returns the metadata written.
    """
    from models.seedv import fingerprint, write_seedv

    out = Path(out)
    write_seedv(out, trials, complete=False)
    meta = {
        "source": source,
        "partial": True,
        "recordings": [{"path": str(p), "subject": s, "session": k} for p, s, k in sessions],
        "feature_spec": spec.to_dict(),
        **extra,
        "fingerprint": fingerprint(trials),
        "n_trials": len(trials),
    }
    (out / SPEC_FILE).write_text(json.dumps(meta, indent=2))
    return meta
