"""``cmt-sim``: synthetic SEED-V data from the simulator, as feature files or live LSL streams.

Examples
--------
::

    cmt-sim dataset --out data/sim                     # 16 subjects, SEED-V trial lengths
    cmt-sim dataset --out /tmp/tiny --subjects 3 --trial-scale 0.05
    cmt-sim stream --subject 17 --duration 600         # EEG, Gaze, Markers over LSL
    cmt-sim stream --prefix Test- --speed 10 --trial-scale 0.1

``dataset`` runs the simulated raw signals through ``features/`` (the functions live use
runs: the causal SEED-V preprocessing, DE, eye features) and writes them in exactly the
released layout (``EEG_DE_features/{s}_123.npz``, ``Eye_movement_features/{s}_123.npz``),
plus ``cmt_sim.json`` beside them describing the simulation and the feature spec.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from cmt_live._logging import logger, set_log_level
from cmt_live.sim.simulator import (
    GAZE_CHANNELS,
    GAZE_UNITS,
    N_CHANNELS,
    SEEDV_LABELS,
    SessionSimulator,
    seedv_schedule,
)
from features.seedv import CLASS_NAMES, SPEC_FILE


# --- dataset -----------------------------------------------------------------------------
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
    subject, seed : int
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
            # Output sample m describes input time m / sfreq_out - delay_s.
            m0 = round((t0 + pre.delay_s) * spec.sfreq)
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
                eeg, spec.sfreq, window_s=spec.window_s, method=spec.de_method, order=spec.order
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

    Returns
    -------
    dict
        The contents of ``cmt_sim.json`` written beside the feature directories.
    """
    from tqdm import tqdm

    from features import FeatureSpec
    from models.seedv import fingerprint, write_seedv

    if n_subjects < 1:
        raise ValueError(f"--subjects {n_subjects}: need at least 1 subject.")
    if not trial_scale > 0:
        raise ValueError(f"--trial-scale {trial_scale}: must be > 0 (1 = SEED-V lengths).")
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
        "signal_model": "cmt_live.sim.simulator (see its module docstring); not real data",
    }
    (out / SPEC_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


# --- stream ------------------------------------------------------------------------------
class _Stop:
    def __init__(self):
        self.flag = False

    def __call__(self, signum, frame):
        self.flag = True


def _session_simulator(args) -> SessionSimulator:
    if args.trial_s is not None:
        schedule = [(lab, args.trial_s) for lab in SEEDV_LABELS[args.session - 1]]
    else:
        schedule = seedv_schedule(args.session, args.trial_scale, rest=args.rest)
    return SessionSimulator(
        args.subject,
        args.seed,
        sfreq=args.sfreq,
        gaze_rate=args.gaze_rate,
        schedule=schedule,
        session=args.session,
    )


def _stream_headers(args):
    """The EEG, Gaze and Markers streams' identity (no samples): one definition for
    ``cmt-sim stream`` and ``cmt-sim record``."""
    from cmt_live.io.xdf import XdfStream
    from features.constants import SEEDV_CHANNELS

    ident, p, none = f"{args.subject}-{args.seed}", args.prefix, np.empty(0)
    return (
        XdfStream(p + "EEG", "EEG", f"cmt-sim-eeg-{ident}", args.sfreq, "float32",
                  list(SEEDV_CHANNELS), none, none, ["microvolts"] * N_CHANNELS),
        XdfStream(p + "Gaze", "Gaze", f"cmt-sim-gaze-{ident}", args.gaze_rate, "float32",
                  list(GAZE_CHANNELS), none, none, list(GAZE_UNITS)),
        XdfStream(p + "Markers", "Markers", f"cmt-sim-markers-{ident}", 0.0, "string",
                  ["label"], none, []),
    )  # fmt: skip


def record_session(args) -> Path:
    """Simulate ``args.duration`` seconds straight into an XDF file (no LSL needed).

    The streams carry the same names, labels, units and source_ids as ``cmt-sim stream``
    publishes, with timestamps starting at 0, so ``cmt-replay`` and ``cmt-live --replay`` treat
    the file like a LabRecorder recording of the simulator.
    """
    from cmt_live.io.xdf import write_xdf

    if not args.duration or args.duration <= 0:
        raise ValueError(f"--duration must be > 0 seconds; got {args.duration}.")
    sim = _session_simulator(args)
    n = math.floor(args.duration * args.sfreq + 1e-9)
    ts, gx, gy, p1, p2, valid = sim.gaze_until(args.duration)
    marks = sim.segment_starts(0.0, args.duration)
    eeg, gaze, markers = _stream_headers(args)
    streams = [
        replace(eeg, timestamps=np.arange(n) / args.sfreq,
                data=(sim.eeg(n) * 1e6).T.astype(np.float32)),
        replace(gaze, timestamps=np.asarray(ts, dtype=np.float64),
                data=np.column_stack([gx, gy, p1, p2, valid]).astype(np.float32)),
        replace(markers, timestamps=np.array([t for t, _ in marks], dtype=np.float64),
                data=[["Rest" if lab is None else CLASS_NAMES[lab]] for _, lab in marks]),
    ]  # fmt: skip
    return write_xdf(args.out, streams)


def run_stream(args) -> int:
    from cmt_live.lsl.config import use_loopback_config

    use_loopback_config()
    import pylsl

    from cmt_live.lsl.outlet import make_outlet

    sim = _session_simulator(args)
    extra = {
        "manufacturer": "cmt-live simulator (synthetic data)",
        "subject": args.subject,
        "seed": args.seed,
        "session": args.session,
    }
    eeg_out, gaze_out, marker_out = (make_outlet(h, desc=extra) for h in _stream_headers(args))
    stop = _Stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    speed, duration, p = args.speed, args.duration, args.prefix
    print(
        f"cmt-sim: streaming {p}EEG ({N_CHANNELS} ch, {args.sfreq:g} Hz), {p}Gaze "
        f"({args.gaze_rate:g} Hz), {p}Markers; subject {args.subject}, seed {args.seed}, "
        f"speed {speed:g}x" + (f", {duration:g} s" if duration else ", until Ctrl-C"),
        file=sys.stderr,
        flush=True,
    )
    t_wall0 = pylsl.local_clock()
    t_sim = 0.0  # simulated seconds published so far
    n_eeg = 0
    step_s = args.chunk_ms / 1000.0
    while not stop.flag:
        now = pylsl.local_clock()
        t_target = (now - t_wall0) * speed
        if duration is not None:
            t_target = min(t_target, duration)
        # Markers first, so a clip's label is out before its first samples.
        for t_start, label in sim.segment_starts(t_sim, t_target) if t_target > t_sim else []:
            name = "Rest" if label is None else CLASS_NAMES[label]
            marker_out.push_sample([name], t_wall0 + t_start / speed)
        n_target = math.floor(t_target * args.sfreq + 1e-9)
        if n_target > n_eeg:
            x = (sim.eeg(n_target - n_eeg) * 1e6).T.astype(np.float32)
            stamps = t_wall0 + np.arange(n_eeg, n_target) / args.sfreq / speed
            eeg_out.push_chunk(x, stamps.tolist())
            n_eeg = n_target
        ts, gx, gy, p1, p2, valid = sim.gaze_until(t_target)
        if ts.size:
            g = np.column_stack([gx, gy, p1, p2, valid]).astype(np.float32)
            gaze_out.push_chunk(g, (t_wall0 + ts / speed).tolist())
        t_sim = max(t_sim, t_target)
        if duration is not None and t_sim >= duration:
            break
        time.sleep(max(0.0, step_s - (pylsl.local_clock() - now)))
    # Dropping the outlets unregisters them; inlets see the streams end.
    del eeg_out, gaze_out, marker_out
    print(f"cmt-sim: stopped after {t_sim:.1f} simulated s.", file=sys.stderr, flush=True)
    return 0


# --- command line ------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cmt-sim", description=__doc__.split("\n\n")[0])
    p.add_argument("--log-level", default="WARNING")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("dataset", help="write simulated SEED-V feature files")
    d.add_argument("--out", required=True, help="output directory (SEED-V layout)")
    d.add_argument("--subjects", type=int, default=16, help="number of subjects (default 16)")
    d.add_argument(
        "--trial-scale", type=float, default=1.0, help="scale of clip lengths (0.1 = a tenth)"
    )
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--sfreq", type=float, default=200.0, help="raw EEG rate, Hz (200 or 1000)")
    d.add_argument("--gaze-rate", type=float, default=120.0)
    d.add_argument("--jobs", type=int, default=1, help="parallel processes (one per subject)")
    d.add_argument("--force", action="store_true", help="overwrite existing feature files")
    d.add_argument("--no-progress", action="store_true")

    s = sub.add_parser("stream", help="publish EEG, Gaze and Markers over LSL in real time")
    _add_session_args(s)
    s.add_argument("--duration", type=float, default=None, help="stop after S simulated s")
    s.add_argument("--speed", type=float, default=1.0, help="x real time (stamps compressed)")
    s.add_argument(
        "--trial-s",
        type=float,
        default=None,
        metavar="S",
        help="every clip lasts S seconds (SEED-V's label order, no gaps); overrides --trial-scale",
    )
    s.add_argument("--chunk-ms", type=float, default=25.0, help="push interval, ms")

    r = sub.add_parser("record", help="write a simulated session to an XDF file (no LSL)")
    _add_session_args(r)
    r.add_argument("--out", required=True, help="output .xdf")
    r.add_argument("--duration", type=float, default=60.0, help="simulated seconds (default 60)")
    r.add_argument("--trial-s", type=float, default=None, metavar="S", help="every clip lasts S s")
    return p


def _add_session_args(s) -> None:
    s.add_argument("--subject", type=int, default=1)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--session", type=int, default=1, choices=(1, 2, 3))
    s.add_argument("--sfreq", type=float, default=200.0, help="EEG rate, Hz (200 or 1000)")
    s.add_argument("--gaze-rate", type=float, default=120.0)
    s.add_argument("--prefix", default="", help="prefix of the three stream names")
    s.add_argument("--trial-scale", type=float, default=1.0, help="scale of clip lengths")
    s.add_argument("--rest", action="store_true", help="include SEED-V's gaps ('Rest' marker)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_log_level(args.log_level)
    if args.command == "dataset":
        out = Path(args.out)
        if (out / "EEG_DE_features").exists() and not args.force:
            print(
                f"cmt-sim: {out} already holds EEG_DE_features/; pass --force to overwrite.",
                file=sys.stderr,
            )
            return 2
        try:
            t0 = time.perf_counter()
            meta = build_dataset(
                out,
                n_subjects=args.subjects,
                trial_scale=args.trial_scale,
                seed=args.seed,
                sfreq=args.sfreq,
                gaze_rate=args.gaze_rate,
                jobs=args.jobs,
                progress=not args.no_progress,
            )
        except ValueError as err:
            print(f"cmt-sim: {err}", file=sys.stderr)
            return 2
        print(
            f"cmt-sim: wrote {len(meta['subjects'])} subjects to {out} "
            f"({meta['windows_per_subject']} windows each, {time.perf_counter() - t0:.1f} s)"
        )
        return 0
    if args.command == "record":
        try:
            path = record_session(args)
        except ValueError as err:
            print(f"cmt-sim: {err}", file=sys.stderr)
            return 2
        print(f"cmt-sim: wrote {args.duration:g} s of subject {args.subject} to {path}")
        return 0
    for name in ("speed", "sfreq", "gaze_rate", "chunk_ms", "trial_scale", "trial_s"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            print(
                f"cmt-sim: --{name.replace('_', '-')} {value} is invalid; it must be > 0.",
                file=sys.stderr,
            )
            return 2
    if args.duration is not None and not args.duration > 0:
        print(f"cmt-sim: --duration {args.duration} must be > 0 seconds.", file=sys.stderr)
        return 2
    try:
        return run_stream(args)
    except ValueError as err:
        print(f"cmt-sim: {err}", file=sys.stderr)
        logger.debug("stream failed", exc_info=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
