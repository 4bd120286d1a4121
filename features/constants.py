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

#: The 33 eye-movement features, in column order.
#:
#: SEED-V does not publish its column order [SEEDV.md §7]; this follows the SEED-IV block
#: order (pupil 1-12, dispersion 13-16, fixation 17-18, blink 19-20, saccade 21-24, event
#: statistics 25-33). ``pupil1``/``pupil2`` are the two pupil-size channels of the tracker
#: (SMI's horizontal/vertical pupil size, or a left/right pair). Durations in ms, amplitudes
#: and dispersions in degrees, frequencies in events per second.
EYE_FEATURE_NAMES: tuple[str, ...] = (
    "pupil1_mean", "pupil1_std", "pupil2_mean", "pupil2_std",
    "pupil1_de_0.0_0.2hz", "pupil1_de_0.2_0.4hz", "pupil1_de_0.4_0.6hz", "pupil1_de_0.6_1.0hz",
    "pupil2_de_0.0_0.2hz", "pupil2_de_0.2_0.4hz", "pupil2_de_0.4_0.6hz", "pupil2_de_0.6_1.0hz",
    "dispersion_x_mean", "dispersion_x_std", "dispersion_y_mean", "dispersion_y_std",
    "fixation_duration_mean_ms", "fixation_duration_std_ms",
    "blink_duration_mean_ms", "blink_duration_std_ms",
    "saccade_duration_mean_ms", "saccade_duration_std_ms",
    "saccade_amplitude_mean_deg", "saccade_amplitude_std_deg",
    "blink_frequency_hz", "fixation_frequency_hz", "fixation_duration_max_ms",
    "fixation_dispersion_total", "fixation_dispersion_max", "saccade_frequency_hz",
    "saccade_duration_avg_ms", "saccade_amplitude_avg_deg", "saccade_latency_avg_ms",
)  # fmt: skip

#: The 9 event statistics (last 9 columns), computed per window live or per clip offline.
EYE_EVENT_STAT_NAMES: tuple[str, ...] = EYE_FEATURE_NAMES[24:]

N_EEG_FEATURES = len(SEEDV_CHANNELS) * len(BANDS)  # 310
N_EYE_FEATURES = len(EYE_FEATURE_NAMES)  # 33

assert N_EYE_FEATURES == 33 and len(SEEDV_CHANNELS) == 62  # guards edits of the tables above
