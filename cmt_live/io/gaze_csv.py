"""Gaze CSV files (Tobii- and Pupil-style exports) as a gaze stream.

One header row; comma, tab or semicolon separated; names matched case-insensitively; other
columns ignored; empty cells are missing values.

========================  =========================================================  ==========
column(s)                 meaning                                                    required
========================  =========================================================  ==========
``timestamp``             seconds (``gaze_timestamp`` too; ``timestamp_ms``,         yes
                          ``timestamp_us`` in ms / µs)
``x``, ``y``              one gaze point (``gaze_x``/``gaze_y``, ``norm_pos_x``/...)  x/y or one
``left_x``, ``left_y``,   each eye's gaze; both eyes are averaged where both are      eye's x/y
``right_x``, ``right_y``  valid (:func:`~cmt_live.io.gaze_geometry.combine_eyes`)
``pupil_1``, ``pupil_2``  left and right pupil (``left_pupil``/``right_pupil``;       one pupil
                          ``pupil``/``diameter``: one eye), in the tracker's unit
``valid``                 1/0, true/false, valid/invalid (per eye: ``left_valid``,    no
                          ``right_valid``); or ``confidence`` >= 0.6 (Pupil Labs'
                          threshold). Missing: valid where x and y are present.
========================  =========================================================  ==========

x/y are in degrees from the screen centre unless ``units`` (``--gaze-units``) says ``px``
(origin top-left, y down: Tobii Pro Lab) or ``norm`` (fractions of the screen: Tobii SDK,
Pupil Labs' ``norm_pos``, whose y points up; the sign of y changes none of our features), which
need the screen geometry (:class:`~cmt_live.io.gaze_geometry.ScreenGeometry`). ``timestamp``
is on the clock of the EEG file it goes with (0 = its first sample) after ``offset_s``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from cmt_live.channels import GAZE_CHANNELS
from cmt_live.io.gaze_geometry import ScreenGeometry, combine_eyes
from cmt_live.io.xdf import XdfStream

#: Accepted names per column (lower case), in order of preference.
ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "gaze_timestamp", "time", "t"),
    "timestamp_ms": ("timestamp_ms", "time_ms"),
    "timestamp_us": ("timestamp_us", "time_us"),
    "x": ("x", "gaze_x", "norm_pos_x"),
    "y": ("y", "gaze_y", "norm_pos_y"),
    "left_x": ("left_x", "gaze_left_x", "left_gaze_x"),
    "left_y": ("left_y", "gaze_left_y", "left_gaze_y"),
    "right_x": ("right_x", "gaze_right_x", "right_gaze_x"),
    "right_y": ("right_y", "gaze_right_y", "right_gaze_y"),
    "pupil_1": ("pupil_1", "left_pupil", "pupil_left", "pupil", "diameter"),
    "pupil_2": ("pupil_2", "right_pupil", "pupil_right"),
    "valid": ("valid", "validity"),
    "left_valid": ("left_valid", "validity_left", "left_validity"),
    "right_valid": ("right_valid", "validity_right", "right_validity"),
    "confidence": ("confidence",),
}
#: Pupil Labs' recommended confidence threshold for valid samples.
CONFIDENCE_MIN = 0.6
_TIME_SCALE = {"timestamp": 1.0, "timestamp_ms": 1e-3, "timestamp_us": 1e-6}
_TRUE = {"1", "1.0", "true", "valid", "yes"}
_FALSE = {"0", "0.0", "false", "invalid", "no"}
_DOC = (
    "expected timestamp, x/y or left_x/left_y/right_x/right_y, pupil_1/pupil_2 or "
    "left_pupil/right_pupil (+ optional valid); see the README's 'Recording formats'"
)


def _value(cell: str, is_flag: bool) -> float:
    c = cell.strip()
    if not c:
        return np.nan
    if is_flag:
        low = c.lower()
        if low in _TRUE:
            return 1.0
        if low in _FALSE:
            return 0.0
    return float(c)


def _columns(header: list[str]) -> dict[str, int]:
    low = [h.strip().lower() for h in header]
    found = {}
    for col, names in ALIASES.items():
        hit = next((low.index(n) for n in names if n in low), None)
        if hit is not None and hit not in found.values():
            found[col] = hit
    return found


def read_gaze_csv(
    path: str | Path,
    *,
    units: str = "deg",
    geometry: ScreenGeometry | None = None,
    offset_s: float = 0.0,
    name: str = "Gaze",
    source_id: str | None = None,
) -> XdfStream:
    """Read a gaze CSV (format in the module docstring) as an irregular gaze stream.

    Parameters
    ----------
    path : str | Path
    units : str
        ``deg``, ``px`` or ``norm`` (``--gaze-units``).
    geometry : ScreenGeometry | None
        Needed for ``px`` and ``norm``.
    offset_s : float
        Added to the timestamps.

    Returns
    -------
    stream : XdfStream
        Columns :data:`cmt_live.channels.GAZE_CHANNELS`; x, y in degrees.

    Raises
    ------
    ValueError
        Missing columns, an unreadable cell (file and line named), timestamps going backwards.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Gaze file {path} does not exist.")
    with open(path, newline="", encoding="utf-8-sig") as f:
        sample = f.read(4096)
        f.seek(0)
        delim = max(",\t;", key=sample.split("\n", 1)[0].count)
        reader = csv.reader(f, delimiter=delim)
        header = next(reader, [])
        cols = _columns(header)
        time_col = next((c for c in _TIME_SCALE if c in cols), None)
        eyes = [e for e in ("left", "right") if f"{e}_x" in cols and f"{e}_y" in cols]
        one_point = "x" in cols and "y" in cols
        missing = []
        if time_col is None:
            missing.append("timestamp")
        if not (one_point or eyes):
            missing.append("x/y")
        if "pupil_1" not in cols and "pupil_2" not in cols:
            missing.append("pupil_1/pupil_2")
        if missing:
            raise ValueError(
                f"{path} lacks the gaze columns {missing}; its header is "
                f"{[h.strip() for h in header]}; {_DOC}."
            )
        keys = list(cols)
        flags = {"valid", "left_valid", "right_valid"}
        rows = []
        for line_no, row in enumerate(reader, start=2):
            if not any(c.strip() for c in row):
                continue
            try:
                rows.append([_value(row[cols[k]], k in flags) for k in keys])
            except (ValueError, IndexError) as err:
                raise ValueError(f"{path}, line {line_no}: cannot read {row!r} ({err}).") from err
    if not rows:
        raise ValueError(f"{path} holds a header and no gaze samples.")
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, len(keys))
    get = {k: arr[:, i] for i, k in enumerate(keys)}
    ts = get[time_col] * _TIME_SCALE[time_col] + float(offset_s)
    wrong = ~np.isfinite(ts)
    wrong[1:] |= np.diff(ts) < 0
    if wrong.any():
        bad = int(np.argmax(wrong)) + 1
        raise ValueError(
            f"{path}: timestamps missing or going backwards at data row {bad}; "
            "sort the file and fill every timestamp."
        )
    n = len(ts)

    def validity(prefix: str) -> np.ndarray:
        if f"{prefix}valid" in get:
            return get[f"{prefix}valid"] > 0
        if "valid" in get:
            return get["valid"] > 0
        if "confidence" in get:
            return get["confidence"] >= CONFIDENCE_MIN
        return np.ones(n, dtype=bool)

    if one_point:
        x, y, valid = combine_eyes((get["x"], get["y"], validity("")), None)
    else:
        x, y, valid = combine_eyes(
            *(
                (get[f"{e}_x"], get[f"{e}_y"], validity(f"{e}_")) if e in eyes else None
                for e in ("left", "right")
            )
        )
    x, y = (geometry or ScreenGeometry()).to_degrees(x, y, units, source=str(path))
    nan = np.full(n, np.nan)
    data = np.column_stack(
        [x, y, get.get("pupil_1", nan), get.get("pupil_2", nan), valid.astype(np.float64)]
    )
    return XdfStream(
        name=name,
        type="Gaze",
        source_id=source_id or f"replay-{path.stem}",
        sfreq=0.0,
        channel_format="float32",
        ch_names=list(GAZE_CHANNELS),
        units=["degrees", "degrees", "", "", ""],
        timestamps=ts,
        data=data.astype(np.float32),
    )
