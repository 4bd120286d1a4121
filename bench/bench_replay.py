"""Fast replay throughput: a recording through the full pipeline, in-process, in x real time.

Simulates a session (``cmt-sim record``: 62-ch EEG at 200 Hz, 120 Hz gaze, markers) into an XDF
file, then replays it through ``cmt_live.driver.Driver`` and a ``RecordingSource`` (what
``cmt-live --replay FILE --fast`` runs) with the default model preset
(untrained weights: the cost is the same), step 1 s, on one thread. Reports the time to read the
file and the replay speed with and without it. The model runs on batches of ``--batch``
windows through the backend ``load_runtime(backend=--backend)`` picks (default auto: the
fastest that matches eager). Target: >= 150x real time on one core.

    .venv/bin/python bench/bench_replay.py [--minutes 10] [--context-len 16]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--context-len", type=int, default=16)
    p.add_argument("--batch", type=int, default=64, help="windows per model call")
    p.add_argument("--model", type=Path, help="a model file (default: untrained default preset)")
    p.add_argument("--backend", default="auto", help="models.load_runtime backend")
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    from cmt_live.driver import Driver
    from cmt_live.io.readers import read_recording
    from cmt_live.io.recording_source import RecordingSource
    from cmt_live.sim.streams import SimSessionSettings, record_session
    from models import export_untrained, load_runtime

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rec = record_session(SimSessionSettings(subject=101), tmp / "s.xdf", args.minutes * 60)
        model = args.model or export_untrained(
            tmp / "m.pt", preset="default", context_len=args.context_len
        )
        runtime = load_runtime(model, threads=1, backend=args.backend)
        t0 = time.perf_counter()
        read_recording(rec)
        read_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        source = RecordingSource(rec, runtime.contract.feature_spec.ch_names)
        stats = Driver.for_source(runtime, source, batch=args.batch).run()
        wall_s = time.perf_counter() - t0
    pipeline_s = stats.wall_s
    print(
        f"fast replay, {args.minutes:g} min recording (62 ch 200 Hz EEG + 120 Hz gaze), model "
        f"{args.model or 'default preset'} (d{runtime.contract.config.d_model}, "
        f"L={runtime.contract.context_len}), backend {runtime.backend}, batch {args.batch}, "
        f"step 1 s, 1 thread, load average {os.getloadavg()[0]:.1f}:\n"
        f"  {stats.n_predictions} predictions in {wall_s:.2f} s = "
        f"{source.duration_s / wall_s:.0f}x real time (target >= 150x); reading the XDF "
        f"{read_s:.2f} s, pipeline alone {source.duration_s / pipeline_s:.0f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
