"""``cmt-train``: cross-validated training on SEED-V features, and scoring a saved model.

Usage::

    cmt-train --data DIR [--config run.toml] [--preset seed|small|tiny] [--protocol P]
              [--seeds 0,1,2] [--modalities both,eeg,eye] [--jobs N | --ray [ADDRESS]]
              [--out RUN_DIR] [--folds K] [--device auto] ...
    cmt-train evaluate --model RUN_DIR/model.pt --data DIR --subject N [--device auto] [--json]

The first form trains one model per fold of the protocol (default: leave one subject out), a
deployment model ``model.pt`` (LOSO), and writes ``report.md`` / ``metrics.json`` / figures /
per-fold CSV logs and the resolved ``config.toml`` into ``RUN_DIR``; rerunning with the same
``--out`` resumes after the last finished fold.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from cmt_live.cli.common import add_logging_args, apply_logging, parser

PRESETS = ("seed", "small", "tiny")
PROTOCOLS = ("loso", "cross-session", "subject-dependent")

logger = logging.getLogger("cmt_live")


def _train_parser() -> argparse.ArgumentParser:
    p = parser(
        "cmt-train",
        "Cross-validated training of the cross-modal transformer on a SEED-V feature "
        "directory (EEG_DE_features/, Eye_movement_features/). "
        "Use 'cmt-train evaluate --help' to score a saved model.",
    )
    p.add_argument("--data", required=True, type=Path, help="SEED-V feature directory")
    p.add_argument(
        "--config",
        type=Path,
        help="TOML settings file ([train], [model], [run]); flags override it",
    )
    p.add_argument(
        "--preset",
        choices=PRESETS,
        help="seed = the seed repository's published config (d_model 512, 50 epochs; GPU); "
        "small = CPU-sized; tiny = tests (default: seed with CUDA, small without)",
    )
    p.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        help="loso = leave one subject out (default); cross-session = per subject, train on "
        "two sessions and test on the third; subject-dependent = SEED-V's three folds of "
        "trials 1-5 / 6-10 / 11-15 of each session",
    )
    p.add_argument("--seeds", type=str, help="comma-separated run seeds, e.g. 0,1,2")
    p.add_argument("--seed", type=int, help="one run seed (default 0)")
    p.add_argument(
        "--modalities",
        type=str,
        help="models to train per fold: both (EEG + eye), eeg, eye; comma-separated (default both)",
    )
    p.add_argument("--epochs", type=int, help="override the preset's epochs")
    p.add_argument("--batch-size", type=int, help="override the preset's batch size")
    p.add_argument("--lr", type=float, help="override the preset's learning rate")
    p.add_argument("--out", type=Path, help="run folder (default runs/<preset>_<time>)")
    p.add_argument("--folds", type=int, help="run only the first K folds (tests, timing)")
    p.add_argument("--subjects", type=str, help="comma-separated subjects to use (default all)")
    p.add_argument("--device", help="auto (CUDA if present), cpu, cuda, cuda:N (default auto)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-final", action="store_true", help="skip the deployment model.pt")
    p.add_argument("--no-baseline", action="store_true", help="skip the scikit-learn baseline")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--jobs",
        type=int,
        help="run folds in a pool of N local worker processes, cores/N torch threads each (no Ray)",
    )
    where.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run each fold as a Ray task; no ADDRESS starts a local Ray on this machine, "
        "'auto' or HOST:PORT joins a running cluster (pip install 'cmt-live[cluster]')",
    )
    p.add_argument(
        "--cpus-per-fold", type=float, help="CPU cores per fold (Ray) and its torch threads"
    )
    p.add_argument("--gpus-per-fold", type=float, help="GPUs per fold (Ray; default 0)")
    p.add_argument("--retries", type=int, help="retries of a fold that fails (default 2)")
    add_logging_args(p, default="INFO")  # -q also hides the progress
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


def _ints(text: str, flag: str) -> list[int]:
    try:
        return [int(x) for x in str(text).split(",") if x.strip()]
    except ValueError as err:
        raise ValueError(
            f"{flag} {text!r} is invalid; use comma-separated numbers, e.g. 1,2,3."
        ) from err


def _resolve(args) -> tuple[dict, str]:
    """The run's settings: preset, then the --config file, then the flags.

    Returns the settings ({"train", "model", "run"}) and a note on how the preset was chosen.
    """
    import torch

    from models.train.settings import load_settings

    file = load_settings(args.config) if args.config else {"train": {}, "model": {}, "run": {}}
    train = dict(file["train"])
    run = dict(file["run"])
    note = ""
    preset = args.preset or train.pop("preset", None)
    train.pop("preset", None)
    if preset is None:
        preset = "seed" if torch.cuda.is_available() else "small"
        note = (
            "no --preset: CUDA found, preset seed"
            if preset == "seed"
            else "no --preset and no CUDA: preset small (the seed preset is sized for a GPU; "
            "--preset seed forces it)"
        )
    for key, flag in (("epochs", args.epochs), ("batch_size", args.batch_size), ("lr", args.lr)):
        if flag is not None:
            train[key] = flag
    flags = {
        "protocol": args.protocol,
        "seeds": _ints(args.seeds, "--seeds") if args.seeds else None,
        "modalities": [m.strip() for m in args.modalities.split(",")] if args.modalities else None,
        "device": args.device,
        "out": str(args.out) if args.out else None,
        "folds": args.folds,
        "subjects": _ints(args.subjects, "--subjects") if args.subjects else None,
        "threads": args.threads,
        "final": False if args.no_final else None,
        "baseline": False if args.no_baseline else None,
        "jobs": args.jobs,
        "ray": args.ray,
        "cpus_per_fold": args.cpus_per_fold,
        "gpus_per_fold": args.gpus_per_fold,
        "retries": args.retries,
    }
    if args.jobs is not None:
        run.pop("ray", None)
    if args.ray is not None:
        run.pop("jobs", None)
    run.update({k: v for k, v in flags.items() if v is not None})
    if args.seed is not None:
        if args.seeds:
            raise ValueError("--seed and --seeds both given; use one (--seeds 0,1,2).")
        run["seeds"] = [args.seed]
    run.setdefault("protocol", "loso")
    run.setdefault("seeds", [int(train.get("seed", 0))])
    run.setdefault("modalities", ["both"])
    run.setdefault("device", "auto")
    train["seed"] = run["seeds"][0]
    train["preset"] = preset
    return {"train": train, "model": dict(file["model"]), "run": run}, note


def _runner_spec(run: dict):
    from models.train import RunnerSpec

    if run.get("ray") is not None and run.get("jobs") is not None:
        raise ValueError("jobs and ray are both set; run on one (--jobs N or --ray).")
    kind = "ray" if run.get("ray") is not None else "jobs" if run.get("jobs") else "local"
    address = run.get("ray")
    return RunnerSpec(
        kind=kind,
        jobs=int(run.get("jobs") or 1),
        ray_address=None if address in (None, "local") else address,
        cpus_per_fold=run.get("cpus_per_fold"),
        gpus_per_fold=float(run.get("gpus_per_fold") or 0.0),
        retries=int(run["retries"]) if run.get("retries") is not None else 2,
    )


def _warn_seed_on_cpu(model_config, cfg, data, run: dict, n_tasks: int) -> None:
    from models.device import resolve_device
    from models.train.estimate import estimate_run_s

    if cfg.preset != "seed" or resolve_device(run["device"]).type != "cpu":
        return
    per_subject = len(data.trials) / max(len(data.subjects), 1)
    n_train = int(per_subject * max(len(data.subjects) - 3, 1))
    hours = estimate_run_s(model_config, cfg, n_train, n_tasks) / 3600
    logger.warning(
        "The seed preset (d_model %d, %d epochs) on a CPU: about %.1f h of training for %d "
        "folds on this machine (measured steps; fewer with --jobs/--ray). Use --preset small "
        "on a CPU, or a GPU.",
        model_config.d_model,
        cfg.epochs,
        hours,
        n_tasks,
    )


def _train(argv: list[str]) -> int:
    args = _train_parser().parse_args(argv)
    apply_logging(args)

    import torch

    from models import ModelConfig
    from models.seedv import load_seedv
    from models.train import TrainConfig, run_cv
    from models.train.run import plan_tasks
    from models.train.settings import dump_settings

    settings, note = _resolve(args)
    if note:
        logger.info(note)
    run = settings["run"]
    if run.get("threads") is not None:
        if run["threads"] < 1:
            raise ValueError(f"--threads {run['threads']} is invalid; use >= 1.")
        torch.set_num_threads(int(run["threads"]))
    train = dict(settings["train"])
    cfg = TrainConfig.from_preset(train.pop("preset"), **train)
    model_config = ModelConfig.preset(cfg.preset, **settings["model"])
    settings["train"] = cfg.to_dict()
    settings["model"] = {k: v for k, v in model_config.to_dict().items() if k != "n_domains"}
    runner = _runner_spec(run)
    out = Path(run.get("out") or Path("runs") / f"{cfg.preset}_{time.strftime('%Y%m%d-%H%M%S')}")
    run["out"] = str(out)
    data = load_seedv(args.data, subjects=run.get("subjects"))
    print(data.summary(), file=sys.stderr)
    n_tasks = len(
        plan_tasks(
            data.trials, run["protocol"], cfg, run["seeds"], run["modalities"], run.get("folds")
        )[0]
    )
    _warn_seed_on_cpu(model_config, cfg, data, run, n_tasks)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.toml").write_text(dump_settings(settings))
    metrics = run_cv(
        data,
        out,
        cfg,
        model_config=model_config,
        protocol=run["protocol"],
        seeds=run["seeds"],
        modalities=run["modalities"],
        runner=runner,
        folds_limit=run.get("folds"),
        device=run["device"],
        progress=args.log_level != "ERROR",
        final=run.get("final", True),
        baseline=run.get("baseline", True),
        data_root=args.data,
        settings=settings,
    )
    s = metrics["summary"]
    acc = s["trial_acc"]
    done = f"{s['n_folds_done']}/{s['n_folds_total']} folds"
    label = "LOSO" if run["protocol"] == "loso" else run["protocol"]
    print(
        f"{label} trial accuracy {100 * acc['mean']:.2f}% ± {100 * acc['std']:.2f}% ({done}; "
        f"window {100 * s['window_acc']['mean']:.2f}%; masked inputs: "
        f"EEG only {100 * s['trial_acc_eeg_only']['mean']:.2f}%, "
        f"eye only {100 * s['trial_acc_eye_only']['mean']:.2f}%)"
        if s["trial_acc_eeg_only"]["mean"] is not None
        else f"{label} trial accuracy {100 * acc['mean']:.2f}% ± {100 * acc['std']:.2f}% "
        f"({done}; window {100 * s['window_acc']['mean']:.2f}%)"
    )
    base = metrics["statistics"].get("baseline")
    if base:
        b = base["across_seeds"]["trial_acc"]["mean"]
        print(f"baseline (logistic regression, EEG + eye) trial accuracy {100 * b:.2f}%")
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
    from cmt_live.cli.errors import EXIT_INTERRUPTED, USER_ERRORS, one_line

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "evaluate":
            return _evaluate(argv[1:])
        return _train(argv)
    except USER_ERRORS as err:
        print(f"cmt-train: error: {one_line(err)}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        from models.train.runners import FoldFailed

        if not isinstance(err, FoldFailed):
            raise
        print(f"cmt-train: error: {one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "cmt-train: interrupted; rerun the same command to resume after the last "
            "finished fold.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
