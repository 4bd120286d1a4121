"""Run-folder reports: ``metrics.json``, ``report.md`` and the figures (matplotlib, Agg).

Everything here reads the metrics dict that :func:`models.train.run_cv` builds; nothing
is recomputed, so the report says exactly what the run measured.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from features.seedv import CLASS_NAMES


def _pct(x) -> str:
    return "n/a" if x is None else f"{100.0 * float(x):.2f}%"


def _pm(d: dict) -> str:
    if d is None or d.get("mean") is None:
        return "n/a"
    return f"{100.0 * d['mean']:.2f}% ± {100.0 * d['std']:.2f}%"


def _pm_plain(d: dict) -> str:
    # macro-F1 and kappa are fractions, printed as such
    if d is None or d.get("mean") is None:
        return "n/a"
    if d.get("std") is None:
        return f"{d['mean']:.3f}"
    return f"{d['mean']:.3f} ± {d['std']:.3f}"


PROTOCOL_TITLES = {
    "loso": "leave one subject out",
    "cross-session": "cross-session, within subject",
    "subject-dependent": "subject-dependent, SEED-V three folds",
}

PROTOCOL_TEXT = {
    "loso": "Protocol: leave one subject out; validation = whole subjects drawn from the "
    "training subjects; normalisation fitted on the training subjects only; the "
    "best-on-validation epoch is kept and the held-out subject is scored once.",
    "cross-session": "Protocol: cross-session within each subject: train on two sessions of "
    "a subject, test on the third (3 folds per subject); validation = trials drawn from the "
    "training sessions (one per emotion); normalisation fitted on the training trials only.",
    "subject-dependent": "Protocol: SEED-V's subject-dependent three-fold cross-validation "
    "(Liu et al. 2021): each session's trials 1-5, 6-10 and 11-15 form parts 1-3, the same "
    "part of the three sessions is one fold; train on two parts, test on the third; "
    "validation = trials drawn from the training parts (one per emotion).",
}

MODALITY_NAMES = {
    "both": "EEG + eye",
    "eeg": "EEG-only model (trained on EEG alone)",
    "eye": "eye-only model (trained on eye features alone)",
}

#: Rows of the summary table: (kind in metrics["statistics"], label).
KIND_LABELS = (
    ("transformer", "transformer, EEG + eye"),
    ("transformer_eeg", "transformer trained on EEG only"),
    ("transformer_eye", "transformer trained on eye only"),
    ("baseline", "logistic regression, EEG + eye"),
    ("baseline_eeg", "logistic regression, EEG only"),
    ("baseline_eye", "logistic regression, eye only"),
)


def _part_text(protocol: str, part) -> str:
    if protocol == "cross-session":
        return f"session {part}"
    return f"trials {5 * (int(part) - 1) + 1}-{5 * int(part)} of each session"


def _runner_text(runner: dict | None) -> str:
    if not runner or runner.get("kind", "local") == "local":
        return "this process"
    if runner["kind"] == "jobs":
        return f"{runner['jobs']} local processes"
    where = runner.get("ray_address") or "a local Ray"
    return (
        f"Ray ({where}; {runner.get('cpus_per_fold') or 1} CPU, "
        f"{runner.get('gpus_per_fold') or 0} GPU per fold)"
    )


def _one(x) -> dict:
    # One seed: a pooled statistic has no spread to show.
    return {"mean": x, "std": None}


def _p(p) -> str:
    return "n/a" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def _retries_section(metrics: dict) -> list[str]:
    retries = metrics.get("retries") or {}
    if not retries:
        return []
    return (
        ["## Retried folds", ""]
        + [f"- `{name}` failed and was retried {n} time(s)." for name, n in retries.items()]
        + [""]
    )


def _statistics_sections(metrics: dict) -> list[str]:
    """Summary over seeds, per-class scores, per-subject table with the binomial test."""
    st = metrics.get("statistics") or {}
    if not st:
        return []
    seeds = metrics.get("seeds") or []
    chance = metrics["summary"]["chance"]
    lines = [
        "## Summary (all models, same folds)",
        "",
        (
            f"Mean ± population std over {len(seeds)} seeds of each seed's mean over subjects"
            if len(seeds) > 1
            else "One seed: mean ± population std over subjects (run --seeds 0,1,2 for the "
            "spread over seeds)"
        )
        + ". Macro-F1 and Cohen's κ from the trial-level confusion pooled over all folds of a "
        f"seed. Chance {100 * chance:.0f}%. Subjects above chance: one-sided binomial test of "
        "the subject's correct trials against chance, p < 0.05.",
        "",
        "| model | trial acc | window acc | macro-F1 | κ | subjects above chance |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, label in KIND_LABELS:
        if kind not in st:
            continue
        first = next(iter(st[kind]["per_seed"].values()))
        a = st[kind]["across_seeds"] if len(seeds) > 1 else first
        if len(seeds) == 1:
            a = {**a, "macro_f1": _one(a["stats"]["macro_f1"]), "kappa": _one(a["stats"]["kappa"])}
        lines.append(
            f"| {label} | {_pm(a['trial_acc'])} | {_pm(a['window_acc'])} | "
            f"{_pm_plain(a['macro_f1'])} | {_pm_plain(a['kappa'])} | "
            f"{first['n_significant']}/{len(first['subjects'])} (seed {seeds[0]}) |"
        )
    lines += [
        "",
        'The transformer rows "trained on EEG/eye only" are separate models that never saw '
        'the other modality; the "masked" figures in the fold table below are the fused '
        "model with one input masked out at test time (ablations).",
        "",
    ]
    main = st.get("transformer") or next(iter(st.values()))
    first_seed, summ = next(iter(main["per_seed"].items()))
    names = list(CLASS_NAMES)
    lines += [
        f"### Per-class precision and recall (trial level, seed {first_seed})",
        "",
        "| model | " + " | ".join(f"{n} P / R" for n in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for kind, label in KIND_LABELS:
        if kind not in st:
            continue
        stats = st[kind]["per_seed"][first_seed]["stats"]
        cells = [f"{_pct(p)} / {_pct(r)}" for p, r in zip(stats["precision"], stats["recall"])]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    base = (st.get("baseline") or {}).get("per_seed", {}).get(first_seed)
    base_by = {r["subject"]: r for r in (base or {}).get("subjects", [])}
    lines += [
        "",
        f"### Per subject (seed {first_seed}, transformer)",
        "",
        "Pooled over the subject's folds. p: one-sided binomial test of the correct trials "
        f"against chance ({100 * chance:.0f}%).",
        "",
        "| subject | trials | trial acc | p (vs chance) | window acc | baseline trial acc "
        "| baseline window acc |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in summ["subjects"]:
        b = base_by.get(r["subject"], {})
        lines.append(
            f"| {r['subject']} | {r['n_trials']} | {_pct(r['trial_acc'])} | {_p(r['p_chance'])} "
            f"| {_pct(r.get('window_acc'))} | {_pct(b.get('trial_acc'))} | "
            f"{_pct(b.get('window_acc'))} |"
        )
    lines.append("")
    return lines


def _per_subject_streaming(metrics: dict, window_s: float) -> list[str]:
    st = (metrics.get("statistics") or {}).get("transformer")
    if not st:
        return []
    seed, summ = next(iter(st["per_seed"].items()))
    rows = summ["subjects"]
    lengths = sorted({int(k) for r in rows for k in r.get("streaming_acc", {})})
    if not lengths:
        return []
    lines = [
        "",
        f"### Streaming accuracy per subject (seed {seed}, pooled over the subject's folds)",
        "",
        "| subject | " + " | ".join(f"L={L} ({L * window_s:g} s)" for L in lengths) + " |",
        "|---:|" + "---:|" * len(lengths),
    ]
    for r in rows:
        lines.append(
            f"| {r['subject']} | "
            + " | ".join(_pct(r["streaming_acc"].get(str(L))) for L in lengths)
            + " |"
        )
    return lines


def render_markdown(metrics: dict) -> str:
    """The text of ``report.md``."""
    s = metrics["summary"]
    data = metrics["data"]
    tc = metrics["train_config"]
    mc = metrics["model_config"]
    folds = metrics["folds"]
    protocol = metrics.get("protocol", "loso")
    lines = [f"# Training report ({PROTOCOL_TITLES.get(protocol, protocol)})", ""]
    if not s["complete"]:
        lines += [
            f"**Partial run: {s['n_folds_done']} of {s['n_folds_total']} folds.** The figures "
            "below cover only the folds done; rerun without --folds to finish (finished folds "
            "are skipped).",
            "",
        ]
    lines += [
        f"- Data: `{data['root']}`, {len(data['subjects'])} subjects, {data['n_trials']} trials, "
        f"{data['n_windows']} windows; fingerprint `sha256:{data['fingerprint'][:16]}`.",
        f"- Data issues found on load: {len(data['issues'])}"
        + ("" if not data["issues"] else " (listed at the end)."),
        f"- Feature spec: {metrics['feature_spec_source']}.",
        f"- Preset `{tc['preset']}`: {tc['epochs']} epochs, batch {tc['batch_size']}, lr "
        f"{tc['lr']}, weight decay {tc['weight_decay']}, domain weight {tc['domain_weight']}, "
        f"modality dropout EEG {tc['p_drop_eeg']} / eye {tc['p_drop_eye']}, seed {tc['seed']}.",
        f"- Model: d_model {mc.get('d_model')}, {mc.get('n_heads')} heads, "
        f"{mc.get('n_layers')} layers, variant `{mc.get('variant')}`, max_len "
        f"{mc.get('max_len')}.",
        f"- Device `{metrics['device']}`; fold training time {s['fold_wall_s']:.0f} s; "
        f"cmt-live {metrics['cmt_live_version']}.",
        "",
        PROTOCOL_TEXT.get(protocol, ""),
        "",
        f"Seeds: {', '.join(map(str, metrics.get('seeds', [tc['seed']])))}; models trained: "
        + ", ".join(MODALITY_NAMES[m] for m in metrics.get("modalities", ["both"]))
        + f"; runner: {_runner_text(metrics.get('runner'))}.",
        "",
    ]
    lines += _retries_section(metrics)
    lines += _statistics_sections(metrics)
    lines += [
        f"## Folds of seed {metrics.get('seeds', [tc['seed']])[0]} "
        f"({MODALITY_NAMES[(metrics.get('modalities') or ['both'])[0]]})",
        "",
        "Trial level: one prediction per trial from its first max_len windows. Window level: "
        "each window classified alone. EEG masked / eye masked: the fused model scored with "
        "that modality's input masked out (a masked-input ablation, not a model trained "
        "without it).",
        "",
        "| fold | test subject | held out | validation | best epoch | val acc | trial acc "
        "| window acc | eye masked | EEG masked | model |",
        "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in folds:
        t = r["test"]
        held = "all trials" if r.get("part") is None else _part_text(protocol, r["part"])
        val = (
            f"subjects {', '.join(map(str, r['val_subjects']))}"
            if not r.get("val_trials")
            else f"{len(r['val_trials'])} trials"
        )
        lines.append(
            f"| {r['fold']} | {r['test_subject']} | {held} | {val} | "
            f"{r['best_epoch']} | {_pct(r['best_val_acc'])} | {_pct(t['trial_acc'])} | "
            f"{_pct(t.get('window_acc'))} | "
            f"{_pct(t.get('trial_acc_eeg_only'))} | {_pct(t.get('trial_acc_eye_only'))} | "
            f"`{r['model_file']}` |"
        )
    lines += [
        "",
        f"**Trial accuracy: {_pm(s['trial_acc'])}** (mean ± population std over "
        f"{s['n_folds_done']} folds; chance {100 * s['chance']:.0f}%). Masked-input "
        f"ablations of the fused model: eye masked (EEG input only) "
        f"{_pm(s['trial_acc_eeg_only'])}; EEG masked (eye input only) "
        f"{_pm(s['trial_acc_eye_only'])}.",
        "",
        "## Streaming accuracy vs context length L",
        "",
        "For every window t of every held-out trial, one prediction from the causal context of "
        "the last L windows (fewer at the start of a trial), as the live monitor sees it; "
        "accuracy over all windows.",
        "",
        "| L (windows) | L (seconds) | accuracy (mean ± std over folds) |",
        "|---:|---:|---:|",
    ]
    window_s = float(metrics["feature_spec"].get("window_s", 4.0))
    for L, d in sorted(s["streaming_acc"].items(), key=lambda kv: int(kv[0])):
        lines.append(f"| {L} | {int(L) * window_s:g} | {_pm(d)} |")
    lines += _per_subject_streaming(metrics, window_s)
    lines += ["", "## Confusion matrix (trial level, all folds; rows true, columns predicted)", ""]
    conf = np.asarray(s["confusion"], dtype=int)
    names = list(CLASS_NAMES)[: conf.shape[0]]
    lines.append("| true \\ pred | " + " | ".join(names) + " | recall |")
    lines.append("|---|" + "---:|" * (len(names) + 1))
    for i, name in enumerate(names):
        n = conf[i].sum()
        rec = conf[i, i] / n if n else float("nan")
        lines.append(f"| {name} | " + " | ".join(str(v) for v in conf[i]) + f" | {_pct(rec)} |")
    dep = metrics.get("deployment")
    lines += ["", "## Deployment model", ""]
    if dep:
        lines += [
            f"`{dep['model_file']}` trained on subjects "
            f"{', '.join(map(str, dep['train_subjects']))} for {dep['epochs']} epochs (the "
            "median best epoch of the folds), keeping the best epoch on validation subjects "
            f"{', '.join(map(str, dep['val_subjects']))} (epoch {dep['best_epoch']}, "
            f"validation accuracy {_pct(dep['val_acc'])}; not a test score). Its expected "
            f"accuracy on a new subject is the LOSO estimate above.",
        ]
    else:
        lines.append(
            "Not trained (it is trained for LOSO runs once every fold is done, unless --no-final)."
        )
    lines += [
        "",
        "## Figures",
        "",
        "![confusion](confusion_matrix.png) ![per subject](per_subject.png) ![curves](curves.png)",
    ]
    if data["issues"]:
        lines += ["", "## Data issues", ""] + [f"- {m}" for m in data["issues"]]
    return "\n".join(lines) + "\n"


def plot_confusion(conf: np.ndarray, path: Path) -> None:
    """Row-normalised confusion matrix with counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conf = np.asarray(conf, dtype=float)
    rows = conf.sum(axis=1, keepdims=True)
    norm = np.divide(conf, rows, out=np.zeros_like(conf), where=rows > 0)
    names = list(CLASS_NAMES)[: conf.shape[0]]
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    im = ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
    for i in range(conf.shape[0]):
        for j in range(conf.shape[1]):
            ax.text(
                j,
                i,
                f"{norm[i, j]:.2f}\n({int(conf[i, j])})",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if norm[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(len(names)), names, rotation=30)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Trial-level confusion (all LOSO folds)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_per_subject(metrics: dict, path: Path) -> None:
    """Test accuracy per held-out subject, with the mean and chance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folds = metrics["folds"]
    subj = [str(r["test_subject"]) for r in folds]
    acc = [100 * r["test"]["trial_acc"] for r in folds]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(subj) + 2), 3.5))
    ax.bar(subj, acc, color="tab:blue")
    if acc:
        ax.axhline(np.mean(acc), color="k", lw=1, label=f"mean {np.mean(acc):.1f}%")
    ax.axhline(100 * metrics["summary"]["chance"], color="r", ls="--", lw=1, label="chance")
    ax.set_ylim(0, 100)
    ax.set_xlabel("held-out subject")
    ax.set_ylabel("trial accuracy (%)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(metrics: dict, path: Path) -> None:
    """Training loss and validation accuracy per epoch, one line per fold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    for r in metrics["folds"]:
        ep = [h["epoch"] for h in r["history"]]
        lab = f"S{r['test_subject']}"
        ax1.plot(ep, [h["train_loss"] for h in r["history"]], lw=1, label=lab)
        ax2.plot(ep, [100 * h["val_acc"] for h in r["history"]], lw=1, label=lab)
        ax2.plot(r["best_epoch"], 100 * r["best_val_acc"], "k.", ms=4)
    from matplotlib.ticker import MaxNLocator

    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss (CE + w·domain)")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation trial accuracy (%)")
    ax2.set_ylim(0, 100)
    if len(metrics["folds"]) <= 16:
        ax2.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(out_dir: str | Path, metrics: dict) -> list[Path]:
    """Write ``metrics.json``, ``report.md``, ``confusion_matrix.png``, ``per_subject.png``,
    ``curves.png`` into ``out_dir``; return their paths."""
    out = Path(out_dir)
    paths = [
        out / "metrics.json",
        out / "report.md",
        out / "confusion_matrix.png",
        out / "per_subject.png",
        out / "curves.png",
    ]
    paths[0].write_text(json.dumps(metrics, indent=2))
    paths[1].write_text(render_markdown(metrics))
    plot_confusion(np.asarray(metrics["summary"]["confusion"]), paths[2])
    plot_per_subject(metrics, paths[3])
    plot_curves(metrics, paths[4])
    return paths
