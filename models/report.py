"""Run-folder reports: ``metrics.json``, ``report.md`` and the figures (matplotlib, Agg).

Everything here reads the metrics dict that :func:`models.train.run_loso` builds; nothing
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


def render_markdown(metrics: dict) -> str:
    """The text of ``report.md``."""
    s = metrics["summary"]
    data = metrics["data"]
    tc = metrics["train_config"]
    mc = metrics["model_config"]
    folds = metrics["folds"]
    lines = ["# LOSO training report", ""]
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
        "Protocol: leave one subject out; validation = whole subjects drawn from the training "
        "subjects; normalisation fitted on the training subjects only; the best-on-validation "
        "epoch is kept and the held-out subject is scored once.",
        "",
        "## Trial-level accuracy (one prediction per trial, padded to max_len)",
        "",
        "| fold | test subject | val subjects | best epoch | val acc | test acc | EEG only "
        "| eye only | model |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in folds:
        t = r["test"]
        lines.append(
            f"| {r['fold']} | {r['test_subject']} | {', '.join(map(str, r['val_subjects']))} | "
            f"{r['best_epoch']} | {_pct(r['best_val_acc'])} | {_pct(t['trial_acc'])} | "
            f"{_pct(t.get('trial_acc_eeg_only'))} | {_pct(t.get('trial_acc_eye_only'))} | "
            f"`{r['model_file']}` |"
        )
    lines += [
        "",
        f"**LOSO accuracy: {_pm(s['trial_acc'])}** (mean ± population std over "
        f"{s['n_folds_done']} subjects; chance {100 * s['chance']:.0f}%). EEG only: "
        f"{_pm(s['trial_acc_eeg_only'])}; eye only: {_pm(s['trial_acc_eye_only'])}.",
        "",
        "## Streaming accuracy vs context length L",
        "",
        "For every window t of every held-out trial, one prediction from the causal context of "
        "the last L windows (fewer at the start of a trial), as the live monitor sees it; "
        "accuracy over all windows.",
        "",
        "| L (windows) | L (seconds) | accuracy (mean ± std over subjects) |",
        "|---:|---:|---:|",
    ]
    window_s = float(metrics["feature_spec"].get("window_s", 4.0))
    for L, d in sorted(s["streaming_acc"].items(), key=lambda kv: int(kv[0])):
        lines.append(f"| {L} | {int(L) * window_s:g} | {_pm(d)} |")
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
        lines.append("Not trained (it is trained once every fold is done).")
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
