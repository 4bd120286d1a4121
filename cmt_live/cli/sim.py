"""``cmt-sim``: synthetic SEED-V data from the simulator, as feature files, LSL streams or XDF.

Argument parsing and composition only; the work is done in :mod:`cmt_live.sim`
(:func:`cmt_live.sim.dataset.build_dataset`, :func:`cmt_live.sim.streams.stream_session`,
:func:`cmt_live.sim.streams.record_session`).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from cmt_live._logging import logger
from cmt_live.cli.common import HelpFormatter, add_logging_args, apply_logging, parser

DESCRIPTION = """\
cmt-sim: synthetic SEED-V data from the simulator (not real EEG), as feature files
in the released layout, live LSL streams (EEG, Gaze, Markers) or an XDF recording."""
EXAMPLES = """\
examples:
  cmt-sim dataset --out data/sim                     # 16 subjects, SEED-V trial lengths
  cmt-sim dataset --out /tmp/tiny --subjects 3 --trial-scale 0.05
  cmt-sim stream --subject 17 --duration 600         # EEG, Gaze, Markers over LSL
  cmt-sim stream --prefix Test- --speed 10 --trial-scale 0.1
  cmt-sim record --out s.xdf --duration 600          # the same streams, straight to XDF
"""
_SEED_HELP = "dataset seed: the same subject under another seed is another person (default 0)"
_GAZE_RATE_HELP = "gaze rate, Hz (default 120)"


def _err(message: str) -> int:
    print(f"cmt-sim: {message}", file=sys.stderr)
    return 2


# --- command line ------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = parser("cmt-sim", DESCRIPTION, EXAMPLES)
    sub = p.add_subparsers(dest="command", required=True, metavar="{dataset,stream,record}")

    d = sub.add_parser(
        "dataset",
        help="write simulated SEED-V feature files",
        formatter_class=HelpFormatter,
        description=(
            "Simulate subjects, run their raw signals through the live feature code (causal "
            "preprocessing, DE, eye features) and write EEG_DE_features/ and "
            "Eye_movement_features/ in SEED-V's released layout, plus cmt_sim.json."
        ),
    )
    d.add_argument("--out", required=True, help="output directory (SEED-V layout)")
    d.add_argument("--subjects", type=int, default=16, help="number of subjects (default 16)")
    d.add_argument(
        "--trial-scale", type=float, default=1.0, help="scale of clip lengths (0.1 = a tenth)"
    )
    d.add_argument("--seed", type=int, default=0, help=_SEED_HELP)
    d.add_argument("--sfreq", type=float, default=200.0, help="raw EEG rate, Hz (200 or 1000)")
    d.add_argument("--gaze-rate", type=float, default=120.0, help=_GAZE_RATE_HELP)
    d.add_argument("--jobs", type=int, default=1, help="parallel processes (one per subject)")
    d.add_argument("--force", action="store_true", help="overwrite existing feature files")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_logging_args(d)

    s = sub.add_parser(
        "stream",
        help="publish EEG, Gaze and Markers over LSL in real time",
        formatter_class=HelpFormatter,
        description="Publish one simulated session as EEG, Gaze and Markers LSL streams.",
    )
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
    add_logging_args(s)

    r = sub.add_parser(
        "record",
        help="write a simulated session to an XDF file (no LSL)",
        formatter_class=HelpFormatter,
        description=(
            "Write one simulated session to an XDF file with the streams cmt-sim stream "
            "publishes (timestamps from 0), for cmt-replay and cmt-live --replay."
        ),
    )
    _add_session_args(r)
    r.add_argument("--out", required=True, help="output .xdf")
    r.add_argument("--duration", type=float, default=60.0, help="simulated seconds (default 60)")
    r.add_argument("--trial-s", type=float, default=None, metavar="S", help="every clip lasts S s")
    add_logging_args(r)
    return p


def _add_session_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--subject", type=int, default=1, help="simulated subject number (default 1)")
    s.add_argument("--seed", type=int, default=0, help=_SEED_HELP)
    s.add_argument("--session", type=int, default=1, choices=(1, 2, 3), help="SEED-V session")
    s.add_argument("--sfreq", type=float, default=200.0, help="EEG rate, Hz (200 or 1000)")
    s.add_argument("--gaze-rate", type=float, default=120.0, help=_GAZE_RATE_HELP)
    s.add_argument("--prefix", default="", help="prefix of the three stream names")
    s.add_argument("--trial-scale", type=float, default=1.0, help="scale of clip lengths")
    s.add_argument("--rest", action="store_true", help="include SEED-V's gaps ('Rest' marker)")


# --- commands ----------------------------------------------------------------------------
def _dataset(args) -> int:
    from cmt_live.sim.dataset import build_dataset

    out = Path(args.out)
    if (out / "EEG_DE_features").exists() and not args.force:
        return _err(f"{out} already holds EEG_DE_features/; pass --force to overwrite.")
    if args.subjects < 1:
        return _err(f"--subjects {args.subjects}: need at least 1 subject.")
    if not args.trial_scale > 0:
        return _err(f"--trial-scale {args.trial_scale}: must be > 0 (1 = SEED-V lengths).")
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
        return _err(str(err))
    print(
        f"cmt-sim: wrote {len(meta['subjects'])} subjects to {out} "
        f"({meta['windows_per_subject']} windows each, {time.perf_counter() - t0:.1f} s)"
    )
    return 0


def _record(args) -> int:
    from cmt_live.sim.streams import SimSessionSettings, record_session

    if not args.duration > 0:
        return _err(f"--duration {args.duration} must be > 0 seconds.")
    try:
        path = record_session(SimSessionSettings.from_namespace(args), args.out, args.duration)
    except ValueError as err:
        return _err(str(err))
    print(f"cmt-sim: wrote {args.duration:g} s of subject {args.subject} to {path}")
    return 0


class _Stop:
    """A signal handler that records that a stop was asked for."""

    def __init__(self):
        self.flag = False

    def __call__(self, signum=None, frame=None):
        self.flag = True


def _stream(args) -> int:
    for name in ("speed", "sfreq", "gaze_rate", "chunk_ms", "trial_scale", "trial_s"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            return _err(f"--{name.replace('_', '-')} {value} is invalid; it must be > 0.")
    if args.duration is not None and not args.duration > 0:
        return _err(f"--duration {args.duration} must be > 0 seconds.")
    # Before anything imports pylsl: loopback-only unless the user chose a config.
    from cmt_live.lsl.config import use_loopback_config

    use_loopback_config()
    from cmt_live.sim.scalp import N_CHANNELS
    from cmt_live.sim.streams import SimSessionSettings, stream_session

    settings = SimSessionSettings.from_namespace(args)
    stop = _Stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    p, duration = args.prefix, args.duration
    print(
        f"cmt-sim: streaming {p}EEG ({N_CHANNELS} ch, {args.sfreq:g} Hz), {p}Gaze "
        f"({args.gaze_rate:g} Hz), {p}Markers; subject {args.subject}, seed {args.seed}, "
        f"speed {args.speed:g}x" + (f", {duration:g} s" if duration else ", until Ctrl-C"),
        file=sys.stderr,
        flush=True,
    )
    try:
        t_sim = stream_session(
            settings,
            speed=args.speed,
            duration=duration,
            chunk_ms=args.chunk_ms,
            should_stop=lambda: stop.flag,
        )
    except ValueError as err:
        logger.debug("stream failed", exc_info=True)
        return _err(str(err))
    print(f"cmt-sim: stopped after {t_sim:.1f} simulated s.", file=sys.stderr, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    apply_logging(args)
    command = {"dataset": _dataset, "record": _record, "stream": _stream}[args.command]
    return command(args)


if __name__ == "__main__":
    sys.exit(main())
