"""The 33 eye features from a tracker's own event tables (SEED-V's ``Eye_raw``), with our
definitions.

SEED-V ships no gaze samples, only SMI BeGaze event exports: one sheet per trial listing
fixations (duration, average pupil size X/Y in px, dispersion X/Y), saccades (duration,
amplitude in degrees) and possibly blinks (``shared/SEEDV.md`` §2.3). From those this module
computes, per 4-s window of a trial, the columns of :data:`features.constants.EYE_FEATURE_NAMES`
as :mod:`features.eye` defines them, so a model trained on SEED-V can be fed the same features
live. What the tables cannot give is returned as *absent* (NaN in the rows, listed by name): a
dataset records that list (``cmt_sim.json``'s ``feature_source["eye_absent"]``), the model
contract carries it, and live use feeds NaN in those columns too, which the model file maps to
the training mean exactly as training did.

Columns, and what they need:

========================================  ============================================
columns                                   derived from
========================================  ============================================
fixation_duration_mean/std/max_ms,        fixation durations (always)
fixation_frequency_hz
saccade_duration_mean/std/avg_ms,         saccade durations and amplitudes (always)
saccade_amplitude_mean/std/avg_deg,
saccade_frequency_hz
blink_duration_mean/std_ms,               a blink-duration column; blinks outside our blink
blink_frequency_hz                        range (BLINK_MIN_MS..BLINK_MAX_MS; shorter: no
                                          blink, longer: a track loss) are not counted, as live
dispersion_x/y_mean/std,                  fixation dispersion X/Y and ``px_per_deg`` (the
fixation_dispersion_total/max             exports are in px, ours in degrees)
pupil1/2_mean                             per-fixation average pupil size X/Y, weighted by
                                          fixation duration (the mean over fixation samples),
                                          times ``pupil_scale`` (px -> the live tracker's unit)
saccade_latency_avg_ms                    saccade onsets (a start-time column)
pupil1/2_std                              **never**: the within-fixation variation is gone
pupil1/2_de_* (8 columns)                 **never**: no pupil time series
========================================  ============================================

Window assignment: with onset columns, a window holds the events that *start* in it (live, an
event cut by the window edge counts its in-window part in each window: a difference at the
edges only). Without onsets (SEED-V's sheets, as far as public readers show), each trial's
events of each kind are split into equal-count consecutive chunks, one per window — the best
match to the released SEED-IV rows (``shared/SEEDV.md`` §7b).

Pupil "X/Y" of SMI are the horizontal and vertical size of one pupil; ``pupil1``/``pupil2`` live
are the tracker's two pupil channels (left/right diameter on most trackers). For a round pupil
both pairs measure the diameter, so the means are comparable once in the same unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .constants import EYE_FEATURE_NAMES
from .eye import EVENT_COLUMNS, event_columns
from .eye_events import BLINK_MAX_MS, BLINK_MIN_MS, EyeEvents

#: Columns the event tables never give (see the module docstring).
NEVER_DERIVABLE: tuple[str, ...] = tuple(
    n for n in EYE_FEATURE_NAMES if n.startswith("pupil") and not n.endswith("_mean")
)
#: Columns that need ``px_per_deg`` (dispersions in px -> degrees).
NEEDS_PX_PER_DEG: tuple[str, ...] = tuple(n for n in EYE_FEATURE_NAMES if "dispersion" in n)
#: Columns that need ``pupil_scale`` (pupil sizes in px -> the live unit).
NEEDS_PUPIL_SCALE: tuple[str, ...] = ("pupil1_mean", "pupil2_mean")
#: Columns that need a blink table.
NEEDS_BLINKS: tuple[str, ...] = tuple(n for n in EYE_FEATURE_NAMES if n.startswith("blink"))
#: Columns that need saccade onsets.
NEEDS_ONSETS: tuple[str, ...] = ("saccade_latency_avg_ms",)

#: SMI BeGaze column names of SEED-V's ``Eye_raw`` sheets (SEEDV.md §2.3; the start and blink
#: columns are BeGaze's names, not seen in SEED-V's sheets by public readers).
BEGAZE_COLUMNS: dict[str, str] = {
    "fixation_duration_ms": "Fixation Duration [ms]",
    "fixation_start_ms": "Fixation Start [ms]",
    "pupil_x_px": "Average Pupil Size [px] X",
    "pupil_y_px": "Average Pupil Size [px] Y",
    "dispersion_x_px": "Dispersion X",
    "dispersion_y_px": "Dispersion Y",
    "saccade_duration_ms": "Saccade Duration [ms]",
    "saccade_start_ms": "Saccade Start [ms]",
    "saccade_amplitude_deg": "Amplitude [°]",
    "blink_duration_ms": "Blink Duration [ms]",
    "blink_start_ms": "Blink Start [ms]",
}

_COL = {name: i for i, name in enumerate(EYE_FEATURE_NAMES)}


def _arr(x, name: str) -> np.ndarray | None:
    if x is None:
        return None
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.isfinite(a).all():
        raise ValueError(f"EventTables.{name} holds NaN/Inf; drop the rows of other events first.")
    return a


@dataclass(frozen=True, eq=False)
class EventTables:
    """One trial's events as a tracker's event export lists them, each kind in time order.

    Parameters
    ----------
    fixation_duration_ms : array of shape (n_fix,)
    saccade_duration_ms, saccade_amplitude_deg : arrays of shape (n_sac,)
    pupil_x_px, pupil_y_px : arrays of shape (n_fix,), optional
        Average pupil size of each fixation (SMI: horizontal and vertical size, px).
    dispersion_x_px, dispersion_y_px : arrays of shape (n_fix,), optional
        Extent (max - min) of each fixation's gaze, px.
    blink_duration_ms : array of shape (n_blink,), optional
        None: the export has no blinks (blink columns absent); empty: no blink in the trial.
    fixation_start_s, saccade_start_s, blink_start_s : arrays, optional
        Onsets, seconds on the clock of the trial times given to
        :func:`eye_features_from_events`. Either all given kinds have them or none.
    """

    fixation_duration_ms: np.ndarray
    saccade_duration_ms: np.ndarray
    saccade_amplitude_deg: np.ndarray
    pupil_x_px: np.ndarray | None = None
    pupil_y_px: np.ndarray | None = None
    dispersion_x_px: np.ndarray | None = None
    dispersion_y_px: np.ndarray | None = None
    blink_duration_ms: np.ndarray | None = None
    fixation_start_s: np.ndarray | None = None
    saccade_start_s: np.ndarray | None = None
    blink_start_s: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            object.__setattr__(self, name, _arr(getattr(self, name), name))
        n_fix, n_sac = self.fixation_duration_ms.size, self.saccade_duration_ms.size
        sizes = {
            "saccade_amplitude_deg": n_sac,
            "saccade_start_s": n_sac,
            "pupil_x_px": n_fix,
            "pupil_y_px": n_fix,
            "dispersion_x_px": n_fix,
            "dispersion_y_px": n_fix,
            "fixation_start_s": n_fix,
        }
        if self.blink_duration_ms is not None:
            sizes["blink_start_s"] = self.blink_duration_ms.size
        elif self.blink_start_s is not None:
            raise ValueError("EventTables.blink_start_s given without blink_duration_ms.")
        for name, n in sizes.items():
            a = getattr(self, name)
            if a is not None and a.size != n:
                raise ValueError(
                    f"EventTables.{name} has {a.size} rows but its events have {n}; the columns "
                    "of one kind of event must come from the same rows."
                )
        starts = [self.fixation_start_s, self.saccade_start_s]
        if self.blink_duration_ms is not None:
            starts.append(self.blink_start_s)
        if len({s is None for s in starts}) > 1:
            raise ValueError(
                "EventTables: give onsets for every kind of event or for none (a window "
                "assignment cannot mix onsets and equal-count chunks)."
            )

    @property
    def has_onsets(self) -> bool:
        return self.fixation_start_s is not None

    @classmethod
    def from_begaze(cls, columns: Mapping[str, object]) -> EventTables:
        """The tables of one BeGaze sheet, ``{column name: values}`` (e.g. a pandas DataFrame
        of one SEED-V ``Eye_raw`` trial sheet, or ``dict(df)``).

        Rows of other event kinds are blank (NaN) in each column: a fixation is a row with a
        finite ``Fixation Duration [ms]`` (its pupil and dispersion come from the same row), a
        saccade one with a finite ``Saccade Duration [ms]``, a blink one with a finite
        ``Blink Duration [ms]``. Start columns (ms) become seconds.
        """
        cols = {str(k).strip(): v for k, v in dict(columns).items()}

        def column(key):
            name = BEGAZE_COLUMNS[key]
            if name not in cols:
                return None
            vals = np.asarray(cols[name], dtype=object)
            out = np.full(vals.shape, np.nan)
            for i, v in enumerate(vals.reshape(-1)):
                try:
                    out[i] = float(v)
                except (TypeError, ValueError):
                    pass  # text cells ("-") are blanks, as pandas' errors="coerce"
            return out

        def rows(key_duration, *keys):
            dur = column(key_duration)
            if dur is None:
                return None, [None] * len(keys)
            ok = np.isfinite(dur)
            return dur[ok], [None if (c := column(k)) is None else c[ok] for k in keys]

        for key in ("fixation_duration_ms", "saccade_duration_ms", "saccade_amplitude_deg"):
            if BEGAZE_COLUMNS[key] not in cols:
                raise ValueError(
                    f"The event sheet has no '{BEGAZE_COLUMNS[key]}' column (columns: "
                    f"{sorted(cols)[:12]}); expected an SMI BeGaze event export."
                )
        fix, (px, py, dx, dy, f0) = rows(
            "fixation_duration_ms",
            "pupil_x_px",
            "pupil_y_px",
            "dispersion_x_px",
            "dispersion_y_px",
            "fixation_start_ms",
        )
        sac, (amp, s0) = rows("saccade_duration_ms", "saccade_amplitude_deg", "saccade_start_ms")
        blink, (b0,) = rows("blink_duration_ms", "blink_start_ms")
        f0, s0, b0 = (None if a is None else a / 1e3 for a in (f0, s0, b0))
        return cls(fix, sac, amp, px, py, dx, dy, blink, f0, s0, b0)


def absent_columns(
    tables: EventTables, *, px_per_deg: float | None = None, pupil_scale: float | None = None
) -> tuple[str, ...]:
    """Names of the columns these tables and options cannot give, in column order."""
    absent = set(NEVER_DERIVABLE)
    if px_per_deg is None or tables.dispersion_x_px is None or tables.dispersion_y_px is None:
        absent |= set(NEEDS_PX_PER_DEG)
    if pupil_scale is None or tables.pupil_x_px is None or tables.pupil_y_px is None:
        absent |= set(NEEDS_PUPIL_SCALE)
    if tables.blink_duration_ms is None:
        absent |= set(NEEDS_BLINKS)
    if not tables.has_onsets:
        absent |= set(NEEDS_ONSETS)
    return tuple(n for n in EYE_FEATURE_NAMES if n in absent)


def _chunks(n_events: int, n_windows: int, starts, t0: float, window_s: float) -> np.ndarray:
    """Window index of each event (-1: outside the trial's windows)."""
    if starts is None:
        return (np.arange(n_events) * n_windows) // max(n_events, 1)
    k = np.floor((np.asarray(starts) - t0) / window_s).astype(np.intp)
    return np.where((k >= 0) & (k < n_windows), k, -1)


def eye_features_from_events(
    tables: EventTables,
    trial_start_s: float,
    trial_end_s: float,
    *,
    window_s: float = 4.0,
    px_per_deg: float | None = None,
    pupil_scale: float | None = None,
    blink_range_ms: tuple[float, float] = (BLINK_MIN_MS, BLINK_MAX_MS),
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per-window eye features of one trial from its event tables.

    Parameters
    ----------
    tables : EventTables
        The trial's events (:meth:`EventTables.from_begaze` reads a BeGaze sheet).
    trial_start_s, trial_end_s : float
        The clip's start and end, seconds (SEED-V: ``features.seedv.SEEDV_TRIAL_TIMES``); the
        windows are ``floor((end - start) / window_s)`` consecutive ``window_s`` windows from
        the start, as the released features and ``cmt-dataset``'s EEG DE count them.
    window_s : float
        Window length, seconds.
    px_per_deg : float | None
        Pixels per degree of the exports' dispersions; None: dispersion columns absent.
    pupil_scale : float | None
        Live pupil units per export px (e.g. mm/px); None: pupil mean columns absent.
    blink_range_ms : (float, float)
        Our blink definition: blinks shorter or longer are not counted (live, shorter invalid
        runs are ignored and longer ones are track losses).

    Returns
    -------
    features : ndarray of shape (n_windows, 33)
        :data:`EYE_FEATURE_NAMES` order, durations ms, amplitudes and dispersions degrees,
        frequencies per second; empty statistics 0 (as live); absent columns NaN.
    absent : tuple of str
        The NaN columns (:func:`absent_columns`).

    Raises
    ------
    ValueError
        A trial shorter than one window, or a non-positive scale.
    """
    if not (np.isfinite(window_s) and window_s > 0):
        raise ValueError(f"window_s={window_s!r} must be a positive number of seconds.")
    n_windows = int(np.floor((trial_end_s - trial_start_s) / window_s + 1e-9))
    if n_windows < 1:
        raise ValueError(
            f"The trial {trial_start_s}-{trial_end_s} s is shorter than one {window_s}-s window; "
            "check the trial times (seconds)."
        )
    for name, v in (("px_per_deg", px_per_deg), ("pupil_scale", pupil_scale)):
        if v is not None and not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name}={v!r} must be a positive number (or None: columns absent).")
    absent = absent_columns(tables, px_per_deg=px_per_deg, pupil_scale=pupil_scale)
    t = tables
    out = np.zeros((n_windows, len(EYE_FEATURE_NAMES)))
    fix_w = _chunks(t.fixation_duration_ms.size, n_windows, t.fixation_start_s, trial_start_s,
                    window_s)  # fmt: skip
    sac_w = _chunks(t.saccade_duration_ms.size, n_windows, t.saccade_start_s, trial_start_s,
                    window_s)  # fmt: skip
    blink = t.blink_duration_ms if t.blink_duration_ms is not None else np.zeros(0)
    blink_w = _chunks(blink.size, n_windows, t.blink_start_s, trial_start_s, window_s)
    lo, hi = blink_range_ms
    blink_w = np.where((blink >= lo) & (blink <= hi), blink_w, -1)
    scale_d = 1.0 / px_per_deg if px_per_deg is not None else np.nan
    empty = np.zeros(0)
    for k in range(n_windows):
        row = out[k]
        f, sac, b = fix_w == k, sac_w == k, blink_w == k
        dur = t.fixation_duration_ms[f]
        has_disp = t.dispersion_x_px is not None and t.dispersion_y_px is not None
        onsets = np.sort(t.saccade_start_s[sac]) if t.has_onsets else np.zeros(sac.sum())
        zeros = (np.zeros(dur.size), np.zeros(sac.sum()), np.zeros(b.sum()))
        events = EyeEvents(
            fixation_onset_s=zeros[0],
            fixation_offset_s=zeros[0],
            fixation_duration_ms=dur,
            # Absent dispersions give 0 here and NaN below (absent columns).
            fixation_dispersion_x_deg=t.dispersion_x_px[f] * scale_d if has_disp else zeros[0],
            fixation_dispersion_y_deg=t.dispersion_y_px[f] * scale_d if has_disp else zeros[0],
            saccade_onset_s=onsets,
            saccade_offset_s=zeros[1],
            saccade_duration_ms=t.saccade_duration_ms[sac],
            saccade_amplitude_deg=t.saccade_amplitude_deg[sac],
            blink_onset_s=zeros[2],
            blink_offset_s=zeros[2],
            blink_duration_ms=blink[b],
            track_loss_onset_s=empty,
            track_loss_offset_s=empty,
            track_loss_duration_ms=empty,
        )
        # The same statistics as live features (features.eye), from the export's events.
        row[EVENT_COLUMNS] = event_columns(events, window_s)
        if t.pupil_x_px is not None and t.pupil_y_px is not None and pupil_scale is not None:
            total = dur.sum()  # duration weights: the mean over the fixations' samples
            for name, p in (("pupil1_mean", t.pupil_x_px), ("pupil2_mean", t.pupil_y_px)):
                row[_COL[name]] = float((p[f] * dur).sum() / total) * pupil_scale if total else 0.0
    out[:, [_COL[n] for n in absent]] = np.nan
    return out, absent


def seedv_session_eye_features(
    sheets,
    session: int,
    *,
    window_s: float = 4.0,
    px_per_deg: float | None = None,
    pupil_scale: float | None = None,
    smoothing: str = "none",
) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """Eye features of the 15 trials of one SEED-V session from its ``Eye_raw`` workbook.

    What ``cmt-dataset`` calls for a SEED-V raw layout: the EEG windows of trial ``k`` are
    ``floor((end_k - start_k) / window_s)`` (:data:`features.seedv.SEEDV_TRIAL_TIMES`), and so
    are the rows returned here.

    Parameters
    ----------
    sheets : sequence of 15 mappings
        One BeGaze sheet per trial, in trial order (``{column name: values}``; a pandas
        DataFrame works). Onset columns, if any, are read as times from the trial's start
        (BeGaze's trial time).
    session : int
        1, 2 or 3.
    window_s, px_per_deg, pupil_scale
        As :func:`eye_features_from_events`.
    smoothing : {"none", "lds"}
        ``"lds"``: the offline RTS smoother per trial (``features.lds.apply_lds``), on the
        derived columns only (absent ones stay NaN), as ``FeatureSpec.smoothing`` says.

    Returns
    -------
    features : list of 15 ndarrays of shape (n_windows_k, 33)
    absent : tuple of str
        The columns absent in any trial (NaN in every trial): write them to the dataset's
        ``cmt_sim.json`` as ``"feature_source": {"eeg": "computed", "eye": "events",
        "eye_absent": [...]}``.
    """
    from .lds import apply_lds
    from .seedv import N_TRIALS_PER_SESSION, SEEDV_TRIAL_TIMES, check_session

    check_session(session)
    sheets = list(sheets)
    if len(sheets) != N_TRIALS_PER_SESSION:
        raise ValueError(
            f"Session {session} has {len(sheets)} eye sheets; SEED-V's Eye_raw workbooks hold "
            f"{N_TRIALS_PER_SESSION} (one per trial, in trial order)."
        )
    if smoothing not in ("none", "lds"):
        raise ValueError(f"smoothing={smoothing!r} is invalid; use 'none' or 'lds'.")
    starts, ends = SEEDV_TRIAL_TIMES[session - 1]
    out, absent = [], set()
    for k, (sheet, start, end) in enumerate(zip(sheets, starts, ends)):
        try:
            tables = EventTables.from_begaze(sheet)
        except ValueError as err:
            raise ValueError(f"Session {session}, trial {k + 1}: {err}") from err
        x, gone = eye_features_from_events(
            tables, 0.0, float(end - start), window_s=window_s,
            px_per_deg=px_per_deg, pupil_scale=pupil_scale,
        )  # fmt: skip
        out.append(x)
        absent |= set(gone)
    cols = [i for i, n in enumerate(EYE_FEATURE_NAMES) if n in absent]
    keep = [i for i, n in enumerate(EYE_FEATURE_NAMES) if n not in absent]
    for x in out:
        x[:, cols] = np.nan
        if smoothing == "lds":
            x[:, keep] = apply_lds(x[:, keep], mode="rts")
    return out, tuple(EYE_FEATURE_NAMES[i] for i in cols)
