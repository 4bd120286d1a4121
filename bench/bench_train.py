"""LOSO wall time and accuracy of a training preset on simulated SEED-V features, for one or
several fold runners measured one after the other in the same sitting.

Usage::

    python bench/bench_train.py --data /tmp/sim16 [--preset small] [--folds 2] [--threads 1]
        [--runners local,jobs:2,ray]

``--data`` is a directory written by ``cmt-sim dataset --out DIR --subjects 16 --trial-scale 1``
(created here with ``--make-data`` when missing). With ``--folds K`` only K folds run and the
full-LOSO time is extrapolated as ``(n_subjects + 1) * mean fold time`` (the +1 is the
deployment model); the printout says which figure was measured and which estimated.
``--runners`` times each runner (``local``, ``jobs:N``, ``ray`` or ``ray:ADDRESS``) and prints
its wall time against the first one's; folds of ``jobs:N`` use cores // N torch threads each,
Ray folds 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--make-data", action="store_true", help="run cmt-sim dataset if missing")
    p.add_argument("--subjects", type=int, default=16)
    p.add_argument("--trial-scale", type=float, default=1.0)
    p.add_argument("--preset", default="small")
    p.add_argument("--epochs", type=int)
    p.add_argument("--folds", type=int, help="run K folds and extrapolate")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path)
    p.add_argument("--runners", default="local", help="comma-separated: local, jobs:N, ray")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    if not args.data.is_dir():
        if not args.make_data:
            sys.exit(f"{args.data} does not exist; pass --make-data to simulate it.")
        from cmt_live.cli.sim import main as sim_main

        t0 = time.perf_counter()
        rc = sim_main(
            [
                *("dataset", "--out", str(args.data), "--subjects", str(args.subjects)),
                *("--trial-scale", str(args.trial_scale), "--no-progress"),
            ]
        )
        if rc:
            return rc
        print(f"simulated dataset: {time.perf_counter() - t0:.0f} s")

    from models.seedv import load_seedv
    from models.train import RunnerSpec, TrainConfig, run_cv

    data = load_seedv(args.data)
    cfg = TrainConfig.from_preset(args.preset, epochs=args.epochs)
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_train_"))
    n = len(data.subjects)
    print(
        f"preset {args.preset} ({cfg.epochs} epochs), {n} subjects, "
        f"{sum(t.eeg.shape[0] for t in data.trials)} windows, torch threads {args.threads}, "
        f"load avg {os.getloadavg()[0]:.1f}"
    )
    walls = []
    for name in args.runners.split(","):
        kind, _, arg = name.partition(":")
        spec = RunnerSpec(
            kind=kind,
            jobs=int(arg) if kind == "jobs" else 1,
            ray_address=(arg or None) if kind == "ray" else None,
        )
        t0 = time.perf_counter()
        metrics = run_cv(
            data,
            out / name.replace(":", "_"),
            cfg,
            runner=spec,
            folds_limit=args.folds,
            device="cpu",
            final=args.folds is None,
        )
        wall = time.perf_counter() - t0
        walls.append(wall)
        s = metrics["summary"]
        fold_s = [f["wall_s"] for f in metrics["folds"]]
        print(f"[{name}] fold training times (s): {', '.join(f'{x:.0f}' for x in fold_s)}")
        ratio = f"; {walls[0] / wall:.2f}x the first runner's speed" if len(walls) > 1 else ""
        if args.folds is None:
            print(f"[{name}] full LOSO + deployment: {wall:.0f} s measured{ratio}")
        else:
            per = wall / len(fold_s)
            print(
                f"[{name}] {len(fold_s)} folds in {wall:.0f} s{ratio}; full LOSO + deployment "
                f"ESTIMATED {per * (n + 1):.0f} s ({per * (n + 1) / 60:.1f} min)"
            )
    acc = s["trial_acc"]
    print(f"trial accuracy {100 * acc['mean']:.1f}% ± {100 * acc['std']:.1f}% (chance 20%)")
    print(
        f"EEG only {100 * s['trial_acc_eeg_only']['mean']:.1f}%, eye only "
        f"{100 * s['trial_acc_eye_only']['mean']:.1f}%"
    )
    print(
        "streaming: "
        + json.dumps({L: round(100 * d["mean"], 1) for L, d in s["streaming_acc"].items()})
    )
    print(f"run folder: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
