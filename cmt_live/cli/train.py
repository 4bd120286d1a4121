"""``cmt-train``: LOSO training on SEED-V features, and scoring a saved model.

Usage::

    cmt-train --data DIR [--preset seed|small|tiny] [--epochs N] [--out RUN_DIR] [--folds K]
              [--device auto] [--seed S] [--threads N] [--no-final] [-q|-v]
    cmt-train evaluate --model RUN_DIR/model.pt --data DIR --subject N [--device auto] [--json]

The first form trains one model per held-out subject (leave-one-subject-out), a deployment
model ``model.pt``, and writes ``report.md`` / ``metrics.json`` / figures into ``RUN_DIR``;
rerunning with the same ``--out`` resumes after the last finished fold.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from cmt_live.cli.common import add_logging_args, apply_logging, parser

PRESETS = ("seed", "small", "tiny")


def _train_parser() -> argparse.ArgumentParser:
    p = parser(
        "cmt-train",
        "Leave-one-subject-out training of the cross-modal transformer on a SEED-V feature "
        "directory (EEG_DE_features/, Eye_movement_features/). "
        "Use 'cmt-train evaluate --help' to score a saved model.",
    )
    p.add_argument("--data", required=True, type=Path, help="SEED-V feature directory")
    p.add_argument(
        "--preset",
        choices=PRESETS,
        default="seed",
        help="seed = the seed repository's published config (d_model 512, 50 epochs; GPU); "
        "small = CPU-sized; tiny = tests (default: seed)",
    )
    p.add_argument("--epochs", type=int, help="override the preset's epochs")
    p.add_argument("--batch-size", type=int, help="override the preset's batch size")
    p.add_argument("--lr", type=float, help="override the preset's learning rate")
    p.add_argument("--out", type=Path, help="run folder (default runs/<preset>_<time>)")
    p.add_argument("--folds", type=int, help="run only the first K folds (tests, timing)")
    p.add_argument("--subjects", type=str, help="comma-separated subjects to use (default all)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-final", action="store_true", help="skip the deployment model.pt")
    add_logging_args(p, default="INFO")  # -q also hides the progress bars
    return p


def _eval_parser() -> argparse.ArgumentParser:
    p = parser(
        "cmt-train evaluate",
        "Score a saved model file on one subject of a SEED-V feature directory.",
    )
    p.add_argument("--model", required=True, type=Path, help="model file (.pt) from cmt-train")
    p.add_argument("--data", required=True, type=Path, help="SEED-V feature directory")
    p.add_argument("--subject", required=True, type=int, help="subject number to score")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    add_logging_args(p, default="INFO")
    return p


def _evaluate(argv: list[str]) -> int:
    from models.evaluate import evaluate_model

    args = _eval_parser().parse_args(argv)
    apply_logging(args)
    res = evaluate_model(args.model, args.data, args.subject, device=args.device)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    tag = "" if res["held_out"] else " (NOT held out: the model trained on this subject)"
    print(f"Model {args.model} on subject {args.subject}{tag}:")
    print(f"  trial accuracy {100 * res['trial_acc']:.2f}% over {res['n_trials']} trials")
    print(
        f"  EEG only {100 * res['trial_acc_eeg_only']:.2f}%, "
        f"eye only {100 * res['trial_acc_eye_only']:.2f}%"
    )
    for L, acc in res["streaming_acc"].items():
        print(f"  streaming L={L:>2}: {100 * acc:.2f}% over {res['n_windows']} windows")
    if res["spec_mismatches"]:
        print("  feature spec differs: " + "; ".join(res["spec_mismatches"]))
    return 0


def _train(argv: list[str]) -> int:
    args = _train_parser().parse_args(argv)
    apply_logging(args)

    import torch

    from models.seedv import load_seedv
    from models.train import TrainConfig, run_loso

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads {args.threads} is invalid; use >= 1.")
        torch.set_num_threads(args.threads)
    subjects = None
    if args.subjects:
        try:
            subjects = [int(s) for s in args.subjects.split(",") if s.strip()]
        except ValueError as err:
            raise ValueError(
                f"--subjects {args.subjects!r} is invalid; use comma-separated numbers, e.g. 1,2,3."
            ) from err
    cfg = TrainConfig.from_preset(
        args.preset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
    )
    out = args.out or Path("runs") / f"{args.preset}_{time.strftime('%Y%m%d-%H%M%S')}"
    data = load_seedv(args.data, subjects=subjects)
    print(data.summary(), file=sys.stderr)
    metrics = run_loso(
        data,
        out,
        cfg,
        folds_limit=args.folds,
        device=args.device,
        progress=args.log_level != "ERROR",
        final=not args.no_final,
        data_root=args.data,
    )
    s = metrics["summary"]
    acc = s["trial_acc"]
    done = f"{s['n_folds_done']}/{s['n_folds_total']} folds"
    print(
        f"LOSO trial accuracy {100 * acc['mean']:.2f}% ± {100 * acc['std']:.2f}% ({done}; "
        f"EEG only {100 * s['trial_acc_eeg_only']['mean']:.2f}%, "
        f"eye only {100 * s['trial_acc_eye_only']['mean']:.2f}%)"
    )
    print(
        "streaming: "
        + ", ".join(
            f"L={L} {100 * d['mean']:.1f}%"
            for L, d in sorted(s["streaming_acc"].items(), key=lambda kv: int(kv[0]))
        )
    )
    print(f"run folder: {out} (report.md, metrics.json, *.pt); {metrics['wall_s']:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``cmt-train``; returns the exit status."""
    from cmt_live.cli.errors import USER_ERRORS, one_line

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "evaluate":
            return _evaluate(argv[1:])
        return _train(argv)
    except USER_ERRORS as err:
        print(f"cmt-train: error: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "cmt-train: interrupted; rerun the same command to resume after the last "
            "finished fold.",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
