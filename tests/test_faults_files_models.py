"""Fault suite, files: corrupt model files are refused naming the file (issue 11).

Before the integrity hash, one flipped byte in a weight loaded silently and changed every
prediction (torch's zip reader checks no CRC)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from live_models import make_model_file

from models import load_runtime
from models.export import CONTRACT_FILE
from models.integrity import INTEGRITY_FILE, archive_digest, verify_model_file


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = make_model_file(tmp_path_factory.mktemp("m") / "model.pt")
    rt = load_runtime(path, device="cpu", threads=1, warmup=0)
    return path, _outputs(rt)


def _outputs(rt):
    c = rt.contract
    rng = np.random.default_rng(0)
    eeg = rng.normal(size=(c.context_len, c.config.n_eeg)).astype(np.float32)
    eye = rng.normal(size=(c.context_len, c.config.n_eye)).astype(np.float32)
    return rt.predict(eeg, eye)[0]


def _member_offset(path, suffix):
    """File offset of the first data byte of the member whose name ends with ``suffix``."""
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if i.filename.endswith(suffix))
    h = info.header_offset
    n_name = int.from_bytes(raw[h + 26 : h + 28], "little")
    n_extra = int.from_bytes(raw[h + 28 : h + 30], "little")
    return h + 30 + n_name + n_extra, info.file_size


def _flip(path, out, offset):
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    out.write_bytes(bytes(raw))
    return out


def test_export_embeds_a_hash_that_matches(model):
    path, _ = model
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith("extra/" + INTEGRITY_FILE))
        record = json.loads(z.read(name))
    assert record["digest"] == archive_digest(path)[0]
    assert verify_model_file(path) is True


def test_one_flipped_weight_byte_is_refused_naming_the_file(model, tmp_path):
    path, _ = model
    start, size = _member_offset(path, "constants/44")  # the largest weight matrix
    bad = _flip(path, tmp_path / "flipped.pt", start + size // 2)
    with pytest.raises(ValueError) as info:
        load_runtime(bad, device="cpu", warmup=0)
    msg = str(info.value)
    assert str(bad) in msg and "corrupt" in msg and "\n" not in msg


def test_no_single_byte_flip_loads_with_different_outputs(model, tmp_path):
    path, want = model
    n = path.stat().st_size
    offsets = np.random.default_rng(1).choice(n, size=40, replace=False)
    refused = 0
    for k, off in enumerate(offsets):
        bad = _flip(path, tmp_path / f"f{k}.pt", int(off))
        try:
            rt = load_runtime(bad, device="cpu", threads=1, warmup=0)
        except ValueError as err:
            assert str(bad) in str(err) and "\n" not in str(err)
            refused += 1
            continue
        # Bytes no reader uses (zip padding, timestamps) may flip harmlessly; nothing else.
        np.testing.assert_array_equal(_outputs(rt), want, err_msg=f"flip at byte {off}")
    assert refused >= 30  # almost every byte is data the hash or a CRC covers


def test_a_flipped_byte_in_the_hash_record_itself_is_refused_naming_the_file(model, tmp_path):
    # integrity.json is outside the hash it records; only its zip CRC protects it.
    path, _ = model
    start, size = _member_offset(path, "extra/" + INTEGRITY_FILE)
    bad = _flip(path, tmp_path / "record.pt", start + size // 2)
    with pytest.raises(ValueError) as info:
        load_runtime(bad, device="cpu", warmup=0)
    msg = str(info.value)
    assert str(bad) in msg and INTEGRITY_FILE in msg and "\n" not in msg


def test_a_tampered_member_with_a_fixed_crc_is_refused_by_the_hash(model, tmp_path):
    path, _ = model
    out = tmp_path / "tampered.pt"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("constants/44"):
                data = data[:8] + bytes([data[8] ^ 1]) + data[9:]
            dst.writestr(info.filename, data)  # zipfile writes the new CRC
    with pytest.raises(ValueError, match=r"tampered\.pt is corrupt \(its content hash"):
        load_runtime(out, device="cpu", warmup=0)


def _without_hash(path, out):
    """The same model saved the old way: contract only, no integrity.json."""
    module = torch.jit.load(str(path), _extra_files=(extra := {CONTRACT_FILE: ""}))
    torch.jit.save(module, str(out), _extra_files={CONTRACT_FILE: extra[CONTRACT_FILE]})
    return out


def test_an_old_file_without_a_hash_loads_with_a_warning(model, tmp_path, caplog):
    path, want = model
    old = _without_hash(path, tmp_path / "old.pt")
    with caplog.at_level(logging.WARNING, logger="cmt_live"):
        rt = load_runtime(old, device="cpu", threads=1, warmup=0)
    assert any("has no integrity hash" in r.message and "Re-export" in r.message
               for r in caplog.records)  # fmt: skip
    np.testing.assert_allclose(_outputs(rt), want, atol=1e-6)
    # Its CRCs are still checked: a flipped weight byte is refused there too.
    start, size = _member_offset(old, "constants/44")
    bad = _flip(old, tmp_path / "old_flipped.pt", start + size // 3)
    with pytest.raises(ValueError, match=r"old_flipped\.pt is corrupt \(member .*Bad CRC"):
        load_runtime(bad, device="cpu", warmup=0)


def test_pt2_files_carry_and_check_the_hash_too(model, tmp_path):
    from models.export import export_pt2
    from models.transformer import CrossModalTransformer

    path, _ = model
    contract = load_runtime(path, device="cpu", warmup=0).contract
    torch.manual_seed(0)
    pt2 = export_pt2(CrossModalTransformer(contract.config).eval(), contract, tmp_path / "m.pt2")
    assert verify_model_file(pt2) is True
    start, size = _member_offset(pt2, "weights/weight_0")
    bad = _flip(pt2, tmp_path / "bad.pt2", start + size // 2)
    with pytest.raises(ValueError, match=r"bad\.pt2 is corrupt"):
        load_runtime(bad, device="cpu", warmup=0)


def test_cmt_live_on_a_corrupt_model_prints_one_line_and_exits_2(model, tmp_path):
    path, _ = model
    start, _ = _member_offset(path, "constants/44")
    bad = _flip(path, tmp_path / "bad.pt", start + 7)
    cmd = ["--headless", "--eeg-stream", "EEG", "--model", str(bad), "--device", "cpu"]
    proc = subprocess.run(
        [sys.executable, "-m", "cmt_live.cli.live", *cmd],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"cmt-live: {bad} is corrupt"), proc.stderr
