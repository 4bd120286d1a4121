"""The live loop: samples -> windows -> features -> context -> model -> Prediction -> sinks.

Two layers:

:class:`Pipeline`
    The pure core, no LSL: ``push_eeg(data, ts)`` / ``push_gaze(data, ts)`` /
    ``push_marker(t, label)`` feed it samples (any chunking), :meth:`Pipeline.process` cuts every
    due window (``cmt_live.windowing``, on the EEG sample grid) and :meth:`Pipeline.step` turns
    one :class:`~cmt_live.records.Window` into a :class:`~cmt_live.records.Prediction` and hands
    it to the sinks. Tests, the fast replay and the LSL loop all drive this object.
:class:`LivePipeline`
    LSL around it: resolves the streams, checks the model contract against them *before the
    first window*, runs one :class:`cmt_live.lsl.inlet.StreamInput` per stream, forwards markers,
    health and stream events, and runs the core in its own thread (:meth:`LivePipeline.start`)
    or the caller's (:meth:`LivePipeline.run`).

EEG path: raw volts in the model's channel order at the stream rate ->
:class:`features.preprocess.StreamingPreprocessor` (resampling to the contract's sfreq and the
SEED-V band-pass, the causal filters ``cmt-sim dataset`` used for the training data) -> an EEG
ring buffer at the model's rate, each output sample stamped with the input time it describes
(interpolated from the input stamps, minus the resampler's group delay). A timestamp jump or a
NaN burst restarts the preprocessor (a causal filter fed NaN never recovers).

A prediction is made only when the newest window has a usable modality; otherwise a
``no_valid_context`` event goes to the sinks instead (never a prediction from stale data).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from itertools import pairwise

import numpy as np

from features.preprocess import StreamingPreprocessor
from features.seedv import CLASS_NAMES

from ._logging import logger
from .channels import match_gaze_channels
from .checks import ContractError, check_spec
from .context import ContextBuffer
from .featurize import Featurizer
from .records import FeatureFrame, Flag, Prediction, StreamHealth, Window
from .ring_buffer import RingBuffer
from .windowing import GAZE_COLUMNS, WindowCutter, WindowSettings


class Pipeline:
    """The pure live core (see the module docstring).

    Parameters
    ----------
    runtime : models.Runtime
        ``.contract`` and ``.predict(eeg (T, n_eeg), eye (T, n_eye), eeg_mask, eye_mask)``.
    eeg_sfreq : float
        Rate of the EEG given to :meth:`push_eeg`, Hz (resampled to the contract's).
    step_s : float
        Time between window ends, seconds.
    has_gaze : bool
        Whether a gaze stream exists (without one, windows never wait for gaze).
    gaze_sfreq : float
        Nominal gaze rate for the coverage check (0: irregular).
    sinks : sequence of sink objects
    buffer_s : float
        Seconds of EEG (at the model rate) and gaze held.
    min_eye_coverage : float
    gaze_wait_s : float
        How long (EEG time) a due window waits for gaze to reach its end.
    clock : callable() -> float
        The LSL clock (``t_computed``). Default ``time.monotonic``: liblsl's ``local_clock`` is
        the same steady clock on Linux.
    """

    def __init__(
        self,
        runtime,
        *,
        eeg_sfreq: float | None = None,
        step_s: float = 1.0,
        has_gaze: bool = True,
        gaze_sfreq: float = 0.0,
        sinks: Sequence = (),
        buffer_s: float = 30.0,
        min_eye_coverage: float = 0.5,
        gaze_wait_s: float = 0.25,
        max_behind: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ):
        contract = runtime.contract
        spec = contract.feature_spec
        eeg_sfreq = spec.sfreq if eeg_sfreq is None else float(eeg_sfreq)
        check_spec(spec, step_s=step_s, eeg_sfreq=eeg_sfreq)
        if tuple(contract.class_names) != CLASS_NAMES:
            raise ContractError(
                f"The model's classes {contract.class_names} differ from {CLASS_NAMES}; "
                "retrain with SEED-V's class order."
            )
        if not buffer_s >= 2 * spec.window_s:
            raise ValueError(
                f"buffer_s={buffer_s} must hold at least two windows ({2 * spec.window_s} s)."
            )
        self.runtime = runtime
        self.spec = spec
        self.contract = contract
        self.sinks = list(sinks)
        self.clock = clock
        self.eeg_sfreq = eeg_sfreq
        self.settings = WindowSettings(
            window_s=spec.window_s,
            step_s=step_s,
            sfreq=spec.sfreq,
            gaze_sfreq=gaze_sfreq,
            min_eye_coverage=min_eye_coverage,
            gaze_wait_s=gaze_wait_s,
            max_behind=max_behind,
        )
        n_ch = len(spec.ch_names)
        self.n_channels = n_ch
        self.featurizer = Featurizer(spec, min_eye_coverage=min_eye_coverage)
        self.context = ContextBuffer(
            contract.context_len, spec.window_s, spec.n_eeg_features, spec.n_eye_features
        )
        self.cutter = WindowCutter(self.settings)
        self.eeg_buffer = RingBuffer(
            n_ch, int(np.ceil(buffer_s * spec.sfreq)), np.float64, name="eeg (model rate)"
        )
        self.gaze_buffer = (
            RingBuffer(len(GAZE_COLUMNS), int(np.ceil(buffer_s * 500)), np.float64, name="gaze")
            if has_gaze
            else None
        )
        self._pre = (
            StreamingPreprocessor(n_ch, eeg_sfreq, sfreq_out=spec.sfreq)
            if spec.preprocess
            else None
        )
        self._delay_s = 0.0 if self._pre is None else self._pre.delay_s
        self._restart_s = self.settings.restart_gap_periods / eeg_sfreq
        self._run_open = False  # a preprocessor run is in progress
        self._last_in: tuple[int, float] | None = None  # (run input index, stamp) of last sample
        self._run_n_in = 0
        self._run_n_out = 0
        self.n_predictions = 0
        self.n_windows = 0
        self.n_no_context = 0
        self.last_prediction: Prediction | None = None
        self.last_frame: FeatureFrame | None = None
        self._t_last_end: float | None = None  # end of the newest window cut

    # --- sinks ---------------------------------------------------------------------------
    def emit_event(self, kind: str, message: str, t: float) -> None:
        for s in self.sinks:
            s.on_event(kind, message, t)

    def emit_health(self, health: list[StreamHealth]) -> None:
        for s in self.sinks:
            s.on_health(health)

    def push_marker(self, t: float, label: str) -> None:
        """A ground-truth marker (LSL seconds, class name or e.g. ``"Rest"``)."""
        for s in self.sinks:
            s.on_marker(t, label)

    def close(self) -> None:
        """Close every sink (log flushed, outlet unregistered)."""
        for s in self.sinks:
            s.close()

    # --- samples in ------------------------------------------------------------------------
    def push_eeg(self, data: np.ndarray, timestamps: np.ndarray) -> None:
        """EEG samples in volts, model channel order, at ``eeg_sfreq``.

        Parameters
        ----------
        data : array of shape (n_samples, n_channels)
        timestamps : array of shape (n_samples,)
            LSL seconds, increasing.
        """
        x = np.asarray(data, dtype=np.float64)
        ts = np.asarray(timestamps, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_channels or ts.shape != (x.shape[0],):
            raise ValueError(
                f"push_eeg needs data (n_samples, {self.n_channels}) in the model's channel "
                f"order and one timestamp per sample; got {x.shape} and {ts.shape}."
            )
        if ts.size == 0:
            return
        finite = np.isfinite(x).all(axis=1)
        # Split where the stamps jump (outage) or finiteness changes (NaN burst).
        cuts = np.flatnonzero((np.diff(ts) > self._restart_s) | (finite[1:] != finite[:-1])) + 1
        if self._last_in is not None and ts[0] - self._last_in[1] > self._restart_s:
            self._run_open = False
        bounds = [0, *cuts.tolist(), ts.size]
        for a, b in pairwise(bounds):
            if a > 0 and ts[a] - ts[a - 1] > self._restart_s:
                self._run_open = False
            if finite[a]:
                self._push_finite(x[a:b], ts[a:b])
            else:
                self._push_nonfinite(ts[a:b])

    def _push_finite(self, x: np.ndarray, ts: np.ndarray) -> None:
        if not self._run_open:
            if self._pre is not None:
                self._pre.reset()
            self._run_open = True
            self._last_in = None
            self._run_n_in = 0
            self._run_n_out = 0
        n = ts.size
        idx = self._run_n_in + np.arange(n)
        if self._pre is None:
            y, out_ts = x.T, ts
        else:
            y = self._pre.push(x.T)
            m = self._run_n_out + np.arange(y.shape[1])
            pos = m * (self._pre.down / self._pre.up)
            if self._last_in is not None:
                xp = np.concatenate([[self._last_in[0]], idx])
                fp = np.concatenate([[self._last_in[1]], ts])
            else:
                xp, fp = idx, ts
            out_ts = np.interp(pos, xp, fp) - self._delay_s
            self._run_n_out += y.shape[1]
        self._run_n_in += n
        self._last_in = (int(idx[-1]), float(ts[-1]))
        self._store_eeg(y.T, out_ts)

    def _push_nonfinite(self, ts: np.ndarray) -> None:
        self._run_open = False
        self._last_in = (0, float(ts[-1]))
        period = 1.0 / self.spec.sfreq
        if abs(self.eeg_sfreq - self.spec.sfreq) < 1e-9:
            out_ts = ts - self._delay_s
        else:
            out_ts = ts[0] + np.arange(int((ts[-1] - ts[0]) / period) + 1) * period - self._delay_s
        self._store_eeg(np.full((out_ts.size, self.n_channels), np.nan), out_ts)

    def _store_eeg(self, y: np.ndarray, ts: np.ndarray) -> None:
        newest = self.eeg_buffer.newest_timestamp
        if newest is not None and ts.size and ts[0] <= newest:
            keep = ts > newest
            y, ts = y[keep], ts[keep]
        if ts.size:
            self.eeg_buffer.push(y, ts)

    def push_gaze(self, data: np.ndarray, timestamps: np.ndarray) -> None:
        """Gaze samples ``(n, 5)``: ``x_deg, y_deg, pupil_1, pupil_2, valid``, LSL stamps."""
        if self.gaze_buffer is None:
            raise ValueError("This pipeline was built with has_gaze=False; no gaze expected.")
        g = np.asarray(data, dtype=np.float64)
        ts = np.asarray(timestamps, dtype=np.float64)
        if g.ndim != 2 or g.shape[1] != len(GAZE_COLUMNS) or ts.shape != (g.shape[0],):
            raise ValueError(
                f"push_gaze needs data (n_samples, 5) {GAZE_COLUMNS} and one timestamp per "
                f"sample; got {g.shape} and {ts.shape}."
            )
        newest = self.gaze_buffer.newest_timestamp
        if newest is not None and ts.size and ts[0] <= newest:
            keep = ts > newest
            g, ts = g[keep], ts[keep]
        if ts.size:
            self.gaze_buffer.push(g, ts)

    # --- windows out -------------------------------------------------------------------------
    def due_windows(
        self,
        *,
        eeg_stale: bool = False,
        eye_stale: bool = False,
        eeg_gaps=(),
        gaze_gaps=(),
        timestamp_faults=(),
    ) -> list[Window]:
        """Cut every window that is due (EEG gaps given on the input clock)."""
        d = self._delay_s
        return self.cutter.cut(
            self.eeg_buffer,
            self.gaze_buffer,
            eeg_gaps=[(a - d, b - d) for a, b in eeg_gaps],
            gaze_gaps=gaze_gaps,
            eeg_stale=eeg_stale,
            eye_stale=eye_stale,
            timestamp_faults=timestamp_faults,
        )

    def process(self, **due) -> list[Prediction]:
        """Cut every due window (:meth:`due_windows`) and :meth:`step` each; returns the
        predictions made. While the EEG is stale and gaze flows, windows are cut from gaze
        alone (eye-only predictions, flagged), so losing the EEG does not stop the monitor."""
        windows = self.due_windows(**due)
        if windows:
            self._t_last_end = windows[-1].t_end
        elif (
            due.get("eeg_stale")
            and not due.get("eye_stale")
            and self.gaze_buffer is not None
            and self._t_last_end is not None
        ):
            windows = self.cutter.cut_eye_only(
                self.gaze_buffer, after=self._t_last_end, gaze_gaps=due.get("gaze_gaps", ())
            )
            if windows:
                self._t_last_end = windows[-1].t_end
        out = []
        for w in windows:
            pred = self.step(w)
            if pred is not None:
                out.append(pred)
        return out

    def step(self, window: Window) -> Prediction | None:
        """One window -> features -> context -> model -> sinks.

        Returns
        -------
        Prediction | None
            None when the context has no usable window (a ``no_valid_context`` event is sent
            to the sinks instead).
        """
        t0 = time.perf_counter()
        prepared = self.prepare(window)
        if prepared is None:
            return None
        frame, ctx = prepared
        probs, gates = self.runtime.predict(ctx.eeg, ctx.eye, ctx.eeg_mask, ctx.eye_mask)
        return self.finish(frame, ctx, probs, gates, (time.perf_counter() - t0) * 1e3)

    def prepare(self, window: Window):
        """Features and model context of one window (the part of :meth:`step` before the
        model); None when the context has no usable window (an event is sent instead).

        Returns
        -------
        (FeatureFrame, Context) | None
        """
        self.n_windows += 1
        frame = self.featurizer.transform(window)
        self.last_frame = frame
        for s in self.sinks:
            s.on_features(frame)
        self.context.push(frame)
        ctx = self.context.context(frame.t_end)
        if ctx.n_valid == 0:
            self.n_no_context += 1
            self.emit_event(
                Flag.NO_VALID_CONTEXT,
                "no usable window (flags: " + (",".join(sorted(frame.flags)) or "none") + ")",
                frame.t_end,
            )
            return None
        return frame, ctx

    def finish(self, frame: FeatureFrame, ctx, probs, gates, compute_ms: float) -> Prediction:
        """Model output -> :class:`Prediction` -> sinks (the part of :meth:`step` after it)."""
        flags = set(frame.flags)
        if not ctx.has_eye:
            flags.add(Flag.EYE_MISSING)
        if not ctx.has_eeg:
            flags.add(Flag.EEG_MISSING)
        probs = np.asarray(probs, dtype=np.float64)
        pred = Prediction(
            t_end=frame.t_end,
            probs=probs,
            gates=np.asarray(gates, dtype=np.float64),
            label=CLASS_NAMES[int(np.argmax(probs))],
            flags=frozenset(flags),
            t_computed=self.clock(),
            compute_ms=compute_ms,
            n_context=ctx.n_valid,
        )
        self.n_predictions += 1
        self.last_prediction = pred
        for s in self.sinks:
            s.on_prediction(pred)
        return pred


class LivePipeline:
    """LSL streams -> :class:`Pipeline` -> sinks, in a thread or the caller's.

    Parameters
    ----------
    runtime : models.Runtime
    eeg_stream : str
        EEG stream name.
    eye_stream : str | None
        Gaze stream name; None runs EEG-only (eye mask zero, flag ``eye_missing``).
    marker_stream : str | None
        Ground-truth markers (string stream); forwarded to the sinks.
    marker_required : bool
        Raise when the marker stream is not found (else log and go on without it).
    eeg_source_id, eye_source_id, eeg_hostname, eye_hostname : str | None
        Pin streams among several of the same name.
    channel_map : str | dict | None
        ``--channel-map`` renames.
    eeg_unit : str | None
        Overrides the EEG units declared by the stream (``"uV"``, ``"V"``).
    step_s : float
    sinks : sequence
    resolve_timeout_s, marker_timeout_s : float
    time_scale : float
        For faster-than-real-time sources (``cmt-sim stream --speed K``): LSL stamps are
        stretched by K around the open time, so the model sees the simulated time base. 1 for
        real streams.
    poll_s : float
        Loop period when no data is waiting, seconds.
    health_every_s : float
    """

    def __init__(
        self,
        runtime,
        *,
        eeg_stream: str,
        eye_stream: str | None = None,
        marker_stream: str | None = None,
        marker_required: bool = False,
        eeg_source_id: str | None = None,
        eye_source_id: str | None = None,
        eeg_hostname: str | None = None,
        eye_hostname: str | None = None,
        channel_map=None,
        eeg_unit: str | None = None,
        step_s: float = 1.0,
        sinks: Sequence = (),
        resolve_timeout_s: float = 5.0,
        marker_timeout_s: float = 2.0,
        time_scale: float = 1.0,
        poll_s: float = 0.002,
        health_every_s: float = 0.5,
    ):
        if not time_scale > 0:
            raise ValueError(f"time_scale must be > 0; got {time_scale}.")
        self.runtime = runtime
        self.eeg_stream, self.eye_stream = eeg_stream, eye_stream
        self.marker_stream, self.marker_required = marker_stream, marker_required
        self.eeg_source_id, self.eye_source_id = eeg_source_id, eye_source_id
        self.eeg_hostname, self.eye_hostname = eeg_hostname, eye_hostname
        self.channel_map, self.eeg_unit = channel_map, eeg_unit
        self.step_s = float(step_s)
        self.sinks = list(sinks)
        self.resolve_timeout_s = float(resolve_timeout_s)
        self.marker_timeout_s = float(marker_timeout_s)
        self.time_scale = float(time_scale)
        self.poll_s = float(poll_s)
        self.health_every_s = float(health_every_s)
        self.core: Pipeline | None = None
        self.eeg = self.gaze = self.markers = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self.error: BaseException | None = None

    # --- clock mapping for scaled sources ------------------------------------------------
    def to_model_time(self, ts):
        if self.time_scale == 1.0:
            return ts
        return self._t0 + (np.asarray(ts, dtype=np.float64) - self._t0) * self.time_scale

    def to_lsl_time(self, t: float) -> float:
        if self.time_scale == 1.0:
            return t
        return self._t0 + (t - self._t0) / self.time_scale

    def add_sink(self, sink) -> None:
        self.sinks.append(sink)
        if self.core is not None and sink not in self.core.sinks:
            self.core.sinks.append(sink)

    # --- open: resolve and check before the first window --------------------------------------
    def open(self) -> LivePipeline:
        """Resolve the streams and check the contract; raises before any window is cut.

        Raises
        ------
        cmt_live.lsl.inlet.StreamResolutionError
            A stream is missing or ambiguous.
        ContractError
            Channels, rate or feature spec do not match the model (reason and fix included).
        """
        import pylsl

        from .channels import match_channels
        from .lsl.inlet import StreamInput, resolve_stream
        from .lsl.markers import MarkerInput

        spec = self.runtime.contract.feature_spec
        check_spec(spec, step_s=self.step_s)
        self._t0 = pylsl.local_clock()
        info = resolve_stream(
            self.eeg_stream,
            source_id=self.eeg_source_id,
            hostname=self.eeg_hostname,
            timeout=self.resolve_timeout_s,
            kind="eeg",
        )
        eeg_sfreq = float(info.nominal_srate())
        check_spec(spec, step_s=self.step_s, eeg_sfreq=eeg_sfreq)
        # A scaled source's stamps are compressed K times; a dejitterer fitted to the nominal
        # rate would stretch them back, so scaled runs use the clock-synced stamps as sent.
        self.eeg = StreamInput(
            info,
            kind="eeg",
            unit=self.eeg_unit,
            start=False,
            dejitter=self.time_scale == 1.0,
        )
        try:
            self._eeg_idx = match_channels(self.eeg.ch_names, spec.ch_names, self.channel_map)
        except ValueError as err:
            self.eeg.close()
            raise ContractError(str(err)) from err
        gaze_sfreq = 0.0
        if self.eye_stream:
            ginfo = resolve_stream(
                self.eye_stream,
                source_id=self.eye_source_id,
                hostname=self.eye_hostname,
                timeout=self.resolve_timeout_s,
                kind="gaze",
            )
            self.gaze = StreamInput(ginfo, kind="gaze", start=False)
            self._gaze_idx = match_gaze_channels(self.gaze.ch_names)
            gaze_sfreq = self.gaze.sfreq
        if self.marker_stream:
            found = pylsl.resolve_bypred(
                f"name='{self.marker_stream}'", 1, max(self.marker_timeout_s, 0.01)
            )
            if found:
                self.markers = MarkerInput(found[0])
            elif self.marker_required:
                raise ContractError(
                    f"No marker stream {self.marker_stream!r} within {self.marker_timeout_s:g} s."
                )
            else:
                logger.info(
                    "no marker stream %r; running without ground truth.", self.marker_stream
                )
        clock = pylsl.local_clock
        self.core = Pipeline(
            self.runtime,
            eeg_sfreq=eeg_sfreq,
            step_s=self.step_s,
            has_gaze=self.gaze is not None,
            gaze_sfreq=gaze_sfreq,
            sinks=self.sinks,
            clock=(lambda: self.to_model_time(clock())) if self.time_scale != 1 else clock,
        )
        for s in (self.eeg, self.gaze):
            if s is not None:
                s.start()
        return self

    # --- loop ---------------------------------------------------------------------------------
    def _status_stale(self, inp) -> bool:
        return inp is not None and inp.status != "connected"

    def run_once(self) -> list[Prediction]:
        """Move new samples in, cut due windows, send events; returns the predictions made."""
        core = self.core
        data, ts = self.eeg.read_new()
        if ts.size:
            core.push_eeg(data[:, self._eeg_idx], self.to_model_time(ts))
        if self.gaze is not None:
            g, gts = self.gaze.read_new()
            if gts.size:
                core.push_gaze(g[:, self._gaze_idx], self.to_model_time(gts))
        if self.markers is not None:
            for t, label in self.markers.pull():
                core.push_marker(float(self.to_model_time(t)), label)
        for inp in (self.eeg, self.gaze):
            if inp is None:
                continue
            for kind, message, t in inp.pop_events():
                core.emit_event(kind, f"[{inp.name}] {message}", float(self.to_model_time(t)))
        scale = self.to_model_time
        return core.process(
            eeg_stale=self._status_stale(self.eeg),
            eye_stale=self._status_stale(self.gaze),
            eeg_gaps=[(float(scale(a)), float(scale(b))) for a, b in self.eeg.gaps],
            gaze_gaps=(
                [(float(scale(a)), float(scale(b))) for a, b in self.gaze.gaps]
                if self.gaze is not None
                else ()
            ),
            timestamp_faults=[float(scale(t)) for t in self.eeg.timestamp_faults],
        )

    def health(self) -> list[StreamHealth]:
        return [inp.health() for inp in (self.eeg, self.gaze) if inp is not None]

    def run(self, duration_s: float | None = None) -> None:
        """Run in this thread until :meth:`stop` or ``duration_s`` wall seconds."""
        if self.core is None:
            self.open()
        t_stop = None if duration_s is None else time.monotonic() + duration_s
        t_health = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if t_stop is not None and now >= t_stop:
                break
            n_before = self.eeg.buffer.n_total
            self.run_once()
            if now >= t_health:
                t_health = now + self.health_every_s
                self.core.emit_health(self.health())
            if self.eeg.buffer.n_total == n_before:
                self._stop.wait(self.poll_s)

    def start(self, duration_s: float | None = None) -> threading.Thread:
        """Run in a worker thread (errors are kept in :attr:`error` and logged)."""
        if self.core is None:
            self.open()

        def work():
            try:
                self.run(duration_s)
            except BaseException as err:  # kept for the caller, logged, pipeline closed
                self.error = err
                logger.exception("live pipeline stopped with an error")
            finally:
                self._stop.set()

        self._thread = threading.Thread(target=work, name="cmt-live-pipeline", daemon=True)
        self._thread.start()
        return self._thread

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 3.0) -> None:
        """Ask the loop to stop and wait for its thread (if any)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def close(self) -> None:
        """Stop, close the inlets and every sink (log flushed, outlet unregistered)."""
        self.stop()
        for inp in (self.eeg, self.gaze, self.markers):
            if inp is not None:
                inp.close()
        if self.core is not None:
            self.core.close()
        else:
            for s in self.sinks:
                s.close()
