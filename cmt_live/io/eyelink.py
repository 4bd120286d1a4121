"""EyeLink ``.asc`` files (SR Research's ``edf2asc`` text export) as a gaze stream.

Read here directly rather than with ``mne.io.read_raw_eyelink``, which needs pandas (not a
dependency of this project) and resamples onto a regular grid; the tracker's own sample times
are kept. What is read:

- sample lines ``TIME X Y PUPIL`` (monocular) or ``TIME XL YL PL XR YR PR`` (binocular), as
  the block's ``SAMPLES`` line announces; the columns after them (``VEL``, ``RES``, ``INPUT``,
  the flags) are not read; ``.`` is a missing value; a missing x or y, or a pupil of 0, is an
  invalid sample (EyeLink writes ``.  .  0.0`` during blinks);
- ``GAZE_COORDS`` / ``DISPLAY_COORDS`` messages: the screen in pixels (its centre is 0°);
- ``END ... RES RX RY`` lines: the angular resolution (pixels per degree) EyeLink computed for
  the block; their mean converts pixels to degrees unless the user gave the screen geometry or
  ``--px-per-deg`` (:class:`~cmt_live.io.gaze_geometry.ScreenGeometry`);
- ``SAMPLES HREF`` blocks (head-referenced units): ``deg = atan(h / 15000)`` per axis, EyeLink's
  HREF distance of 15000 units.

The tracker's events (``EFIX``, ``ESACC``, ``EBLINK``) are kept by :func:`parse_asc` for
validation only: the stream never carries them, our own detector (:mod:`features.eye_events`)
makes the events. Other messages and calibration lines are ignored. Timestamps are the tracker's, in
seconds from the first sample (``offset_s`` shifts them onto an EEG file's clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cmt_live.channels import GAZE_CHANNELS
from cmt_live.io.gaze_geometry import ScreenGeometry, combine_eyes
from cmt_live.io.xdf import XdfStream

#: EyeLink's HREF plane distance, HREF units (SR Research, EyeLink 1000 manual §4.4.2.2).
HREF_DISTANCE = 15000.0


@dataclass
class _Block:
    eyes: tuple[str, ...]
    href: bool
    rate: float


@dataclass
class AscContents:
    """What :func:`parse_asc` reads from an ``.asc`` file (times in the tracker's ms)."""

    t_ms: list = field(default_factory=list)
    rows: list = field(default_factory=list)  # per sample: [x, y, p] per eye in eyes order
    eyes: tuple[str, ...] = ()  # "LEFT" / "RIGHT", in the column order of rows
    href: bool = False
    rate: float = 0.0
    res: list = field(default_factory=list)  # (x, y) pixels per degree of each END line
    screen_px: tuple[float, float] | None = None
    #: The tracker's events per eye ("L" / "R"): "fix" and "blink" as (start_ms, end_ms),
    #: "sacc" as (start_ms, end_ms, amplitude_deg) (NaN amplitude when not given).
    events: dict = field(default_factory=dict)


#: EyeLink's end-of-event lines and the key :attr:`AscContents.events` files them under.
_EVENT_KINDS = {"EFIX": "fix", "ESACC": "sacc", "EBLINK": "blink"}


def _num(tok: str) -> float:
    return np.nan if tok == "." else float(tok)


def _block_from(tok: list[str]) -> _Block:
    """The sample layout a ``SAMPLES`` line announces."""
    words = [t.upper() for t in tok[1:]]
    eyes = tuple(e for e in ("LEFT", "RIGHT") if e in words)
    rate = float(words[words.index("RATE") + 1]) if "RATE" in words else 0.0
    return _Block(eyes=eyes, href="HREF" in words, rate=rate)


def parse_asc(path: Path) -> AscContents:
    """Samples, layout, resolution, screen and the tracker's events of an ``.asc`` file."""
    out = AscContents()
    block: _Block | None = None
    with open(path, encoding="latin-1") as fh:
        for line_no, line in enumerate(fh, start=1):
            tok = line.split()
            if not tok:
                continue
            head = tok[0]
            if head[0].isdigit():
                if block is None or not block.eyes:
                    continue  # samples before any SAMPLES line: layout unknown
                n = 3 * len(block.eyes)
                try:
                    t = float(head)
                    vals = [_num(v) for v in tok[1 : 1 + n]]
                except ValueError as err:
                    raise ValueError(
                        f"{path}, line {line_no}: cannot read the sample {line.strip()!r} "
                        f"({err}); is this an edf2asc export?"
                    ) from err
                if len(vals) < n:
                    raise ValueError(
                        f"{path}, line {line_no}: {len(vals)} values where the SAMPLES line "
                        f"announced {n} ({'/'.join(block.eyes)} eye x, y, pupil)."
                    )
                out.t_ms.append(t)
                out.rows.append(vals)
            elif head == "SAMPLES":
                new = _block_from(tok)
                if out.eyes and new.eyes != out.eyes:
                    raise ValueError(
                        f"{path}, line {line_no}: the recorded eyes change from "
                        f"{'/'.join(out.eyes)} to {'/'.join(new.eyes)}; export each part "
                        "to its own .asc file."
                    )
                if out.t_ms and new.href != out.href:
                    raise ValueError(
                        f"{path}, line {line_no}: HREF and GAZE blocks are mixed; "
                        "export one sample type (edf2asc -sg or -sh)."
                    )
                block = new
                out.eyes, out.href, out.rate = new.eyes, new.href, new.rate or out.rate
            elif head == "END" and "RES" in tok:
                i = tok.index("RES")
                try:
                    out.res.append((float(tok[i + 1]), float(tok[i + 2])))
                except (IndexError, ValueError):
                    pass  # a truncated END line: the other blocks' RES still count
            elif head in _EVENT_KINDS and len(tok) >= 4:
                kind = _EVENT_KINDS[head]
                span = (float(tok[2]), float(tok[3]))
                if kind == "sacc":  # ESACC eye start end dur sx sy ex ey amplitude peak_vel
                    span += (_num(tok[9]) if len(tok) > 9 else np.nan,)
                out.events.setdefault(tok[1], {}).setdefault(kind, []).append(span)
            elif head == "MSG" and len(tok) >= 7 and tok[2] in ("GAZE_COORDS", "DISPLAY_COORDS"):
                vals = [v for v in tok[3:] if v != "="]
                try:
                    left, top, right, bottom = (float(v) for v in vals[:4])
                    out.screen_px = (right - left + 1, bottom - top + 1)
                except ValueError:
                    pass
    return out


def read_eyelink_asc(
    path: str | Path,
    *,
    geometry: ScreenGeometry | None = None,
    offset_s: float = 0.0,
    name: str = "Gaze",
    source_id: str | None = None,
) -> XdfStream:
    """An EyeLink ``.asc`` file as a gaze stream (columns :data:`GAZE_CHANNELS`).

    Parameters
    ----------
    path : str | Path
    geometry : ScreenGeometry | None
        The user's screen geometry; the file's ``GAZE_COORDS`` and ``RES`` fill what it lacks.
    offset_s : float
        Added to the timestamps (the first sample is at ``offset_s``).
    name, source_id : str

    Returns
    -------
    stream : XdfStream
        Irregular (``sfreq`` 0: the tracker's sample times are kept); x, y in degrees from the
        screen centre (the mean of both eyes when binocular, see
        :func:`~cmt_live.io.gaze_geometry.combine_eyes`), ``pupil_1`` / ``pupil_2`` the left /
        right pupil in EyeLink's arbitrary units (NaN for an eye not recorded).

    Raises
    ------
    ValueError
        No samples, no geometry for pixels, or a malformed sample line (file and line named).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"EyeLink file {path} does not exist.")
    p = parse_asc(path)
    if not p.t_ms:
        raise ValueError(
            f"{path} holds no EyeLink samples (no SAMPLES line followed by sample lines); "
            "export it with samples: edf2asc FILE.edf (not -e)."
        )
    t = np.asarray(p.t_ms, dtype=np.float64) / 1000.0
    rows = np.asarray(p.rows, dtype=np.float64)
    if np.any(np.diff(t) < 0):
        bad = int(np.argmax(np.diff(t) < 0)) + 1
        raise ValueError(f"{path}: sample times go backwards at sample {bad}; re-export it.")
    per_eye = {}
    for i, eye in enumerate(p.eyes):
        x, y, pupil = rows[:, 3 * i], rows[:, 3 * i + 1], rows[:, 3 * i + 2]
        per_eye[eye] = (x, y, np.isfinite(pupil) & (pupil > 0), pupil)
    x, y, valid = combine_eyes(
        *(per_eye[e][:3] if e in per_eye else None for e in ("LEFT", "RIGHT"))
    )
    if p.href:
        x_deg = np.degrees(np.arctan(x / HREF_DISTANCE))
        y_deg = -np.degrees(np.arctan(y / HREF_DISTANCE))
    else:
        res = tuple(np.mean(p.res, axis=0)) if p.res else None
        geo = (geometry or ScreenGeometry()).with_defaults(screen_px=p.screen_px, px_per_deg=res)
        x_deg, y_deg = geo.px_to_degrees(x, y, source=str(path))
    nan = np.full(len(t), np.nan)
    pupils = [per_eye[e][3] if e in per_eye else nan for e in ("LEFT", "RIGHT")]
    data = np.column_stack([x_deg, y_deg, *pupils, valid.astype(np.float64)])
    return XdfStream(
        name=name,
        type="Gaze",
        source_id=source_id or f"replay-{path.stem}",
        sfreq=0.0,
        channel_format="float32",
        ch_names=list(GAZE_CHANNELS),
        units=["degrees", "degrees", "arbitrary", "arbitrary", ""],
        timestamps=t - t[0] + float(offset_s),
        data=data.astype(np.float32),
    )
