"""A deterministic fake pipeline for the monitor: tests, the bench and screenshots.

It feeds any :class:`cmt_live.sinks.Sink` (the monitor's :class:`apps.sink.QtSink`) through the
calls the live pipeline makes (``on_prediction``, ``on_features``, ``on_health``, ``on_marker``,
``on_event``, ``on_gaze`` per gaze chunk, ``close``) from a made-up session: trials of 30 s with
a true emotion, probabilities that favour it, an eye-tracker outage, and DE maps with a
posterior alpha peak. Nothing here is a model; the numbers only have to look like a session.

Run ``python -m apps.fake --screenshot shot.png --duration 8`` to see the window with it.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

import numpy as np

from apps.state import PUPIL_COLUMNS, StreamLabel
from apps.topomap import channel_positions_2d
from cmt_live.records import FeatureFrame, Flag, Prediction, StreamHealth
from cmt_live.sinks import Sink
from features.constants import N_EYE_FEATURES, SEEDV_CHANNELS
from features.seedv import CLASS_NAMES

T_ORIGIN = 1000.0  # fake LSL clock at session start


class FakeSession:
    """Generates one step (1 prediction, its features, health, gaze) per call of :meth:`step`.

    Parameters
    ----------
    seed : int
    step_s : float
        Seconds between predictions.
    trial_s : float
        Length of a trial (one ground-truth marker each).
    eye_outage : (float, float)
        Session seconds during which the gaze stream is lost.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        step_s: float = 1.0,
        trial_s: float = 30.0,
        eye_outage: tuple[float, float] = (75.0, 95.0),
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.step_s = step_s
        self.trial_s = trial_s
        self.eye_outage = eye_outage
        self.k = 0
        self.n_cls = len(CLASS_NAMES)
        self.order = self.rng.permutation(np.tile(np.arange(self.n_cls), 4))
        self.logits = np.zeros(self.n_cls)
        pos = channel_positions_2d(SEEDV_CHANNELS)
        posterior = np.exp(-((pos[:, 1] + 0.8) ** 2) / 0.3)
        frontal = np.exp(-((pos[:, 1] - 0.8) ** 2) / 0.3)
        lateral = np.abs(pos[:, 0])
        self.de_base = np.stack(
            [
                2.2 + 0.6 * frontal,  # delta: frontal (eye movements)
                1.6 + 0.3 * frontal + 0.2 * posterior,
                1.2 + 0.9 * posterior,  # alpha: posterior peak
                0.6 + 0.3 * lateral,
                0.1 + 0.5 * lateral,  # gamma: temporal muscle
            ]
        )
        self.gap: tuple[float, float] | None = None
        self.recovered = False

    def true_label(self, t_rel: float) -> int:
        return int(self.order[int(t_rel // self.trial_s) % len(self.order)])

    def step(self, sink: Sink) -> float:
        """Push the records of one step into ``sink``; returns the step's LSL time."""
        rng = self.rng
        t_rel = self.k * self.step_s
        t = T_ORIGIN + t_rel
        self.k += 1
        truth = self.true_label(t_rel)
        if t_rel % self.trial_s == 0:
            sink.on_marker(t, CLASS_NAMES[truth])
        eye_lost = self.eye_outage[0] <= t_rel < self.eye_outage[1]
        target = np.full(self.n_cls, -0.5)
        target[truth] = 1.4
        self.logits = 0.8 * self.logits + 0.2 * target + rng.normal(0, 0.35, self.n_cls)
        probs = np.exp(self.logits * 2.0)
        probs /= probs.sum()
        g = float(np.clip(0.62 + 0.08 * np.sin(t_rel / 17) + rng.normal(0, 0.03), 0.05, 0.95))
        gates = np.array([1.0, 0.0]) if eye_lost else np.array([g, 1 - g])
        flags = {Flag.EYE_MISSING, Flag.EYE_STALE} if eye_lost else set()
        sink.on_prediction(
            Prediction(
                t_end=t,
                probs=probs,
                gates=gates,
                label=CLASS_NAMES[int(np.argmax(probs))],
                flags=flags,
                t_computed=t + 0.012 + abs(rng.normal(0, 0.002)),
                compute_ms=3.0 + abs(rng.normal(0, 0.4)),
                n_context=min(self.k, 15),
                budget={
                    "wait_eeg": 3.0 + abs(rng.normal(0, 1.0)),
                    "wait_gaze": abs(rng.normal(0, 0.3)),
                    "queue": 0.05,
                    "features": 2.5 + abs(rng.normal(0, 0.3)),
                    "model": 3.0 + abs(rng.normal(0, 0.4)),
                    "sinks": 0.2,
                },
            )
        )
        de = self.de_base + rng.normal(0, 0.08, self.de_base.shape)
        eye = np.zeros(N_EYE_FEATURES)
        pupil = 3.6 + 0.25 * np.sin(t_rel / 9) + 0.1 * (truth == 1)
        p1, p2 = PUPIL_COLUMNS
        eye[p1], eye[p2] = pupil + rng.normal(0, 0.03), pupil - 0.15 + rng.normal(0, 0.03)
        sink.on_features(
            FeatureFrame(
                t_end=t, eeg=de.reshape(-1), eye=eye, eeg_valid=True, eye_valid=not eye_lost
            )
        )
        if not eye_lost:
            n = int(120 * self.step_s)
            ts = t - self.step_s + np.sort(rng.uniform(0, self.step_s, n))
            raw = pupil + 0.04 * np.sin(2 * np.pi * 0.3 * ts) + rng.normal(0, 0.02, n)
            valid = (rng.random(n) > 0.03).astype(float)
            raw[valid == 0] = np.nan  # trackers report no pupil for an invalid sample
            gaze = np.column_stack(
                [rng.normal(0, 2, n), rng.normal(0, 2, n), raw, raw - 0.15, valid]
            )
            sink.on_gaze(ts, gaze)
        if eye_lost:
            if self.gap is None:
                self.gap = (t - self.step_s, t)
                sink.on_event("stale", "Gaze: no sample for 0.5 s", t)
            self.gap = (self.gap[0], t)
        elif self.gap is not None and not self.recovered:
            self.recovered = True
            sink.on_event("recovered", f"Gaze: back after {t - self.gap[0]:.1f} s", t)
        gaps = (self.gap,) if self.gap is not None else ()
        gaze_status = "stale" if eye_lost else "connected"
        sink.on_health(
            [
                StreamHealth(
                    "EEG",
                    "connected",
                    200.0,
                    200.0 + rng.normal(0, 0.3),
                    -0.00021,
                    0.018 + abs(rng.normal(0, 0.003)),
                    n_samples=int(200 * t_rel),
                    t=t,
                ),
                StreamHealth(
                    "Gaze",
                    gaze_status,
                    120.0,
                    0.0 if eye_lost else 119.0 + rng.normal(0, 1.0),
                    -0.00034,
                    0.031 + abs(rng.normal(0, 0.005)),
                    n_samples=int(120 * min(t_rel, self.eye_outage[0])),
                    n_dropped=0,
                    n_timestamp_faults=2 if t_rel > 40 else 0,
                    gaps=gaps,
                    t=t,
                ),
            ]
        )
        return t


def start_fake_worker(
    sink: Sink, *, rate_hz: float = 1.0, prefill_s: float = 0.0, seed: int = 0
) -> Callable[[], None]:
    """Start a worker thread that feeds ``sink`` from a :class:`FakeSession`; returns stop().

    Parameters
    ----------
    rate_hz : float
        Predictions per second of wall time (and of session time).
    prefill_s : float
        Session seconds pushed at once at start (history for screenshots).
    """
    stop_event = threading.Event()
    session = FakeSession(seed, step_s=1.0 / rate_hz)

    def work() -> None:
        for _ in range(int(prefill_s * rate_hz)):
            session.step(sink)
        next_t = time.monotonic()
        while not stop_event.wait(max(0.0, next_t - time.monotonic())):
            session.step(sink)
            next_t += 1.0 / rate_hz
        sink.close()

    thread = threading.Thread(target=work, name="fake-pipeline", daemon=True)
    thread.start()

    def stop() -> None:
        stop_event.set()
        thread.join(timeout=2.0)

    return stop


#: The fake session's inputs, as the monitor's health table names them.
FAKE_STREAMS = (
    StreamLabel("EEG", "EEG", "EEG", "fake-eeg"),
    StreamLabel("Gaze", "gaze", "Gaze", "fake-gaze"),
    StreamLabel("Markers", "markers", "Markers"),
)


def main(argv=None) -> int:
    from apps.monitor import run_monitor

    ap = argparse.ArgumentParser(description="Show the monitor fed by a fake session.")
    ap.add_argument("--screenshot", default=None)
    ap.add_argument("--screenshot-after", type=float, default=3.0)
    ap.add_argument("--duration", type=float, default=None)
    ap.add_argument("--prefill", type=float, default=170.0, help="session seconds pushed at once")
    ap.add_argument("--history", type=float, default=600.0)
    args = ap.parse_args(argv)
    return run_monitor(
        lambda sink: start_fake_worker(sink, prefill_s=args.prefill),
        screenshot=args.screenshot,
        screenshot_after_s=args.screenshot_after,
        duration_s=args.duration,
        history_s=args.history,
        streams=FAKE_STREAMS,
    )


if __name__ == "__main__":
    raise SystemExit(main())
