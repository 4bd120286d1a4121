"""A recording as a :class:`~cmt_live.source.Source`: fast replay through the live pipeline.

``cmt-live --replay FILE --fast --model M`` reads the recording
(:func:`cmt_live.io.readers.read_recording`) and feeds its EEG and gaze samples, with their
recorded timestamps, to the same driver and pipeline as live use. Windows are cut on the EEG
sample grid, so the features equal those of a real-time LSL replay of the same file (the golden
test checks it bit for bit); the EEG goes through the same timestamp checks as an inlet's and
the same per-channel unit scaling (:func:`cmt_live.channels.eeg_scales`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cmt_live.channels import match_gaze_channels, select_channels
from cmt_live.io.readers import eeg_volts, read_recording, select_streams
from cmt_live.io.xdf import XdfStream
from cmt_live.records import Flag, StreamHealth, StreamMeta
from cmt_live.settings import ContractError
from cmt_live.source import Batch, SourceInfo
from cmt_live.stream_checks import TimestampChecker

#: Seconds of recording per batch (any value gives the same windows).
CHUNK_S = 1.0


def _meta(s: XdfStream) -> StreamMeta:
    return StreamMeta(
        name=s.name,
        type=s.type,
        source_id=s.source_id,
        hostname=s.hostname,
        sfreq=s.sfreq,
        ch_names=tuple(s.ch_names),
        units=tuple(s.units),
    )


class RecordingSource:
    """Batches of ``CHUNK_S`` seconds of a recording, in recorded time.

    Parameters
    ----------
    path : str | Path
        ``.xdf``, or an MNE-readable EEG file (with ``gaze_file``, a gaze CSV).
    ch_names : sequence of str
        The model's EEG channels, in its order.
    gaze_file : str | Path | None
    eeg_stream, eye_stream, marker_stream : str | None
        Stream names in an XDF file; by default the streams of type EEG, Gaze and Markers.
    channel_map, eeg_unit, fill_missing
        As ``--channel-map``, ``--eeg-units`` and ``--fill-missing``.

    Raises
    ------
    ContractError
        The channels do not match the model's.
    ValueError, FileNotFoundError
        The file cannot be read, or the named streams are not in it.
    """

    realtime = False

    def __init__(
        self,
        path: str | Path,
        ch_names,
        *,
        gaze_file: str | Path | None = None,
        eeg_stream: str | None = None,
        eye_stream: str | None = None,
        marker_stream: str | None = None,
        channel_map=None,
        eeg_unit: str | None = None,
        fill_missing: int = 0,
    ):
        streams = read_recording(path, gaze=gaze_file)
        eeg, gaze, markers = select_streams(
            streams, eeg_stream=eeg_stream, eye_stream=eye_stream, marker_stream=marker_stream
        )
        try:
            sel = select_channels(eeg.ch_names, tuple(ch_names), channel_map,
                                  fill_missing=fill_missing)  # fmt: skip
            gidx = match_gaze_channels(gaze.ch_names) if gaze is not None else None
        except ValueError as err:
            raise ContractError(str(err)) from err
        self.path = Path(path)
        self.info = SourceInfo(
            eeg=_meta(eeg),
            gaze=_meta(gaze) if gaze is not None else None,
            markers=markers.name if markers is not None else None,
            filled_channels=sel.filled,
        )
        self._eeg = sel.complete(eeg_volts(eeg, sel.index, eeg_unit))
        self._eeg_ts = eeg.timestamps
        self._gaze = None if gaze is None else np.asarray(gaze.data, np.float64)[:, gidx]
        self._gaze_ts = None if gaze is None else gaze.timestamps
        self._marker_ts = np.zeros(0) if markers is None else markers.timestamps
        self._marker_labels = [] if markers is None else [str(row[0]) for row in markers.data]
        self._checker = TimestampChecker(eeg.sfreq, kind="eeg")
        self._faults: list[float] = []
        self._chunk = max(1, round(CHUNK_S * eeg.sfreq))
        self._i = self._gi = self._mi = 0
        t_first = float(self._eeg_ts[0]) if len(self._eeg_ts) else 0.0
        self._t_now = t_first
        self._first_events = (
            [(Flag.EYE_MISSING, "no gaze stream in the recording: EEG-only", t_first)]
            if gaze is None
            else []
        )

    @property
    def duration_s(self) -> float:
        """Recording time the EEG covers, seconds."""
        ts = self._eeg_ts
        return float(ts[-1] - ts[0]) if len(ts) else 0.0

    def now(self) -> float:
        """The newest sample read: a prediction is "computed" when its last sample has been
        read, so the log's latency is the pipeline's own delay, not the replay's wall clock."""
        return self._t_now

    def read(self) -> Batch | None:
        lo = self._i
        if lo >= len(self._eeg_ts):
            return None
        hi = min(lo + self._chunk, len(self._eeg_ts))
        self._i = hi
        t_now = float(self._eeg_ts[hi - 1])
        checked = self._checker.check(self._eeg[lo:hi], self._eeg_ts[lo:hi], now=t_now)
        self._faults.extend(checked.fault_timestamps.tolist())
        self._t_now = t_now
        gaze, gaze_ts = np.zeros((0, 5)), np.zeros(0)
        if self._gaze_ts is not None:
            gj = int(np.searchsorted(self._gaze_ts, t_now, side="right"))
            gaze, gaze_ts = self._gaze[self._gi : gj], self._gaze_ts[self._gi : gj]
            self._gi = gj
        mj = int(np.searchsorted(self._marker_ts, t_now, side="right"))
        markers = [(float(self._marker_ts[k]), self._marker_labels[k]) for k in range(self._mi, mj)]
        self._mi = mj
        events, self._first_events = self._first_events, []
        return Batch(
            eeg=checked.data,
            eeg_ts=checked.timestamps,
            gaze=gaze,
            gaze_ts=gaze_ts,
            markers=markers,
            events=events,
            eeg_gaps=list(self._checker.gaps),
            timestamp_faults=list(self._faults),
        )

    def health(self) -> list[StreamHealth]:
        return []

    def close(self) -> None:
        """Nothing to release: the recording is read into memory."""
