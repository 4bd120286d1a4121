"""How to read a recording: the options every command that reads files shares.

``cmt-replay``, ``cmt-live --replay`` and ``cmt-dataset`` take the same flags
(:func:`add_recording_options`) and hand :func:`recording_options`' result to
:func:`cmt_live.io.readers.read_recording`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from cmt_live.io.gaze_geometry import GAZE_UNITS, ScreenGeometry
from cmt_live.io.neuroscan import CNT_FORMATS


@dataclass(frozen=True)
class RecordingOptions:
    """Frozen reading options.

    Parameters
    ----------
    cnt_format : str
        Neuroscan word size: ``auto`` (inferred), ``int16`` or ``int32`` (checked by
        :func:`~cmt_live.io.neuroscan.read_cnt`, the flag by its choices).
    gaze_units : str
        Units of a gaze CSV's x/y: ``deg``, ``px`` or ``norm`` (checked by
        :meth:`~cmt_live.io.gaze_geometry.ScreenGeometry.to_degrees`).
    geometry : ScreenGeometry
        Screen geometry for gaze in pixels or screen fractions.
    gaze_offset_s : float
        Added to a gaze file's timestamps: the EEG time of the gaze file's time 0, seconds.
    """

    cnt_format: str = "auto"
    gaze_units: str = "deg"
    geometry: ScreenGeometry = field(default_factory=ScreenGeometry)
    gaze_offset_s: float = 0.0


def add_recording_options(p: argparse.ArgumentParser, *, gaze: bool = True) -> None:
    """The file-reading flags (``gaze=False``: the parser already has ``--gaze``)."""
    g = p.add_argument_group("recording files")
    if gaze:
        g.add_argument(
            "--gaze", default=None, help="gaze file (.asc EyeLink, .csv) to go with an EEG file"
        )
    g.add_argument(
        "--gaze-offset",
        type=float,
        default=0.0,
        metavar="S",
        help="EEG time of the gaze file's time 0, seconds",
    )
    g.add_argument(
        "--cnt-format",
        choices=("auto", *CNT_FORMATS),
        default="auto",
        help="Neuroscan .cnt word size (auto: from the header, else the data)",
    )
    g.add_argument(
        "--gaze-units", choices=GAZE_UNITS, default="deg", help="units of a gaze CSV's x/y"
    )
    g.add_argument(
        "--screen-px",
        nargs=2,
        type=float,
        metavar=("W", "H"),
        help="screen resolution, pixels (gaze in px or norm)",
    )
    g.add_argument(
        "--screen-cm", nargs=2, type=float, metavar=("W", "H"), help="visible screen size, cm"
    )
    g.add_argument("--distance-cm", type=float, metavar="D", help="eye-to-screen distance, cm")
    g.add_argument(
        "--px-per-deg",
        type=float,
        metavar="P",
        help="pixels per degree, instead of the sizes (EyeLink .asc files carry it)",
    )


def recording_options(args: argparse.Namespace) -> RecordingOptions:
    """The :class:`RecordingOptions` the flags of :func:`add_recording_options` give.

    Raises
    ------
    ValueError
        An invalid value (named).
    """
    ppd = getattr(args, "px_per_deg", None)
    return RecordingOptions(
        cnt_format=getattr(args, "cnt_format", "auto"),
        gaze_units=getattr(args, "gaze_units", "deg"),
        geometry=ScreenGeometry(
            screen_px=getattr(args, "screen_px", None),
            screen_cm=getattr(args, "screen_cm", None),
            distance_cm=getattr(args, "distance_cm", None),
            px_per_deg=None if ppd is None else (ppd, ppd),
        ),
        gaze_offset_s=getattr(args, "gaze_offset", 0.0),
    )
