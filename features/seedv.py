"""SEED-V facts: class names, label orders, clip times, layout names (the ground floor).

Everything above imports these; this module imports nothing of the project. Sources are cited
in ``shared/SEEDV.md`` (sections in brackets).
"""

from __future__ import annotations

#: Class order of every label and probability vector, as SEED-V codes them [SEEDV.md §3].
CLASS_NAMES: tuple[str, ...] = ("Disgust", "Fear", "Sad", "Neutral", "Happy")
N_CLASSES = len(CLASS_NAMES)

N_SESSIONS = 3
N_TRIALS_PER_SESSION = 15
#: Keys per subject file: sessions x trials.
N_KEYS = N_SESSIONS * N_TRIALS_PER_SESSION
#: SEED-V's feature window, seconds (non-overlapping).
WINDOW_S = 4.0

#: Folders of the feature release [SEEDV.md §2].
EEG_DIR = "EEG_DE_features"
EYE_DIR = "Eye_movement_features"
#: Metadata file this project writes beside a SEED-V-layout dataset it made (simulated or from
#: recordings): the feature spec and what the data is. The real SEED-V has none.
SPEC_FILE = "cmt_sim.json"

#: Emotion code of trials 1..15 in each session [SEEDV.md §3]; sessions 2 and 3 share one order.
SEEDV_LABELS: tuple[tuple[int, ...], ...] = (
    (4, 1, 3, 2, 0, 4, 1, 3, 2, 0, 4, 1, 3, 2, 0),
    (2, 1, 3, 0, 4, 4, 0, 3, 2, 1, 3, 4, 1, 2, 0),
    (2, 1, 3, 0, 4, 4, 0, 3, 2, 1, 3, 4, 1, 2, 0),
)

#: Clip start and end, seconds from the start of each session's recording [SEEDV.md §3].
SEEDV_TRIAL_TIMES: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = (
    (
        (30, 132, 287, 555, 773, 982, 1271, 1628, 1730, 2025, 2227, 2435, 2667, 2932, 3204),
        (102, 228, 524, 742, 920, 1240, 1568, 1697, 1994, 2166, 2401, 2607, 2901, 3172, 3359),
    ),
    (
        (30, 299, 548, 646, 836, 1000, 1091, 1392, 1657, 1809, 1966, 2186, 2333, 2490, 2741),
        (267, 488, 614, 773, 967, 1059, 1331, 1622, 1777, 1908, 2153, 2302, 2428, 2709, 2817),
    ),
    (
        (30, 353, 478, 674, 825, 908, 1200, 1346, 1451, 1711, 2055, 2307, 2457, 2726, 2888),
        (321, 418, 643, 764, 877, 1147, 1284, 1418, 1679, 1996, 2275, 2425, 2664, 2857, 3066),
    ),
)


def check_session(session: int) -> None:
    """Raise ``ValueError`` unless ``session`` is 1, 2 or 3."""
    if session not in (1, 2, 3):
        raise ValueError(f"session={session!r} is invalid; SEED-V has sessions 1, 2 and 3.")


def seedv_trial_windows(session: int) -> tuple[int, ...]:
    """4-s window count of each trial of a session: ``floor((end - start) / 4)``."""
    check_session(session)
    start, end = SEEDV_TRIAL_TIMES[session - 1]
    return tuple(int((e - s) // WINDOW_S) for s, e in zip(start, end))
