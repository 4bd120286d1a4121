"""Recovery after a source restart: kill the simulator at random moments, restart it, time it.

Each cycle SIGKILLs ``cmt-sim stream`` (EEG, Gaze and Markers die together, as in a crash),
waits a random down time, starts it again with the same stream names and source_ids, and times
on the LSL clock, from the moment the restarted simulator announced its outlets:

- **data**: until both the EEG and the gaze inlet hold a sample stamped after the kill;
- **prediction**: until the first prediction on a clean window of new data (no
  flag that makes either modality invalid, window start at or after the first new EEG
  sample); **excess** = prediction - data - one window: the target is data <= 2 s and
  the prediction one window (plus at most one step of window alignment) later.

A cycle recovers when both happen within ``--deadline`` seconds. The monitor is the live loop
in this process (:class:`~cmt_live.lsl.source.LslSource` + :class:`~cmt_live.driver.Driver`,
tiny untrained model: recovery does not depend on the weights). Cycles run in sessions of
``--per-session``; the first kill of each session falls in its first 20 s, later kills at a
random uptime after the previous recovery.

Usage (LSL stays on loopback; ``unshare -n`` as the tests do)::

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python bench/bench_restart.py'
    .venv/bin/python bench/bench_restart.py --cycles 10 --per-session 5 --max-down 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from cmt_live.lsl.config import use_loopback_config

use_loopback_config()
import pylsl  # noqa: E402

from cmt_live.driver import Driver  # noqa: E402
from cmt_live.lsl.source import LslSource, StreamSelection  # noqa: E402
from cmt_live.sinks import Sink  # noqa: E402
from models import export_untrained, load_runtime  # noqa: E402

#: Flags that make a window unusable for a modality (windowing's invalid sets, plus missing):
#: a clean window has both. ``eye_gap`` is informative only (coverage decides) and stays out.
NOT_CLEAN = {
    "eeg_missing",
    "eeg_stale",
    "eeg_gap",
    "eeg_nonfinite",
    "eye_missing",
    "eye_stale",
    "eye_low_coverage",
}


def tiny_runtime():
    """An untrained tiny model, one thread: recovery and memory do not depend on the weights."""
    with tempfile.TemporaryDirectory() as tmp:
        path = export_untrained(Path(tmp) / "tiny.pt", preset="tiny")
        return load_runtime(path, device="cpu", threads=1)


class Simulator:
    """``cmt-sim stream`` in a subprocess; :meth:`start` returns when its outlets exist."""

    def __init__(self, prefix: str, speed: float = 1.0):
        self.prefix, self.speed = prefix, speed
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 60.0) -> float:
        """Start and wait for the simulator's "streaming" log line; its LSL time."""
        cmd = [sys.executable, "-m", "cmt_live.cli.sim", "--log-level", "INFO", "stream"]
        cmd += ["--prefix", self.prefix, "--subject", "101", "--trial-scale", "0.1"]
        cmd += ["--speed", str(self.speed)]
        self.proc = subprocess.Popen(
            cmd, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        up = threading.Event()
        t_up = []

        def drain(stream):
            # Reads every line (a full pipe would stall the simulator) and notes when the
            # outlets exist.
            for line in stream:
                if not up.is_set() and "simulator streaming" in line:
                    t_up.append(pylsl.local_clock())
                    up.set()

        threading.Thread(target=drain, args=(self.proc.stderr,), daemon=True).start()
        if not up.wait(timeout_s):
            raise RuntimeError(f"cmt-sim stream did not start within {timeout_s:g} s")
        return t_up[0]

    def kill(self) -> float:
        """SIGKILL (a crash); the LSL time of the kill."""
        t = pylsl.local_clock()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()
        return t


class Predictions(Sink):
    """Keeps ``(t_end, t_computed, flags)`` of every prediction, LSL seconds (``to_lsl`` maps
    the pipeline's time of a scaled source back)."""

    def __init__(self, to_lsl):
        self.to_lsl = to_lsl
        self.rows: list[tuple[float, float, frozenset]] = []

    def on_prediction(self, pred) -> None:
        self.rows.append((self.to_lsl(pred.t_end), self.to_lsl(pred.t_computed), pred.flags))


def wait_until(cond, deadline: float, poll_s: float = 0.005):
    """Poll ``cond()`` until it returns a value or the LSL-clock deadline; None at the deadline."""
    while pylsl.local_clock() < deadline:
        v = cond()
        if v is not None:
            return v
        time.sleep(poll_s)
    return None


def first_after(inp, t_kill: float):
    """Stamp of the first sample stamped after ``t_kill`` in ``inp``'s buffer, else None."""
    newest = inp.newest_timestamp
    if newest is None or newest <= t_kill:
        return None
    _, ts = inp.get(t_kill, newest + 1.0)
    return float(ts[ts > t_kill][0]) if ts.size else None


class Session:
    """The live loop on one simulator: open, start, and the measurements of one restart."""

    def __init__(self, runtime, prefix: str, speed: float = 1.0, **selection):
        self.sim = Simulator(prefix, speed)
        self.sim.start()
        sel = StreamSelection(
            eeg=prefix + "EEG", eye=prefix + "Gaze", time_scale=speed, **selection
        )
        self.source = LslSource(sel, runtime.contract.feature_spec.ch_names)
        self.source.open()
        self.driver = Driver.for_source(runtime, self.source, step_s=1.0)
        self.preds = Predictions(self.source.to_lsl_time)
        self.driver.pipeline.add_sink(self.preds)
        self.source.start()
        self.driver.start()
        self.t_start = pylsl.local_clock()
        self.window_s = runtime.contract.feature_spec.window_s / speed  # LSL seconds

    def restart(self, down_s: float, deadline_s: float) -> dict:
        """Kill, wait ``down_s``, restart; the cycle's times (None: not within the deadline)."""
        t_kill = self.sim.kill()
        time.sleep(down_s)  # the outage itself (a bench, not a test: the down time is the input)
        t_back = self.sim.start()
        deadline = t_back + deadline_s
        firsts = [
            wait_until(lambda inp=inp: first_after(inp, t_kill), deadline)
            for inp in (self.source.eeg, self.source.gaze)
        ]
        out = {"t_kill": t_kill, "t_back": t_back, "down_s": t_back - t_kill}
        if None in firsts:
            return {**out, "data_s": None, "pred_s": None}
        out["data_s"] = pylsl.local_clock() - t_back  # upper bound: polled every 5 ms
        t_new = firsts[0]

        def clean():
            for t_end, t_comp, flags in list(self.preds.rows):
                if t_comp > t_back and t_end - self.window_s >= t_new - 1e-3:
                    if not flags & NOT_CLEAN:
                        return t_comp
            return None

        t_pred = wait_until(clean, deadline, poll_s=0.02)
        out["pred_s"] = None if t_pred is None else t_pred - t_back
        return out

    def close(self) -> None:
        self.driver.close()
        self.sim.kill()


def pct(values, q):
    return float(np.percentile(values, q)) if values else float("nan")


def summary(rows, window_s, step_s=1.0) -> str:
    ok = [r for r in rows if r["data_s"] is not None and r["pred_s"] is not None]
    data = [r["data_s"] for r in ok]
    pred = [r["pred_s"] for r in ok]
    excess = [r["pred_s"] - r["data_s"] - window_s for r in ok]
    lines = [
        f"recoveries: {len(ok)}/{len(rows)} (data and a clean prediction within the deadline)",
        f"data <= 2 s after the source is back: {sum(d <= 2.0 for d in data)}/{len(rows)}",
        f"prediction <= data + window ({window_s:g} s) + step ({step_s:g} s): "
        f"{sum(e <= step_s for e in excess)}/{len(rows)}",
    ]
    for name, v in (("time to data", data), ("time to prediction", pred), ("excess", excess)):
        lines.append(
            f"{name:>20}: p50 {pct(v, 50):6.2f} s  p90 {pct(v, 90):6.2f} s  "
            f"max {max(v, default=float('nan')):6.2f} s"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cycles", type=int, default=50)
    p.add_argument("--per-session", type=int, default=10, help="cycles per monitor session")
    p.add_argument("--max-up", type=float, default=10.0, help="longest uptime after recovery, s")
    p.add_argument("--max-down", type=float, default=5.0, help="longest down time, s")
    p.add_argument("--deadline", type=float, default=30.0, help="per cycle, s")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    runtime = tiny_runtime()
    window_s = runtime.contract.feature_spec.window_s
    rows: list[dict] = []
    while len(rows) < args.cycles:
        session = Session(runtime, f"rb{uuid.uuid4().hex[:6]}-")
        try:
            for k in range(min(args.per_session, args.cycles - len(rows))):
                # The first kill of a session falls in its first 20 s (start-up included).
                up = rng.uniform(0.5, 20.0) if k == 0 else rng.uniform(0.0, args.max_up)
                time.sleep(up)  # the uptime is the input of this cycle
                r = session.restart(rng.uniform(0.2, args.max_down), args.deadline)
                r["uptime_s"] = r["t_kill"] - session.t_start
                rows.append(r)
                fmt = lambda v: "  -  " if v is None else f"{v:5.2f}"  # noqa: E731
                print(
                    f"cycle {len(rows):2d}: killed {r['uptime_s']:6.1f} s into the session, "
                    f"down {r['down_s']:4.1f} s; data {fmt(r['data_s'])} s, "
                    f"prediction {fmt(r['pred_s'])} s after the source was back",
                    flush=True,
                )
                if r["pred_s"] is None:
                    break  # a fresh session for the next cycles
        finally:
            session.close()
    print(summary(rows, window_s))
    return 0 if all(r["pred_s"] is not None for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
