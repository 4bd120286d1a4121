"""Where samples come from: the :class:`Source` protocol and the :class:`Batch` it yields.

Two implementations feed the one driver (:mod:`cmt_live.driver`): LSL inlets
(:class:`cmt_live.lsl.source.LslSource`, live use and real-time replay) and a recording read
from a file (:class:`cmt_live.io.recording_source.RecordingSource`, fast replay). Everything a
source knows about its streams reaches the pipeline through a batch, so live and replay differ
only in where the batch comes from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .records import StreamHealth, StreamMeta


@dataclass(frozen=True)
class Batch:
    """What a source read since the last call (all times on the pipeline's clock, seconds).

    Attributes
    ----------
    eeg : array of shape (n_samples, n_channels)
        Volts, in the model's channel order, at the EEG stream's rate.
    eeg_ts : array of shape (n_samples,)
    gaze : array of shape (n_gaze, 5)
        ``x_deg, y_deg, pupil_1, pupil_2, valid``.
    gaze_ts : array of shape (n_gaze,)
    markers : sequence of (t, label)
        Ground-truth markers.
    events : sequence of (kind, message, t)
        Stream events (stale, connected, gap, ...), already prefixed with the stream name.
    eeg_stale, eye_stale : bool
        The stream stopped delivering (its watchdog fired).
    eeg_gaps, gaze_gaps : sequence of (t0, t1)
        Gaps seen so far (on the input clock).
    timestamp_faults : sequence of float
        Stamps of backward jumps and duplicates seen so far.
    lost_flags : frozenset of str
        ``eeg_lost`` / ``eye_lost`` while that stream has been away longer than the user's
        limit; the pipeline puts them on every prediction meanwhile.
    """

    eeg: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    eeg_ts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gaze: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))
    gaze_ts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    markers: Sequence[tuple[float, str]] = ()
    events: Sequence[tuple[str, str, float]] = ()
    eeg_stale: bool = False
    eye_stale: bool = False
    eeg_gaps: Sequence[tuple[float, float]] = ()
    gaze_gaps: Sequence[tuple[float, float]] = ()
    timestamp_faults: Sequence[float] = ()
    lost_flags: frozenset = frozenset()


@dataclass(frozen=True)
class SourceInfo:
    """The streams a source opened.

    Attributes
    ----------
    eeg : StreamMeta
    gaze : StreamMeta | None
        None: EEG-only.
    markers : str | None
        Name of the ground-truth marker stream, if any.
    filled_channels : tuple of str
        Model channels the stream lacks and the source fills by interpolation
        (:class:`cmt_live.channels.ChannelSelection`); empty when every channel is recorded.
    """

    eeg: StreamMeta
    gaze: StreamMeta | None = None
    markers: str | None = None
    filled_channels: tuple[str, ...] = ()


class Source(Protocol):
    """A stream of batches. ``realtime`` sources are polled (the driver waits between empty
    reads and predicts each window as soon as it is cut); a recording is read to its end as
    fast as possible, the model running on batches of windows."""

    info: SourceInfo
    realtime: bool

    def read(self) -> Batch | None:
        """New samples and events; None when the source has ended (a recording's end)."""

    def now(self) -> float:
        """The pipeline's clock: LSL seconds live, the newest sample's stamp in a recording."""

    def health(self) -> list[StreamHealth]:
        """Per-stream health (empty when the source has none to report)."""

    def close(self) -> None:
        """Release inlets and files."""
