"""Simulator figures: generation speed, and how hard cross-subject transfer is on its data.

Usage::

    python bench/bench_sim.py                      # speed only (1 h of EEG and gaze)
    python bench/bench_sim.py --loso 8 --trial-scale 0.15

``--loso N`` simulates N subjects through features/ (as ``cmt-sim dataset``) and reports
leave-one-subject-out accuracy of a logistic regression on EEG DE features (and EEG + eye),
once on the raw features (normalised with the training subjects' statistics) and once with
per-subject z-scoring; chance is 20 %.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def bench_speed(duration_s: float) -> None:
    from cmt_live.sim.session import SessionSimulator

    sim = SessionSimulator(1, 0)
    t0 = time.perf_counter()
    for _ in range(int(duration_s / 10)):
        sim.eeg(2000)
    t_eeg = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.gaze_until(duration_s)
    t_gaze = time.perf_counter() - t0
    print(
        f"EEG 62 ch x 200 Hz: {duration_s:.0f} s simulated in {t_eeg:.1f} s "
        f"({duration_s / t_eeg:.0f}x real time)"
    )
    print(
        f"Gaze 120 Hz: {duration_s:.0f} s simulated in {t_gaze:.1f} s "
        f"({duration_s / t_gaze:.0f}x real time)"
    )


def bench_loso(n_subjects: int, trial_scale: float) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from cmt_live.sim.dataset import simulate_subject

    t0 = time.perf_counter()
    eeg, eye, y, g = [], [], [], []
    for s in range(1, n_subjects + 1):
        for tr in simulate_subject(s, trial_scale=trial_scale):
            eeg.append(tr.eeg)
            eye.append(tr.eye)
            y += [tr.label] * tr.n_windows
            g += [s] * tr.n_windows
    print(
        f"simulated {n_subjects} subjects at trial scale {trial_scale} "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    y, g = np.asarray(y), np.asarray(g)
    sets = {"EEG": np.vstack(eeg), "EEG+eye": np.hstack([np.vstack(eeg), np.vstack(eye)])}
    for name, x in sets.items():
        x = np.nan_to_num(x)
        xz = x.copy()
        for s in np.unique(g):
            m = g == s
            xz[m] = (x[m] - x[m].mean(0)) / (x[m].std(0) + 1e-9)
        for norm, xx in (("train-subject stats", x), ("per-subject z-score", xz)):
            acc = []
            for s in np.unique(g):
                clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=500))
                clf.fit(xx[g != s], y[g != s])
                acc.append(clf.score(xx[g == s], y[g == s]))
            print(
                f"LOSO logistic regression, {name:7s}, {norm}: "
                f"{100 * np.mean(acc):.1f} % +- {100 * np.std(acc):.1f} (chance 20 %)"
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=3600.0, help="seconds for the speed test")
    p.add_argument("--loso", type=int, default=0, metavar="N", help="subjects for LOSO (0: skip)")
    p.add_argument("--trial-scale", type=float, default=0.15)
    args = p.parse_args()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        bench_speed(args.duration)
        if args.loso:
            bench_loso(args.loso, args.trial_scale)


if __name__ == "__main__":
    main()
