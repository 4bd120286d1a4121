"""Fast in-process replay: a recording through the live pipeline, no LSL, as fast as possible.

``cmt-live --replay FILE --fast --model M --log PATH`` reads the recording
(:func:`cmt_live.io.readers.read_recording`), feeds its EEG and gaze samples, with their recorded
timestamps, into the same :class:`cmt_live.pipeline.Pipeline` the LSL loop drives, and writes
the same session log. Windows are cut on the EEG sample grid, so the features equal those of a
real-time LSL replay of the same file (the golden test checks it bit for bit). The only
difference is throughput: the model runs on batches of windows instead of one per step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cmt_live.io.readers import read_recording
from cmt_live.io.xdf import XdfStream
from models.runtime import fit_to_context

from ._logging import logger
from .channels import match_channels, match_gaze_channels, parse_unit
from .checks import ContractError
from .pipeline import Pipeline
from .stream_checks import TimestampChecker

#: Seconds of recording fed per chunk (any value gives the same windows).
CHUNK_S = 1.0
#: Windows per model batch.
BATCH = 64


@dataclass(frozen=True)
class ReplayStats:
    """What a fast replay did.

    Attributes
    ----------
    duration_s : float
        Recording time covered, seconds.
    wall_s : float
        Time the replay took, seconds.
    n_windows, n_predictions : int
    """

    duration_s: float
    wall_s: float
    n_windows: int
    n_predictions: int

    @property
    def speed(self) -> float:
        """Times faster than real time."""
        return self.duration_s / self.wall_s if self.wall_s > 0 else float("inf")


def _pick(streams: list[XdfStream], name: str | None, types: tuple[str, ...]):
    if name is not None:
        hits = [s for s in streams if s.name == name]
        if not hits:
            raise ValueError(
                f"The recording has no stream named {name!r}; it holds {[s.name for s in streams]}."
            )
        return hits[0]
    hits = [s for s in streams if s.type.lower() in types]
    if len(hits) > 1:
        raise ValueError(
            f"Several {types[0]} streams in the recording ({[s.name for s in hits]}); choose "
            "one with --eeg-stream / --eye-stream."
        )
    return hits[0] if hits else None


def select_streams(streams, *, eeg_stream=None, eye_stream=None, marker_stream=None):
    """The EEG, gaze and marker streams of a recording (by name, else by type)."""
    eeg = _pick(streams, eeg_stream, ("eeg",))
    if eeg is None:
        raise ValueError(
            f"No EEG stream in the recording ({[(s.name, s.type) for s in streams]}); name it "
            "with --eeg-stream."
        )
    gaze = _pick(streams, eye_stream, ("gaze", "eyetracker", "eye"))
    markers = _pick(streams, marker_stream, ("markers",))
    return eeg, gaze, markers


def run_fast_replay(
    runtime,
    path: str | Path,
    *,
    sinks=(),
    gaze_file: str | Path | None = None,
    eeg_stream: str | None = None,
    eye_stream: str | None = None,
    marker_stream: str | None = None,
    channel_map=None,
    eeg_unit: str | None = None,
    step_s: float = 1.0,
    batch: int = BATCH,
) -> ReplayStats:
    """Replay a recording through :class:`~cmt_live.pipeline.Pipeline` as fast as possible.

    Parameters
    ----------
    runtime : models.Runtime
    path : str | Path
        ``.xdf``, or an MNE-readable EEG file (with ``gaze_file``, a gaze CSV).
    sinks : sequence
        Sinks as for live use (session log, ...).
    eeg_stream, eye_stream, marker_stream : str | None
        Stream names in an XDF file; by default the streams of type EEG, Gaze and Markers.
    channel_map, eeg_unit
        As ``--channel-map`` and ``--eeg-units``.
    step_s : float
    batch : int
        Windows per model call (1 reproduces the live loop's one call per window).

    Returns
    -------
    ReplayStats
    """
    t_wall = time.perf_counter()
    spec = runtime.contract.feature_spec
    streams = read_recording(path, gaze=gaze_file, ch_names=None)
    eeg, gaze, markers = select_streams(
        streams, eeg_stream=eeg_stream, eye_stream=eye_stream, marker_stream=marker_stream
    )
    try:
        idx = match_channels(eeg.ch_names, spec.ch_names, channel_map)
        gidx = match_gaze_channels(gaze.ch_names) if gaze is not None else None
    except ValueError as err:
        raise ContractError(str(err)) from err
    unit = eeg_unit or (eeg.units[0] if eeg.units else "")
    scale = parse_unit(unit)
    if scale is None:
        logger.warning("EEG stream %r declares no unit; assuming microvolts.", eeg.name)
        scale = 1e-6
    t_now = float(eeg.timestamps[0]) if len(eeg.timestamps) else 0.0
    core = Pipeline(
        runtime,
        eeg_sfreq=eeg.sfreq,
        step_s=step_s,
        has_gaze=gaze is not None,
        gaze_sfreq=gaze.sfreq if gaze is not None else 0.0,
        sinks=sinks,
        # Recording time: a prediction is "computed" when its last sample has been read, so
        # the log's latency is the pipeline's own delay, not the wall clock of the replay.
        clock=lambda: t_now,
    )
    if gaze is None:
        core.emit_event("eye_missing", "no gaze stream in the recording: EEG-only", 0.0)
    eeg_checker = TimestampChecker(eeg.sfreq, kind="eeg")
    faults: list[float] = []
    eeg_x = np.asarray(eeg.data, dtype=np.float64)[:, idx] * scale
    eeg_ts = eeg.timestamps
    g_x = None if gaze is None else np.asarray(gaze.data, dtype=np.float64)[:, gidx]
    g_ts = None if gaze is None else gaze.timestamps
    m_ts = np.array([]) if markers is None else markers.timestamps
    pending: list = []

    def flush():
        if not pending:
            return
        t0 = time.perf_counter()
        L = runtime.contract.context_len
        fitted = [
            fit_to_context(c.eeg[None], c.eye[None], c.eeg_mask[None], c.eye_mask[None], L)
            for _, c in pending
        ]
        probs, gates = runtime.predict_batch(*(np.concatenate(p) for p in zip(*fitted)))
        ms = (time.perf_counter() - t0) * 1e3 / len(pending)
        for (frame, ctx), p, g in zip(pending, probs, gates):
            core.finish(frame, ctx, p, g, ms)
        pending.clear()

    chunk = max(1, round(CHUNK_S * eeg.sfreq))
    gi = mi = 0
    for lo in range(0, len(eeg_ts), chunk):
        hi = min(lo + chunk, len(eeg_ts))
        checked = eeg_checker.check(eeg_x[lo:hi], eeg_ts[lo:hi], now=float(eeg_ts[hi - 1]))
        core.push_eeg(checked.data, checked.timestamps)
        faults.extend(checked.fault_timestamps.tolist())
        t_now = float(eeg_ts[hi - 1])
        if g_ts is not None:
            gj = int(np.searchsorted(g_ts, t_now, side="right"))
            if gj > gi:
                core.push_gaze(g_x[gi:gj], g_ts[gi:gj])
            gi = gj
        mj = int(np.searchsorted(m_ts, t_now, side="right"))
        for k in range(mi, mj):
            core.push_marker(float(m_ts[k]), str(markers.data[k][0]))
        mi = mj
        for w in core.due_windows(eeg_gaps=list(eeg_checker.gaps), timestamp_faults=faults):
            prepared = core.prepare(w)
            if prepared is not None:
                pending.append(prepared)
            if len(pending) >= batch:
                flush()
    flush()
    core.close()
    duration = float(eeg_ts[-1] - eeg_ts[0]) if len(eeg_ts) else 0.0
    stats = ReplayStats(duration, time.perf_counter() - t_wall, core.n_windows, core.n_predictions)
    logger.info(
        "fast replay of %s: %.0f s in %.2f s (%.0fx real time), %d predictions",
        path,
        stats.duration_s,
        stats.wall_s,
        stats.speed,
        stats.n_predictions,
    )
    return stats
