"""A recording as a :class:`~cmt_live.source.Source`: fast replay through the live pipeline.

``cmt-live --replay FILE --fast --model M`` reads the recording
(:func:`cmt_live.io.readers.read_recording`) and feeds its EEG and gaze samples, with their
recorded timestamps, to the same driver and pipeline as live use. Windows are cut on the EEG
sample grid, so the features equal those of a real-time LSL replay of the same file (the golden
test checks it bit for bit); the EEG goes through the same timestamp checks as an inlet's and
the same per-channel unit scaling (:func:`cmt_live.channels.eeg_scales`).

A gaze file alone (EyeLink ``.asc``, gaze CSV) replays eye-only: batches of ``CHUNK_S`` seconds
of gaze, every one marked EEG-stale, so the pipeline cuts eye-only windows (flag
``eeg_missing``) on the gaze clock.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cmt_live.channels import match_gaze_channels, select_channels
from cmt_live.io.options import RecordingOptions
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
        ``.xdf``, an MNE-readable EEG file (with ``gaze_file``, a gaze file), or a gaze file.
    ch_names : sequence of str
        The model's EEG channels, in its order.
    gaze_file : str | Path | None
    options : RecordingOptions | None
        How to read the files (``--cnt-format``, gaze units and screen geometry).
    eeg_sfreq : float
        The nominal EEG rate declared for an eye-only recording (the model's rate).
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
        options: RecordingOptions | None = None,
        eeg_sfreq: float = 200.0,
    ):
        streams = read_recording(path, gaze=gaze_file, options=options)
        eeg, gaze, markers = select_streams(
            streams,
            eeg_stream=eeg_stream,
            eye_stream=eye_stream,
            marker_stream=marker_stream,
            eye_only_ok=True,
        )
        try:
            sel = (
                None
                if eeg is None
                else select_channels(
                    eeg.ch_names, tuple(ch_names), channel_map, fill_missing=fill_missing
                )
            )
            gidx = match_gaze_channels(gaze.ch_names) if gaze is not None else None
        except ValueError as err:
            raise ContractError(str(err)) from err
        self.path = Path(path)
        self.eye_only = eeg is None
        if eeg is None:
            # No EEG stream: declare the model's rate and channels so the settings validate;
            # no EEG sample ever arrives and every batch says the EEG is stale.
            eeg = XdfStream(
                "(no EEG)",
                "EEG",
                "",
                float(eeg_sfreq),
                "float32",
                list(ch_names),
                np.zeros(0),
                np.zeros((0, len(ch_names)), np.float32),
            )
        self.info = SourceInfo(
            eeg=_meta(eeg),
            gaze=_meta(gaze) if gaze is not None else None,
            markers=markers.name if markers is not None else None,
            filled_channels=() if sel is None else sel.filled,
        )
        self._eeg = eeg.data if sel is None else sel.complete(eeg_volts(eeg, sel.index, eeg_unit))
        self._eeg_ts = eeg.timestamps
        self._gaze = None if gaze is None else np.asarray(gaze.data, np.float64)[:, gidx]
        self._gaze_ts = None if gaze is None else gaze.timestamps
        self._marker_ts = np.zeros(0) if markers is None else markers.timestamps
        self._marker_labels = [] if markers is None else [str(row[0]) for row in markers.data]
        self._checker = TimestampChecker(eeg.sfreq, kind="eeg")
        self._faults: list[float] = []
        self._chunk = max(1, round(CHUNK_S * eeg.sfreq))
        self._i = self._gi = self._mi = 0
        clock = self._gaze_ts if self.eye_only else self._eeg_ts
        t_first = float(clock[0]) if len(clock) else 0.0
        self._t_now = t_first
        if gaze is None:
            self._first_events = [
                (Flag.EYE_MISSING, "no gaze stream in the recording: EEG-only", t_first)
            ]
        elif self.eye_only:
            self._first_events = [(Flag.EEG_MISSING, "no EEG in the recording: eye-only", t_first)]
        else:
            self._first_events = []

    @property
    def duration_s(self) -> float:
        """Recording time the EEG (eye-only: the gaze) covers, seconds."""
        ts = self._gaze_ts if self.eye_only else self._eeg_ts
        return float(ts[-1] - ts[0]) if len(ts) else 0.0

    def now(self) -> float:
        """The newest sample read: a prediction is "computed" when its last sample has been
        read, so the log's latency is the pipeline's own delay, not the replay's wall clock."""
        return self._t_now

    def read(self) -> Batch | None:
        if self.eye_only:
            return self._read_gaze_only()
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

    def _read_gaze_only(self) -> Batch | None:
        """``CHUNK_S`` seconds of gaze (and markers), the EEG marked stale."""
        ts = self._gaze_ts
        if self._gi >= len(ts):
            return None
        t_stop = float(ts[self._gi]) + CHUNK_S
        gj = max(self._gi + 1, int(np.searchsorted(ts, t_stop, side="left")))
        gaze, gaze_ts = self._gaze[self._gi : gj], ts[self._gi : gj]
        self._gi = gj
        self._t_now = float(gaze_ts[-1])
        mj = int(np.searchsorted(self._marker_ts, self._t_now, side="right"))
        markers = [(float(self._marker_ts[k]), self._marker_labels[k]) for k in range(self._mi, mj)]
        self._mi = mj
        events, self._first_events = self._first_events, []
        return Batch(gaze=gaze, gaze_ts=gaze_ts, markers=markers, events=events, eeg_stale=True)

    def health(self) -> list[StreamHealth]:
        return []

    def close(self) -> None:
        """Nothing to release: the recording is read into memory."""
