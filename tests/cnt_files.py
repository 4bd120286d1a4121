"""Write small Neuroscan ``.cnt`` files for tests (the SETUP header's fields MNE reads).

Layout (Neuroscan's SETUP struct, 900 bytes; one 75-byte ELECTLOC per channel; multiplexed
little-endian integers; the event table): only the fields MNE's reader uses are filled, the
rest are zeros. Values: ``volts = (raw - baseline) * sensitivity * cal / 204.8 * 1e-6``.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

SENSITIVITY = 204.8  # with CAL: one integer step = CAL µV
CAL = 0.5


def write_cnt(
    path: Path,
    counts: np.ndarray,
    sfreq: int,
    ch_names,
    *,
    dtype: str = "int16",
    header_n_samples: int = 0,
) -> Path:
    """Write ``counts`` (array of shape (n_channels, n_times), integers) as a Neuroscan file.

    ``header_n_samples``: the sample count written in the header (0, or a wrong value: the
    ambiguous headers SEED-V's and MNE's own test files have).
    """
    counts = np.asarray(counts)
    n_ch, n_times = counts.shape
    word = np.dtype("<i2" if dtype == "int16" else "<i4")
    head = bytearray(900)
    head[225:235] = b"11/28/26\0\0"
    head[235:247] = b"12:00:00\0\0\0\0"
    struct.pack_into("<H", head, 370, n_ch)
    struct.pack_into("<H", head, 376, sfreq)
    struct.pack_into("<i", head, 864, header_n_samples)
    data_offset = 900 + 75 * n_ch
    event_offset = data_offset + n_ch * n_times * word.itemsize
    struct.pack_into("<i", head, 886, event_offset)
    elec = bytearray(75 * n_ch)
    for i, name in enumerate(ch_names):
        o = 75 * i
        elec[o : o + 10] = name.encode()[:10].ljust(10, b"\0")
        struct.pack_into("<ff", elec, o + 19, float(i), 0.0)  # screen position
        struct.pack_into("<h", elec, o + 47, 0)  # baseline
        struct.pack_into("<f", elec, o + 59, SENSITIVITY)
        struct.pack_into("<f", elec, o + 71, CAL)
    data = np.ascontiguousarray(counts.T, dtype=word).tobytes()  # multiplexed
    events = struct.pack("<Bii", 1, 0, 0)  # TEEG: type 1, no events
    path.write_bytes(bytes(head) + bytes(elec) + data + events)
    return path


def eeg_like_counts(n_ch: int, n_times: int, sfreq: float, *, amplitude: float, seed: int = 0):
    """Band-limited integer test signals: per channel a 10 Hz sinusoid with its own phase and
    a slow random walk (low-passed noise), ``amplitude`` counts peak (EEG-like, smooth)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_times) / sfreq
    phase = rng.uniform(0, 2 * np.pi, (n_ch, 1))
    walk = np.cumsum(rng.standard_normal((n_ch, n_times)), axis=1)
    walk -= walk.mean(axis=1, keepdims=True)
    walk *= 0.5 * amplitude / max(np.abs(walk).max(), 1e-9)
    return np.round(0.5 * amplitude * np.sin(2 * np.pi * 10 * t + phase) + walk).astype(np.int64)
