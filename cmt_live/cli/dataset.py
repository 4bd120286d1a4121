"""``cmt-dataset``: recorded sessions -> a SEED-V-layout training directory for ``cmt-train``.

Examples::

    cmt-dataset --out mydata s01.xdf:1:1 s01b.xdf:1:2 s02.xdf:2:1
    cmt-dataset --out mydata s01.cnt+s01.asc:1:1 --seedv-times trial_start_end_timestamp.txt
    cmt-dataset --out seedv_de --seedv-raw /data/SEED-V --subjects 1,2

``FILE:SUBJECT:SESSION`` (an XDF file, or ``EEG+GAZE``; see :mod:`cmt_live.io.to_seedv` for how
trials are found); ``--seedv-raw``: SEED-V's ``EEG_raw/*.cnt`` with its clip times (our DE,
no eye features; :mod:`cmt_live.io.seedv_raw`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cmt_live.cli.common import add_logging_args, apply_logging, parser
from cmt_live.cli.errors import EXIT_INTERRUPTED, USER_ERRORS, one_line


def _session(text: str) -> tuple[Path, int, int]:
    try:
        path, subject, session = text.rsplit(":", 2)
        path, subject, session = Path(path), int(subject), int(session)
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not FILE:SUBJECT:SESSION (e.g. s01.xdf:1:1)."
        ) from err
    # cmt-train reads {subject}_123.npz with subject >= 1; the layout holds sessions 1..3.
    if subject < 1 or not 1 <= session <= 3:
        raise argparse.ArgumentTypeError(
            f"{text!r}: subject {subject}, session {session} is invalid; subjects are >= 1 and "
            "sessions 1, 2 or 3 (e.g. s01.xdf:1:1)."
        )
    return path, subject, session


def _subjects(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--subjects {text!r} is not like 1,2,5.") from err


def build_parser() -> argparse.ArgumentParser:
    from cmt_live.io.options import add_recording_options

    p = parser("cmt-dataset", __doc__.split("\n\n")[0].split(": ", 1)[1])
    p.add_argument(
        "sessions",
        nargs="*",
        type=_session,
        metavar="FILE:SUBJECT:SESSION",
        help="a recording (XDF with EEG, Gaze and emotion Markers), its subject and session",
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    p.add_argument("--force", action="store_true", help="overwrite an existing dataset")
    p.add_argument(
        "--seedv-raw",
        type=Path,
        metavar="DIR",
        help="SEED-V folder with EEG_raw/ and trial_start_end_timestamp.txt",
    )
    p.add_argument(
        "--subjects", type=_subjects, metavar="LIST", help="with --seedv-raw: subjects (1,2,5)"
    )
    p.add_argument(
        "--seedv-times",
        type=Path,
        metavar="TXT",
        help="trial times for sessions whose files carry no markers",
    )
    add_logging_args(p)
    add_recording_options(p, gaze=False)
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    apply_logging(args)
    if bool(args.sessions) == bool(args.seedv_raw):
        p.error("give FILE:SUBJECT:SESSION arguments or --seedv-raw DIR (one of the two).")
    # Options that do not apply to the chosen input would be ignored without a word.
    if args.seedv_raw:
        given = [
            "--" + dest.replace("_", "-")
            for dest in ("seedv_times", "gaze_offset", "gaze_units", "screen_px", "screen_cm",
                         "distance_cm", "px_per_deg")
            if getattr(args, dest) != p.get_default(dest)
        ]  # fmt: skip
        if given:
            p.error(f"{', '.join(given)}: for recordings only, not for --seedv-raw; drop it.")
    elif args.subjects is not None:
        p.error("--subjects is for --seedv-raw; a recording's subject is in FILE:SUBJECT:SESSION.")
    if (args.out / "EEG_DE_features").exists() and not args.force:
        print(f"cmt-dataset: {args.out} already holds a dataset; pass --force.", file=sys.stderr)
        return 2
    from cmt_live.io.options import recording_options

    try:
        options = recording_options(args)
        if args.seedv_raw:
            from cmt_live.io.seedv_raw import build_dataset_from_seedv_raw

            meta = build_dataset_from_seedv_raw(
                args.out, args.seedv_raw, subjects=args.subjects, cnt_format=options.cnt_format
            )
        else:
            from cmt_live.io.to_seedv import build_dataset_from_recordings

            meta = build_dataset_from_recordings(
                args.out, args.sessions, options=options, seedv_times=args.seedv_times
            )
    except USER_ERRORS as err:
        print(f"cmt-dataset: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cmt-dataset: interrupted; {args.out} may be incomplete.", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"cmt-dataset: wrote {meta['n_trials']} trials to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
