"""A configurable LSL test outlet, run as a subprocess (and helpers to start and stop it).

Run ``python tests/lsl_sources.py --help`` for the options. The outlet prints ``READY <t0>``
on stdout once it exists (``t0``: LSL time of sample 0), then pushes samples paced in real
time, in chunks of ``--chunk-ms``, stamped ``t0 + k / sfreq`` (plus the faults asked for).

Known-answer content: with ``--counter`` channel 0 holds the absolute sample index
(``--start-index`` + k), so a consumer can prove nothing was dropped or reordered; the other
channels hold ``amp * sin(2 pi 10 Hz t)`` in the declared unit.

Fault injection (times in seconds since sample 0):

``--nan-at S --nan-n N``          N samples of NaN (all channels but the counter)
``--backward-at S --backward-n N`` N samples stamped 0.5 s in the past
``--duplicate-at S --duplicate-n N`` N samples stamped like the sample before them
``--pause-at S --pause-s D``       stop pushing for D s (the outlet stays up: a gap)
``--jitter-ms J``                  uniform jitter of +-J ms on each stamp (gaze-like)
``--format string``                a string stream (refused as EEG)
``--wait-consumer``                sample 0 is pushed once an inlet has connected

In tests (``tests/`` is on ``sys.path`` under pytest)::

    from lsl_sources import start_source, stop_source
    proc, t0 = start_source("--name", name, "--source-id", sid, "--counter")
    ...
    stop_source(proc)            # SIGKILL: a crash, the outlet vanishes without goodbye

The subprocess inherits ``LSLAPICFG`` (set by tests/conftest.py), so it stays on loopback.
"""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import time
from pathlib import Path


def start_source(*args: str, ready_timeout_s: float = 15.0) -> tuple[subprocess.Popen, float]:
    """Start this script with ``args`` and wait for its ``READY`` line.

    Returns
    -------
    proc : subprocess.Popen
    t0 : float
        LSL time of sample 0 as the outlet stamps it.
    """
    cmd = [sys.executable, str(Path(__file__).resolve()), *map(str, args)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    deadline = time.monotonic() + ready_timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or proc.poll() is not None:
            stop_source(proc)
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"test source {args} did not start: {err[-2000:]}")
        ready, _, _ = select.select([proc.stdout], [], [], remaining)
        if ready:
            line = proc.stdout.readline()
            if line.startswith("READY"):
                return proc, float(line.split()[1])


def stop_source(proc: subprocess.Popen, *, graceful: bool = False) -> None:
    """Kill (default: SIGKILL, like a crash) or terminate the source and reap it."""
    if proc.poll() is None:
        if graceful:
            proc.terminate()
        else:
            proc.kill()
    try:
        proc.wait(timeout=10)
    finally:
        for f in (proc.stdout, proc.stderr):
            if f:
                f.close()


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--name", required=True)
    p.add_argument("--type", default="EEG")
    p.add_argument("--n-channels", type=int, default=4)
    p.add_argument("--sfreq", type=float, default=200.0, help="nominal rate; 0 = irregular")
    p.add_argument("--push-rate", type=float, default=None, help="actual rate (default sfreq)")
    p.add_argument("--source-id", default="")
    p.add_argument(
        "--format", default="float32", choices=["float32", "double64", "int16", "string"]
    )
    p.add_argument("--labels", default=None, help="comma-separated labels (default ch0..)")
    p.add_argument("--seedv-labels", action="store_true", help="SEED-V channel names")
    p.add_argument("--unit", default="microvolts", help="declared unit ('' = none)")
    p.add_argument("--amp", type=float, default=10.0)
    p.add_argument("--counter", action="store_true")
    p.add_argument("--start-index", type=int, default=0)
    p.add_argument("--t0", type=float, default=None, help="LSL time of sample 0 (default now)")
    p.add_argument("--chunk-ms", type=float, default=20.0)
    p.add_argument("--duration", type=float, default=None)
    p.add_argument("--nan-at", type=float, default=None)
    p.add_argument("--nan-n", type=int, default=10)
    p.add_argument("--backward-at", type=float, default=None)
    p.add_argument("--backward-n", type=int, default=5)
    p.add_argument("--duplicate-at", type=float, default=None)
    p.add_argument("--duplicate-n", type=int, default=3)
    p.add_argument("--pause-at", type=float, default=None)
    p.add_argument("--pause-s", type=float, default=1.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--wait-consumer", action="store_true", help="start pushing once an inlet connects"
    )
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = _parse(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from cmt_live.lsl.config import use_loopback_config

    use_loopback_config()
    import numpy as np
    import pylsl

    n_ch = args.n_channels
    if args.labels:
        labels = args.labels.split(",")
    elif args.seedv_labels:
        from features.constants import SEEDV_CHANNELS

        labels = list(SEEDV_CHANNELS[:n_ch])
    else:
        labels = [f"ch{i}" for i in range(n_ch)]
    fmt = {
        "float32": pylsl.cf_float32,
        "double64": pylsl.cf_double64,
        "int16": pylsl.cf_int16,
        "string": pylsl.cf_string,
    }[args.format]
    info = pylsl.StreamInfo(args.name, args.type, n_ch, args.sfreq, fmt, args.source_id)
    chans = info.desc().append_child("channels")
    for lab in labels:
        ch = chans.append_child("channel")
        ch.append_child_value("label", lab)
        if args.unit:
            ch.append_child_value("unit", args.unit)
        ch.append_child_value("type", args.type)
    outlet = pylsl.StreamOutlet(info, chunk_size=0, max_buffered=60)
    rate = args.push_rate or args.sfreq or 100.0
    t0 = pylsl.local_clock() if args.t0 is None else args.t0
    rng = np.random.default_rng(args.seed)
    print(f"READY {t0!r}", flush=True)
    if args.wait_consumer:
        if not outlet.wait_for_consumers(15.0):
            return 1
        t0 = pylsl.local_clock()
    k = 0  # samples pushed
    paused_s = 0.0  # total pause so far: stamps jump by it
    chunk_s = args.chunk_ms / 1000.0
    while True:
        now = pylsl.local_clock()
        elapsed = now - t0 - paused_s
        if args.pause_at is not None and paused_s == 0.0 and elapsed >= args.pause_at:
            time.sleep(args.pause_s)
            paused_s = args.pause_s
            continue
        if args.duration is not None:
            elapsed = min(elapsed, args.duration)
        k_target = int(np.floor(elapsed * rate)) + 1
        if k_target > k:
            idx = np.arange(k, k_target)
            t_rel = idx / rate
            # After a pause every later stamp is shifted by its length: a gap in time, not in
            # the sample index.
            stamps = t0 + t_rel + paused_s
            if args.jitter_ms:
                stamps = stamps + rng.uniform(-1, 1, idx.size) * args.jitter_ms / 1000.0
            for at, n, shift in (
                (args.backward_at, args.backward_n, "back"),
                (args.duplicate_at, args.duplicate_n, "dup"),
            ):
                if at is None:
                    continue
                k_at = round(at * rate)
                sel = (idx >= k_at) & (idx < k_at + n)
                if shift == "back":
                    stamps[sel] -= 0.5
                else:
                    stamps[sel] = t0 + (k_at - 1) / rate
            if fmt == pylsl.cf_string:
                outlet.push_chunk([[str(i)] * n_ch for i in idx], stamps.tolist())
            else:
                x = np.empty((idx.size, n_ch))
                x[:] = (args.amp * np.sin(2 * np.pi * 10.0 * t_rel))[:, None]
                if args.nan_at is not None:
                    k_nan = round(args.nan_at * rate)
                    x[(idx >= k_nan) & (idx < k_nan + args.nan_n)] = np.nan
                if args.counter:
                    x[:, 0] = idx + args.start_index
                dtype = {pylsl.cf_float32: np.float32, pylsl.cf_double64: np.float64}.get(
                    fmt, np.int16
                )
                if dtype is np.int16:
                    x = np.nan_to_num(x)
                outlet.push_chunk(np.ascontiguousarray(x, dtype=dtype), stamps.tolist())
            k = k_target
        if args.duration is not None and elapsed >= args.duration:
            break
        time.sleep(max(0.0, chunk_s - (pylsl.local_clock() - now)))
    # Linger so consumers can pull the tail before the outlet disappears.
    time.sleep(0.5)
    del outlet
    return 0


if __name__ == "__main__":
    sys.exit(main())
