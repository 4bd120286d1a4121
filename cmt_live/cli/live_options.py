"""The command line of ``cmt-live``: its options and the checks between them."""

from __future__ import annotations

import argparse
from pathlib import Path

from cmt_live.cli.common import add_logging_args, parser


def build_parser() -> argparse.ArgumentParser:
    p = parser(
        "cmt-live",
        "Real-time EEG + eye-tracking emotion monitor on LSL streams.",
        "examples:\n"
        "  cmt-live --demo\n"
        "  cmt-live --eeg-stream EEG --eye-stream Gaze --model M.pt --log session.jsonl\n"
        "  cmt-live --replay session.xdf --model M.pt --fast --log replay.jsonl",
    )
    p.add_argument("--eeg-stream", help="EEG stream name (e.g. EEG)")
    p.add_argument("--eye-stream", help="gaze stream name (e.g. Gaze); omit for EEG-only")
    p.add_argument("--marker-stream", help="ground-truth marker stream (e.g. Markers)")
    p.add_argument(
        "--model", type=Path, metavar="FILE", help="model file from cmt-train (.pt or .pt2)"
    )
    p.add_argument("--headless", action="store_true", help="terminal dashboard, no window")
    p.add_argument("--log", type=Path, metavar="PATH", help="session log: .jsonl or .csv")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument(
        "--step", type=float, metavar="S", default=1.0, help="seconds between predictions"
    )
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    p.add_argument(
        "--threads", type=int, help="torch CPU threads (default: 1 on <= 4 cores, else torch's)"
    )
    p.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "torchscript", "onnx", "export", "aoti"),
        help="what runs the model (default auto: the fastest one whose outputs match eager)",
    )
    p.add_argument("--channel-map", help='renames "STREAM=MODEL,..." or a JSON file')
    p.add_argument(
        "--eeg-units",
        "--eeg-unit",
        dest="eeg_units",
        help="override the EEG units the stream declares (uV, V, mV)",
    )
    p.add_argument(
        "--fill-missing",
        type=int,
        default=0,
        metavar="N",
        help="interpolate up to N missing EEG channels from the montage (spherical splines; "
        "at most 20%% of the model's channels; flagged eeg_interpolated)",
    )
    p.add_argument(
        "--pupil-scale",
        type=float,
        default=1.0,
        metavar="K",
        help="multiply both pupil columns by K (a tracker whose pupil unit differs from the "
        "model's)",
    )
    p.add_argument(
        "--implausible",
        choices=("mask", "flag"),
        default="mask",
        help="windows with implausible EEG/eye units: withhold that modality from the model "
        "(mask) or predict from it anyway (flag); both are flagged",
    )
    p.add_argument("--eeg-source-id", help="pin the EEG stream by source_id")
    p.add_argument("--eye-source-id", help="pin the gaze stream by source_id")
    p.add_argument("--eeg-hostname", help="pin the EEG stream by hostname")
    p.add_argument("--eye-hostname", help="pin the gaze stream by hostname")
    p.add_argument("--outlet-name", default="CMT-Emotion", help="prediction outlet name")
    p.add_argument("--no-outlet", action="store_true", help="do not publish predictions")
    p.add_argument(
        "--resolve-timeout", type=float, metavar="S", default=5.0, help="seconds per stream"
    )
    p.add_argument(
        "--loss-limit",
        type=float,
        metavar="S",
        default=10.0,
        help="an EEG/gaze stream away this long is reported lost (log, health); seconds",
    )
    p.add_argument(
        "--exit-on-loss",
        type=float,
        metavar="S",
        help="exit with status 3 when an EEG/gaze stream stays away S seconds",
    )
    p.add_argument("--screenshot", type=Path, metavar="PNG", help="save a PNG of the window (GUI)")
    p.add_argument(
        "--screenshot-after", type=float, metavar="S", default=5.0, help="seconds before it"
    )
    p.add_argument("--demo", action="store_true", help="simulator + demo model + monitor")
    p.add_argument("--rebuild-demo-model", action="store_true", help="retrain the demo model")
    p.add_argument("--demo-subject", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="source runs K x real time (cmt-sim stream --speed K); stamps are stretched by K",
    )
    p.add_argument(
        "--replay",
        type=Path,
        metavar="FILE",
        help="replay a recording (.xdf, or an EEG file with --gaze) instead of live streams",
    )
    p.add_argument(
        "--fast", action="store_true", help="with --replay: in-process, no LSL, full speed"
    )
    p.add_argument(
        "--gaze",
        type=Path,
        metavar="FILE",
        help="with --replay of an EEG file: a gaze file (.asc, .csv)",
    )
    p.add_argument(
        "--gaze-cutoffs",
        type=Path,
        metavar="LOG",
        help="with --replay --fast: the live session's log, so windows that closed before the "
        "gaze reached their end get the same gaze again",
    )
    p.add_argument(
        "--record",
        type=Path,
        metavar="PATH.xdf",
        help="record the input streams and the prediction outlet to XDF (LabRecorder)",
    )
    p.add_argument(
        "--trust-release-eye-features",
        action="store_true",
        help="feed the eye input to a model whose eye features were not computed by cmt-live "
        "(e.g. trained on SEED-V's released npz): by default its eye input is masked",
    )
    add_logging_args(p)
    from cmt_live.io.options import add_recording_options

    add_recording_options(p, gaze=False)
    return p


def validate(args, parser) -> None:
    """``parser.error`` (exit 2) for values and combinations that cannot run."""
    if args.fill_missing < 0:
        parser.error(f"--fill-missing {args.fill_missing} is invalid; it must be >= 0.")
    if not args.pupil_scale > 0:
        parser.error(f"--pupil-scale {args.pupil_scale} is invalid; it must be > 0.")
    if args.fast and not args.replay:
        parser.error("--fast goes with --replay FILE.")
    if args.gaze_cutoffs and not (args.replay and args.fast):
        parser.error("--gaze-cutoffs goes with --replay FILE --fast.")
    if args.gaze and not args.replay:
        parser.error("--gaze goes with --replay FILE (an EEG file).")
    if args.record and (args.fast or args.no_outlet):
        parser.error(
            "--record needs LSL streams and the prediction outlet (no --fast/--no-outlet)."
        )
    if args.record and args.record.suffix.lower() != ".xdf":
        parser.error(f"--record {args.record}: the file must end in .xdf.")
    if args.demo:
        return
    if args.replay:
        if not args.model:
            parser.error("--model is required with --replay.")
        return
    missing = [o for o, v in (("--eeg-stream", args.eeg_stream), ("--model", args.model)) if not v]
    if missing:
        parser.error(f"{' and '.join(missing)} required (or use --demo).")
    for name in ("step", "resolve_timeout", "time_scale", "loss_limit"):
        v = getattr(args, name)
        if not v > 0:
            parser.error(f"--{name.replace('_', '-')} {v} is invalid; it must be > 0.")
    for name in ("duration", "exit_on_loss"):
        v = getattr(args, name)
        if v is not None and not v > 0:
            parser.error(f"--{name.replace('_', '-')} {v} is invalid; it must be > 0 seconds.")
