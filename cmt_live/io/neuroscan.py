"""Neuroscan ``.cnt`` files whose header does not say their word size (SEED-V's ``EEG_raw``).

A Neuroscan CNT stores multiplexed 16- or 32-bit integers, and its SETUP header does not name
which: MNE infers it from the header's sample count and event-table offset, and gives up when
the count is 0 or overflowed (``"Could not automatically compute number of bytes per sample"``;
SEED-V's raw files and MNE's own ``scan41_short.cnt`` test file; shared/SEEDV.md §2.2).

When MNE's inference fails, :func:`guess_data_format` reads the start of the data both ways
and keeps the reading whose channels are smooth in time. EEG sampled at >= 100 Hz changes
little from one sample to the next, so for each channel ``mean |x[t+1] - x[t]|`` is a small
fraction of ``mean |x - median(x)|`` (0.1 on ``scan41_short.cnt``); Gaussian white noise gives
sqrt(2). The wrong word size scrambles channels and samples: 32-bit data read as 16-bit words
interleaves the low and high halves of different channels (ratio > 1 on a real 32-bit file),
and 16-bit data read as 32-bit words pairs channels and skips every other sample (a larger
ratio than the true reading: 0.19 against 0.11 on ``scan41_short.cnt``). The smaller median
ratio wins when it is clearly smaller; otherwise the file is refused with the flag to set.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

from cmt_live._logging import logger

#: The word sizes MNE reads (``mne.io.read_raw_cnt(data_format=...)``).
CNT_FORMATS = ("int16", "int32")
#: Samples per channel read to judge the word size.
_PROBE_SAMPLES = 4000
#: The chosen reading's smoothness ratio must be below this fraction of the other's.
_CLEAR_MARGIN = 0.8
#: MNE computes the sample count from the event-table offset only below this file size.
_MNE_RECOMPUTE_LIMIT = 2e9
# SETUP header layout (Neuroscan's SETUP/ELECTLOC structs, as MNE reads them).
_NCHANNELS_OFFSET = 370
_EVENT_TABLE_OFFSET = 886
_DATA_OFFSET = 900
_CH_SIZE = 75

#: What MNE's CNT reader raises on files it cannot parse (it wraps some in RuntimeError).
_READ_ERRORS = (ValueError, RuntimeError, OverflowError, IndexError, KeyError, struct.error)

_FIX = "pass --cnt-format int16 or --cnt-format int32 (try one; a wrong one gives EEG of volts)"


def _why(err: BaseException) -> str:
    """One line of an MNE error (MNE wraps some in traceback text and a hint about ANT files)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    named = [ln for ln in lines if re.match(r"^\w+(Error|Exception): ", ln)]
    plain = [ln for ln in lines if not ln.startswith(("WARNING", "File ", "~", "^"))]
    return (named or plain or [type(err).__name__])[-1][:160]


def smoothness_ratio(data: np.ndarray) -> float:
    """Median over channels of ``mean |diff(x)| / mean |x - median(x)|``.

    Parameters
    ----------
    data : array of shape (n_channels, n_times)

    Returns
    -------
    ratio : float
        Small (< 0.5) for band-limited signals, about 1.41 (sqrt 2) for white noise, NaN when every
        channel is flat.
    """
    x = np.asarray(data, dtype=np.float64)
    spread = np.mean(np.abs(x - np.median(x, axis=1, keepdims=True)), axis=1)
    step = np.mean(np.abs(np.diff(x, axis=1)), axis=1)
    live = spread > 0
    if not live.any():
        return float("nan")
    return float(np.median(step[live] / spread[live]))


def _samples_in_file(path: Path, n_bytes: int) -> int | None:
    """Samples the data block holds between the channel table and the event table (None:
    the header's event-table offset cannot be trusted, as in files over 2 GB)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(_DATA_OFFSET)
    if len(head) < _DATA_OFFSET or size >= _MNE_RECOMPUTE_LIMIT:
        return None
    n_ch = int(np.frombuffer(head, "<u2", 1, _NCHANNELS_OFFSET)[0])
    event_offset = int(np.frombuffer(head, "<i4", 1, _EVENT_TABLE_OFFSET)[0])
    if n_ch == 0 or not _DATA_OFFSET < event_offset <= size:
        return None
    return (event_offset - _DATA_OFFSET - _CH_SIZE * n_ch) // (n_ch * n_bytes)


def _read(path: Path, data_format: str):
    """MNE's reader; the header's sample count is used unless it runs past the data block
    (then the count is recomputed from the event-table offset, as MNE does for a count of 0)."""
    import mne

    raw = mne.io.read_raw_cnt(path, data_format=data_format, preload=False, verbose="error")
    if data_format == "auto":
        return raw
    fits = _samples_in_file(path, 2 if data_format == "int16" else 4)
    if fits is not None and raw.n_times > fits:
        raw = mne.io.read_raw_cnt(
            path,
            data_format=data_format,
            recompute_n_samples=True,
            preload=False,
            verbose="error",
        )
    return raw


def guess_data_format(path: str | Path) -> tuple[str, dict[str, float]]:
    """The word size of a Neuroscan ``.cnt`` from its data (see the module docstring).

    Returns
    -------
    data_format : str
        ``"int16"`` or ``"int32"``.
    ratios : dict
        The smoothness ratio of each reading that could be read.

    Raises
    ------
    ValueError
        Neither reading is clearly smoother, or neither can be read (with the fix).
    """
    path = Path(path)
    ratios: dict[str, float] = {}
    errors: dict[str, str] = {}
    for fmt in CNT_FORMATS:
        try:
            raw = _read(path, fmt)
            stop = min(raw.n_times, _PROBE_SAMPLES)
            if stop < 3:
                raise ValueError(f"{raw.n_times} samples")
            ratios[fmt] = smoothness_ratio(raw.get_data(picks="all", stop=stop))
        except (*_READ_ERRORS, OSError) as err:
            errors[fmt] = _why(err)
    finite = {k: v for k, v in ratios.items() if np.isfinite(v)}
    if not finite:
        detail = "; ".join(f"{k}: {v}" for k, v in errors.items()) or "every channel is flat"
        raise ValueError(
            f"{path}: cannot read this as a Neuroscan .cnt, 16- or 32-bit ({detail}); is it "
            "complete, and a Neuroscan file (an ANT Neuro .cnt is not)?"
        )
    best = min(finite, key=finite.get)
    other = [v for k, v in finite.items() if k != best]
    rounded = {k: round(v, 3) for k, v in finite.items()}
    if other and not finite[best] < _CLEAR_MARGIN * other[0]:
        raise ValueError(
            f"{path}: the header does not say whether samples are 16- or 32-bit and the data "
            f"does not tell either (smoothness {rounded}); {_FIX}."
        )
    logger.info("%s: header word size ambiguous; read as %s (smoothness %s)", path, best, rounded)
    return best, ratios


def read_cnt(path: str | Path, data_format: str = "auto"):
    """A Neuroscan ``.cnt`` as an MNE Raw (not preloaded).

    Parameters
    ----------
    path : str | Path
    data_format : str
        ``"auto"``: MNE's inference from the header, then :func:`guess_data_format` when the
        header is ambiguous; ``"int16"`` / ``"int32"``: as given (``--cnt-format``).

    Raises
    ------
    ValueError
        The file cannot be read; the one-line message names it and the fix.
    """
    path = Path(path)
    if data_format not in ("auto", *CNT_FORMATS):
        raise ValueError(f"--cnt-format {data_format!r} is invalid; use auto, int16 or int32.")
    if data_format != "auto":
        try:
            return _read(path, data_format)
        except _READ_ERRORS as err:
            raise ValueError(
                f"{path}: cannot read as a Neuroscan .cnt of {data_format} words "
                f"({_why(err)}); try --cnt-format auto, or convert the file to .fif with MNE."
            ) from err
    try:
        return _read(path, "auto")
    except _READ_ERRORS as err:
        logger.info("%s: MNE cannot infer the word size (%s)", path, _why(err))
    fmt, _ = guess_data_format(path)
    return _read(path, fmt)
