"""``cmt-dataset``: recorded sessions -> a SEED-V-layout training directory for ``cmt-train``.

Example: ``cmt-dataset --out mydata s01.xdf:1:1 s01b.xdf:1:2 s02.xdf:2:1``
(``FILE:SUBJECT:SESSION``; see :mod:`cmt_live.io.to_seedv` for how trials are found).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cmt_live._logging import set_log_level
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="cmt-dataset", description=__doc__.split("\n\n")[0])
    p.add_argument("sessions", nargs="+", type=_session, metavar="FILE:SUBJECT:SESSION")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--force", action="store_true", help="overwrite an existing dataset")
    p.add_argument("--log-level", default="WARNING")
    args = p.parse_args(argv)
    set_log_level(args.log_level.upper())
    if (args.out / "EEG_DE_features").exists() and not args.force:
        print(f"cmt-dataset: {args.out} already holds a dataset; pass --force.", file=sys.stderr)
        return 2
    from cmt_live.io.to_seedv import build_dataset_from_recordings

    try:
        meta = build_dataset_from_recordings(args.out, args.sessions)
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
