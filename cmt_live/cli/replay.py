"""``cmt-replay``: republish a recorded session over LSL, paced by its own timestamps.

Examples
--------
::

    cmt-replay session.xdf                       # every stream, real time
    cmt-replay session.xdf --speed 4 --loop --streams EEG,Gaze
    cmt-replay session.xdf --wait-consumers      # start once cmt-live listens
    cmt-replay 1_1_20180804.cnt --gaze gaze.csv --seedv-times trial_start_end_timestamp.txt \
        --session 1                               # SEED-V raw EEG + clip markers
    cmt-replay scan41_short.cnt --cnt-format int16   # a Neuroscan file of known word size
    cmt-replay session.asc                       # EyeLink gaze alone (RES gives px/deg)
    cmt-replay eeg.edf --gaze tobii.csv --gaze-units px --screen-px 1920 1080 \
        --screen-cm 53 30 --distance-cm 60        # EEG + gaze in pixels
"""

from __future__ import annotations

import argparse
import signal
import sys

from cmt_live._logging import logger
from cmt_live.cli.common import add_logging_args, apply_logging, parser
from cmt_live.cli.errors import USER_ERRORS, one_line


def build_parser() -> argparse.ArgumentParser:
    p = parser("cmt-replay", __doc__.split("\n\n")[0].split(": ", 1)[1])
    p.add_argument(
        "file",
        help="recording: .xdf, an MNE-readable EEG file (.fif .edf .bdf .cnt), or a gaze file "
        "(.asc .csv)",
    )
    p.add_argument(
        "--speed", type=float, default=1.0, metavar="X", help="playback speed (1 = real time)"
    )
    p.add_argument("--loop", action="store_true", help="start over at the end")
    p.add_argument("--seek", type=float, default=0.0, metavar="S", help="skip the first S seconds")
    p.add_argument(
        "--streams", metavar="NAMES", help="comma-separated stream names to replay (XDF)"
    )
    p.add_argument("--seedv-times", metavar="TXT", help="SEED-V trial_start_end_timestamp.txt")
    p.add_argument("--session", type=int, default=1, help="SEED-V session for --seedv-times")
    p.add_argument("--prefix", default="", help="prefix for every replayed stream name")
    p.add_argument(
        "--wait-consumers",
        type=float,
        nargs="?",
        const=30.0,
        default=0.0,
        metavar="S",
        help="before the clock starts, wait up to S seconds (30 without S) until every stream "
        "has a consumer, so nothing is pushed before cmt-live listens",
    )
    add_logging_args(p, default="INFO")
    from cmt_live.io.options import add_recording_options

    add_recording_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    apply_logging(args)
    from cmt_live.lsl.config import use_loopback_config

    # Replay is a local tool by default; a user-set LSLAPICFG still wins.
    use_loopback_config()
    from cmt_live.io.options import recording_options
    from cmt_live.io.readers import read_recording, seedv_trial_markers
    from cmt_live.lsl.player import Player, PlayerSettings

    try:
        settings = PlayerSettings(
            speed=args.speed,
            loop=args.loop,
            seek_s=args.seek,
            wait_consumers_s=args.wait_consumers,
        )
        names = [s for s in args.streams.split(",") if s] if args.streams else None
        options = recording_options(args)
        streams = read_recording(args.file, gaze=args.gaze, streams=names, options=options)
        if args.seedv_times:
            streams.append(seedv_trial_markers(args.seedv_times, args.session))
        for s in streams:
            s.name = args.prefix + s.name
        player = Player(streams, settings)
    except USER_ERRORS as err:
        print(f"cmt-replay: {one_line(err)}", file=sys.stderr)
        return 2

    def _stop(signum, frame):
        player.stop()

    signal.signal(signal.SIGTERM, _stop)
    player.start()
    logger.info(
        "Replaying %s (%.1f s at %gx): %s",
        args.file,
        player.duration_s,
        settings.speed,
        ", ".join(s.name for s in streams),
    )
    try:
        while not player.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    player.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
