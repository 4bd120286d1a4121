"""LSL outlets: the prediction outlet (a sink) and outlets that republish recorded streams."""

from __future__ import annotations

import threading

import numpy as np

from cmt_live.io.xdf import XdfStream
from cmt_live.records import FLAG_BITS, MODALITIES, Prediction, flag_mask
from cmt_live.sinks import Sink
from features.seedv import CLASS_NAMES

#: Channel labels of the prediction outlet: 5 probabilities, 2 gates, then the flags as a bit
#: mask (:func:`cmt_live.records.flag_mask`; exact in float32 up to 24 flags).
OUTLET_LABELS: tuple[str, ...] = (
    tuple(f"p_{c}" for c in CLASS_NAMES) + tuple(f"gate_{m}" for m in MODALITIES) + ("flags",)
)
_UNITS = {"p": "probability", "gate": "weight", "flags": "bitmask"}


def make_outlet(stream: XdfStream, *, desc: dict | None = None):
    """An LSL outlet describing ``stream`` (labels, units, type, source_id).

    XDF and LSL name channel formats alike (``float32``, ``string``, ...). ``desc`` adds
    top-level ``<desc>`` fields (e.g. the simulator's subject and seed).
    """
    import pylsl

    info = pylsl.StreamInfo(
        stream.name,
        stream.type,
        stream.n_channels,
        stream.sfreq if stream.sfreq > 0 else pylsl.IRREGULAR_RATE,
        stream.channel_format,
        stream.source_id,
    )
    for key, value in (desc or {}).items():
        info.desc().append_child_value(key, str(value))
    chans = info.desc().append_child("channels")
    for i, label in enumerate(stream.ch_names):
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        if i < len(stream.units) and stream.units[i]:
            ch.append_child_value("unit", stream.units[i])
        ch.append_child_value("type", stream.type)
    return pylsl.StreamOutlet(info, chunk_size=0, max_buffered=360)


class LslOutletSink(Sink):
    """Publishes every prediction on an LSL outlet (default ``CMT-Emotion``, type ``Emotion``).

    Eight float32 channels: the 5 probabilities (``p_Disgust`` ... ``p_Happy``), the 2 gates
    (``gate_eeg``, ``gate_eye``) and ``flags``, the prediction's flags as a bit mask whose bit
    order the description's ``flag_bits`` lists (``eeg_missing,eye_missing,...``: bit 0 first;
    one more bit for a flag not in the list), labelled in the description; irregular rate (a
    prediction is skipped when no valid context exists). Each sample is stamped with the
    prediction's window end ``t_end`` on the LSL clock, so recorders align it with the EEG it
    came from.

    Parameters
    ----------
    name : str
    source_id : str | None
        Default ``"cmt-live-<name>"`` (stable, so LSL consumers recover after a restart).
    clock_map : callable(float) -> float | None
        Maps the pipeline's time to the LSL clock (only when the pipeline runs on a scaled
        clock, e.g. a faster-than-real-time bench); default identity.
    info : dict | None
        Extra ``key: value`` pairs for the description (model file, contract summary).

    Notes
    -----
    ``pylsl`` is imported here, lazily: the caller chose the LSL config first.
    """

    def __init__(
        self,
        name: str = "CMT-Emotion",
        *,
        source_id: str | None = None,
        clock_map=None,
        info: dict | None = None,
    ):
        import pylsl

        if not name:
            raise ValueError("The outlet name must not be empty (e.g. --outlet-name CMT-Emotion).")
        self.name = name
        self._clock_map = clock_map
        sinfo = pylsl.StreamInfo(
            name,
            "Emotion",
            len(OUTLET_LABELS),
            pylsl.IRREGULAR_RATE,
            pylsl.cf_float32,
            source_id or f"cmt-live-{name}",
        )
        desc = sinfo.desc()
        desc.append_child_value("manufacturer", "cmt-live")
        desc.append_child_value("classes", ",".join(CLASS_NAMES))
        desc.append_child_value("stamp", "window end (t_end), LSL clock")
        desc.append_child_value("flag_bits", ",".join(FLAG_BITS))
        for k, v in (info or {}).items():
            desc.append_child_value(str(k), str(v))
        chans = desc.append_child("channels")
        for label in OUTLET_LABELS:
            ch = chans.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", _UNITS[label.split("_")[0]])
            ch.append_child_value("type", "Emotion")
        self._outlet = pylsl.StreamOutlet(sinfo, chunk_size=1, max_buffered=60)
        self._lock = threading.Lock()
        self._sample = np.zeros(len(OUTLET_LABELS), np.float32)

    def on_prediction(self, pred: Prediction) -> None:
        with self._lock:
            if self._outlet is None:
                return
            self._sample[:5] = pred.probs
            self._sample[5:7] = pred.gates
            self._sample[7] = flag_mask(pred.flags)
            t = pred.t_end if self._clock_map is None else self._clock_map(pred.t_end)
            self._outlet.push_sample(self._sample, t)

    def close(self) -> None:
        """Unregister the outlet (consumers see the stream end)."""
        with self._lock:
            outlet, self._outlet = self._outlet, None
        del outlet


# --- session log ---------------------------------------------------------------------------
