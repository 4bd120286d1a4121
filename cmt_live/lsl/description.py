"""What an LSL stream says about itself: channel labels and units from its full description.

Read once, when :class:`cmt_live.lsl.inlet.StreamInput` opens the stream, into a
:class:`cmt_live.records.StreamMeta` plus the factors that bring the samples to volts (EEG, via
:func:`cmt_live.channels.eeg_scales`, the one place EEG units are read) or leave them as they
are (gaze). No ``pylsl`` import: the argument is a ``pylsl.StreamInfo`` from ``inlet.info()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cmt_live.channels import eeg_scales
from cmt_live.records import StreamMeta


def channel_fields(full_info, field_name: str, n: int) -> list[str]:
    """``desc/channels/channel/<field_name>`` of each channel, ``""`` where missing.

    Parameters
    ----------
    full_info : pylsl.StreamInfo
        A full description (from ``StreamInlet.info()``, not from resolution).
    field_name : str
        ``"label"``, ``"unit"``, ...
    n : int
        Channel count: extra entries are ignored, missing ones are ``""``.
    """
    # Parsed here rather than with pylsl's helper, which prints on a count mismatch.
    out: list[str] = []
    ch = full_info.desc().child("channels").child("channel")
    while not ch.empty() and len(out) < n:
        out.append(ch.child_value(field_name).strip())
        ch = ch.next_sibling("channel")
    return out + [""] * (n - len(out))


def read_meta(
    full_info, kind: str, *, unit: str | None = None, ch_names: Sequence[str] | None = None
) -> tuple[StreamMeta, np.ndarray]:
    """The stream's identity, labels and units, and the factors to apply to its samples.

    Parameters
    ----------
    full_info : pylsl.StreamInfo
        A full description.
    kind : ``"eeg"`` | ``"gaze"``
        EEG samples are scaled to volts; gaze samples are kept as sent.
    unit : str | None
        EEG only: one unit for every channel, replacing the declared ones (``--eeg-units``).
    ch_names : sequence of str | None
        Labels replacing the declared ones.

    Returns
    -------
    meta : StreamMeta
    scale : array of shape (n_channels,)
        Multiply the pulled samples (n_samples, n_channels) by it (volts for EEG; ones for
        gaze).

    Raises
    ------
    ValueError
        ``ch_names`` has the wrong length; an EEG unit is unknown or units are mixed with
        missing ones (:func:`cmt_live.channels.eeg_scales`).
    """
    n_ch = int(full_info.channel_count())
    labels = channel_fields(full_info, "label", n_ch)
    if ch_names is not None:
        if len(ch_names) != n_ch:
            raise ValueError(
                f"ch_names has {len(ch_names)} names but stream {full_info.name()!r} has {n_ch} "
                "channels."
            )
        labels = [str(c) for c in ch_names]
    units = channel_fields(full_info, "unit", n_ch)
    if kind == "eeg":
        scale = eeg_scales(full_info.name(), units, unit)
        if unit is not None:
            units = [unit] * n_ch
    else:
        scale = np.ones(n_ch)
    meta = StreamMeta(
        name=full_info.name(),
        type=full_info.type(),
        source_id=full_info.source_id(),
        hostname=full_info.hostname(),
        sfreq=float(full_info.nominal_srate()),
        ch_names=tuple(labels),
        units=tuple(units),
        created_at=float(full_info.created_at()),
    )
    return meta, scale
