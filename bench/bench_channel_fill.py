"""Cost of ``--fill-missing``: the interpolation matrix once at start-up, then per chunk.

Run from the repository root::

    .venv/bin/python bench/bench_channel_fill.py

A 62-channel model on a cap lacking 12 channels (an eXimia-like layout, CB1/CB2 included):
prints the start-up time of :func:`cmt_live.channels.select_channels` (MNE's spherical-spline
matrix, computed once) and the per-chunk time of ``selection.take`` against the plain column
pick it replaces (the peer), median of interleaved rounds, one thread.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

from cmt_live.channels import select_channels  # noqa: E402
from features.constants import SEEDV_CHANNELS  # noqa: E402

MISSING = ("AF3", "AF4", "F5", "F6", "P5", "P6", "PO7", "PO5", "PO6", "PO8", "CB1", "CB2")


def main() -> None:
    labels = [c for c in SEEDV_CHANNELS if c not in MISSING]
    t0 = time.perf_counter()
    sel = select_channels(labels, SEEDV_CHANNELS, fill_missing=len(MISSING))
    print(f"start-up (MNE interpolation matrix, 12 of 62): {time.perf_counter() - t0:.2f} s")
    plain = np.arange(len(labels))
    for rate, chunk_ms in ((200, 50), (1000, 20), (2048, 20)):
        data = np.random.default_rng(0).standard_normal((int(rate * chunk_ms / 1000), 50))
        data = data.astype(np.float32)
        times = {"take (pick + fill)": [], "plain pick (peer)": []}
        for _ in range(300):
            t = time.perf_counter()
            sel.take(data)
            times["take (pick + fill)"].append(time.perf_counter() - t)
            t = time.perf_counter()
            data[:, plain]  # the peer: the pick without filling
            times["plain pick (peer)"].append(time.perf_counter() - t)
        med = {k: np.median(v) * 1e6 for k, v in times.items()}
        ratio = med["take (pick + fill)"] / med["plain pick (peer)"]
        print(
            f"{rate} Hz, {chunk_ms}-ms chunk ({data.shape[0]} samples): take "
            f"{med['take (pick + fill)']:.1f} us, plain pick {med['plain pick (peer)']:.1f} us "
            f"(x{ratio:.1f}); per second of EEG {med['take (pick + fill)'] * 1000 / chunk_ms:.0f} "
            "us"
        )


if __name__ == "__main__":
    main()
