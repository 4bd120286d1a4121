"""The simulator's three streams (EEG, Gaze, Markers): their identity, live LSL and XDF files.

One definition of names, types, source_ids, channel labels and units
(:meth:`SimSessionSettings.headers`) serves both :func:`stream_session` (``cmt-sim stream``,
real-time LSL outlets) and :func:`record_session` (``cmt-sim record``, straight to XDF), so
``cmt-replay`` and ``cmt-live --replay`` treat a recorded file like a LabRecorder recording of
the live simulator. EEG is sent in microvolts, gaze in the units of
:data:`cmt_live.sim.gaze.GAZE_UNITS`, markers as class names (``"Rest"`` between clips).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cmt_live._logging import logger
from cmt_live.channels import GAZE_CHANNELS
from features.constants import SEEDV_CHANNELS
from features.seedv import CLASS_NAMES, SEEDV_LABELS, check_session

from .gaze import GAZE_UNITS
from .scalp import N_CHANNELS
from .schedule import seedv_schedule
from .session import SessionSimulator

if TYPE_CHECKING:
    from cmt_live.io.xdf import XdfStream

#: The simulated streams' types, in order; each stream is named ``prefix + type``.
STREAM_TYPES = ("EEG", "Gaze", "Markers")

#: Marker sent at the start of a rest segment.
REST_MARKER = "Rest"


@dataclass(frozen=True)
class SimSessionSettings:
    """Who is simulated, which session, at what rates, under which stream names.

    Attributes
    ----------
    subject : int
        Simulated subject number.
    seed : int
        Dataset seed.
    session : int
        SEED-V session 1, 2 or 3 (its label order).
    sfreq : float
        EEG rate, Hz.
    gaze_rate : float
        Nominal gaze rate, Hz.
    prefix : str
        Prefix of the three stream names.
    trial_scale : float
        Multiplies SEED-V's clip (and gap) durations.
    rest : bool
        Include SEED-V's gaps between clips (a ``"Rest"`` marker each).
    trial_s : float | None
        Every clip lasts this many seconds, in SEED-V's label order without gaps; overrides
        ``trial_scale`` and ``rest``.
    """

    subject: int = 1
    seed: int = 0
    session: int = 1
    sfreq: float = 200.0
    gaze_rate: float = 120.0
    prefix: str = ""
    trial_scale: float = 1.0
    rest: bool = False
    trial_s: float | None = None

    @classmethod
    def from_namespace(cls, ns) -> SimSessionSettings:
        """The settings from an object with attributes of the same names (extra ones ignored),
        e.g. the ``argparse.Namespace`` of ``cmt-sim stream`` or ``cmt-sim record``."""
        return cls(**{f.name: getattr(ns, f.name) for f in fields(cls)})

    def simulator(self) -> SessionSimulator:
        """A fresh :class:`SessionSimulator` of these settings (time 0 = session start)."""
        if self.trial_s is not None:
            check_session(self.session)
            schedule = [(lab, self.trial_s) for lab in SEEDV_LABELS[self.session - 1]]
        else:
            schedule = seedv_schedule(self.session, self.trial_scale, rest=self.rest)
        return SessionSimulator(
            self.subject,
            self.seed,
            sfreq=self.sfreq,
            gaze_rate=self.gaze_rate,
            schedule=schedule,
            session=self.session,
        )

    def headers(self) -> tuple[XdfStream, XdfStream, XdfStream]:
        """The EEG, Gaze and Markers streams' identity, without samples.

        Returns
        -------
        eeg, gaze, markers : cmt_live.io.xdf.XdfStream
            Empty timestamps and data; source_ids ``cmt-sim-{eeg,gaze,markers}-{subject}-{seed}``.
        """
        from cmt_live.io.xdf import XdfStream

        ident, p, none = f"{self.subject}-{self.seed}", self.prefix, np.empty(0)
        eeg, gaze, markers = STREAM_TYPES
        return (
            XdfStream(p + eeg, eeg, f"cmt-sim-eeg-{ident}", self.sfreq, "float32",
                      list(SEEDV_CHANNELS), none, none, ["microvolts"] * N_CHANNELS),
            XdfStream(p + gaze, gaze, f"cmt-sim-gaze-{ident}", self.gaze_rate, "float32",
                      list(GAZE_CHANNELS), none, none, list(GAZE_UNITS)),
            XdfStream(p + markers, markers, f"cmt-sim-markers-{ident}", 0.0, "string",
                      ["label"], none, []),
        )  # fmt: skip


def _marker(label: int | None) -> str:
    return REST_MARKER if label is None else CLASS_NAMES[label]


def record_session(settings: SimSessionSettings, out: str | Path, duration_s: float) -> Path:
    """Simulate ``duration_s`` seconds straight into an XDF file (no LSL needed).

    Parameters
    ----------
    settings : SimSessionSettings
    out : str | Path
        The .xdf file to write.
    duration_s : float
        Simulated seconds, > 0.

    Returns
    -------
    path : Path
        The file written.

    Notes
    -----
    The streams carry the same names, labels, units and source_ids as ``cmt-sim stream``
    publishes, with timestamps starting at 0.
    """
    from cmt_live.io.xdf import write_xdf

    if not duration_s > 0:
        raise ValueError(f"duration_s={duration_s!r} is invalid; it must be > 0 s.")
    sim = settings.simulator()
    n = math.floor(duration_s * settings.sfreq + 1e-9)
    ts, gx, gy, p1, p2, valid = sim.gaze_until(duration_s)
    marks = sim.segment_starts(0.0, duration_s)
    eeg, gaze, markers = settings.headers()
    streams = [
        replace(eeg, timestamps=np.arange(n) / settings.sfreq,
                data=(sim.eeg(n) * 1e6).T.astype(np.float32)),
        replace(gaze, timestamps=np.asarray(ts, dtype=np.float64),
                data=np.column_stack([gx, gy, p1, p2, valid]).astype(np.float32)),
        replace(markers, timestamps=np.array([t for t, _ in marks], dtype=np.float64),
                data=[[_marker(lab)] for _, lab in marks]),
    ]  # fmt: skip
    return write_xdf(out, streams)


def stream_session(
    settings: SimSessionSettings,
    *,
    speed: float = 1.0,
    duration: float | None = None,
    chunk_ms: float = 25.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> float:
    """Publish the session over LSL in (scaled) real time until stopped or done.

    Parameters
    ----------
    settings : SimSessionSettings
    speed : float
        Multiple of real time (> 0); timestamps are compressed by the same factor.
    duration : float | None
        Stop after this many simulated seconds; None runs until ``should_stop()``.
    chunk_ms : float
        Push interval, ms.
    should_stop : callable
        Polled once per push; True ends the stream (e.g. set by a signal handler).

    Returns
    -------
    float
        Simulated seconds published.

    Notes
    -----
    The caller chooses the LSL config before anything imports ``pylsl`` (``cmt-sim`` selects
    the loopback-only one unless the user set ``LSLAPICFG``). Markers go out before a clip's
    first samples; when the marker stream gets its first consumer, the current clip's marker
    is sent again with its original stamp, so a monitor that connects late still knows the
    clip. Dropping the outlets at the end unregisters the streams; inlets see them end.
    """
    import pylsl

    from cmt_live.lsl.outlet import make_outlet

    sim = settings.simulator()
    extra = {
        "manufacturer": "cmt-live simulator (synthetic data)",
        "subject": settings.subject,
        "seed": settings.seed,
        "session": settings.session,
    }
    headers = settings.headers()
    eeg_out, gaze_out, marker_out = (make_outlet(h, desc=extra) for h in headers)
    sfreq = settings.sfreq
    logger.info(
        "simulator streaming %s, %s, %s (subject %s, seed %s, session %s) at %gx",
        *(h.name for h in headers),
        settings.subject,
        settings.seed,
        settings.session,
        speed,
    )
    t_wall0 = pylsl.local_clock()
    t_sim = 0.0  # simulated seconds published so far
    n_eeg = 0
    step_s = chunk_ms / 1000.0
    current: tuple[str, float] | None = None  # the newest marker: (label, stamp)
    had_consumer = False
    while not should_stop():
        now = pylsl.local_clock()
        # An inlet gets only what is pushed after it connects: a consumer that arrives
        # mid-clip gets the clip's marker again, with its original stamp (the first marker
        # of a session went out before cmt-live listened and was lost).
        has_consumer = marker_out.have_consumers()
        if has_consumer and not had_consumer and current is not None:
            marker_out.push_sample([current[0]], current[1])
        had_consumer = has_consumer
        t_target = (now - t_wall0) * speed
        if duration is not None:
            t_target = min(t_target, duration)
        # Markers first, so a clip's label is out before its first samples.
        for t_start, label in sim.segment_starts(t_sim, t_target) if t_target > t_sim else []:
            current = (_marker(label), t_wall0 + t_start / speed)
            marker_out.push_sample([current[0]], current[1])
        # Every sample stamped before now, as an amplifier sends it (floor() held each one
        # back a sample period: 5 ms more latency at 200 Hz than a real source gives).
        n_target = math.ceil(t_target * sfreq - 1e-9)
        if n_target > n_eeg:
            x = (sim.eeg(n_target - n_eeg) * 1e6).T.astype(np.float32)
            stamps = t_wall0 + np.arange(n_eeg, n_target) / sfreq / speed
            eeg_out.push_chunk(x, stamps.tolist())
            n_eeg = n_target
        ts, gx, gy, p1, p2, valid = sim.gaze_until(t_target)
        if ts.size:
            g = np.column_stack([gx, gy, p1, p2, valid]).astype(np.float32)
            gaze_out.push_chunk(g, (t_wall0 + ts / speed).tolist())
        t_sim = max(t_sim, t_target)
        if duration is not None and t_sim >= duration:
            break
        time.sleep(max(0.0, step_s - (pylsl.local_clock() - now)))
    del eeg_out, gaze_out, marker_out
    logger.info("simulator stopped after %.1f simulated s", t_sim)
    return t_sim
