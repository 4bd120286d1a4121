"""Republish recorded streams over LSL, paced by their own timestamps.

A :class:`Player` takes :class:`~cmt_live.io.xdf.XdfStream` records (from an XDF file, or built
from an MNE-readable EEG file plus a gaze CSV, see :mod:`cmt_live.io.readers`) and pushes each
through an LSL outlet with the original name, type, channel labels and source_id. Samples are
re-stamped onto the local LSL clock, keeping their relative times (divided by ``speed``), so
``cmt-live`` consumes them as if they were live. Regular streams go out in small chunks, irregular
streams (gaze, markers) sample by sample.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from cmt_live._logging import logger
from cmt_live.io.xdf import XdfStream
from cmt_live.lsl.outlet import make_outlet


@dataclass(frozen=True)
class PlayerSettings:
    """How to replay.

    Parameters
    ----------
    speed : float
        Playback speed (1 = real time, 10 = ten times faster).
    loop : bool
        Start over at the end (the time axis keeps increasing).
    seek_s : float
        Skip this many seconds from the start of the recording.
    chunk_s : float
        Push period for regular streams, seconds of recording.
    wait_consumers_s : float
        Before the clock starts, wait up to this long for every outlet to have a consumer, so
        nothing is pushed before anyone listens (tests, golden comparisons). 0 = start at once.
    """

    speed: float = 1.0
    loop: bool = False
    seek_s: float = 0.0
    chunk_s: float = 0.02
    wait_consumers_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be > 0; got {self.speed}. Use 1 for real time.")
        if self.seek_s < 0:
            raise ValueError(f"seek must be >= 0 seconds; got {self.seek_s}.")
        if not self.chunk_s > 0:
            raise ValueError(f"chunk_s must be > 0; got {self.chunk_s}.")


class Player:
    """Replay streams through LSL outlets on a background thread.

    Parameters
    ----------
    streams : list of XdfStream
    settings : PlayerSettings

    Notes
    -----
    All streams share one time origin (the earliest timestamp among them after ``seek_s``),
    so their relative alignment is exactly the recorded one.
    """

    def __init__(self, streams: list[XdfStream], settings: PlayerSettings | None = None):
        if not streams:
            raise ValueError("Nothing to replay: no streams were given.")
        self.streams = streams
        self.settings = settings or PlayerSettings()
        starts = [s.timestamps[0] for s in streams if len(s.timestamps)]
        ends = [s.timestamps[-1] for s in streams if len(s.timestamps)]
        if not starts:
            raise ValueError("Nothing to replay: every stream is empty.")
        self.t0 = min(starts) + self.settings.seek_s
        self.duration_s = max(ends) - self.t0
        if self.duration_s <= 0:
            raise ValueError(
                f"seek={self.settings.seek_s} s is past the end of the recording "
                f"({max(ends) - min(starts):.1f} s long)."
            )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.outlets: list = []
        self.n_pushed = [0] * len(streams)

    def start(self) -> Player:
        """Create the outlets and start pushing."""
        self.outlets = [make_outlet(s) for s in self.streams]
        self._thread = threading.Thread(target=self._run, name="cmt-replay", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the end of playback; True when it ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop pushing and close the outlets."""
        self._stop.set()
        self.wait(timeout)
        self.outlets = []  # dropping the last reference closes the outlet

    def _run(self) -> None:
        import pylsl

        speed, chunk_s = self.settings.speed, self.settings.chunk_s
        deadline = time.monotonic() + self.settings.wait_consumers_s
        while not self._stop.is_set() and time.monotonic() < deadline:
            if all(o.have_consumers() for o in self.outlets):
                time.sleep(0.2)  # let the inlets finish subscribing
                break
            time.sleep(0.02)
        cursors = [int(np.searchsorted(s.timestamps, self.t0)) for s in self.streams]
        loop_index = 0
        t_wall0 = pylsl.local_clock()
        while not self._stop.is_set():
            # Recording time reached now; everything stamped before it is due.
            rec_now = (
                self.t0
                + (pylsl.local_clock() - t_wall0) * speed
                - loop_index * (self.duration_s + chunk_s)
            )
            done = True
            for k, s in enumerate(self.streams):
                i0 = cursors[k]
                i1 = int(np.searchsorted(s.timestamps, rec_now, side="right"))
                if i1 > i0:
                    ts_local = (
                        t_wall0
                        + (s.timestamps[i0:i1] - self.t0 + loop_index * (self.duration_s + chunk_s))
                        / speed
                    )
                    self._push(k, s, i0, i1, ts_local)
                    cursors[k] = i1
                done &= cursors[k] >= len(s.timestamps)
            if done:
                if not self.settings.loop:
                    break
                loop_index += 1
                cursors = [int(np.searchsorted(s.timestamps, self.t0)) for s in self.streams]
                logger.info("Replay: loop %d", loop_index)
            time.sleep(chunk_s / speed if speed < 50 else 0.0005)
        logger.info("Replay finished: %s", dict(zip([s.name for s in self.streams], self.n_pushed)))

    def _push(self, k: int, s: XdfStream, i0: int, i1: int, ts_local: np.ndarray) -> None:
        outlet = self.outlets[k]
        if s.channel_format == "string":
            for j, i in enumerate(range(i0, i1)):
                outlet.push_sample([str(v) for v in s.data[i]], float(ts_local[j]))
        elif s.sfreq > 0:
            # Per-sample stamps are kept: push_chunk with a timestamp list.
            outlet.push_chunk(np.ascontiguousarray(s.data[i0:i1]), ts_local.tolist())
        else:
            for j, i in enumerate(range(i0, i1)):
                outlet.push_sample(s.data[i].tolist(), float(ts_local[j]))
        self.n_pushed[k] += i1 - i0
