"""Our eye events against the EyeLink parser's own events in an EyeLink ``.asc`` file.

Usage::

    python bench/validate_eye_events.py FILE.asc [FILE2.asc ...]
    python bench/validate_eye_events.py --window-s 4 FILE.asc   # per 4-s window, as features

A public test recording: ``eyetrack/test_eyelink.asc`` of the GitHub repository
mne-tools/mne-testing-data (60 s, binocular EyeLink 1000 at 500 Hz). Never commit it.

For each eye the script reads the samples (gaze in pixels, or HREF units) and the tracker's
``EFIX`` / ``ESACC`` / ``EBLINK`` events, converts gaze to degrees with the angular resolution
the file gives on its ``END ... RES x y`` lines (pixels per degree; ``--px-per-deg`` when the
file has none), runs :func:`features.detect_events` on the whole recording of that eye
(invalid: a missing x or y, or a zero pupil) and prints:

- **saccade recall**: the fraction of EyeLink's saccades that one of ours matches, and
  **precision**: the fraction of ours that match one of EyeLink's. Matching: one to one,
  greedily by the longest overlap of the two events' time spans (EyeLink's span is its first
  to its last sample, widened by half a sample period on each side, as our events' spans
  are); any overlap counts. EyeLink brackets every blink with a saccade (the descending lid
  moves the pupil's image); those blink-bracketing saccades (an ``ESACC`` that overlaps an
  ``EBLINK`` of the same eye) are set aside, and so are our saccades that overlap one of them
  or an EyeLink blink;
- recall by EyeLink's saccade amplitude (< 1, 1-2, 2-5, >= 5 deg), and the median
  durations of the matched pairs;
- **median fixation duration**, ours against EyeLink's (every ``EFIX``), and the difference;
- **blink recall**: the fraction of EyeLink's blinks that one of our blinks overlaps.

Targets (issue 10): saccade recall >= 85 %, precision >= 90 %, median fixation within 15 %,
blink recall >= 85 %, on both eyes.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cmt_live.io.eyelink import parse_asc

TARGETS = {"recall": 0.85, "precision": 0.90, "fixation": 0.15, "blink": 0.85}
AMPLITUDE_BINS = ((0.0, 1.0), (1.0, 2.0), (2.0, 5.0), (5.0, np.inf))


@dataclass
class EyeData:
    """One eye's samples and EyeLink events. Times in ms (the tracker's clock)."""

    t_ms: np.ndarray
    x: np.ndarray
    y: np.ndarray
    pupil: np.ndarray
    fix: list  # (start_ms, end_ms)
    sacc: list  # (start_ms, end_ms, amplitude_deg)
    blink: list  # (start_ms, end_ms)


def read_asc(path: Path) -> tuple[dict[str, EyeData], float, tuple[float, float] | None]:
    """Samples and events per eye (``"L"``/``"R"``), the sampling rate (Hz) and ``RES``."""
    p = parse_asc(path)
    if not p.t_ms or not p.rate:
        raise ValueError(
            f"{path}: no EyeLink samples found (no SAMPLES line or no sample rows); pass an "
            "EyeLink .asc converted with samples and events (edf2asc without -e / -s)."
        )
    t, rows = np.asarray(p.t_ms, dtype=float), np.asarray(p.rows, dtype=float)
    eyes = {}
    for i, name in enumerate(p.eyes):
        ev = p.events.get(name[0], {})
        x, y, pupil = rows[:, 3 * i], rows[:, 3 * i + 1], rows[:, 3 * i + 2]
        eyes[name[0]] = EyeData(t, x, y, pupil, *(ev.get(k, []) for k in ("fix", "sacc", "blink")))
    res_xy = tuple(np.mean(p.res, axis=0)) if p.res else None
    return eyes, p.rate, res_xy


def _overlap(a_on, a_off, b_on, b_off) -> np.ndarray:
    """``(n_a, n_b)`` overlap durations of two sets of spans (<= 0: none)."""
    return np.minimum(a_off[:, None], b_off[None, :]) - np.maximum(a_on[:, None], b_on[None, :])


def match_one_to_one(ov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy one-to-one matching by the longest positive overlap.

    Returns, per side, the index of the matched event on the other side (-1: unmatched).
    """
    ma = np.full(ov.shape[0], -1)
    mb = np.full(ov.shape[1], -1)
    ii, jj = np.nonzero(ov > 0)
    for k in np.argsort(-ov[ii, jj], kind="stable"):
        i, j = ii[k], jj[k]
        if ma[i] < 0 and mb[j] < 0:
            ma[i], mb[j] = j, i
    return ma, mb


def detect_windowed(t, x, y, ok, window_s: float):
    """Events detected per window ``[t0 + k * window_s, ...)`` as the eye features do
    (``features.eye.eye_features``), concatenated; an event cut by an edge counts its parts."""
    from features.eye_events import EyeEvents, detect_in_range

    parts = []
    for lo in np.arange(t[0], t[-1], window_s):
        sl = slice(*np.searchsorted(t, [lo, lo + window_s]))
        parts.append(detect_in_range(t[sl], x[sl], y[sl], ok[sl], lo, lo + window_s)[0])
    return EyeEvents(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in EyeEvents.__dataclass_fields__)
    )


def validate_eye(
    d: EyeData, rate: float, px_per_deg: tuple[float, float], window_s: float | None = None
) -> dict:
    """Detect our events on one eye and compare them with EyeLink's; figures as a dict.

    ``window_s``: detect per window of that length (as the features do) instead of over the
    whole recording.
    """
    from features import detect_events

    t = np.asarray(d.t_ms) / 1e3
    x = np.asarray(d.x) / px_per_deg[0]
    y = -np.asarray(d.y) / px_per_deg[1]  # screen y points down; ours up
    pupil = np.asarray(d.pupil)
    ok = np.isfinite(x) & np.isfinite(y) & (np.nan_to_num(pupil) > 0)
    x, y = np.where(ok, x, np.nan), np.where(ok, y, np.nan)
    ev = detect_events(t, x, y, ok) if window_s is None else detect_windowed(t, x, y, ok, window_s)

    half = 0.5 / rate
    el_s = np.asarray(d.sacc, dtype=float).reshape(-1, 3)
    el_b = np.asarray(d.blink, dtype=float).reshape(-1, 2)
    s_on, s_off = el_s[:, 0] / 1e3 - half, el_s[:, 1] / 1e3 + half
    b_on, b_off = el_b[:, 0] / 1e3 - half, el_b[:, 1] / 1e3 + half
    bracket = (_overlap(s_on, s_off, b_on, b_off) > 0).any(axis=1)

    o_on, o_off = ev.saccade_onset_s, ev.saccade_offset_s
    near_blink = np.zeros(o_on.size, dtype=bool)
    if o_on.size:
        spans_on = np.concatenate([s_on[bracket], b_on])
        spans_off = np.concatenate([s_off[bracket], b_off])
        near_blink = (_overlap(o_on, o_off, spans_on, spans_off) > 0).any(axis=1)
    keep_el, keep_ours = ~bracket, ~near_blink
    pair_el, pair_ours = match_one_to_one(
        _overlap(s_on[keep_el], s_off[keep_el], o_on[keep_ours], o_off[keep_ours])
    )
    m_el, m_ours = pair_el >= 0, pair_ours >= 0
    # Durations of matched pairs: EyeLink's first to last sample plus one period, as ours.
    el_ms = (s_off - s_on)[keep_el][m_el] * 1e3
    ours_ms = ev.saccade_duration_ms[keep_ours][pair_el[m_el]]
    amp = el_s[keep_el, 2]
    by_amp = []
    for lo, hi in AMPLITUDE_BINS:
        sel = (amp >= lo) & (amp < hi)
        by_amp.append((int(m_el[sel].sum()), int(sel.sum())))

    el_fix_ms = np.asarray([e - s + 1e3 / rate for s, e in d.fix])
    blink_hit = (_overlap(b_on, b_off, ev.blink_onset_s, ev.blink_offset_s) > 0).any(axis=1)
    med_el = float(np.median(el_fix_ms)) if el_fix_ms.size else float("nan")
    med_ours = float(np.median(ev.fixation_duration_ms)) if ev.n_fixations else float("nan")
    return {
        "n_el_sacc": int(keep_el.sum()),
        "n_el_bracket": int(bracket.sum()),
        "n_ours_sacc": int(keep_ours.sum()),
        "recall": m_el.mean() if m_el.size else float("nan"),
        "precision": m_ours.mean() if m_ours.size else float("nan"),
        "by_amp": by_amp,
        "sacc_ms": (float(np.median(ours_ms)), float(np.median(el_ms))) if el_ms.size else None,
        "n_el_fix": int(el_fix_ms.size),
        "n_ours_fix": ev.n_fixations,
        "med_el": med_el,
        "med_ours": med_ours,
        "fix_diff": (med_ours - med_el) / med_el,
        "n_el_blink": int(el_b.shape[0]),
        "n_ours_blink": ev.n_blinks,
        "blink": blink_hit.mean() if blink_hit.size else float("nan"),
    }


def _pct(v: float) -> str:
    return "  n/a" if not np.isfinite(v) else f"{100 * v:5.1f}%"


def _ok(good: bool) -> str:
    return "ok" if good else "MISSED"


def report(path: Path, px_per_deg: float | None, window_s: float | None = None) -> bool:
    """Print the table for one file; True when every target is met on every eye."""
    eyes, rate, res = read_asc(path)
    if res is None:
        if px_per_deg is None:
            raise ValueError(
                f"{path}: no 'END ... RES x y' line gives the angular resolution; pass "
                "--px-per-deg (about 46 for an EyeLink 1000 at 1920 px and 70 cm)."
            )
        res = (px_per_deg, px_per_deg)
    elif px_per_deg is not None:
        res = (px_per_deg, px_per_deg)
    n = len(next(iter(eyes.values())).t_ms)
    how = "over the whole recording" if window_s is None else f"per {window_s:g}-s window"
    print(
        f"{path.name}: {rate:g} Hz, {n} samples ({n / rate:.1f} s), "
        f"{res[0]:.2f} x {res[1]:.2f} per deg; our events detected {how}"
    )
    all_ok = True
    for eye, d in sorted(eyes.items()):
        r = validate_eye(d, rate, res, window_s)
        checks = (
            r["recall"] >= TARGETS["recall"],
            r["precision"] >= TARGETS["precision"],
            abs(r["fix_diff"]) <= TARGETS["fixation"],
            not r["n_el_blink"] or r["blink"] >= TARGETS["blink"],
        )
        all_ok &= all(checks)
        amp = "  ".join(
            f"{lo:g}-{hi:g}: {m}/{k}" if np.isfinite(hi) else f">={lo:g}: {m}/{k}"
            for (lo, hi), (m, k) in zip(AMPLITUDE_BINS, r["by_amp"], strict=True)
        )
        print(
            f"  eye {eye}: saccades EyeLink {r['n_el_sacc']} (+{r['n_el_bracket']} bracketing "
            f"blinks), ours {r['n_ours_sacc']}\n"
            f"    saccade recall    {_pct(r['recall'])}  (target >= 85%) {_ok(checks[0])}"
            f"   by amplitude (deg) {amp}\n"
            f"    saccade precision {_pct(r['precision'])}  (target >= 90%) {_ok(checks[1])}"
            + (
                f"   median duration of matched pairs: ours {r['sacc_ms'][0]:.0f} ms vs "
                f"EyeLink {r['sacc_ms'][1]:.0f} ms\n"
                if r["sacc_ms"]
                else "\n"
            )
            + f"    median fixation   ours {r['med_ours']:.0f} ms ({r['n_ours_fix']}) vs EyeLink "
            f"{r['med_el']:.0f} ms ({r['n_el_fix']}): {100 * r['fix_diff']:+.1f}% "
            f"(target within 15%) {_ok(checks[2])}\n"
            f"    blink recall      {_pct(r['blink'])}  (target >= 85%) {_ok(checks[3])}   "
            f"EyeLink {r['n_el_blink']}, ours {r['n_ours_blink']}"
        )
    return all_ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="EyeLink .asc files")
    parser.add_argument(
        "--px-per-deg",
        type=float,
        default=None,
        help="angular resolution, gaze units per degree (default: the file's RES lines)",
    )
    parser.add_argument(
        "--window-s",
        type=float,
        default=None,
        help="detect our events per window of this length, as the eye features do (default: "
        "over the whole recording)",
    )
    args = parser.parse_args(argv)
    all_ok = True
    for path in args.files:
        if not path.is_file():
            sys.exit(f"{path}: no such file; pass the path of an EyeLink .asc file.")
        try:
            all_ok &= report(path, args.px_per_deg, args.window_s)
        except ValueError as err:
            sys.exit(str(err))
    print("all targets met" if all_ok else "some targets missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
