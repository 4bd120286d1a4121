"""Fill a few missing EEG channels by spherical-spline interpolation from the montage.

Real caps rarely carry all 62 SEED channels (an eXimia cap lacks 12, an EEGLAB file 5). With
``--fill-missing N`` a stream lacking up to N of the model's channels is accepted and each
missing channel is computed from the recorded ones, the way MNE's ``interpolate_bads`` does it
(Perrin et al. 1989 spherical splines on a sphere fitted to the electrode positions). The
interpolation is linear in the data, so it is computed once at start-up as a matrix
(:func:`interpolation_matrix`) by running MNE's ``interpolate_bads`` on unit inputs, and each
chunk then costs one small matrix product.

Positions come from MNE's 10-05 template (``colin27_1005``, formerly ``standard_1005``), matched
case-insensitively. The Neuroscan Quik-Cap's cerebellar ``CB1``/``CB2`` are in no MNE montage;
they sit below and lateral to O1/O2, and take the template positions of ``I1``/``I2`` (the
nearest 10-05 sites; the monitor's scalp maps make the same substitution).

At most ``MAX_FILL_FRACTION`` of the model's channels may be filled: spherical splines recover
a smooth field from neighbours about one electrode spacing away, and with more than a fifth of
the cap missing, whole regions lose their neighbours and the filled channels become guesses.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import numpy as np

#: Template sites used for channels that MNE's montages lack.
SUBSTITUTE_SITES: dict[str, str] = {"CB1": "I1", "CB2": "I2"}
#: Largest fraction of the model's channels that may be filled.
MAX_FILL_FRACTION = 0.2


def max_fill(n_channels: int) -> int:
    """The most channels of an ``n_channels`` montage that may be filled (12 of 62)."""
    return int(MAX_FILL_FRACTION * n_channels)


@functools.lru_cache(maxsize=1)
def _template() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(lower-case name -> position, fiducial -> position) of MNE's 10-05 template, metres."""
    import mne

    builtin = mne.channels.get_builtin_montages()
    name = "colin27_1005" if "colin27_1005" in builtin else "standard_1005"
    pos = mne.channels.make_standard_montage(name).get_positions()
    ch = {k.lower(): np.asarray(v, dtype=float) for k, v in pos["ch_pos"].items()}
    fid = {k: np.asarray(pos[k], dtype=float) for k in ("nasion", "lpa", "rpa")}
    return ch, fid


def template_position(name: str) -> np.ndarray | None:
    """3-D template position of channel ``name`` (case-insensitive), or None if it has none."""
    ch, _ = _template()
    key = SUBSTITUTE_SITES.get(name.strip().upper(), name).strip().lower()
    return ch.get(key)


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
    _, fid = _template()
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
