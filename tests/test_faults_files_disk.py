"""Fault suite, files: a full or failing disk under the session log (issue 11).

The injected file always runs: it writes part of a line and then raises ENOSPC, like a disk
that fills mid-write. The tmpfs test fills a real 64 KiB filesystem when the test may mount one
(root in a private mount namespace), and skips otherwise.
"""

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from live_models import make_model_file

from cmt_live.log_file import LOG_RECOVERED, LOG_WRITE_ERROR, HeldLines, LineFile
from cmt_live.pipeline import Pipeline
from cmt_live.records import Prediction
from cmt_live.settings import Settings
from cmt_live.sinks import SessionLog, Sink, read_log
from cmt_live.source import Batch
from features.seedv import CLASS_NAMES


class FillingDisk(LineFile):
    """A file whose disk has ``room`` bytes left (None: unlimited); a write that does not fit
    writes what fits, then fails with ENOSPC on the next call, as the kernel does."""

    room: int | None = None

    def _write_some(self, data):
        if self.room is None:
            return super()._write_some(data)
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = super()._write_some(data[: self.room])
        self.room -= n
        return n


def pred(t_end):
    probs = np.full(5, 0.1)
    probs[4] = 0.6
    return Prediction(
        t_end=t_end,
        probs=probs,
        gates=np.array([0.5, 0.5]),
        label=CLASS_NAMES[4],
        flags=frozenset(),
        t_computed=t_end + 0.01,
        compute_ms=2.0,
        n_context=1,
    )


def whole_lines(path, ext):
    """Every line parses (a torn line would not)."""
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), "the last line is torn"
    return read_log(path) if ext == ".jsonl" else [r for r in read_log(path)]


@pytest.mark.parametrize("ext", [".jsonl", ".csv"])
def test_full_disk_holds_rows_reports_once_and_writes_them_when_space_returns(tmp_path, ext):
    files = []

    def opener(path):
        files.append(FillingDisk(path))
        return files[-1]

    path = tmp_path / f"log{ext}"
    log = SessionLog(path, start_info={"model": "m.pt"}, line_file=opener)
    disk = files[0]
    for k in range(5):
        log.on_prediction(pred(100.0 + k))
    disk.room = 40  # room for part of one more row: the next one tears
    for k in range(5, 20):
        log.on_prediction(pred(100.0 + k))  # never raises
    assert log.failing is not None and "No space left" in log.failing
    rows = whole_lines(path, ext)
    assert [r["kind"] for r in rows].count("prediction") == 5  # the torn row was cut off
    alerts = log.pop_alerts()
    assert [a[0] for a in alerts] == [LOG_WRITE_ERROR]
    assert str(path) in alerts[0][1] and "retrying" in alerts[0][1]
    assert log.pop_alerts() == []  # reported once
    # The pipeline sends the alert back as an event: the log records its own outage.
    log.on_event(LOG_WRITE_ERROR, alerts[0][1], 110.0)
    disk.room = None  # space freed
    log._lines._retry_at = 0.0  # the backoff has passed
    log.on_prediction(pred(120.0))
    assert log.failing is None
    ((kind, msg),) = log.pop_alerts()
    assert (
        kind == LOG_RECOVERED and "17 rows held" in msg
    )  # 15 + the event + the last and "105.000" in msg
    log.close()
    assert log.unwritten is None
    rows = whole_lines(path, ext)
    kinds = [r["kind"] for r in rows]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("prediction") == 21
    t_end = [float(r["t_end"]) for r in rows if r["kind"] == "prediction"]
    assert t_end == sorted(t_end) and t_end[5] == 105.0  # order kept, nothing lost
    assert any(r.get("event") == LOG_WRITE_ERROR for r in rows)


def test_disk_still_full_at_close_says_what_was_not_written(tmp_path):
    files = []
    path = tmp_path / "log.jsonl"
    log = SessionLog(path, line_file=lambda p: files.append(FillingDisk(p)) or files[-1])
    log.on_prediction(pred(10.0))
    files[0].room = 0
    for k in range(1, 4):
        log.on_prediction(pred(10.0 + k))
    log.close()
    assert log.unwritten is not None
    assert "4 rows were not written (t 11.000 to 13.000 s)" in log.unwritten  # 3 + end row
    assert str(path) in log.unwritten and "errno ENOSPC" in log.unwritten
    rows = whole_lines(path, ".jsonl")
    assert [r["kind"] for r in rows] == ["start", "prediction"]


def test_a_full_hold_drops_the_oldest_rows_and_counts_them(tmp_path):
    files = []
    path = tmp_path / "log.jsonl"
    log = SessionLog(
        path, max_held=4, line_file=lambda p: files.append(FillingDisk(p)) or files[-1]
    )
    files[0].room = 0
    for k in range(10):
        log.on_prediction(pred(50.0 + k))
    files[0].room = None
    log._lines._retry_at = 0.0
    log.on_prediction(pred(60.0))
    msg = next(m for k, m in log.pop_alerts() if k == LOG_RECOVERED)
    assert "4 rows held during the outage" in msg
    assert "7 rows were lost (t 50.000 to 56.000 s)" in msg
    log.close()
    rows = read_log(path)
    assert [r["t_end"] for r in rows if r["kind"] == "prediction"] == [57.0, 58.0, 59.0, 60.0]
    assert rows[-1]["kind"] == "end" and rows[-1]["n_rows_lost"] == 7


def test_retries_back_off_while_the_disk_stays_full(tmp_path):
    now = [0.0]
    tries = []

    class Counting(FillingDisk):
        def write(self, data):
            tries.append(now[0])
            return super().write(data)

    f = Counting(tmp_path / "x.jsonl")
    held = HeldLines(f, backoff_s=(1.0, 4.0), clock=lambda: now[0])
    f.room = 0
    for step in range(200):  # 20 s of rows every 0.1 s
        now[0] = step * 0.1
        held.add(b"{}\n", now[0])
    gaps = np.diff(tries)
    assert len(tries) < 12  # not one try per row
    assert gaps[0] == pytest.approx(1.0) and max(gaps) == pytest.approx(4.0, abs=0.11)


class Events(Sink):
    def __init__(self):
        self.events = []

    def on_event(self, kind, message, t):
        self.events.append((kind, message))


def test_pipeline_keeps_predicting_and_every_sink_hears_of_the_log_failure(tmp_path):
    from models import load_runtime

    rt = load_runtime(make_model_file(tmp_path / "m.pt"), device="cpu", threads=1, warmup=1)
    files = []
    log = SessionLog(
        tmp_path / "s.jsonl", line_file=lambda p: files.append(FillingDisk(p)) or files[-1]
    )
    monitor = Events()
    pipe = Pipeline(rt, Settings.from_contract(rt.contract, has_gaze=False), sinks=[log, monitor])
    files[0].room = 0
    sf = pipe.settings.eeg_sfreq
    rng = np.random.default_rng(0)
    preds = []
    for i in range(40):  # 10 s in 0.25 s batches
        n = int(0.25 * sf)
        ts = 1000.0 + (i * n + np.arange(n)) / sf
        preds += pipe.process(Batch(eeg=5e-6 * rng.standard_normal((n, 62)), eeg_ts=ts))
    assert len(preds) >= 5  # predictions went on
    assert [k for k, _ in monitor.events].count(LOG_WRITE_ERROR) == 1
    log.close()
    assert f"{len(preds) + 2} rows were not written" in log.unwritten  # + event + end rows


SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    from cmt_live.records import Prediction
    from cmt_live.sinks import SessionLog, read_log
    d = sys.argv[1]
    filler = os.path.join(d, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)  # fill the disk, then leave 12 kB
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError:
        os.close(fd)
    os.truncate(filler, max(0, os.path.getsize(filler) - 3 * 4096))
    log = SessionLog(os.path.join(d, "s.jsonl"))
    p = lambda t: Prediction(t_end=t, probs=np.full(5, 0.2), gates=np.array([0.5, 0.5]),
        label="Happy", flags=frozenset(), t_computed=t, compute_ms=1.0, n_context=1)
    for k in range(200):
        log.on_prediction(p(float(k)))
    failing = log.failing
    os.remove(filler)
    log._lines._retry_at = 0.0
    log.on_prediction(p(200.0))
    log.close()
    rows = read_log(os.path.join(d, "s.jsonl"))
    print(json.dumps({"failing": failing, "n": sum(r["kind"] == "prediction" for r in rows),
                      "last": rows[-1]["kind"], "unwritten": log.unwritten}))
    """
)


def test_real_tmpfs_that_fills_up(tmp_path):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare to mount a private tmpfs")
    d = tmp_path / "small"
    d.mkdir()
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {d} && echo ok"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0 or "ok" not in probe.stdout:
        pytest.skip(f"cannot mount a tmpfs here: {probe.stderr.strip()}")
    mount = f'mount -t tmpfs -o size=64k tmpfs {d} && exec "$@"'
    out = subprocess.run(
        ["unshare", "-m", "sh", "-c", mount, "-", sys.executable, "-c", SCRIPT, str(d)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["failing"] is not None and "No space left" in res["failing"]
    assert res["n"] == 201 and res["last"] == "end" and res["unwritten"] is None


def _can_mount_tmpfs(d):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return "needs root and unshare to mount a private tmpfs"
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {d} && echo ok"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0 or "ok" not in probe.stdout:
        return f"cannot mount a tmpfs here: {probe.stderr.strip()}"
    return None


@pytest.mark.lsl
def test_cmt_live_on_a_disk_that_fills_keeps_publishing_and_says_what_was_lost(tmp_path):
    import uuid

    import pylsl
    from lsl_sources import start_source, stop_source

    d = tmp_path / "small"
    d.mkdir()
    why = _can_mount_tmpfs(d)
    if why:
        pytest.skip(why)
    model = make_model_file(tmp_path / "m.pt")
    name, outlet = f"EEG-{uuid.uuid4().hex[:6]}", f"CMT-{uuid.uuid4().hex[:6]}"
    src, _ = start_source("--name", name, "--n-channels", "62", "--seedv-labels")
    # The tmpfs is full but for one 4 kB page: the log fills after a few predictions. The log
    # lives in the private mount, so the shell copies it out before leaving.
    script = (
        f"mount -t tmpfs -o size=64k tmpfs {d} && "
        f"(dd if=/dev/zero of={d}/filler bs=4k 2>/dev/null; truncate -s -4K {d}/filler) && "
        f'"$@"; rc=$?; cp {d}/s.jsonl {tmp_path}/copy.jsonl; exit $rc'
    )
    live = [sys.executable, "-m", "cmt_live.cli.live", "--headless", "--device", "cpu"]
    live += ["--threads", "1", "--eeg-stream", name, "--model", str(model), "--log"]
    live += [str(d / "s.jsonl"), "--duration", "20", "--outlet-name", outlet]
    proc = subprocess.Popen(
        ["unshare", "-m", "sh", "-c", script, "-", *live],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    n_published = 0
    try:
        found = pylsl.resolve_bypred(f"name='{outlet}'", 1, 60)
        assert found, "the prediction outlet never appeared"
        inlet = pylsl.StreamInlet(found[0])
        while proc.poll() is None:
            _, stamps = inlet.pull_chunk(timeout=0.5)
            n_published += len(stamps)
        _, stamps = inlet.pull_chunk(timeout=1.0)
        n_published += len(stamps)
        inlet.close_stream()
    finally:
        if proc.poll() is None:
            proc.kill()
        err = proc.communicate()[1]
        stop_source(src)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    text = (tmp_path / "copy.jsonl").read_text()
    assert text.endswith("\n")  # no torn line
    logged = sum(r["kind"] == "prediction" for r in read_log(tmp_path / "copy.jsonl"))
    lost = [ln for ln in err.splitlines() if ln.startswith("cmt-live: session log")]
    assert len(lost) == 1 and "rows were not written" in lost[0] and "ENOSPC" in lost[0]
    assert "cannot write the session log" in err and "predictions go on" in err
    # The outlet went on after the disk filled: more predictions published than logged.
    assert n_published >= 8 and n_published > logged, (n_published, logged)
