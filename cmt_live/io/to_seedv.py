"""From recorded sessions to training data, through the same features/ as live use.

A lab records sessions (``cmt-live --record`` or LabRecorder: EEG, Gaze and a Markers stream
whose labels are the emotion names at each trial start) and turns them into a directory in the
SEED-V layout that ``cmt-train`` reads::

    cmt-dataset --out mydata s01_a.xdf:1:1 s01_b.xdf:1:2 s02_a.xdf:2:1

Each ``FILE:SUBJECT:SESSION`` gives one session. A trial starts at a marker naming an emotion
(``Disgust``, ``Fear``, ``Sad``, ``Neutral``, ``Happy``, any case) and lasts until the next
marker or the end of the EEG; other markers (``Rest``) end the current trial. Features are
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
from cmt_live.io.readers import eeg_volts, read_recording, select_streams
from cmt_live.plausibility import UnitsCheck, eeg_problem
from features import FeatureSpec, apply_lds, de_features, preprocess_batch
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


def session_trials(path, *, subject: int, session: int, spec: FeatureSpec | None = None):
    """The trials of one recorded session as :class:`models.seedv.Trial` records."""
    from models.seedv import Trial

    spec = spec or FeatureSpec()
    eeg, gaze, markers = select_streams(read_recording(path))
    if gaze is None or markers is None:
        raise ValueError(
            f"{path}: training data needs a gaze and a Markers stream besides the EEG; it holds "
            f"{'no gaze' if gaze is None else 'no markers'}."
        )
    idx = match_channels(eeg.ch_names, spec.ch_names)
    x = eeg_volts(eeg, idx).T
    if spec.preprocess:
        y, _ = preprocess_batch(x, eeg.sfreq, sfreq_out=spec.sfreq, causal=True)
        delay = StreamingPreprocessor(1, eeg.sfreq, sfreq_out=spec.sfreq).delay_s
    elif eeg.sfreq == spec.sfreq:
        y, delay = x, 0.0
    else:
        raise ValueError(f"{path}: EEG at {eeg.sfreq} Hz, the spec wants {spec.sfreq} Hz.")
    g = np.asarray(gaze.data, dtype=np.float64)[:, match_gaze_channels(gaze.ch_names)]
    # Training data in wrong units would teach the model the mistake: refuse (one line).
    problem = eeg_problem(y) or UnitsCheck(None).eye(g)
    if problem:
        raise ValueError(f"{path}: {problem}")
    # Output sample m describes input time t_first + m / sfreq - delay.
    t_y = eeg.timestamps[0] + np.arange(y.shape[1]) / spec.sfreq - delay
    n_win_samples = round(spec.window_s * spec.sfreq)
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
        m0 = int(np.searchsorted(t_y, t0))
        n_win = min(int((t1 - t0) / spec.window_s + 1e-6), (y.shape[1] - m0) // n_win_samples)
        if n_win < 1:
            logger.warning("%s: trial %d (%s) is shorter than one window; skipped.",
                           path, number, CLASS_NAMES[code])  # fmt: skip
            continue
        de = de_features(y[:, m0 : m0 + n_win * n_win_samples], spec.sfreq,
                         window_s=spec.window_s, method=spec.de_method, order=spec.order,
                         bands=spec.bands)  # fmt: skip
        starts = t_y[m0 : m0 + n_win * n_win_samples : n_win_samples]
        eye = eye_features_at(g_ts, *g[:, :4].T, g[:, 4] > 0, starts, window_s=spec.window_s)
        if spec.smoothing == "lds":
            de, eye = apply_lds(de, mode="rts"), apply_lds(eye, mode="rts")
        trials.append(Trial(subject, session, number, de.astype(np.float32),
                            eye.astype(np.float32), code))  # fmt: skip
    logger.info("%s: %d trials for subject %d session %d", path, len(trials), subject, session)
    return trials


def build_dataset_from_recordings(out, sessions, *, spec: FeatureSpec | None = None) -> dict:
    """Write ``sessions`` (``(path, subject, session)`` tuples) as a SEED-V-layout directory.

    Returns the metadata written to ``cmt_sim.json`` (the feature spec, ``"partial": true``
    since a lab's sessions rarely hold SEED-V's 45 trials).
    """
    from models.seedv import fingerprint, write_seedv

    spec = spec or FeatureSpec()
    seen = set()
    trials = []
    for path, subject, session in sessions:
        if (subject, session) in seen:
            raise ValueError(f"subject {subject} session {session} is given twice.")
        seen.add((subject, session))
        trials += session_trials(path, subject=subject, session=session, spec=spec)
    if not trials:
        raise ValueError("No trials found in the recordings (no emotion markers?).")
    out = Path(out)
    write_seedv(out, trials, complete=False)
    meta = {
        "source": "recordings",
        "partial": True,
        "recordings": [{"path": str(p), "subject": s, "session": k} for p, s, k in sessions],
        "feature_spec": spec.to_dict(),
        "fingerprint": fingerprint(trials),
        "n_trials": len(trials),
    }
    (out / SPEC_FILE).write_text(json.dumps(meta, indent=2))
    return meta
