"""A long session with outages: memory, latency and prediction counts over hours, simulated fast.

Runs the live loop (:class:`~cmt_live.lsl.source.LslSource` + :class:`~cmt_live.driver.Driver`,
tiny untrained model) on ``cmt-sim stream --speed K`` (default 10: a 2-hour session in 12
minutes, the monitor with ``time_scale=K``), and every ``--outage-every`` simulated minutes
SIGKILLs the simulator and restarts it after a random down time (:mod:`bench_restart`'s
session). Prints:

- **RSS drift**: this process's VmRSS after the first ``--warmup`` simulated minutes and at the
  end (the sources run in their own processes);
- **latency drift**: ``t_computed - t_end`` of the predictions on the LSL (wall) clock, median
  of the first and of the last fifth of the session;
- **predictions expected vs made**: expected = one per step over every up interval of the
  source, less the first window of each (an outage restarts the window grid);
- **recovery times**: per outage, time to data and to the next clean prediction (wall s).

Usage (LSL stays on loopback; ``unshare -n`` as the tests do)::

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python bench/bench_soak.py'
    .venv/bin/python bench/bench_soak.py --minutes 20 --outage-every 2
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_restart import Session, pct, pylsl, tiny_runtime


def rss_mb() -> float:
    """VmRSS of this process, MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def expected_predictions(up_intervals, window_s: float, step_s: float) -> int:
    """One prediction per step once a window fits, in each up interval (simulated s)."""
    return sum(int((b - a - window_s) // step_s) + 1 for a, b in up_intervals if b - a >= window_s)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=120.0, help="simulated session length")
    p.add_argument("--speed", type=float, default=10.0, help="x real time")
    p.add_argument("--outage-every", type=float, default=4.0, help="simulated minutes")
    p.add_argument("--max-down", type=float, default=30.0, help="longest down time, sim. s")
    p.add_argument("--warmup", type=float, default=5.0, help="simulated minutes before RSS")
    p.add_argument("--deadline", type=float, default=30.0, help="per recovery, wall s")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    k = args.speed
    rng = np.random.default_rng(args.seed)
    runtime = tiny_runtime()
    spec = runtime.contract.feature_spec
    session = Session(runtime, f"soak{uuid.uuid4().hex[:6]}-", speed=k)
    t_end_wall = session.t_start + args.minutes * 60 / k
    rss0 = None
    up = [session.t_start]  # LSL times the source came up / went down, alternating
    outages = []
    try:
        while True:
            t_next = pylsl.local_clock() + args.outage_every * 60 / k
            while pylsl.local_clock() < min(t_next, t_end_wall):
                time.sleep(0.5)  # the session runs; this thread only watches the clock
                if rss0 is None and pylsl.local_clock() > session.t_start + args.warmup * 60 / k:
                    rss0 = rss_mb()
            if pylsl.local_clock() >= t_end_wall:
                break
            r = session.restart(rng.uniform(1.0, args.max_down) / k, args.deadline)
            up += [r["t_kill"], r["t_back"]]
            outages.append(r)
            fmt = lambda v: "  -  " if v is None else f"{v:5.2f}"  # noqa: E731
            print(
                f"outage {len(outages):2d} at {(r['t_kill'] - session.t_start) * k / 60:6.1f} "
                f"sim. min, down {r['down_s'] * k:5.1f} sim. s: data {fmt(r['data_s'])} s, "
                f"prediction {fmt(r['pred_s'])} s after the source was back (wall)",
                flush=True,
            )
        t_stop = pylsl.local_clock()
        rss1 = rss_mb()
    finally:
        session.close()
    up.append(t_stop)
    intervals = [
        ((a - session.t_start) * k, (b - session.t_start) * k) for a, b in zip(up[::2], up[1::2])
    ]
    rows = session.preds.rows
    made = len(rows)
    expected = expected_predictions(intervals, spec.window_s, 1.0)
    lat = [(t_comp - t_end) * 1e3 for t_end, t_comp, _ in rows]  # LSL (wall) ms
    fifth = max(1, len(lat) // 5)
    ok = [r for r in outages if r["pred_s"] is not None]
    print(f"session: {args.minutes:g} simulated min at {k:g}x, {len(outages)} outages")
    print(
        f"RSS: {rss0:.1f} MB after {args.warmup:g} min -> {rss1:.1f} MB at the end "
        f"(drift {rss1 - rss0:+.1f} MB)"
    )
    print(
        f"latency (t_computed - t_end, wall): median {np.median(lat[:fifth]):.1f} ms in the "
        f"first fifth -> {np.median(lat[-fifth:]):.1f} ms in the last fifth; "
        f"p99 {pct(lat, 99):.1f} ms"
    )
    print(f"predictions: made {made}, expected {expected} ({made / max(expected, 1):.1%})")
    data = [r["data_s"] for r in ok]
    pred = [r["pred_s"] for r in ok]
    print(
        f"recoveries: {len(ok)}/{len(outages)}; time to data p50 {pct(data, 50):.2f} s "
        f"p90 {pct(data, 90):.2f} s max {max(data, default=float('nan')):.2f} s; to the next "
        f"clean prediction p50 {pct(pred, 50):.2f} s max {max(pred, default=float('nan')):.2f} s "
        f"(wall; the window is {spec.window_s / k:.2f} s wall at {k:g}x)"
    )
    return 0 if len(ok) == len(outages) else 1


if __name__ == "__main__":
    sys.exit(main())
