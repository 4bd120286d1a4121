"""Are the inputs in the units the model was trained on? Physiological and statistical bounds.

A wrong unit does not crash anything: a stream read at ~60 V standard deviation gives DE of
60-67 instead of 20-26, EyeLink pupils in arbitrary units (~3,770) give eye features |z| ~ 9,000
against the model's statistics, and the model still answers "Fear 0.44". These checks look at
every window before its features are computed and say what is wrong and which option fixes it.

Bounds (and why)
----------------
- **EEG**: the median over channels of each channel's robust RMS (1.4826 x the median absolute
  deviation: the standard deviation of Gaussian noise) over every 4th sample of the second half
  of the window (100 per channel at 200 Hz: ~3% standard error on Gaussian noise, against
  bounds a factor of 10^3 apart, for a quarter of the cost on the live critical path), in
  volts after the model's preprocessing (the SEED-V 1-75 Hz band-pass), must lie in
  ``EEG_RMS_RANGE_V`` = 0.1 µV ... 1 mV. Scalp EEG is ~5-100 µV RMS in that band; amplifier
  noise alone is ~0.5-2 µV, so a median channel below 0.1 µV is not an EEG, and movement or
  muscle artefacts reach a few hundred µV on some channels but not on the median one. Unit
  mistakes move the RMS by factors of 10^3 (mV/µV) or 10^6 (V/µV), far outside the range, so
  the bounds can be wide and still catch them. The median ignores a few flat or saturated
  channels (flagged separately as ``eeg_flat``). The second half and the robust scale keep
  out the causal resampler's and band-pass's start transient: a DC-coupled amplifier's offset
  (BioSemi: up to ±260 mV) rings for ~2 s after a stream (re)starts: a 250 mV offset reads
  28 mV as the standard deviation of the first 4-s window, 0.15 mV this way (measured at 1000
  and 2048 Hz; ``tests/test_plausibility.py::test_dc_offset_start_transient_is_not_flagged``).
- **Pupil**: the window's median pupil size of each eye, as a z-score against the model's
  normaliser statistics of ``pupil1_mean`` / ``pupil2_mean`` (the contract's ``eye_mean`` and
  ``eye_std``: the same quantity, per training window), must satisfy ``|z| <= PUPIL_Z_MAX`` =
  20. People differ by a few standard deviations (2-8 mm pupils against a 3-5 mm training
  population is |z| < 6 for a typical 0.5-1 mm spread), while a unit mismatch (pixels,
  arbitrary area units, mm against the release's units) is a factor of 10-1000: |z| of
  hundreds to thousands. By Chebyshev's inequality at most 1/20^2 = 0.25% of the training
  windows themselves lay that far out, whatever their distribution.
- **Gaze position**: degrees of visual angle from the screen centre. No tracker reports gaze
  beyond ~40° (EyeLink ±32°, Tobii ±35° horizontal), so a 95th percentile of ``|x|`` or ``|y|``
  above ``GAZE_DEG_MAX`` = 60° means the columns hold pixels (or another screen unit).

Policy: ``"mask"`` (the default) withholds the implausible modality from the model for that
window, as if it were missing (the prediction, if any, comes from the other modality and
carries the flag); ``"flag"`` predicts from it anyway and flags every such prediction. Never a
silent prediction from a 60-V "EEG".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from features.constants import EYE_FEATURE_NAMES

#: Plausible median channel RMS of scalp EEG in a window, volts (see the module docstring).
EEG_RMS_RANGE_V: tuple[float, float] = (0.1e-6, 1e-3)
#: Largest plausible |z| of a window's median pupil size against the model's statistics.
PUPIL_Z_MAX = 20.0
#: Largest plausible gaze angle from the screen centre (95th percentile), degrees.
GAZE_DEG_MAX = 60.0
#: Policies for implausible windows.
POLICIES = ("mask", "flag")

_UV = 1e-6
#: The EEG check reads every this many samples (see the module docstring).
_EEG_STRIDE = 4
#: RMS of typical scalp EEG after the band-pass, volts: the factor hints aim at it.
_TYPICAL_RMS_V = 20e-6


def _fmt_volts(v: float) -> str:
    for unit, scale in (("V", 1.0), ("mV", 1e-3), ("µV", 1e-6), ("nV", 1e-9)):
        if v >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.3g} V"


def eeg_problem(eeg: np.ndarray) -> str | None:
    """Why a window's EEG is implausible as scalp EEG in volts, or None when it is plausible.

    Parameters
    ----------
    eeg : array of shape (n_channels, n_times)
        Volts (after the model's preprocessing); every 4th sample of the second half is judged.
        Non-finite windows are not judged (None).

    Returns
    -------
    message : str | None
        One line: the measured RMS, the range, the likely cause and the option that fixes it.
    """
    x = np.asarray(eeg, dtype=np.float64)
    x = x[:, x.shape[1] // 2 :: _EEG_STRIDE]
    if x.size == 0 or not np.isfinite(x).all():
        return None
    mad = np.median(np.abs(x - np.median(x, axis=1, keepdims=True)), axis=1)
    rms = float(np.median(1.4826 * mad))
    lo, hi = EEG_RMS_RANGE_V
    if lo <= rms <= hi:
        return None
    # The power of 1000 that would bring the RMS nearest typical EEG names the likely mix-up.
    k = int(np.round(np.log10(max(rms, 1e-300) / _TYPICAL_RMS_V) / 3))
    rng = f"{lo / _UV:g}-{hi / _UV:g} µV"
    if rms > hi:
        cause = (
            f"~10^{3 * k} times too large: the samples are probably µV (or mV) read as V; set "
            "--eeg-units uV (or mV), or fix the unit the stream declares (a file whose reader "
            f"misreads its calibration: --eeg-units 1e-{3 * k + 6} rescales its µV)"
        )
    elif rms > 0:
        cause = (
            f"~10^{-3 * k} times too small: the samples are probably V read as µV (no unit "
            "declared means µV); set --eeg-units V, or fix the declared unit; or the "
            "electrodes are disconnected"
        )
    else:
        cause = "every channel is flat: the amplifier sends zeros or the electrodes are off"
    return (
        f"implausible EEG units: median channel RMS {_fmt_volts(rms)} (robust), outside the "
        f"physiological {rng}; {cause}."
    )


class UnitsCheck:
    """Per-window unit checks against fixed bounds and the model's normaliser statistics.

    Parameters
    ----------
    norm : mapping
        The model contract's normaliser (``eye_mean``, ``eye_std`` of shape (n_eye,)); None or
        an eye feature list without ``pupil1_mean``/``pupil2_mean`` skips the pupil check.
    eye_names : sequence of str
        The model's eye feature names (columns of ``eye_mean``).
    """

    def __init__(self, norm: Mapping | None, eye_names=EYE_FEATURE_NAMES):
        self._pupil_ref: list[tuple[float, float]] = []
        names = list(eye_names)
        if norm is not None and "pupil1_mean" in names and "pupil2_mean" in names:
            for col in ("pupil1_mean", "pupil2_mean"):
                j = names.index(col)
                self._pupil_ref.append((float(norm["eye_mean"][j]), float(norm["eye_std"][j])))

    eeg = staticmethod(eeg_problem)

    def eye(self, gaze: np.ndarray) -> str | None:
        """Why a window's gaze is implausible for the model, or None.

        Parameters
        ----------
        gaze : array of shape (n_samples, 5)
            ``x_deg, y_deg, pupil_1, pupil_2, valid``; only valid samples are judged.

        Returns
        -------
        message : str | None
            One line naming the column, the measured value, the bound, the cause and the fix.
        """
        g = np.asarray(gaze, dtype=np.float64)
        if g.ndim != 2 or g.shape[0] == 0:
            return None
        g = g[g[:, 4] > 0.5]
        problems = []
        xy = np.abs(g[:, :2])
        xy = xy[np.isfinite(xy).all(axis=1)]
        if len(xy):
            p95 = np.percentile(xy, 95, axis=0)
            if p95.max() > GAZE_DEG_MAX:
                problems.append(
                    f"gaze {'x' if p95[0] >= p95[1] else 'y'} reaches {p95.max():.4g}° from the "
                    f"screen centre (95th percentile; no tracker reports beyond ~40°, bound "
                    f"{GAZE_DEG_MAX:g}°): the columns are probably pixels, not degrees; convert "
                    "with the screen geometry (a file: --gaze-units px or norm with --screen-px, "
                    "--screen-cm and --distance-cm; a live stream: at its source)"
                )
        for i, (mean, std) in enumerate(self._pupil_ref):
            p = g[:, 2 + i]
            p = p[np.isfinite(p)]
            if not len(p):
                continue
            med = float(np.median(p))
            z = (med - mean) / std
            if abs(z) > PUPIL_Z_MAX:
                problems.append(
                    f"pupil_{i + 1} median {med:.4g} is {z:+.0f} SD from the model's training "
                    f"statistics ({mean:.3g} ± {std:.2g}, bound ±{PUPIL_Z_MAX:g} SD): the "
                    "tracker reports another pupil unit (e.g. EyeLink's arbitrary area/diameter "
                    "units); rescale with --pupil-scale K"
                    + (
                        f" (K ≈ {mean / med:.3g} puts this median on the training mean: a rough "
                        "guess)"
                        if med
                        else ""
                    )
                    + " or use a model trained on this tracker"
                )
                break  # both pupils share the tracker's unit: one message is enough
        if not problems:
            return None
        return "implausible eye units: " + "; ".join(problems) + "."
