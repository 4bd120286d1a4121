"""Eye-movement events from a raw gaze stream: blinks, track losses, fixations and saccades.

The detector works on irregular timestamps with gaps and invalid samples; it never assumes a
sampling rate (the velocity filter's length in samples comes from the data's own median
step). Every threshold is a module constant below, with the reason for its value; they are
recorded in a model's feature spec (:func:`event_thresholds`). Checked against the EyeLink
parser's own events on a real recording by ``bench/validate_eye_events.py``.

The input checks and the pixel-to-degree conversion live in :mod:`features.gaze_input`.

Definitions (``p`` is the window's nominal sample period, the median of its positive time
steps):

- **Sample time.** Sample ``i`` stands for the interval from half-way to its previous sample to
  half-way to its next one. Across a *gap* (a step longer than :data:`GAP_FACTOR` ``* p`` and
  :data:`GAP_MIN_MS`: no samples arrived, e.g. a network dropout) and at the ends of the
  data, the sample stands for ``p / 2`` on that side. Intervals are clipped to the analysed
  window. Event onsets, offsets and durations, and a window's coverage, come from these
  intervals, so each event edge is within half the local sample spacing of the truth (plus,
  for saccade edges, the velocity filter's reach) at any rate and with jitter.
- **Valid sample.** ``valid`` (when given) is true *and* x and y are finite.
- **Invalid runs.** Consecutive invalid samples, by sample index (a gap inside an invalid run
  belongs to it: the eye was lost on both sides). A run that may have lasted
  :data:`BLINK_MIN_MS` (its duration plus one period ``p``: each edge is known to ``p / 2``)
  and lasted at most :data:`BLINK_MAX_MS` is a **blink**; a longer one is a **track loss**
  (counted separately, never a blink); a shorter one is a tracker glitch, no event (it still
  splits a fixation: no gaze was measured). Gaps between two valid samples are missing
  data, not blinks.
- **Velocity (I-VT with a short smoothing differentiator).** Consecutive valid samples with
  no gap between them form *segments*. Each sample's speed is the difference of the mean
  position of the ``h`` samples after it and of the ``h`` before it (itself included in
  both), divided by the same difference of their timestamps (never an assumed rate):
  Engbert & Kliegl's (2003) moving-average differentiator, ``h`` set from the rate by
  :func:`velocity_half_span` (the filter reaches :data:`VELOCITY_HALF_SPAN_MS` on each
  side, at least one sample). It stays inside the sample's segment: near an invalid sample,
  a gap or the data's edge the short side is shortened and the other lengthened; nothing is
  interpolated across invalid data. A valid sample with no valid neighbour has no speed and
  belongs to no event.
- **Threshold.** A sample is *fast* above the larger of :data:`SACCADE_VELOCITY_DEG_S` and
  :data:`NOISE_VELOCITY_FACTOR` times the median speed of the analysed samples
  (:func:`velocity_threshold`): 30 deg/s on a low-noise tracker, above the noise on a noisy
  one.
- **Saccades.** Runs of fast samples at least :data:`MIN_SACCADE_MS` long. A fast run that
  touches an invalid sample or a gap is the eyelid artefact of a blink or a loss of track
  and is not a saccade. A shorter fast run is no event either, but *every* fast run ends the
  slow run before it: the eye moved too fast to be fixating, so fixations on its two sides
  are two fixations. Amplitude: the distance from the last sample before the run to the
  first sample after it (the run's own end samples at the window edge), degrees. Where the
  filter spans one sample each side (up to ~190 Hz), a fast step between two slow samples
  (no sample fell inside the saccade: a saccade shorter than about two periods, or next to
  a dropped sample) is a saccade too, from the first sample to the second, if that step is
  at least :data:`MIN_SACCADE_MS` long; any such step splits the fixation. Raw one-step
  speeds are noisier than filtered ones, so a step is fast above the same rule applied to
  the window's step speeds.
- **Fixations.** Runs of slow samples at least :data:`MIN_FIXATION_MS` long (shorter ones are
  left unclassified). Dispersion X / Y: ``max - min`` of x / y over the fixation's samples,
  degrees. Anything that is not slow (a fast run, an invalid run, a gap) splits a
  fixation.
- **Window edges.** Events are detected inside the window they are reported for; an event cut
  by a window edge contributes its in-window part, under the same rules. This makes the batch
  and the streaming forms, and any chunking of a live stream, give identical numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gaze_input import check_gaze, pixels_to_degrees

__all__ = [
    "EyeEvents",
    "check_gaze",
    "detect_events",
    "detect_in_range",
    "event_thresholds",
    "pixels_to_degrees",
    "velocity_threshold",
]

#: Shortest pupil loss that is a blink, ms. EyeLink's parser reports blinks from ~10 ms of
#: pupil loss on; in MNE's 60-s EyeLink test recording (500 Hz) 9 of 26 last 12-44 ms. An
#: invalid run is a blink when it may have lasted this long: its duration plus one sample
#: period (each edge is known to half a period) reaches this, so a single lost sample at
#: 60 Hz counts while one to eight lost samples at 500 Hz stay tracker glitches.
BLINK_MIN_MS = 20.0
#: Longest invalid run that is a blink, ms. Spontaneous blinks last 100-400 ms; a longer loss
#: is the eye looking away or a tracking failure and is counted as a track loss instead.
BLINK_MAX_MS = 500.0
#: I-VT velocity threshold floor, degrees per second: the common I-VT default (Salvucci &
#: Goldberg 2000; Olsen 2012, Tobii's I-VT filter) and EyeLink's "cognitive" parser setting.
#: Fixational drift and tremor stay below ~5 deg/s, saccades of 1 deg peak near 70-100 deg/s.
SACCADE_VELOCITY_DEG_S = 30.0
#: Noise-adaptive threshold (Engbert & Kliegl 2003's median-based one): the threshold is the
#: larger of :data:`SACCADE_VELOCITY_DEG_S` and this many times the median speed of the
#: analysed samples (a robust noise level: most samples are fixation; for white noise the
#: speed is Rayleigh-distributed and 5 medians are ~5.9 sigma, exceeded once in ~10^7
#: samples). Low-noise trackers keep the 30 deg/s floor (EyeLink's test recording: median
#: ~5 deg/s); a noisy one gets a threshold above its noise, so noise neither makes saccades
#: nor splits fixations (tested with 0.05-0.2 deg white noise at 60-1000 Hz).
NOISE_VELOCITY_FACTOR = 5.0
#: Reach of the velocity filter on each side, ms; its samples per side come from the rate
#: (:func:`velocity_half_span`): one up to ~190 Hz, two at 250 Hz, four at 500 Hz (a
#: 9-sample filter, as EyeLink's parser uses), eight at 1000 Hz. On MNE's EyeLink test
#: recording (500 Hz) Engbert & Kliegl's 5-sample filter (4 ms) puts the noise at a median
#: ~10 deg/s, crossing 30 deg/s in ~70 one- or two-sample blips per eye and minute; 8 ms
#: halves it (~5 deg/s, 5-11 blips) and still finds EyeLink's 6-ms, 0.2-deg saccades. An
#: older one-sided 8-ms scheme (the smaller of the velocities into and out of a sample)
#: kept 1-2 deg saccades fast for only 3-4 samples and lost half of them.
VELOCITY_HALF_SPAN_MS = 8.0
#: Shortest saccade, ms: EyeLink's parser reports saccades from 3 samples (6 ms) at 500 Hz.
#: A shorter fast run (or a fast step between two samples closer than this) is not a
#: saccade, but it still ends the fixation before it: the eye moved too fast to be fixating.
MIN_SACCADE_MS = 6.0
#: Shortest fixation, ms (Olsen 2012's "discard short fixations" default): slow runs shorter
#: than this between two saccades, or next to a blink, are not fixations.
MIN_FIXATION_MS = 60.0
#: A time step longer than this many nominal sample periods, and longer than
#: :data:`GAP_MIN_MS`, is a gap (missing samples): it breaks velocity and fixations and
#: counts as no data. 3.5 periods bridges one or two dropped samples with jitter.
GAP_FACTOR = 3.5
#: Shortest gap, ms: at high rates a few dropped samples (< 40 ms, shorter than any blink)
#: are bridged like at low rates; a saccade hidden in such a hole shows as a fast step.
GAP_MIN_MS = 40.0


#: Version of the event rules (not only the thresholds) above; 2: issue 10's detector
#: (smoothing differentiator, adaptive threshold, every fast run splits fixations).
DETECTOR_VERSION = 2


def event_thresholds() -> dict[str, float]:
    """The detector's version and thresholds, as recorded in a model's feature spec.

    Returns
    -------
    dict of str to float
        ``detector_version`` and each threshold constant of this module, in its unit
        (ms, deg/s, or a plain factor).
    """
    return {
        "detector_version": float(DETECTOR_VERSION),
        "saccade_velocity_deg_s": SACCADE_VELOCITY_DEG_S,
        "noise_velocity_factor": NOISE_VELOCITY_FACTOR,
        "velocity_half_span_ms": VELOCITY_HALF_SPAN_MS,
        "min_saccade_ms": MIN_SACCADE_MS,
        "min_fixation_ms": MIN_FIXATION_MS,
        "blink_min_ms": BLINK_MIN_MS,
        "blink_max_ms": BLINK_MAX_MS,
        "gap_factor": GAP_FACTOR,
        "gap_min_ms": GAP_MIN_MS,
    }


@dataclass(frozen=True)
class EyeEvents:
    """Events detected in a gaze stream; one array entry per event, in time order.

    Times are in the timestamps' clock (seconds), durations in ms, angles in degrees.

    Attributes
    ----------
    fixation_onset_s, fixation_offset_s, fixation_duration_ms : ndarray (n_fixations,)
    fixation_dispersion_x_deg, fixation_dispersion_y_deg : ndarray (n_fixations,)
        ``max - min`` of x and of y over the fixation's samples.
    saccade_onset_s, saccade_offset_s, saccade_duration_ms : ndarray (n_saccades,)
    saccade_amplitude_deg : ndarray (n_saccades,)
    blink_onset_s, blink_offset_s, blink_duration_ms : ndarray (n_blinks,)
    track_loss_onset_s, track_loss_offset_s, track_loss_duration_ms : ndarray (n_track_losses,)
        Invalid runs longer than :data:`BLINK_MAX_MS`.
    """

    fixation_onset_s: np.ndarray
    fixation_offset_s: np.ndarray
    fixation_duration_ms: np.ndarray
    fixation_dispersion_x_deg: np.ndarray
    fixation_dispersion_y_deg: np.ndarray
    saccade_onset_s: np.ndarray
    saccade_offset_s: np.ndarray
    saccade_duration_ms: np.ndarray
    saccade_amplitude_deg: np.ndarray
    blink_onset_s: np.ndarray
    blink_offset_s: np.ndarray
    blink_duration_ms: np.ndarray
    track_loss_onset_s: np.ndarray
    track_loss_offset_s: np.ndarray
    track_loss_duration_ms: np.ndarray

    @property
    def n_fixations(self) -> int:
        return int(self.fixation_onset_s.size)

    @property
    def n_saccades(self) -> int:
        return int(self.saccade_onset_s.size)

    @property
    def n_blinks(self) -> int:
        return int(self.blink_onset_s.size)

    @property
    def n_track_losses(self) -> int:
        return int(self.track_loss_onset_s.size)


_EMPTY = np.zeros(0)


def _no_events() -> EyeEvents:
    return EyeEvents(*([_EMPTY] * len(EyeEvents.__dataclass_fields__)))


def _runs(label: np.ndarray, breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (inclusive) indices of runs of equal ``label`` also split at ``breaks``.

    ``breaks[i]`` true splits between samples ``i`` and ``i + 1``.
    """
    n = label.size
    change = np.empty(n, dtype=bool)
    change[0] = True
    change[1:] = (label[1:] != label[:-1]) | breaks
    starts = np.flatnonzero(change)
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:] - 1
    ends[-1] = n - 1
    return starts, ends


def _median(a: np.ndarray) -> float:
    """Median of a non-empty 1-D array (``np.median`` without its per-call overhead)."""
    k = a.size // 2
    if a.size % 2:
        return float(np.partition(a, k)[k])
    part = np.partition(a, (k - 1, k))
    return 0.5 * float(part[k - 1] + part[k])


def sample_intervals(
    t: np.ndarray, t_lo: float, t_hi: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Per-sample interval ``[a, b)`` (see the module docstring), gaps, and the period.

    Returns ``a (n,), b (n,), gap (n-1,) bool, period`` (NaN period when it cannot be
    estimated: fewer than two samples or no positive step).
    """
    n = t.size
    dt = np.diff(t)
    pos = dt[dt > 0]
    if pos.size == 0:
        return t.copy(), t.copy(), np.zeros(max(n - 1, 0), dtype=bool), float("nan")
    period = _median(pos)
    gap = dt > max(GAP_FACTOR * period, GAP_MIN_MS / 1e3)
    half = np.where(gap, period / 2, dt / 2)
    a = np.empty(n)
    b = np.empty(n)
    a[0] = t[0] - period / 2
    a[1:] = t[1:] - half
    b[-1] = t[-1] + period / 2
    b[:-1] = t[:-1] + half
    # ufuncs, not np.clip: this runs per window and np.clip's wrapper costs more than the work.
    np.minimum(np.maximum(a, t_lo, out=a), t_hi, out=a)
    np.minimum(np.maximum(b, t_lo, out=b), t_hi, out=b)
    return a, b, gap, period


def velocity_half_span(period: float) -> int:
    """Samples on each side of the velocity filter at nominal ``period`` (s): >= 1."""
    return max(1, round(VELOCITY_HALF_SPAN_MS / 1e3 / period))


def _sample_velocity(
    t: np.ndarray, x: np.ndarray, y: np.ndarray, link: np.ndarray, half: int
) -> np.ndarray:
    """Per-sample speed, deg/s: a smoothing differentiator over ``half`` samples each side.

    ``(mean(p[i..i+r]) - mean(p[i-l..i])) / (mean(t[i..i+r]) - mean(t[i-l..i]))`` for x and
    y, then ``hypot``; exact for motion at constant speed with any time steps. Away from a
    segment end ``l = r = half`` (then it equals Engbert & Kliegl's ``sum_k (p[i+k] -
    p[i-k]) / sum_k (t[i+k] - t[i-k])``). Near a segment end (an invalid sample, a gap, the
    data's edge) the side that runs out is shortened and the other lengthened, up to
    ``2 * half`` samples in all, so the estimate there is not much noisier. NaN for a
    sample with no linked neighbour.
    """
    n = t.size
    idx = np.arange(n)
    first = np.empty(n, dtype=bool)
    first[0] = True
    first[1:] = ~link
    last = np.empty(n, dtype=bool)
    last[-1] = True
    last[:-1] = ~link
    room_l = idx - np.maximum.accumulate(np.where(first, idx, 0))
    room_r = np.minimum.accumulate(np.where(last, idx, n)[::-1])[::-1] - idx
    left = np.minimum(room_l, half)
    right = np.minimum(room_r, half)
    left = np.minimum(room_l, 2 * half - right)
    right = np.minimum(room_r, 2 * half - left)
    # Invalid samples never fall inside a sum (sums stay within segments): zero them so the
    # running sums stay finite.
    sums = np.zeros((3, n + 1))
    np.cumsum(np.nan_to_num(x), out=sums[0, 1:])
    np.cumsum(np.nan_to_num(y), out=sums[1, 1:])
    np.cumsum(t - t[0], out=sums[2, 1:])
    d = (sums[:, idx + right + 1] - sums[:, idx]) / (right + 1)
    d -= (sums[:, idx + 1] - sums[:, idx - left]) / (left + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.hypot(d[0], d[1]) / d[2]
    v[d[2] <= 0] = np.nan  # no neighbour, or duplicate timestamps: no speed
    return v


def velocity_threshold(v: np.ndarray) -> float:
    """Saccade velocity threshold of one analysis, deg/s (see :data:`NOISE_VELOCITY_FACTOR`).

    ``v`` : per-sample speeds ``(n,)``, deg/s, NaN where a sample has none.
    """
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return SACCADE_VELOCITY_DEG_S
    return max(SACCADE_VELOCITY_DEG_S, NOISE_VELOCITY_FACTOR * _median(finite))


def detect_in_range(
    t: np.ndarray, x: np.ndarray, y: np.ndarray, ok: np.ndarray, t_lo: float, t_hi: float
) -> tuple[EyeEvents, float]:
    """Events of already-validated samples, with intervals clipped to ``[t_lo, t_hi)``.

    Returns the events and the valid time, seconds (the sum of the valid samples' intervals).
    """
    n = t.size
    if n < 2:
        return _no_events(), 0.0
    a, b, gap, period = sample_intervals(t, t_lo, t_hi)
    if not np.isfinite(period):
        return _no_events(), 0.0
    span = b - a
    valid_time = float(span[ok].sum())

    # Invalid runs: blinks and track losses.
    bad = ~ok
    b_starts, b_ends = _runs(bad, np.zeros(n - 1, dtype=bool))
    keep = bad[b_starts]
    inv_on, inv_off = a[b_starts[keep]], b[b_ends[keep]]
    inv_ms = (inv_off - inv_on) * 1e3
    # Each edge is known to half a period: the loss may have lasted one period longer.
    is_blink = (inv_ms + 1e3 * period >= BLINK_MIN_MS) & (inv_ms <= BLINK_MAX_MS)
    is_loss = inv_ms > BLINK_MAX_MS

    # I-VT: smoothed speeds inside linked segments (consecutive valid, no gap).
    link = ok[:-1] & ok[1:] & ~gap
    half = velocity_half_span(period)
    v = _sample_velocity(t, x, y, link, half)
    thr = velocity_threshold(v)
    label = np.full(n, -1, dtype=np.int8)  # -1 none, 0 slow, 1 fast
    label[v <= thr] = 0
    label[v > thr] = 1
    brk = ~link

    starts, ends = _runs(label, brk)
    fast = label[starts] == 1
    if fast.any():
        s, e = starts[fast], ends[fast]
        # Touching an invalid sample or a gap (not the window edge): blink artefact.
        touch = ((s > 0) & ~link[np.maximum(s - 1, 0)]) | (
            (e < n - 1) & ~link[np.minimum(e, n - 2)]
        )
        # Too short for a saccade: unclassified, so it still ends the fixation before it.
        drop = touch | ((b[e] - a[s]) * 1e3 < MIN_SACCADE_MS)
        for s_i, e_i in zip(s[drop], e[drop], strict=True):
            label[s_i : e_i + 1] = -1
        if drop.any():
            starts, ends = _runs(label, brk)

    # Saccades between two samples: a fast step between two slow samples (no sample fell
    # inside the saccade: a saccade shorter than ~2 periods at a low rate, or next to a
    # dropped sample). Onset and offset are the two samples; the step is the saccade's.
    # Every such step splits the fixation; it is a saccade when at least MIN_SACCADE_MS long.
    dt = np.diff(t)
    with np.errstate(invalid="ignore", divide="ignore"):
        v_step = np.hypot(np.diff(x), np.diff(y)) / dt
    # Raw one-step speeds are noisier than the filtered ones: their own adaptive threshold.
    step = link & (label[:-1] == 0) & (label[1:] == 0) & (half == 1)
    if step.any():
        step &= v_step > velocity_threshold(np.where(link, v_step, np.nan))
    steps = np.flatnonzero(step)
    jumps = steps[dt[steps] * 1e3 >= MIN_SACCADE_MS]
    if steps.size:
        brk = brk | step
        starts, ends = _runs(label, brk)
        b[steps] = t[steps]  # the fixations on either side end / start at the samples
        a[steps + 1] = t[steps + 1]
    kind = label[starts]

    sac = kind == 1
    s, e = starts[sac], ends[sac]
    i_from = np.where(s > 0, s - 1, s)
    i_to = np.where(e < n - 1, e + 1, e)
    sac_on, sac_off = a[s], b[e]
    sac_amp = np.hypot(x[i_to] - x[i_from], y[i_to] - y[i_from])
    if jumps.size:
        sac_on = np.concatenate([sac_on, t[jumps]])
        sac_off = np.concatenate([sac_off, t[jumps + 1]])
        sac_amp = np.concatenate([sac_amp, v_step[jumps] * dt[jumps]])
        order = np.argsort(sac_on, kind="stable")
        sac_on, sac_off, sac_amp = sac_on[order], sac_off[order], sac_amp[order]

    slow = kind == 0
    fix_on, fix_off = a[starts[slow]], b[ends[slow]]
    fix_ms = (fix_off - fix_on) * 1e3
    is_fix = fix_ms >= MIN_FIXATION_MS
    if is_fix.any():
        xs = np.where(ok, x, 0.0)  # invalid samples live in label -1 runs only
        ys = np.where(ok, y, 0.0)
        disp_x = (np.maximum.reduceat(xs, starts) - np.minimum.reduceat(xs, starts))[slow]
        disp_y = (np.maximum.reduceat(ys, starts) - np.minimum.reduceat(ys, starts))[slow]
    else:
        disp_x = disp_y = np.zeros(slow.sum())

    events = EyeEvents(
        fixation_onset_s=fix_on[is_fix],
        fixation_offset_s=fix_off[is_fix],
        fixation_duration_ms=fix_ms[is_fix],
        fixation_dispersion_x_deg=disp_x[is_fix],
        fixation_dispersion_y_deg=disp_y[is_fix],
        saccade_onset_s=sac_on,
        saccade_offset_s=sac_off,
        saccade_duration_ms=(sac_off - sac_on) * 1e3,
        saccade_amplitude_deg=sac_amp,
        blink_onset_s=inv_on[is_blink],
        blink_offset_s=inv_off[is_blink],
        blink_duration_ms=inv_ms[is_blink],
        track_loss_onset_s=inv_on[is_loss],
        track_loss_offset_s=inv_off[is_loss],
        track_loss_duration_ms=inv_ms[is_loss],
    )
    return events, valid_time


def detect_events(timestamps, x, y, valid=None) -> EyeEvents:
    """Blinks, track losses, fixations and saccades of a whole gaze stream.

    Parameters
    ----------
    timestamps : array of shape (n,)
        Sample times, seconds, non-decreasing (irregular steps and gaps are fine).
    x, y : array of shape (n,)
        Gaze, degrees of visual angle (see :func:`pixels_to_degrees`); NaN where invalid.
    valid : array of shape (n,), bool or numeric, optional
        Validity flags (nonzero = valid); combined with finite x and y.

    Returns
    -------
    EyeEvents
        See the module docstring for the definitions and thresholds. Note that the feature
        functions detect events per window (:func:`features.eye.eye_features_window`), so
        events cut by window edges differ from the ones returned here.
    """
    t, x, y, ok = check_gaze(timestamps, x, y, valid)
    events, _ = detect_in_range(t, x, y, ok, -np.inf, np.inf)
    return events
