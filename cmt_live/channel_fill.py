"""Fill a few missing EEG channels by spherical-spline interpolation from the montage.

Real caps rarely carry all 62 SEED channels (an eXimia cap lacks 12, an EEGLAB file 5). With
``--fill-missing N`` a stream lacking up to N of the model's channels is accepted and each
missing channel is computed from the recorded ones, the way MNE's ``interpolate_bads`` does it
(Perrin et al. 1989 spherical splines on a sphere fitted to the electrode positions). The
interpolation is linear in the data, so it is computed once at start-up as a matrix
(:func:`interpolation_matrix`) by running MNE's ``interpolate_bads`` on unit inputs, and each
chunk then costs one small matrix product.

Positions come from MNE's 10-05 template (:mod:`cmt_live.montage`; ``CB1``/``CB2`` as
``I1``/``I2``).

At most ``MAX_FILL_FRACTION`` of the model's channels may be filled: spherical splines recover
a smooth field from neighbours about one electrode spacing away, and with more than a fifth of
the cap missing, whole regions lose their neighbours and the filled channels become guesses.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from .montage import template, template_position

#: Largest fraction of the model's channels that may be filled.
MAX_FILL_FRACTION = 0.2


def max_fill(n_channels: int) -> int:
    """The most channels of an ``n_channels`` montage that may be filled (12 of 62)."""
    return int(MAX_FILL_FRACTION * n_channels)


def interpolation_matrix(present: Sequence[str], missing: Sequence[str]) -> np.ndarray:
    """Weights that compute the ``missing`` channels from the ``present`` ones.

    Parameters
    ----------
    present : sequence of str
        Recorded channels with a template position (the interpolation's sources).
    missing : sequence of str
        Channels to fill; each needs a template position.

    Returns
    -------
    weights : array of shape (len(missing), len(present))
        ``filled = weights @ recorded`` for data of shape (len(present), n_times).

    Raises
    ------
    ValueError
        A channel without a template position, or fewer than 3 sources.
    """
    import mne

    names = [*present, *missing]
    unknown = [c for c in names if template_position(c) is None]
    if unknown:
        raise ValueError(
            f"No template position for {unknown} (MNE's 10-05 montage, CB1/CB2 as I1/I2); "
            "channels can be filled only from and into 10-05 sites."
        )
    if len(present) < 3:
        raise ValueError(f"Cannot interpolate from {len(present)} channels; at least 3 needed.")
    _, fid = template()
    montage = mne.channels.make_dig_montage(
        ch_pos={c: template_position(c) for c in names}, coord_frame="unknown", **fid
    )
    info = mne.create_info(names, sfreq=1.0, ch_types="eeg")
    # Unit inputs: "time" j has 1 on present channel j, so the filled rows are the weights.
    data = np.zeros((len(names), len(present)))
    data[: len(present)] = np.eye(len(present))
    evoked = mne.EvokedArray(data, info, verbose="error")
    evoked.set_montage(montage, verbose="error")
    evoked.info["bads"] = list(missing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MNE's note on the sphere fit is not for the user
        evoked.interpolate_bads(reset_bads=True, verbose="error")
    return np.ascontiguousarray(evoked.data[len(present) :])
