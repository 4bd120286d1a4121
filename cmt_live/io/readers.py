"""Recorded sessions as streams: XDF, MNE-readable EEG files, gaze files, SEED-V's clip times.

Every reader returns :class:`~cmt_live.io.xdf.XdfStream` records, so replay (LSL or in-process)
treats all sources alike. EEG files: :data:`EEG_EXTENSIONS` (Neuroscan ``.cnt`` through
:mod:`cmt_live.io.neuroscan`); gaze files: EyeLink ``.asc`` (:mod:`cmt_live.io.eyelink`) and
CSV (:mod:`cmt_live.io.gaze_csv`, whose docstring gives the columns). A gaze file alone is an
eye-only recording; with an EEG file it is that file's gaze (``--gaze``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from cmt_live.channels import eeg_scales
from cmt_live.io.eyelink import read_eyelink_asc
from cmt_live.io.gaze_csv import read_gaze_csv
from cmt_live.io.neuroscan import read_cnt
from cmt_live.io.options import RecordingOptions
from cmt_live.io.xdf import XdfStream, read_xdf
from features.seedv import CLASS_NAMES, SEEDV_LABELS, check_session

EEG_EXTENSIONS = (".fif", ".fif.gz", ".edf", ".bdf", ".cnt", ".vhdr", ".set")
#: Gaze files: EyeLink's text export, and CSV (comma, tab or semicolon separated).
GAZE_EXTENSIONS = (".asc", ".csv", ".tsv")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".fif.gz" if name.endswith(".fif.gz") else path.suffix.lower()


def read_raw_eeg(
    path: str | Path,
    *,
    ch_names: tuple[str, ...] | None = None,
    name: str = "EEG",
    source_id: str | None = None,
    cnt_format: str = "auto",
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
    cnt_format : str
        Neuroscan word size (``--cnt-format``): ``auto``, ``int16`` or ``int32``.

    Returns
    -------
    stream : XdfStream
        Timestamps start at 0 (the first sample).
    """
    path = Path(path)
    raw = open_raw_eeg(path, cnt_format)
    labels = pick_channels(raw, ch_names, path)
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


def open_raw_eeg(path: str | Path, cnt_format: str = "auto"):
    """An EEG file as an MNE Raw, not preloaded (``.cnt``: :func:`~cmt_live.io.neuroscan.read_cnt`).

    Raises
    ------
    ValueError, FileNotFoundError
        An unknown extension or a missing or unreadable file (one line, with the fix).
    """
    import mne

    path = Path(path)
    suffix = _suffix(path)
    if suffix not in EEG_EXTENSIONS:
        raise ValueError(
            f"{path}: unknown extension {suffix!r}. Readable EEG files: {EEG_EXTENSIONS}; "
            f"gaze files: {GAZE_EXTENSIONS}; recordings with gaze and markers: .xdf."
        )
    if not path.exists():
        raise FileNotFoundError(f"EEG file {path} does not exist.")
    if suffix == ".cnt":
        return read_cnt(path, cnt_format)
    return mne.io.read_raw(path, preload=False, verbose="error")


def pick_channels(raw, ch_names: tuple[str, ...] | None, path) -> list[str]:
    """Keep ``ch_names`` of ``raw`` (by name, any case) in that order, or its EEG channels
    when None; returns the labels kept. Raises ``ValueError`` naming the missing ones."""
    if ch_names is None:
        raw.pick("eeg")
        return list(raw.ch_names)
    upper = {c.upper(): c for c in raw.ch_names}
    missing = [c for c in ch_names if c.upper() not in upper]
    if missing:
        raise ValueError(
            f"{path} lacks channels {missing} (it has {raw.ch_names[:70]}). Rename them "
            "with --channel-map OLD=NEW or pick a model trained on this montage."
        )
    raw.pick([upper[c.upper()] for c in ch_names])
    return list(ch_names)


def read_gaze_file(path: str | Path, options: RecordingOptions | None = None) -> XdfStream:
    """An EyeLink ``.asc`` or a gaze CSV as a gaze stream (x, y in degrees)."""
    path = Path(path)
    o = options or RecordingOptions()
    suffix = _suffix(path)
    if suffix == ".asc":
        return read_eyelink_asc(path, geometry=o.geometry, offset_s=o.gaze_offset_s)
    if suffix in (".csv", ".tsv"):
        return read_gaze_csv(
            path, units=o.gaze_units, geometry=o.geometry, offset_s=o.gaze_offset_s
        )
    raise ValueError(
        f"{path}: unknown gaze file extension {suffix!r}; gaze files are {GAZE_EXTENSIONS} "
        "(EyeLink: convert .edf with SR Research's edf2asc)."
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


def read_seedv_trials(path: str | Path, session: int):
    """The 15 clips of one SEED-V session: start and end seconds from ``path`` (SEED-V's
    ``trial_start_end_timestamp.txt``) and the session's label codes.

    Returns
    -------
    start, end : arrays of shape (15,)
        Seconds from the start of the session's EEG file.
    labels : tuple of int
        :data:`features.seedv.SEEDV_LABELS` of the session, one per clip.
    """
    check_session(session)
    start, end = read_seedv_trial_times(path, session)
    labels = SEEDV_LABELS[session - 1]
    if len(start) != len(labels):
        raise ValueError(
            f"{path}: session {session} has {len(start)} clips; SEED-V has {len(labels)}."
        )
    return start, end, labels


def seedv_trial_markers(path: str | Path, session: int) -> XdfStream:
    """The marker stream of a SEED-V session without markers: each clip's class name at its
    start and ``"Rest"`` at its end (at equal times an end comes before the next start)."""
    start, end, labels = read_seedv_trials(path, session)
    events = sorted(
        [*zip(start, (CLASS_NAMES[c] for c in labels)), *((e, "Rest") for e in end)],
        key=lambda ev: (ev[0], ev[1] != "Rest"),
    )
    return markers_stream([t for t, _ in events], [label for _, label in events])


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
    options: RecordingOptions | None = None,
) -> list[XdfStream]:
    """Any supported recording as a list of streams: XDF, an EEG file (plus a gaze file), or
    a gaze file alone (eye only)."""
    path = Path(path)
    o = options or RecordingOptions()
    suffix = _suffix(path)
    if suffix == ".xdf":
        if gaze is not None:
            raise ValueError("--gaze goes with an EEG file; an XDF file carries its own gaze.")
        return read_xdf(path, names=streams)
    if suffix in GAZE_EXTENSIONS:
        if gaze is not None:
            raise ValueError(f"{path} is a gaze file already; --gaze goes with an EEG file.")
        return [read_gaze_file(path, o)]
    out = [read_raw_eeg(path, ch_names=ch_names, cnt_format=o.cnt_format)]
    if gaze is not None:
        out.append(read_gaze_file(gaze, o))
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


def select_streams(
    streams, *, eeg_stream=None, eye_stream=None, marker_stream=None, eye_only_ok=False
):
    """The EEG, gaze and marker streams of a recording (by name, else by type).

    ``eye_only_ok``: a recording with gaze and no EEG gives ``eeg=None`` instead of an error.
    """
    eeg = _pick(streams, eeg_stream, ("eeg",))
    gaze = _pick(streams, eye_stream, ("gaze", "eyetracker", "eye"))
    if eeg is None and not (eye_only_ok and gaze is not None):
        raise ValueError(
            f"No EEG stream in the recording ({[(s.name, s.type) for s in streams]}); name it "
            "with --eeg-stream."
        )
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


def check_long_enough(path, duration_s: float, window_s: float) -> None:
    """Raise ``ValueError`` (one line) when a recording is shorter than one model window.

    Parameters
    ----------
    path : str | Path
        The recording, for the message.
    duration_s : float
        Time from its first to its last sample, seconds (EEG; gaze for an eye-only file).
    window_s : float
        The model's window length, seconds.
    """
    if not duration_s >= window_s:
        raise ValueError(
            f"{path} is {duration_s:.2f} s long, shorter than one {window_s:g}-s window of the "
            f"model, so no prediction can be made; replay a recording of at least {window_s:g} s."
        )
