"""Constants of the SEED-V feature set, shared by training, replay and live use.

Sources are cited in ``shared/SEEDV.md`` (sections in brackets below).
"""

from __future__ import annotations

#: The five EEG bands, in column order: (name, low_hz, high_hz) [SEEDV.md §6].
BANDS: tuple[tuple[str, float, float], ...] = (
    ("delta", 1.0, 4.0),
    ("theta", 4.0, 8.0),
    ("alpha", 8.0, 14.0),
    ("beta", 14.0, 31.0),
    ("gamma", 31.0, 50.0),
)

#: The 62 EEG channels in the lab's order (``channel_62_pos.locs``) [SEEDV.md §4].
SEEDV_CHANNELS: tuple[str, ...] = (
    "FP1", "FPZ", "FP2", "AF3", "AF4", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8",
    "FT7", "FC5", "FC3", "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "T7", "C5", "C3", "C1", "CZ",
    "C2", "C4", "C6", "T8", "TP7", "CP5", "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6", "TP8", "P7",
    "P5", "P3", "P1", "PZ", "P2", "P4", "P6", "P8", "PO7", "PO5", "PO3", "POZ", "PO4", "PO6",
    "PO8", "CB1", "O1", "OZ", "O2", "CB2",
)  # fmt: skip

#: Pupil-size bands of the eye DE features, Hz [SEEDV.md §7].
PUPIL_BANDS: tuple[tuple[float, float], ...] = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 1.0))

#: The 33 eye-movement features, in column order (spec order 2).
#:
#: SEED-V does not publish its order [SEEDV.md §7]. The 31 columns SEED-IV shares with it
#: follow SEED-IV's release row for row, as measured on the real files [SEEDV.md §7b]: pupil
#: means X, Y, stds X, Y; band DE of X then of Y; dispersion means X, Y, stds X, Y; fixation
#: duration mean, std; saccade duration mean, amplitude mean, duration std, amplitude std;
#: the 9 event statistics last. SEED-IV has no blink-duration rows; SEED-V's two extra columns
#: are most likely those, at an unknown place: here 22-23, before the event statistics (where
#: BCMI's SEED-VII code puts them). :data:`SEEDIV_EYE_ROWS` maps each column to SEED-IV's row and
#: :data:`SEEDIV_EYE_DIFFERENCES` lists where our definitions cannot follow SEED-IV.
#: ``pupil1``/``pupil2`` are the tracker's two pupil-size channels (SEED-IV/V: horizontal and
#: vertical size of one pupil in px; binocular trackers: left and right diameter). Durations in
#: ms, amplitudes and dispersions in degrees, frequencies in events per second.
EYE_FEATURE_NAMES: tuple[str, ...] = (
    "pupil1_mean", "pupil2_mean", "pupil1_std", "pupil2_std",
    "pupil1_de_0.0_0.2hz", "pupil1_de_0.2_0.4hz", "pupil1_de_0.4_0.6hz", "pupil1_de_0.6_1.0hz",
    "pupil2_de_0.0_0.2hz", "pupil2_de_0.2_0.4hz", "pupil2_de_0.4_0.6hz", "pupil2_de_0.6_1.0hz",
    "dispersion_x_mean", "dispersion_y_mean", "dispersion_x_std", "dispersion_y_std",
    "fixation_duration_mean_ms", "fixation_duration_std_ms",
    "saccade_duration_mean_ms", "saccade_amplitude_mean_deg",
    "saccade_duration_std_ms", "saccade_amplitude_std_deg",
    "blink_duration_mean_ms", "blink_duration_std_ms",
    "blink_frequency_hz", "fixation_frequency_hz", "fixation_duration_max_ms",
    "fixation_dispersion_total", "fixation_dispersion_max", "saccade_frequency_hz",
    "saccade_duration_avg_ms", "saccade_amplitude_avg_deg", "saccade_latency_avg_ms",
)  # fmt: skip

#: The order of cmt-live before spec order 2 (model files and datasets made then record it in
#: their ``eye_names``; live use maps their columns by name, so they keep working).
EYE_FEATURE_NAMES_V1: tuple[str, ...] = (
    "pupil1_mean", "pupil1_std", "pupil2_mean", "pupil2_std",
    *EYE_FEATURE_NAMES[4:12],
    "dispersion_x_mean", "dispersion_x_std", "dispersion_y_mean", "dispersion_y_std",
    "fixation_duration_mean_ms", "fixation_duration_std_ms",
    "blink_duration_mean_ms", "blink_duration_std_ms",
    "saccade_duration_mean_ms", "saccade_duration_std_ms",
    "saccade_amplitude_mean_deg", "saccade_amplitude_std_deg",
    *EYE_FEATURE_NAMES[24:],
)  # fmt: skip


def eye_column_order(names) -> tuple[int, ...] | None:
    """Where each of ``names`` sits in :data:`EYE_FEATURE_NAMES` when they are the same 33
    names in any order (a model of an older column order), else None."""
    names = tuple(names)
    if sorted(names) != sorted(EYE_FEATURE_NAMES):
        return None
    return tuple(EYE_FEATURE_NAMES.index(n) for n in names)


#: SEED-IV ``eye_feature_smooth`` row (0-based, of 31) of each column; None: SEED-IV has none.
SEEDIV_EYE_ROWS: dict[str, int | None] = {
    name: (i if i < 22 else None if i < 24 else i - 2) for i, name in enumerate(EYE_FEATURE_NAMES)
}

#: Where our definitions differ from SEED-IV's release (and probably SEED-V's) [SEEDV.md §7b].
SEEDIV_EYE_DIFFERENCES: dict[str, str] = {
    "event statistics (24-32)": "SEED-IV: once per clip, from SMI's own per-trial summary, "
    "rounded to 0.1 and repeated on every window; ours: per window (live has no clip; "
    "FeatureSpec.eye_stats='clip' computes them per clip offline). Frequencies: SEED-IV "
    "divides by the whole eye recording (~1.15 x the clip), ours by the window.",
    "pupil1/pupil2": "SEED-IV: horizontal/vertical size of one pupil, px, one value per "
    "fixation; ours: the tracker's two pupil channels per sample (left/right diameter, mm, "
    "on most trackers).",
    "pupil band DE (4-11)": "SEED-IV: a log-power of the per-fixation pupil series whose "
    "formula is not pinned down (log2(100 mean|X|^2) comes within 0.5-0.9 in band 1, 3-6 off "
    "in band 2); ours: a 10 Hz grid of the samples, FFT over the window.",
    "dispersion (12-15, 27-28)": "SEED-IV: px; ours: degrees.",
    "events": "SEED-IV: SMI BeGaze's event parser; ours: features.eye_events (I-VT).",
    "smoothing": "SEED-IV: rows 0-21 LDS-smoothed per clip; ours: as FeatureSpec.smoothing "
    "says (causal LDS live).",
    "blink duration (22-23)": "not in SEED-IV; in SEED-V most likely (unconfirmed), at an "
    "unknown column.",
}

#: The 9 event statistics (last 9 columns), computed per window live or per clip offline.
EYE_EVENT_STAT_NAMES: tuple[str, ...] = EYE_FEATURE_NAMES[24:]

N_EEG_FEATURES = len(SEEDV_CHANNELS) * len(BANDS)  # 310
N_EYE_FEATURES = len(EYE_FEATURE_NAMES)  # 33

assert N_EYE_FEATURES == 33 and len(SEEDV_CHANNELS) == 62  # guards edits of the tables above
