"""The pipeline: batches of samples -> windows -> features -> context -> model -> sinks.

:class:`Pipeline` is the pure core, no LSL and no threads. :meth:`Pipeline.push` takes a
:class:`~cmt_live.source.Batch` (any chunking), :meth:`Pipeline.cut` returns every window that
is due (``cmt_live.windowing``, on the EEG sample grid), :meth:`Pipeline.prepare` turns a window
into features and the model's context, and :meth:`Pipeline.predict` runs the model on one or
many prepared windows and hands each :class:`~cmt_live.records.Prediction` to the sinks. The
driver (:mod:`cmt_live.driver`) runs this same core for live use, real-time replay and fast
replay; tests drive it directly.

A prediction is made only when the newest window has a usable modality; otherwise a
``no_valid_context`` event goes to the sinks instead (never a prediction from stale data).
While the EEG is stale and gaze flows, windows are cut from gaze alone (eye-only predictions,
flagged), so losing the EEG does not stop the monitor.

Every window's units are checked before its features (:mod:`cmt_live.plausibility`): an
implausible modality is flagged (``eeg_implausible_units`` / ``eye_implausible_units`` on the
window, its features and its prediction) and, under the default policy ``"mask"``, withheld
from the model like a missing one; the sinks get one event with the cause and the fix when a
modality turns implausible and one when it recovers. Windows of an EEG whose missing channels
the source fills (``--fill-missing``) are flagged ``eeg_interpolated``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from features.constants import EYE_FEATURE_NAMES, eye_column_order
from features.seedv import CLASS_NAMES
from models.runtime import fit_to_context

from ._logging import logger
from .context import Context, ContextBuffer
from .eeg_conditioning import EegConditioner
from .featurize import Featurizer
from .plausibility import UnitsCheck
from .records import FeatureFrame, Flag, Prediction, StreamHealth, Window
from .ring_buffer import RingBuffer
from .settings import ContractError, Settings
from .sinks import Sink
from .source import Batch
from .windowing import GAZE_COLUMNS, WindowCutter

#: Gaze samples held per second of ``buffer_s`` (the fastest trackers we expect, 500 Hz).
_GAZE_BUFFER_RATE = 500

#: Event kind sent when the window grid skips windows to stay current.
WINDOWS_SKIPPED = "windows_skipped"

#: A window ready for the model: its features, its context and its latency budget so far (ms:
#: ``wait_eeg``, ``wait_gaze``, ``queue``, ``features``; see ``Prediction.budget``).
Prepared = tuple[FeatureFrame, Context, dict]


class Pipeline:
    """The core (see the module docstring).

    Parameters
    ----------
    runtime : models.Runtime
        ``.contract`` and ``.predict`` / ``.predict_batch``.
    settings : Settings
        Built from the same contract (``Settings.from_contract(runtime.contract, ...)``).
    sinks : sequence of Sink
    clock : callable() -> float
        The pipeline's clock (``t_computed``): the LSL clock live, the recording's time in a
        fast replay. Default ``time.monotonic`` (liblsl's ``local_clock`` on Linux).
    gaze_cutoffs : sequence of (t_end, gaze_end)
        Replay: the gaze cut-offs a live session logged (:func:`cmt_live.sinks.
        read_gaze_cutoffs`), so windows that closed before the gaze reached their end get the
        same gaze again.

    Raises
    ------
    ContractError
        The feature spec's DE parameters or the EEG rate cannot run (reason and fix).
    """

    def __init__(
        self,
        runtime,
        settings: Settings,
        *,
        sinks: Sequence[Sink] = (),
        clock: Callable[[], float] = time.monotonic,
        gaze_cutoffs: Sequence[tuple[float, float]] = (),
    ):
        if settings.spec != runtime.contract.feature_spec:
            raise ValueError(
                "settings.spec differs from the model's feature spec; build the settings with "
                "Settings.from_contract(runtime.contract, ...)."
            )
        self.runtime = runtime
        self.settings = settings
        self.sinks = list(sinks)
        self.clock = clock
        spec = settings.spec
        try:
            self.featurizer = Featurizer(
                spec,
                min_eye_coverage=settings.min_eye_coverage,
                eye_policy=settings.eye_policy,
                eye_absent=settings.eye_absent,
            )
            self.eeg = EegConditioner(settings)
        except ValueError as err:
            raise ContractError(f"The model's feature spec cannot run live: {err}") from err
        # Frames hold the eye features in features/ order; a model file of an older column
        # order (the same 33 names) gets its own order at the model's door.
        order = eye_column_order(spec.eye_names)
        reordered = order is not None and order != tuple(range(len(EYE_FEATURE_NAMES)))
        self._eye_cols = np.array(order) if reordered else None
        self.context = ContextBuffer(
            settings.context_len, spec.window_s, spec.n_eeg_features, spec.n_eye_features
        )
        self.cutter = WindowCutter(settings.windows, gaze_cutoffs)
        self.gaze_buffer = (
            RingBuffer(
                len(GAZE_COLUMNS),
                int(np.ceil(settings.buffer_s * _GAZE_BUFFER_RATE)),
                np.float64,
                name="gaze",
            )
            if settings.has_gaze
            else None
        )
        # A provenance-masked eye never reaches the model, and its training pupils (a release's
        # px) say nothing about the live unit: no pupil check then.
        masked = settings.eye_policy == "masked"
        self.units = UnitsCheck(None if masked else runtime.contract.norm, spec.eye_names)
        #: Windows judged implausible so far, and the first reason, per modality.
        self.n_implausible = {"eeg": 0, "eye": 0}
        self.implausible_reasons: dict[str, str] = {}
        self._implausible_now = {"eeg": False, "eye": False}
        self._fill_announced = not settings.filled_channels
        self.n_predictions = 0
        self.n_windows = 0
        self._t_last_end: float | None = None  # end of the newest window cut
        self._lost_flags: frozenset = frozenset()  # streams away too long (Batch.lost_flags)
        # (newest EEG stamp, clock) after each push that brought EEG: when each window's last
        # sample arrived, for the latency budget. Bounded in case no window is cut for long.
        self._eeg_arrivals: deque[tuple[float, float]] = deque(maxlen=20000)
        self._cut_at: dict[float, tuple[float, float]] = {}  # t_end -> (eeg ready, cut) clock
        self._warm_inputs: list[np.ndarray] | None = None  # the last model call's newest row
        self._warmed_for: int | None = None  # next_end_index of the last warm-up
        self.n_warmups = 0

    # --- sinks -------------------------------------------------------------------------------
    def add_sink(self, sink: Sink) -> None:
        self.sinks.append(sink)

    def emit_event(self, kind: str, message: str, t: float) -> None:
        for s in self.sinks:
            s.on_event(kind, message, t)

    def emit_health(self, health: list[StreamHealth]) -> None:
        for s in self.sinks:
            s.on_health(health)

    def close(self) -> None:
        """Close every sink (log flushed, outlet unregistered)."""
        for s in self.sinks:
            s.close()

    # --- samples in --------------------------------------------------------------------------
    def push(self, batch: Batch) -> None:
        """EEG, gaze, markers and stream events of one batch, in that order."""
        if batch.eeg_ts.size:
            t_arrival = self.clock()
            self.eeg.push(batch.eeg, batch.eeg_ts)
            newest = self.eeg.buffer.newest_timestamp
            if newest is not None:
                self._eeg_arrivals.append((newest, t_arrival))
        if batch.gaze_ts.size:
            self._push_gaze(batch.gaze, batch.gaze_ts)
        for t, label in batch.markers:
            for s in self.sinks:
                s.on_marker(t, label)
        self._lost_flags = batch.lost_flags
        for kind, message, t in batch.events:
            self.emit_event(kind, message, t)
        # A sink's own trouble (the log's disk is full) is shown by every sink.
        for sink in list(self.sinks):
            for kind, message in sink.pop_alerts():
                self.emit_event(kind, message, self.clock())

    def _push_gaze(self, data: np.ndarray, timestamps: np.ndarray) -> None:
        """Gaze samples ``(n, 5)``: ``x_deg, y_deg, pupil_1, pupil_2, valid``, with stamps."""
        if self.gaze_buffer is None:
            raise ValueError("These settings have has_gaze=False; no gaze expected.")
        g = np.array(data, dtype=np.float64)  # a copy: the pupil columns may be rescaled
        ts = np.asarray(timestamps, dtype=np.float64)
        if g.ndim != 2 or g.shape[1] != len(GAZE_COLUMNS) or ts.shape != (g.shape[0],):
            raise ValueError(
                f"Gaze needs data (n_samples, 5) {GAZE_COLUMNS} and one timestamp per sample; "
                f"got {g.shape} and {ts.shape}."
            )
        if self.settings.pupil_scale != 1.0:
            g[:, 2:4] *= self.settings.pupil_scale
        g, ts = self.gaze_buffer.newer(g, ts)
        if ts.size:
            for t_end, gaze_end in self.cutter.settle_gaze(ts):
                logger.debug("gaze sample %.4f came after window %.4f was cut", ts[0], t_end)
                for s in self.sinks:
                    s.on_gaze_cutoff(t_end, gaze_end)
            self.gaze_buffer.push(g, ts)
            for s in self.sinks:
                s.on_gaze(ts, g)

    # --- windows out -------------------------------------------------------------------------
    def cut(self, batch: Batch) -> list[Window]:
        """Every window due after ``batch`` was pushed (EEG gaps given on the input clock);
        eye-only windows while the EEG is stale and gaze flows."""
        n_skipped = self.cutter.n_skipped
        windows = self.cutter.cut(
            self.eeg.buffer,
            self.gaze_buffer,
            eeg_gaps=batch.eeg_gaps,
            gaze_gaps=batch.gaze_gaps,
            eeg_stale=batch.eeg_stale,
            eye_stale=batch.eye_stale,
            timestamp_faults=batch.timestamp_faults,
        )
        after = self._t_last_end
        if (
            after is None
            and self.eeg.buffer.newest_timestamp is None
            and self.gaze_buffer is not None
        ):
            # No EEG sample ever (an eye-only recording): the first eye-only window ends one
            # window after the first gaze sample.
            t0 = self.gaze_buffer.oldest_timestamp
            after = None if t0 is None else t0 + self.settings.spec.window_s - self.settings.step_s
        if (
            not windows
            and batch.eeg_stale
            and not batch.eye_stale
            and self.gaze_buffer is not None
            and after is not None
        ):
            windows = self.cutter.cut_eye_only(
                self.gaze_buffer, after=after, gaze_gaps=batch.gaze_gaps
            )
        if self.cutter.n_skipped > n_skipped:
            # Into the log too, not only stderr: a gap in the predictions must be explained.
            self.emit_event(
                WINDOWS_SKIPPED,
                f"fell behind; skipped {self.cutter.n_skipped - n_skipped} windows to stay "
                f"current ({self.cutter.n_skipped} so far)",
                windows[0].t_end if windows else self.clock(),
            )
        if self._t_last_end is not None and windows and windows[0].t_end <= self._t_last_end:
            # EEG that stalled (stale) and then arrived late: its windows end at or before
            # eye-only ones already predicted, and the context takes frames in time order only.
            n = len(windows)
            windows = [w for w in windows if w.t_end > self._t_last_end]
            logger.info(
                "%d late EEG window(s) skipped: eye-only windows covered them.", n - len(windows)
            )
        if windows:
            self._t_last_end = windows[-1].t_end
            t_cut = self.clock()
            period = 1.0 / self.settings.spec.sfreq
            arrivals = self._eeg_arrivals
            for w in windows:
                # The first push after which the buffer held the window's last sample.
                while arrivals and arrivals[0][0] < w.t_end - period - 1e-9:
                    arrivals.popleft()
                ready = arrivals[0][1] if arrivals else t_cut  # eye-only: no EEG wait
                self._cut_at[w.t_end] = (min(ready, t_cut), t_cut)
        return windows

    def prepare(self, window: Window) -> Prepared | None:
        """Features and model context of one window; None when the context has no usable
        window (a ``no_valid_context`` event is sent to the sinks instead)."""
        t0 = time.perf_counter()
        t_start = self.clock()
        ready, t_cut = self._cut_at.pop(window.t_end, (t_start, t_start))
        budget = {
            "wait_eeg": (ready - window.t_end) * 1e3,
            "wait_gaze": (t_cut - ready) * 1e3,
            "queue": (t_start - t_cut) * 1e3,
        }
        self.n_windows += 1
        frame = self.featurizer.transform(self._checked(window))
        for s in self.sinks:
            s.on_features(frame)
        self.context.push(frame)
        ctx = self.context.context(frame.t_end)
        if ctx.n_valid == 0:
            self.emit_event(
                Flag.NO_VALID_CONTEXT,
                "no usable window (flags: " + (",".join(sorted(frame.flags)) or "none") + ")",
                frame.t_end,
            )
            return None
        budget["features"] = (time.perf_counter() - t0) * 1e3
        return frame, ctx, budget

    def _checked(self, window: Window) -> Window:
        """``window`` with its unit checks and channel fill applied to its flags and validity."""
        flags = set()
        valid = {"eeg": window.eeg_valid, "eye": window.eye_valid}
        checks = (
            ("eeg", Flag.EEG_IMPLAUSIBLE, window.eeg_valid and window.eeg is not None,
             lambda: self.units.eeg(window.eeg)),
            ("eye", Flag.EYE_IMPLAUSIBLE, window.eye_valid and window.gaze_timestamps.size > 0,
             lambda: self.units.eye(window.gaze)),
        )  # fmt: skip
        for modality, flag, judged, check in checks:
            if not judged:
                continue
            reason = check()
            self._note_units(modality, flag, reason, window.t_end)
            if reason is not None:
                flags.add(flag)
                valid[modality] = valid[modality] and self.settings.implausible != "mask"
        if self.settings.filled_channels and window.eeg is not None:
            flags.add(Flag.EEG_INTERPOLATED)
            if not self._fill_announced:
                self._fill_announced = True
                names = self.settings.filled_channels
                self.emit_event(
                    Flag.EEG_INTERPOLATED,
                    f"{len(names)} missing channel(s) filled by spherical-spline interpolation "
                    f"from the montage (--fill-missing): {', '.join(names)}",
                    window.t_end,
                )
        if not flags:
            return window
        return replace(
            window, eeg_valid=valid["eeg"], eye_valid=valid["eye"], flags=window.flags | flags
        )

    def _note_units(self, modality: str, flag: str, reason: str | None, t: float) -> None:
        """Count an implausible window; tell the sinks when a modality turns (im)plausible."""
        was = self._implausible_now[modality]
        self._implausible_now[modality] = reason is not None
        if reason is None:
            if was:
                self.emit_event(flag, f"{modality.upper()} units plausible again", t)
            return
        self.n_implausible[modality] += 1
        self.implausible_reasons.setdefault(modality, reason)
        if not was:
            what = modality.upper()
            policy = (
                f"{what} is withheld from the model while this lasts"
                if self.settings.implausible == "mask"
                else f"predictions still use the {what} (--implausible flag)"
            )
            logger.warning("%s %s.", reason, policy)
            self.emit_event(flag, f"{reason} {policy}.", t)

    def predict(self, prepared: Sequence[Prepared]) -> list[Prediction]:
        """Run the model once on prepared windows and send each prediction to the sinks.
        ``compute_ms`` is the window's feature time plus its share of the model call."""
        if not prepared:
            return []
        t0 = time.perf_counter()
        # Contexts start at their oldest usable window, so lengths differ: each is cut or
        # padded to the model's length (as the runtime does for one) before they stack.
        length = self.settings.context_len
        cols = self._eye_cols if self._eye_cols is not None else slice(None)
        fitted = [
            fit_to_context(
                c.eeg[None], c.eye[None][..., cols], c.eeg_mask[None], c.eye_mask[None], length
            )
            for _, c, _ in prepared
        ]
        inputs = [np.concatenate(a) for a in zip(*fitted)]
        probs, gates = self.runtime.predict_batch(*inputs)
        self._warm_inputs = [a[-1:] for a in inputs]
        ms = (time.perf_counter() - t0) * 1e3 / len(prepared)
        return [
            self._finish(f, c, p, g, {**budget, "model": ms})
            for (f, c, budget), p, g in zip(prepared, probs, gates)
        ]

    def warm(self, lead_s: float) -> bool:
        """Run the model once, result discarded, when the next window's last sample is at most
        ``lead_s`` away (once per window; the last call's inputs).

        At one prediction per ``step_s`` the model's weights (~28 MB for the default preset)
        leave the CPU caches between calls and the first call after a pause runs 1.5-2x slower
        than a warm one (``bench/bench_latency.py`` budget ``model``); a call made just before
        the window closes brings them back, so the call that counts runs warm. Costs one model
        call per window. Returns whether it ran.
        """
        nxt = self.cutter.next_end_index
        if self._warm_inputs is None or nxt is None or nxt == self._warmed_for:
            return False
        if nxt - self.eeg.buffer.n_total > lead_s * self.settings.spec.sfreq:
            return False
        self._warmed_for = nxt
        self.runtime.predict_batch(*self._warm_inputs)
        self.n_warmups += 1
        return True

    def process(self, batch: Batch) -> list[Prediction]:
        """Push a batch, then cut, prepare and predict every due window, one at a time."""
        self.push(batch)
        out = []
        for w in self.cut(batch):
            prepared = self.prepare(w)
            if prepared is not None:
                out += self.predict([prepared])
        return out

    def _finish(self, frame: FeatureFrame, ctx: Context, probs, gates, budget: dict) -> Prediction:
        flags = set(frame.flags) | self._lost_flags
        if not ctx.has_eye:
            flags.add(Flag.EYE_MISSING)
        if not ctx.has_eeg:
            flags.add(Flag.EEG_MISSING)
        probs = np.asarray(probs, dtype=np.float64)
        budget["sinks"] = 0.0  # the first sink; each later one gets the time before it
        pred = Prediction(
            t_end=frame.t_end,
            probs=probs,
            gates=np.asarray(gates, dtype=np.float64),
            label=CLASS_NAMES[int(np.argmax(probs))],
            flags=frozenset(flags),
            t_computed=self.clock(),
            compute_ms=budget["features"] + budget["model"],
            n_context=ctx.n_valid,
            budget=budget,
        )
        self.n_predictions += 1
        t0 = time.perf_counter()
        for i, s in enumerate(self.sinks):
            if i:
                sinks_ms = (time.perf_counter() - t0) * 1e3
                s.on_prediction(replace(pred, budget={**budget, "sinks": sinks_ms}))
            else:
                s.on_prediction(pred)
        return pred
