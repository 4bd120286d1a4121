"""Fault suite, files: garbled XDF chunks are refused naming the chunk (issue 11).

Before the chunk checks, 64 garbled bytes gave a timestamp of -4.6e282 s and changed a replay's
accuracy; now a samples or clock-offset chunk with a timestamp that is not finite, absurd or
out of order is refused with the file, the chunk number, its byte offset and the stream."""

from __future__ import annotations

import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from cmt_live.io.xdf import XdfStream, read_xdf, write_xdf
from cmt_live.io.xdf_check import MAX_BACKWARD_S, check_xdf_complete

SF = 100.0


def _streams(n=1000):
    rng = np.random.default_rng(0)
    ts = 5000.0 + np.arange(n) / SF
    x = rng.normal(size=(n, 4)).astype(np.float32)
    eeg = XdfStream("EEG", "EEG", "eeg-1", SF, "float32", ["C3", "C4", "O1", "O2"], ts, x,
                    units=["microvolts"] * 4)  # fmt: skip
    mk = XdfStream("Markers", "Markers", "mk-1", 0.0, "string", ["label"],
                   np.array([5001.0, 5004.0, 5007.5]), [["Happy"], ["Sad"], ["Rest"]])  # fmt: skip
    return [eeg, mk]


@pytest.fixture
def xdf(tmp_path):
    return write_xdf(tmp_path / "rec.xdf", _streams(), chunk_samples=128)


def _chunks(raw):
    """(number, offset, tag, content_start, end) of every chunk."""
    out, pos, k = [], 4, 0
    while pos < len(raw):
        k += 1
        nb = raw[pos]
        length = int.from_bytes(raw[pos + 1 : pos + 1 + nb], "little")
        start = pos + 1 + nb
        out.append(
            (k, pos, int.from_bytes(raw[start : start + 2], "little"), start, start + length)
        )
        pos = start + length
    return out


def _stamp_offset(raw, chunk_index, sample):
    """Byte offset of the timestamp of ``sample`` in the ``chunk_index``-th EEG samples chunk."""
    k, off, _, start, _ = [c for c in _chunks(raw) if c[2] == 3][chunk_index]
    pos = start + 2 + 4  # tag, stream id
    nb = raw[pos]
    pos += 1 + nb
    return k, off, pos + sample * (1 + 8 + 16) + 1


def _write(path, raw):
    path.write_bytes(bytes(raw))
    return path


def test_a_garbage_timestamp_is_refused_naming_the_chunk_and_stream(xdf, tmp_path):
    raw = bytearray(xdf.read_bytes())
    k, off, at = _stamp_offset(raw, 2, 17)
    raw[at : at + 8] = struct.pack("<d", -4.6e282)
    bad = _write(tmp_path / "bad.xdf", raw)
    with pytest.raises(ValueError) as info:
        read_xdf(bad)
    msg = str(info.value)
    assert f"{bad}: chunk {k} at byte {off} (stream 'EEG') is corrupt" in msg
    assert "sample 17 has the timestamp -4.6e+282 s" in msg and "\n" not in msg


@pytest.mark.parametrize(("step", "ok"), [(-0.01, True), (-5.0, False), (3 * 86400.0, False)])
def test_steps_back_and_forward_are_judged_within_reason(xdf, tmp_path, step, ok):
    raw = bytearray(xdf.read_bytes())
    k, _, at = _stamp_offset(raw, 1, 40)
    (t,) = struct.unpack_from("<d", raw, at)
    raw[at : at + 8] = struct.pack("<d", t - 1 / SF + step)  # relative to the sample before
    bad = _write(tmp_path / "step.xdf", raw)
    if ok:  # LSL stamps jitter by milliseconds: accepted
        check_xdf_complete(bad)
        return
    with pytest.raises(ValueError, match=rf"chunk {k} .*sample 40 is stamped .*accepted: "
                       rf"-{MAX_BACKWARD_S:g} to"):  # fmt: skip
        check_xdf_complete(bad)


def test_a_garbled_clock_offset_is_refused(xdf, tmp_path):
    raw = bytearray(xdf.read_bytes())
    k, off, _, start, _ = next(c for c in _chunks(raw) if c[2] == 4)
    raw[start + 2 + 4 + 8 : start + 2 + 4 + 16] = struct.pack("<d", float("nan"))
    bad = _write(tmp_path / "offset.xdf", raw)
    with pytest.raises(ValueError, match=rf"chunk {k} at byte {off} .*clock offset of nan s"):
        read_xdf(bad)


def test_64_garbled_bytes_anywhere_in_samples_never_change_timestamps_silently(xdf, tmp_path):
    good = {s.name: s.timestamps for s in read_xdf(xdf)}
    raw0 = xdf.read_bytes()
    samples = [c for c in _chunks(raw0) if c[2] == 3]
    rng = np.random.default_rng(3)
    refused = 0
    for trial in range(60):
        _, _, _, start, end = samples[rng.integers(len(samples))]
        at = int(rng.integers(start + 2, max(start + 3, end - 64)))
        raw = bytearray(raw0)
        raw[at : at + 64] = rng.bytes(64)[: len(raw[at : at + 64])]
        bad = _write(tmp_path / f"g{trial}.xdf", raw)
        try:
            got = {s.name: s.timestamps for s in read_xdf(bad)}
        except ValueError as err:
            assert str(bad) in str(err) and "\n" not in str(err)
            refused += 1
            continue
        for name, ts in good.items():  # only sample values may have changed
            np.testing.assert_array_equal(got[name], ts, err_msg=f"trial {trial}, byte {at}")
    assert refused >= 50


def test_cmt_live_fast_replay_of_a_garbled_file_prints_one_line(xdf, tmp_path):
    from live_models import make_model_file

    raw = bytearray(xdf.read_bytes())
    _, _, at = _stamp_offset(raw, 0, 3)
    raw[at : at + 8] = struct.pack("<d", float("inf"))
    bad = _write(tmp_path / "bad.xdf", raw)
    model = make_model_file(tmp_path / "m.pt")
    args = ["--replay", str(bad), "--fast", "--model", str(model), "--device", "cpu"]
    proc = subprocess.run(
        [sys.executable, "-m", "cmt_live.cli.live", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ),
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("cmt-live:")]
    assert len(lines) == 1 and "sample 3 has the timestamp inf s" in lines[0], proc.stderr
