"""Real recordings through our readers: Neuroscan ``.cnt`` word size, EyeLink ``.asc`` gaze.

Usage::

    python bench/check_recording_formats.py FILE.cnt|FILE.asc [...]

Public test files (never commit them): ``CNT/scan41_short.cnt``,
``CNT/test_CNT_events_mne_JWoess_clipped.cnt`` and ``eyetrack/test_eyelink.asc`` of the GitHub
repository mne-tools/mne-testing-data.

For a ``.cnt``: what MNE's own word-size inference says, the smoothness ratio of each reading
(:func:`cmt_live.io.neuroscan.guess_data_format`), the reading chosen, its length and the
median channel RMS (µV; scalp EEG is ~5-100 µV). For an ``.asc``: samples, rate, valid
fraction, the px/deg used, gaze percentiles in degrees, the median over 4-s windows of a few of
our 33 eye features, and, when pandas is installed (``mne.io.read_raw_eyelink`` needs it), the
largest difference between our gaze and MNE's on the samples both read.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def check_cnt(path: Path) -> None:
    import mne

    from cmt_live.io.neuroscan import guess_data_format, read_cnt

    try:
        mne.io.read_raw_cnt(path, preload=False, verbose="error")
        mne_says = "reads it"
    except Exception as err:  # report whatever MNE raises
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        why = next((ln for ln in lines if "Could not" in ln), lines[-1] if lines else repr(err))
        mne_says = f"fails: {why[:110]}"
    try:
        fmt, ratios = guess_data_format(path)
    except ValueError as err:
        fmt, ratios = f"refused ({err})", {}
    t0 = time.perf_counter()
    raw = read_cnt(path)
    x = raw.get_data(picks="eeg", units="uV")
    dt = time.perf_counter() - t0
    rms = float(np.median(np.std(x, axis=1)))
    print(f"{path.name}: MNE auto {mne_says}")
    rounded = {k: round(v, 3) for k, v in ratios.items()}
    print(f"  smoothness {rounded} -> {fmt}")
    print(
        f"  {raw.n_times / raw.info['sfreq']:.1f} s, {len(raw.ch_names)} ch at "
        f"{raw.info['sfreq']:g} Hz, median channel RMS {rms:.1f} uV, read in {dt:.2f} s"
    )


def check_asc(path: Path) -> None:
    from cmt_live.io.eyelink import parse_asc, read_eyelink_asc
    from features.constants import EYE_FEATURE_NAMES
    from features.eye import eye_features_at

    t0 = time.perf_counter()
    s = read_eyelink_asc(path)
    dt = time.perf_counter() - t0
    p = parse_asc(path)
    ts, g = s.timestamps, s.data.astype(np.float64)
    valid = g[:, 4] > 0
    print(
        f"{path.name}: {len(ts)} samples, {ts[-1]:.1f} s, {p.rate:g} Hz, eyes {p.eyes}, "
        f"{valid.mean():.1%} valid, read in {dt:.2f} s"
    )
    print(
        f"  px/deg {np.mean(p.res, axis=0).round(2).tolist() if p.res else None}, screen "
        f"{p.screen_px}; gaze deg x 5/50/95% {np.nanpercentile(g[:, 0], [5, 50, 95]).round(2)}"
        f", y {np.nanpercentile(g[:, 1], [5, 50, 95]).round(2)}"
    )
    starts = np.arange(ts[0], ts[-1] - 4.0, 4.0)
    if p.href or not len(starts):
        print("  (HREF units, or shorter than one window: no features, no MNE comparison)")
        return
    eye = eye_features_at(ts, *g[:, :4].T, valid, starts, window_s=4.0)
    for name in (
        "saccade_frequency_hz",
        "fixation_duration_mean_ms",
        "blink_frequency_hz",
        "saccade_amplitude_mean_deg",
        "pupil1_mean",
    ):
        if name in EYE_FEATURE_NAMES:
            print(
                f"  median over {len(starts)} windows of {name}: "
                f"{np.median(eye[:, EYE_FEATURE_NAMES.index(name)]):.3g}"
            )
    try:
        import mne

        raw = mne.io.read_raw_eyelink(path, verbose="error")
    except (ImportError, RuntimeError) as err:
        print(f"  (MNE comparison skipped: {str(err).splitlines()[0][:80]})")
        return
    names = raw.ch_names
    xs = [raw.get_data(picks=[c])[0] for c in names if c.startswith("xpos")]
    x_mne = np.mean(xs, axis=0)
    # MNE puts sample k at first_samp + k on its own regular grid from the first sample.
    k = np.round((ts - ts[0]) * raw.info["sfreq"]).astype(int)
    ok = (k < len(x_mne)) & valid & np.isfinite(x_mne[np.clip(k, 0, len(x_mne) - 1)])
    ppd = np.mean(p.res, axis=0)[0]
    x_ours_px = g[ok, 0] * ppd + p.screen_px[0] / 2
    diff = np.abs(x_ours_px - x_mne[k[ok]])
    print(
        f"  vs mne.io.read_raw_eyelink: {ok.sum()} samples compared, max |x difference| "
        f"{diff.max():.3g} px"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    args = ap.parse_args(argv)
    for path in args.files:
        if path.suffix.lower() == ".cnt":
            check_cnt(path)
        elif path.suffix.lower() == ".asc":
            check_asc(path)
        else:
            print(f"{path}: not a .cnt or .asc file; skipped.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
