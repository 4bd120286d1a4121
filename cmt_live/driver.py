"""The one loop: a :class:`~cmt_live.source.Source` through a :class:`~cmt_live.pipeline.Pipeline`.

Live use, real-time replay (both LSL sources) and fast replay (a recording source) run this
same loop; only the source differs. A realtime source is read as soon as it has data: after a
read without EEG the loop blocks in the source's ``wait`` (woken by the inlets' reader threads
when samples arrive; at most ``poll_s``), so each window is cut and predicted the moment both
streams have passed its end; stream health goes to the sinks every ``health_every_s``. A
recording is read to its end without waiting and the model runs on batches of ``batch``
windows (same windows, same features, faster).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

from ._logging import logger
from .pipeline import Pipeline, Prepared
from .settings import Settings
from .source import Source

#: GIL switch interval of a process running a realtime loop, seconds.
_SWITCH_INTERVAL_S = 0.0005


@dataclass(frozen=True)
class RunStats:
    """What a run did.

    Attributes
    ----------
    wall_s : float
        Time the run took, seconds.
    n_windows, n_predictions : int
    """

    wall_s: float
    n_windows: int
    n_predictions: int


class Driver:
    """Runs ``source`` through ``pipeline`` in this thread (:meth:`run`) or a worker
    (:meth:`start`).

    Parameters
    ----------
    pipeline : Pipeline
    source : Source
    batch : int
        Windows per model call for a non-realtime source (1 reproduces the live loop's one
        call per window). Realtime sources always predict each window at once.
    poll_s : float
        Longest wait after a realtime read that brought no EEG, seconds (a source with a
        ``wait(timeout_s)`` method returns earlier, when data arrives; others are polled).
    health_every_s : float
        Period of stream-health reports to the sinks, seconds (realtime sources).
    warm_s : float
        Realtime sources: run the model once, result discarded, when the next window's last
        sample is this close (seconds of EEG; :meth:`Pipeline.warm`), so the call that counts
        finds its weights in the CPU caches. 0 turns it off.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        source: Source,
        *,
        batch: int = 64,
        poll_s: float = 0.02,
        health_every_s: float = 0.5,
        warm_s: float = 0.04,
    ):
        if int(batch) != batch or batch < 1:
            raise ValueError(f"batch must be a positive integer; got {batch}.")
        self.pipeline = pipeline
        self.source = source
        self.batch = 1 if source.realtime else int(batch)
        self.poll_s = float(poll_s)
        self.health_every_s = float(health_every_s)
        self.warm_s = float(warm_s)
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_source(
        cls, runtime, source: Source, *, sinks=(), batch: int = 64, gaze_cutoffs=(), **settings
    ) -> Driver:
        """The pipeline for a model and an opened source, and its driver.

        ``gaze_cutoffs``: a replay's logged gaze cut-offs (``Pipeline(gaze_cutoffs=...)``).
        ``settings`` are :class:`~cmt_live.settings.Settings` fields (``step_s``, ...); the
        rates come from ``source.info``. Raises ``ContractError`` (reason and fix) when the
        model cannot run on these streams.
        """
        pipeline = Pipeline(
            runtime,
            Settings.for_source(runtime.contract, source.info, **settings),
            sinks=sinks,
            clock=source.now,
            gaze_cutoffs=gaze_cutoffs,
        )
        return cls(pipeline, source, batch=batch)

    def run(self, duration_s: float | None = None) -> RunStats:
        """Run until :meth:`stop`, the source's end or ``duration_s`` wall seconds."""
        pipe, source = self.pipeline, self.source
        t_wall = time.perf_counter()
        t_stop = None if duration_s is None else time.monotonic() + duration_s
        t_health = 0.0
        pending: list[Prepared] = []
        wait = getattr(source, "wait", None)
        switch_interval = sys.getswitchinterval()
        if source.realtime:
            # The loop is woken by the inlets' reader threads; a thread that holds the GIL
            # keeps it up to the switch interval (5 ms by default) before the woken loop runs.
            sys.setswitchinterval(min(switch_interval, _SWITCH_INTERVAL_S))
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if t_stop is not None and now >= t_stop:
                    break
                batch = source.read()
                if batch is None:
                    break
                pipe.push(batch)
                for window in pipe.cut(batch):
                    prepared = pipe.prepare(window)
                    if prepared is not None:
                        pending.append(prepared)
                    if len(pending) >= self.batch:
                        pipe.predict(pending)
                        pending.clear()
                if source.realtime:
                    if self.warm_s > 0:
                        pipe.warm(self.warm_s)
                    if now >= t_health:
                        t_health = now + self.health_every_s
                        pipe.emit_health(source.health())
                    if not batch.eeg_ts.size:
                        if wait is not None:
                            wait(self.poll_s)
                        else:
                            self._stop.wait(self.poll_s)
            pipe.predict(pending)
        finally:
            sys.setswitchinterval(switch_interval)  # process-wide: put back
        return RunStats(time.perf_counter() - t_wall, pipe.n_windows, pipe.n_predictions)

    def start(self, duration_s: float | None = None) -> threading.Thread:
        """Run in a worker thread (an error is kept in :attr:`error` and logged)."""

        def work():
            try:
                self.run(duration_s)
            except BaseException as err:  # kept for the caller, logged
                self.error = err
                logger.exception("the pipeline stopped with an error")
            finally:
                self._stop.set()

        self._thread = threading.Thread(target=work, name="cmt-live-pipeline", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout_s: float = 3.0) -> None:
        """Ask the loop to stop and wait for its thread (if any)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def close(self) -> None:
        """Stop, close the source and every sink (log flushed, outlet unregistered)."""
        self.stop()
        self.source.close()
        self.pipeline.close()
