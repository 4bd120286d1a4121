"""What ``cmt-live`` needs around the Qt window: can one open here, the inputs' labels for the
health table, the Record button's start/stop, and running the pipeline under the monitor.

The one upward import (``apps``, DESIGN.md) happens lazily inside these functions.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def has_display() -> bool:
    """A display is named in the environment (or the user chose a Qt platform)."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True  # the user chose a Qt platform (offscreen included: screenshots)
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def qt_can_open_window() -> bool:
    """Probe Qt's platform plugin in a child process (a failing plugin aborts the process);
    on failure print one line naming what is missing and fall back to the terminal."""
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal"):
        return True  # no display needed: screenshots and tests
    from apps.qt_check import probe_qt_platform

    probe = probe_qt_platform()
    if not probe.ok:
        print(f"cmt-live: {probe.hint} Showing the terminal dashboard.", file=sys.stderr)
    return probe.ok


class RecordControl:
    """The window's Record button: LabRecorder on ``streams`` (the inputs and the outlet),
    started and stopped from the GUI; a new timestamped file each time unless ``path`` (from
    ``--record``) names one. ``recorder`` is the one ``--record`` already started, or None."""

    def __init__(self, path: Path | None, streams: list[dict[str, str]], recorder=None):
        self.path, self.streams, self.recorder = path, streams, recorder

    def __call__(self, on: bool) -> str:
        if not on:
            rec, self.recorder = self.recorder, None
            return f"saved {rec.stop()}" if rec is not None else "was not recording"
        if self.recorder is not None:
            return f"already recording to {self.recorder.path}"
        from cmt_live.io.labrecorder import Recorder

        path = self.path or Path(time.strftime("cmt-live-%Y%m%d-%H%M%S.xdf"))
        recorder = Recorder(path, self.streams, overwrite=True)
        recorder.start()
        self.recorder = recorder
        return f"recording to {path}"


def stream_labels(info) -> list:
    """The inputs of ``info`` (:class:`cmt_live.source.SourceInfo`) as health-table rows."""
    from apps.state import StreamLabel

    labels = [StreamLabel(info.eeg.name, "EEG", info.eeg.type, info.eeg.source_id)]
    if info.gaze is not None:
        labels.append(StreamLabel(info.gaze.name, "gaze", info.gaze.type, info.gaze.source_id))
    if info.markers:
        labels.append(StreamLabel(info.markers, "markers", "Markers"))
    return labels


def run_gui(driver, args, run_monitor, spec, info, record: RecordControl) -> int:
    """Run ``driver`` in a worker thread under the monitor; returns the exit status."""

    def start_worker(sink):
        driver.pipeline.add_sink(sink)
        driver.start(args.duration)
        return lambda: driver.stop(timeout_s=2.0)

    return run_monitor(
        start_worker,
        ch_names=spec.ch_names,
        order=spec.order,
        screenshot=args.screenshot,
        screenshot_after_s=args.screenshot_after,
        duration_s=args.duration,
        exit_when_worker_done=True,
        streams=stream_labels(info),
        window_s=spec.window_s,
        latency_budget_ms=args.step * 1e3,
        record=None if args.no_outlet else record,
        recording=record.recorder is not None,
    )
