"""Window -> FeatureFrame with the functions training used (``features/``).

The EEG half is :class:`features.de.StreamingDE` (numerically identical to
:func:`features.de_features`, which ``cmt-sim dataset`` and the SEED-V tools use), the eye half
:func:`features.eye.eye_features_window` (identical to :func:`features.eye_features` on the same
window). With ``spec.smoothing == "lds"`` each modality then goes through its own
:class:`features.lds.CausalLDS`, the causal form of the RTS smoother used offline.

The EEG of a :class:`~cmt_live.records.Window` is already preprocessed (resampled to
``spec.sfreq`` and band-passed by :class:`features.preprocess.StreamingPreprocessor` in the live
loop, ``cmt_live.pipeline``), as it is for the simulated training data.
"""

from __future__ import annotations

import numpy as np

from features.constants import EYE_FEATURE_NAMES
from features.de import StreamingDE
from features.eye import eye_features_window
from features.lds import CausalLDS
from features.spec import FeatureSpec

from .records import FeatureFrame, Flag, Window

#: features/ flag strings -> cmt_live flags.
_DE_FLAGS = {"nonfinite": Flag.EEG_NONFINITE, "flat": Flag.EEG_FLAT}
#: Flag every frame carries under each eye policy (Settings.eye_policy).
_EYE_POLICY_FLAGS = {
    "use": None,
    "masked": Flag.EYE_MASKED_RELEASE,
    "trusted": Flag.EYE_RELEASE_TRUSTED,
}


class Featurizer:
    """Per-window feature extraction following one :class:`features.spec.FeatureSpec`.

    Parameters
    ----------
    spec : FeatureSpec
        The model contract's feature spec.
    min_eye_coverage : float
        Windows whose valid gaze covers less than this fraction of the window are not used for
        eye features (``eye_valid`` False, flag ``EYE_LOW_COVERAGE``).
    eye_policy : {"use", "masked", "trusted"}
        :attr:`cmt_live.settings.Settings.eye_policy`. ``"masked"``: the features are computed
        (the monitor shows them) but never valid for the model, flag ``EYE_MASKED_RELEASE``;
        ``"trusted"``: used, flag ``EYE_RELEASE_TRUSTED`` on every frame.
    eye_absent : sequence of str
        Eye columns the model's training data lacked: NaN here too (the model maps NaN to the
        training mean, as in training).

    Notes
    -----
    Invalid modalities get NaN features (the runtime masks them; NaN makes any accidental use
    visible). Stateful parts (the gaussian DE filter, the causal LDS) skip invalid windows;
    call :meth:`reset` after a stream restarts.
    """

    def __init__(
        self,
        spec: FeatureSpec,
        *,
        min_eye_coverage: float = 0.5,
        eye_policy: str = "use",
        eye_absent=(),
    ):
        if not isinstance(spec, FeatureSpec):
            raise TypeError(f"spec must be a features.spec.FeatureSpec; got {type(spec).__name__}.")
        if not 0 <= min_eye_coverage <= 1:
            raise ValueError(f"min_eye_coverage must be in [0, 1]; got {min_eye_coverage}.")
        if eye_policy not in _EYE_POLICY_FLAGS:
            raise ValueError(f"eye_policy={eye_policy!r} is invalid; use {list(_EYE_POLICY_FLAGS)}")
        self.spec = spec
        self.min_eye_coverage = float(min_eye_coverage)
        self.eye_policy = eye_policy
        # Frames hold the eye features in EYE_FEATURE_NAMES order (the pipeline gives the model
        # its own order); a masked model may name other columns: NaN then, never shown wrong.
        self._eye_computable = sorted(spec.eye_names) == sorted(EYE_FEATURE_NAMES)
        self._eye_absent = np.array(
            [EYE_FEATURE_NAMES.index(c) for c in eye_absent if c in EYE_FEATURE_NAMES],
            dtype=np.intp,
        )
        self._de = StreamingDE(spec)
        smooth = spec.smoothing == "lds"
        self._lds_eeg = CausalLDS(spec.n_eeg_features) if smooth else None
        self._lds_eye = CausalLDS(spec.n_eye_features) if smooth else None

    def reset(self) -> None:
        """Forget filter state (a stream restarted or changed format)."""
        self._de.reset()
        for lds in (self._lds_eeg, self._lds_eye):
            if lds is not None:
                lds.reset()

    def _check(self, window: Window) -> None:
        s = self.spec
        if abs(window.window_s - s.window_s) > 1e-9:
            raise ValueError(
                f"Window of {window.window_s} s but the model's features use {s.window_s} s "
                "windows; cut windows with the contract's window_s."
            )
        if window.eeg is not None:
            n_times = round(s.window_s * s.sfreq)
            if abs(window.sfreq - s.sfreq) > 1e-9 or window.eeg.shape != (len(s.ch_names), n_times):
                raise ValueError(
                    f"Window EEG is {window.eeg.shape} at {window.sfreq:g} Hz; the model expects "
                    f"({len(s.ch_names)}, {n_times}) at {s.sfreq:g} Hz. Resample with "
                    "features.preprocess.StreamingPreprocessor and pick the model's channels "
                    "first (cmt_live.channels.match_channels)."
                )

    def transform(self, window: Window) -> FeatureFrame:
        """Features of one window.

        Parameters
        ----------
        window : Window
            EEG ``(n_channels, window_s * sfreq)`` volts in the spec's channel order at
            ``spec.sfreq``; gaze columns ``x_deg, y_deg, pupil_1, pupil_2, valid``.

        Returns
        -------
        FeatureFrame
            ``eeg (n_eeg_features,)`` and ``eye (n_eye_features,)`` in the spec's column order,
            NaN for an invalid modality; the window's flags plus those found here.
        """
        self._check(window)
        flags = set(window.flags)
        n_eeg, n_eye = self.spec.n_eeg_features, self.spec.n_eye_features
        eeg = np.full(n_eeg, np.nan)
        eeg_valid = False
        if window.eeg is not None and window.eeg_valid:
            values, eeg_valid, de_flags = self._de.transform(window.eeg)
            flags |= {_DE_FLAGS.get(f, f) for f in de_flags}
            if eeg_valid:
                eeg = values
        elif window.eeg is None:
            flags.add(Flag.EEG_MISSING)
        eye = np.full(n_eye, np.nan)
        eye_valid = False
        policy_flag = _EYE_POLICY_FLAGS[self.eye_policy]
        if policy_flag is not None:
            flags.add(policy_flag)
        if not self._eye_computable:
            pass  # a masked model with other eye columns: NaN, nothing to show
        elif window.eye_valid and window.gaze_timestamps.size:
            g = window.gaze
            values, coverage = eye_features_window(
                window.gaze_timestamps,
                g[:, 0],
                g[:, 1],
                g[:, 2],
                g[:, 3],
                g[:, 4] > 0.5,
                t_start=window.t_end - window.window_s,
                window_s=window.window_s,
            )
            if coverage >= self.min_eye_coverage:
                eye, eye_valid = values, True
            else:
                flags.add(Flag.EYE_LOW_COVERAGE)
        elif window.gaze_timestamps.size == 0:
            flags.add(Flag.EYE_MISSING)
        if self._lds_eeg is not None:
            eeg = self._lds_eeg.update(eeg)  # NaN in -> NaN out, state kept
            eye = self._lds_eye.update(eye)
        if self._eye_absent.size:
            eye[self._eye_absent] = np.nan
        if self.eye_policy == "masked":
            eye_valid = False  # values kept for the monitor, never given to the model
        return FeatureFrame(
            t_end=window.t_end,
            eeg=eeg,
            eye=eye,
            eeg_valid=bool(eeg_valid),
            eye_valid=bool(eye_valid),
            flags=frozenset(flags),
            gaze_end=window.gaze_end,
        )
