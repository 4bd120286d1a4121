"""XDF files: a small writer (recordings, test fixtures) and a validating reader.

Reading goes through pyxdf, the reference loader; this module adds what a replay needs on top:
a check that the file is complete and its timestamps sane, chunk by chunk
(:mod:`cmt_live.io.xdf_check`: a cut or garbled file is refused naming the chunk), stream
selection by name with an error that lists what the file holds, and a plain record per stream.

The writer follows the XDF 1.0 specification (https://github.com/sccn/xdf/wiki/Specifications):
magic ``XDF:``, then chunks of ``[n length bytes][length][tag uint16][content]``; tags 1 file
header, 2 stream header, 3 samples, 4 clock offset, 6 stream footer.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from cmt_live._logging import logger
from cmt_live.io.xdf_check import check_xdf_complete

__all__ = ["XdfStream", "check_xdf_complete", "read_xdf", "write_xdf"]

_FORMATS = {"float32": "<f4", "double64": "<f8", "int32": "<i4", "int16": "<i2", "int64": "<i8"}


@dataclass
class XdfStream:
    """One stream of an XDF file.

    Parameters
    ----------
    name, type, source_id : str
    sfreq : float
        Nominal rate in Hz (0 = irregular).
    channel_format : str
        ``"float32"``, ``"double64"``, ``"int32"``, ``"int16"``, ``"int64"`` or ``"string"``.
    ch_names : list of str
    units : list of str
    timestamps : array of shape (n_samples,)
        Seconds (the recorder's clock).
    data : array of shape (n_samples, n_channels), or list of list of str for strings
    """

    name: str
    type: str
    source_id: str
    sfreq: float
    channel_format: str
    ch_names: list[str]
    timestamps: np.ndarray
    data: np.ndarray | list
    units: list[str] = field(default_factory=list)
    hostname: str = ""

    @property
    def n_channels(self) -> int:
        return len(self.ch_names)


def _varlen(n: int) -> bytes:
    if n < 256:
        return struct.pack("<BB", 1, n)
    if n < 2**32:
        return struct.pack("<BI", 4, n)
    return struct.pack("<BQ", 8, n)


def _chunk(tag: int, content: bytes) -> bytes:
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


def _header_xml(s: XdfStream) -> str:
    chans = "".join(
        f"<channel><label>{escape(c)}</label>"
        f"<unit>{escape(s.units[i] if i < len(s.units) else '')}</unit>"
        f"<type>{escape(s.type)}</type></channel>"
        for i, c in enumerate(s.ch_names)
    )
    return (
        '<?xml version="1.0"?><info>'
        f"<name>{escape(s.name)}</name><type>{escape(s.type)}</type>"
        f"<channel_count>{s.n_channels}</channel_count>"
        f"<nominal_srate>{s.sfreq:g}</nominal_srate>"
        f"<channel_format>{s.channel_format}</channel_format>"
        f"<source_id>{escape(s.source_id)}</source_id><hostname>{escape(s.hostname)}</hostname>"
        f"<created_at>0</created_at><desc><channels>{chans}</channels></desc></info>"
    )


def _samples(sid: int, s: XdfStream, lo: int, hi: int) -> bytes:
    out = io.BytesIO()
    out.write(struct.pack("<I", sid))
    out.write(_varlen(hi - lo))
    for i in range(lo, hi):
        out.write(struct.pack("<Bd", 8, float(s.timestamps[i])))
        if s.channel_format == "string":
            for value in s.data[i]:
                raw = str(value).encode()
                out.write(_varlen(len(raw)))
                out.write(raw)
        else:
            out.write(np.asarray(s.data[i], dtype=_FORMATS[s.channel_format]).tobytes())
    return out.getvalue()


def write_xdf(path: str | Path, streams: list[XdfStream], *, chunk_samples: int = 512) -> Path:
    """Write streams to an XDF file (atomically: a temporary file renamed at the end).

    Parameters
    ----------
    path : str | Path
    streams : list of XdfStream
    chunk_samples : int
        Samples per samples-chunk.

    Returns
    -------
    path : Path
    """
    path = Path(path)
    for s in streams:
        if s.channel_format not in (*_FORMATS, "string"):
            raise ValueError(
                f"Stream {s.name!r}: channel_format={s.channel_format!r} is not an XDF format; "
                f"use one of {[*_FORMATS, 'string']}."
            )
        if len(s.timestamps) != len(s.data):
            raise ValueError(
                f"Stream {s.name!r}: {len(s.timestamps)} timestamps for {len(s.data)} samples."
            )
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        f.write(b"XDF:")
        f.write(_chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>'))
        for sid, s in enumerate(streams, start=1):
            f.write(_chunk(2, struct.pack("<I", sid) + _header_xml(s).encode()))
        for sid, s in enumerate(streams, start=1):
            # Zero clock offsets at both ends: the stamps are already on one clock, and pyxdf
            # expects offsets to segment its clock synchronisation.
            for t in (s.timestamps[:1], s.timestamps[-1:]):
                if len(t):
                    f.write(_chunk(4, struct.pack("<Idd", sid, float(t[0]), 0.0)))
            for lo in range(0, len(s.timestamps), chunk_samples):
                hi = min(lo + chunk_samples, len(s.timestamps))
                f.write(_chunk(3, _samples(sid, s, lo, hi)))
        for sid, s in enumerate(streams, start=1):
            ts = s.timestamps
            footer = (
                '<?xml version="1.0"?><info>'
                f"<first_timestamp>{ts[0] if len(ts) else 0}</first_timestamp>"
                f"<last_timestamp>{ts[-1] if len(ts) else 0}</last_timestamp>"
                f"<sample_count>{len(ts)}</sample_count></info>"
            )
            f.write(_chunk(6, struct.pack("<I", sid) + footer.encode()))
    tmp.replace(path)
    return path


def _text(info: dict, key: str, default: str = "") -> str:
    value = info.get(key)
    if isinstance(value, list) and value:
        return value[0] if isinstance(value[0], str) else default
    return default


def _channels(info: dict) -> tuple[list[str], list[str]]:
    n = int(_text(info, "channel_count", "0"))
    labels, units = [f"ch{i + 1}" for i in range(n)], [""] * n
    try:
        chans = info["desc"][0]["channels"][0]["channel"]
    except (KeyError, IndexError, TypeError):
        return labels, units
    for i, ch in enumerate(chans[:n]):
        labels[i] = _text(ch, "label", labels[i])
        units[i] = _text(ch, "unit", "")
    return labels, units


def read_xdf(path: str | Path, *, names: list[str] | None = None) -> list[XdfStream]:
    """Read an XDF file into :class:`XdfStream` records.

    Parameters
    ----------
    path : str | Path
    names : list of str | None
        Keep only these streams (by name); each must exist.

    Returns
    -------
    streams : list of XdfStream
        Timestamps as recorded, clock offsets applied by pyxdf, no dejittering (replay must
        reproduce what the recorder saw).
    """
    import pyxdf

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"XDF file {path} does not exist.")
    check_xdf_complete(path)
    try:
        raw_streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    except Exception as err:  # pyxdf raises whatever its parsers meet (XML, struct, numpy)
        raise ValueError(
            f"{path} could not be read as XDF ({type(err).__name__}: {err}); the file is "
            "damaged: re-copy it from the original, or re-record."
        ) from err
    out = []
    for st in raw_streams:
        info = st["info"]
        labels, units = _channels(info)
        fmt = _text(info, "channel_format", "float32")
        ts = np.asarray(st["time_stamps"], dtype=np.float64)
        series = st["time_series"]
        if fmt != "string":
            series = np.asarray(series, dtype=np.float64).reshape(len(ts), len(labels))
        out.append(
            XdfStream(
                name=_text(info, "name"),
                type=_text(info, "type"),
                source_id=_text(info, "source_id"),
                sfreq=float(_text(info, "nominal_srate", "0") or 0),
                channel_format=fmt,
                ch_names=labels,
                units=units,
                hostname=_text(info, "hostname"),
                timestamps=ts,
                data=series,
            )
        )
    if names:
        have = [s.name for s in out]
        missing = [n for n in names if n not in have]
        if missing:
            raise ValueError(
                f"{path} has no stream named {missing}; it holds {have}. Pick from those with "
                "--streams."
            )
        out = [s for s in out if s.name in names]
    logger.info("Read %s: %s", path, ", ".join(f"{s.name} ({len(s.timestamps)})" for s in out))
    return out
