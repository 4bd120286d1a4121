"""Recorded sessions as streams: XDF, MNE-readable EEG files, a gaze CSV, SEED-V's clip times.

Every reader returns :class:`~cmt_live.io.xdf.XdfStream` records, so replay (LSL or in-process)
treats all sources alike.

Gaze CSV format (one header row, comma-separated; extra columns ignored)::

    timestamp,x,y,pupil_1,pupil_2[,valid]

``timestamp`` in seconds on the same clock as the EEG file's start (0 = first EEG sample),
``x``/``y`` in degrees of visual angle, pupils in the tracker's unit, ``valid`` 1/0 (missing
column: a sample is valid when x, y are finite). Empty cells are read as NaN.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from cmt_live.channels import GAZE_CHANNELS, eeg_scales
from cmt_live.io.xdf import XdfStream, read_xdf

EEG_EXTENSIONS = (".fif", ".fif.gz", ".edf", ".bdf", ".cnt", ".vhdr", ".set")
#: Required columns of a gaze CSV (``valid`` is optional).
GAZE_COLUMNS = ("timestamp", *GAZE_CHANNELS[:4])


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".fif.gz" if name.endswith(".fif.gz") else path.suffix.lower()


def read_raw_eeg(
    path: str | Path,
    *,
    ch_names: tuple[str, ...] | None = None,
    name: str = "EEG",
    source_id: str | None = None,
) -> XdfStream:
    """Read an MNE-readable EEG file as one stream (microvolts, as amplifiers publish).

    Parameters
    ----------
    path : str | Path
        ``.fif``, ``.edf``, ``.bdf``, ``.cnt`` (Neuroscan, as SEED-V ships it), ``.vhdr``, ``.set``.
    ch_names : tuple of str | None
        Channels to keep, picked by name case-insensitively (SEED-V's .cnt files differ in
        case); None keeps the EEG channels.
    name, source_id : str
        Stream identity for replay.

    Returns
    -------
    stream : XdfStream
        Timestamps start at 0 (the first sample).
    """
    import mne

    path = Path(path)
    suffix = _suffix(path)
    if suffix not in EEG_EXTENSIONS:
        raise ValueError(
            f"{path}: unknown extension {suffix!r}. Readable EEG files: {EEG_EXTENSIONS}; "
            "recordings with gaze and markers: .xdf."
        )
    if not path.exists():
        raise FileNotFoundError(f"EEG file {path} does not exist.")
    if suffix == ".cnt":
        raw = _read_cnt(path)
    else:
        raw = mne.io.read_raw(path, preload=False, verbose="error")
    if ch_names is not None:
        upper = {c.upper(): c for c in raw.ch_names}
        missing = [c for c in ch_names if c.upper() not in upper]
        if missing:
            raise ValueError(
                f"{path} lacks channels {missing} (it has {raw.ch_names[:70]}). Rename them "
                "with --channel-map OLD=NEW or pick a model trained on this montage."
            )
        raw.pick([upper[c.upper()] for c in ch_names])
        labels = list(ch_names)
    else:
        raw.pick("eeg")
        labels = list(raw.ch_names)
    data = raw.get_data(units="uV").T.astype(np.float32)
    ts = np.arange(data.shape[0]) / raw.info["sfreq"]
    return XdfStream(
        name=name,
        type="EEG",
        source_id=source_id or f"replay-{path.stem}",
        sfreq=float(raw.info["sfreq"]),
        channel_format="float32",
        ch_names=labels,
        units=["microvolts"] * len(labels),
        timestamps=ts,
        data=data,
    )


def _read_cnt(path: Path):
    """Neuroscan .cnt; some SEED-V headers overflow and need ``data_format='int32'``."""
    import mne

    try:
        return mne.io.read_raw_cnt(path, preload=False, verbose="error")
    except (OverflowError, ValueError) as err:
        try:
            return mne.io.read_raw_cnt(path, preload=False, data_format="int32", verbose="error")
        except Exception as err2:
            raise ValueError(
                f"{path}: cannot read this Neuroscan .cnt ({err}; with data_format='int32': "
                f"{err2}). Its header sample count may overflow (SEED-V subjects 7-9); update "
                "MNE (the int64 fix, mne-python#13548) or convert the file to .fif."
            ) from err2


def read_gaze_csv(path: str | Path, *, name: str = "Gaze", source_id: str | None = None):
    """Read a gaze CSV (format in the module docstring) as an irregular stream."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Gaze file {path} does not exist.")
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in GAZE_COLUMNS if c not in header]
        if missing:
            raise ValueError(
                f"{path} lacks gaze columns {missing}; its header is {header}. Expected "
                f"{list(GAZE_COLUMNS)} (+ optional 'valid')."
            )
        cols = [header.index(c) for c in GAZE_COLUMNS]
        valid_col = header.index("valid") if "valid" in header else None
        rows = []
        for line_no, row in enumerate(reader, start=2):
            try:
                vals = [float(row[c]) if row[c].strip() else np.nan for c in cols]
                if valid_col is not None:
                    vals.append(float(row[valid_col]))
            except (ValueError, IndexError) as err:
                raise ValueError(f"{path}, line {line_no}: cannot parse {row!r} ({err}).") from err
            rows.append(vals)
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, len(cols) + (valid_col is not None))
    ts = arr[:, 0]
    if valid_col is None:
        valid = np.isfinite(arr[:, 1]) & np.isfinite(arr[:, 2])
    else:
        valid = arr[:, 5] > 0
    if np.any(np.diff(ts) < 0):
        bad = int(np.argmax(np.diff(ts) < 0)) + 2
        raise ValueError(f"{path}: timestamps go backwards at data row {bad}; sort the file.")
    data = np.column_stack([arr[:, 1:5], valid.astype(np.float64)]).astype(np.float32)
    return XdfStream(
        name=name,
        type="Gaze",
        source_id=source_id or f"replay-{path.stem}",
        sfreq=0.0,
        channel_format="float32",
        ch_names=list(GAZE_CHANNELS),
        units=["degrees", "degrees", "", "", ""],
        timestamps=ts,
        data=data,
    )


def read_seedv_trial_times(path: str | Path, session: int) -> tuple[np.ndarray, np.ndarray]:
    """Clip start and end seconds of one session from SEED-V's ``trial_start_end_timestamp.txt``.

    The file holds blocks ``Session N:`` / ``start_second: [...]`` / ``end_second: [...]``.
    """
    path = Path(path)
    text = path.read_text()
    blocks = re.split(r"Session\s*(\d+)\s*:", text)
    for i in range(1, len(blocks) - 1, 2):
        if int(blocks[i]) == session:
            body = blocks[i + 1]
            start = re.search(r"start_second\s*:\s*\[([^\]]*)\]", body)
            end = re.search(r"end_second\s*:\s*\[([^\]]*)\]", body)
            if start and end:
                s = np.array([float(v) for v in re.split(r"[,\s]+", start[1].strip()) if v])
                e = np.array([float(v) for v in re.split(r"[,\s]+", end[1].strip()) if v])
                if len(s) == len(e):
                    return s, e
            raise ValueError(f"{path}: session {session} block is malformed: {body[:200]!r}.")
    raise ValueError(f"{path} has no 'Session {session}:' block.")


def markers_stream(times_s, labels, *, name: str = "Markers", source_id: str = "replay-markers"):
    """A string marker stream (one label per time)."""
    return XdfStream(
        name=name,
        type="Markers",
        source_id=source_id,
        sfreq=0.0,
        channel_format="string",
        ch_names=["label"],
        timestamps=np.asarray(times_s, dtype=np.float64),
        data=[[str(v)] for v in labels],
    )


def read_recording(
    path: str | Path,
    *,
    gaze: str | Path | None = None,
    streams: list[str] | None = None,
    ch_names: tuple[str, ...] | None = None,
) -> list[XdfStream]:
    """Any supported recording as a list of streams (XDF, or an EEG file plus a gaze CSV)."""
    path = Path(path)
    if _suffix(path) == ".xdf":
        if gaze is not None:
            raise ValueError("--gaze goes with an EEG file; an XDF file carries its own gaze.")
        return read_xdf(path, names=streams)
    out = [read_raw_eeg(path, ch_names=ch_names)]
    if gaze is not None:
        out.append(read_gaze_csv(gaze))
    return out


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


def eeg_volts(stream: XdfStream, idx, unit: str | None = None) -> np.ndarray:
    """A recorded EEG stream's channels ``idx`` in volts, each scaled by its own unit.

    Parameters
    ----------
    stream : XdfStream
    idx : array of int
        Channels to keep, in the model's order (from :func:`cmt_live.channels.match_channels`).
    unit : str | None
        ``--eeg-units``: one unit for every channel instead of the declared ones.

    Returns
    -------
    array of shape (n_samples, len(idx))
    """
    declared = list(stream.units) or [""] * stream.n_channels
    scales = eeg_scales(stream.name, declared, unit)
    return np.asarray(stream.data, dtype=np.float64)[:, idx] * scales[idx]
