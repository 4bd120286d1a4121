"""Template electrode positions: MNE's 10-05 montage, matched case-insensitively.

MNE 1.13 renamed ``standard_1005`` to ``colin27_1005`` (same coordinates) and warns on the old
name, so the new name is used where it exists. The Neuroscan Quik-Cap's cerebellar ``CB1``/``CB2``
are in no MNE montage; they sit below and lateral to O1/O2 and take the template positions of
``I1``/``I2``, the nearest 10-05 sites. Channel filling (:mod:`cmt_live.channel_fill`) and the
monitor's scalp maps both use these positions, so they agree on where every channel is.
"""

from __future__ import annotations

import functools

import numpy as np

#: Template sites used for channels that MNE's montages lack.
SUBSTITUTE_SITES: dict[str, str] = {"CB1": "I1", "CB2": "I2"}


@functools.lru_cache(maxsize=1)
def template() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The 10-05 template, metres.

    Returns
    -------
    channels : dict
        Lower-case channel name -> position, array of shape (3,).
    fiducials : dict
        ``"nasion"``, ``"lpa"``, ``"rpa"`` -> position, array of shape (3,).
    """
    import mne

    builtin = mne.channels.get_builtin_montages()
    name = "colin27_1005" if "colin27_1005" in builtin else "standard_1005"
    pos = mne.channels.make_standard_montage(name).get_positions()
    ch = {k.lower(): np.asarray(v, dtype=float) for k, v in pos["ch_pos"].items()}
    fid = {k: np.asarray(pos[k], dtype=float) for k in ("nasion", "lpa", "rpa")}
    return ch, fid


def template_position(name: str) -> np.ndarray | None:
    """3-D template position of channel ``name`` (case-insensitive), or None if it has none."""
    ch, _ = template()
    key = SUBSTITUTE_SITES.get(name.strip().upper(), name).strip().lower()
    return ch.get(key)
