"""The session log's file: whole lines only, and a bounded hold for lines a failing disk refused.

A full disk (``ENOSPC``) or a failing one must not stop the monitor, tear the last line, or lose
rows silently. :class:`LineFile` writes with ``os.write`` and, when a write fails part-way,
cuts the file back to its last whole line. :class:`HeldLines` keeps the lines the file refused
(oldest dropped past ``max_held``, counted with their time range), retries with a doubling
backoff on later writes, and reports each change of state once (:meth:`HeldLines.pop_alerts`)
so the other sinks (monitor, terminal) can show it.
"""

from __future__ import annotations

import errno
import os
import time
from collections import deque
from pathlib import Path

from ._logging import logger

#: Event kinds the log reports about itself (sent to every sink by the pipeline).
LOG_WRITE_ERROR = "log_write_error"
LOG_RECOVERED = "log_recovered"

#: Bytes per ``os.write`` when catching up: a disk that has room for some lines takes them.
_CHUNK_BYTES = 64 * 1024


class LineFile:
    """An append-only file written in whole lines.

    Parameters
    ----------
    path : str | Path
        Created or truncated.

    Attributes
    ----------
    size : int
        Bytes of whole lines written so far (the file's length after any failed write).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.size = 0

    def _write_some(self, data: memoryview) -> int:
        """One ``os.write`` (tests override it to simulate a disk that fills)."""
        return os.write(self._fd, data)

    def write(self, data: bytes) -> None:
        """Write ``data`` (whole lines) completely, or raise with the file cut back to
        :attr:`size`.

        Raises
        ------
        OSError
            The write failed (``ENOSPC``, ``EIO``, ...); nothing of ``data`` stays in the file
            (unless even cutting back failed, which is logged).
        """
        if self._fd is None:
            raise OSError(errno.EBADF, "the log file is closed", str(self.path))
        view, done = memoryview(data), 0
        try:
            while done < len(view):
                n = self._write_some(view[done:])
                if n <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
                done += n
        except OSError:
            if done:
                self._cut_back()
            raise
        self.size += len(view)

    def _cut_back(self) -> None:
        # Truncating needs no free space; a torn line would make the whole file unparsable.
        try:
            os.ftruncate(self._fd, self.size)
            os.lseek(self._fd, self.size, os.SEEK_SET)
        except OSError as err:
            logger.error("session log %s: could not cut a torn line off (%s)", self.path, err)

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _span(t0: float | None, t1: float | None) -> str:
    if t0 is None:
        return ""
    return f" (t {t0:.3f} to {t1:.3f} s)"


class HeldLines:
    """Lines on their way to a :class:`LineFile`, held while the file refuses them.

    Parameters
    ----------
    file : LineFile
    max_held : int
        Lines held at most while the disk fails; beyond it the oldest are dropped and counted.
    backoff_s : (float, float)
        First and longest wait between two retries, seconds (doubling in between).
    clock : callable() -> float
        Monotonic seconds (tests pass a fake one).

    Attributes
    ----------
    error : str | None
        The last write error while failing, else None.
    n_lost : int
        Lines dropped because the hold was full.
    """

    def __init__(self, file: LineFile, *, max_held=100_000, backoff_s=(0.5, 30.0), clock=None):
        if int(max_held) != max_held or max_held < 1:
            raise ValueError(f"max_held must be a positive integer; got {max_held}.")
        self.file = file
        self.max_held = int(max_held)
        self.backoff_s = (float(backoff_s[0]), float(backoff_s[1]))
        self._clock = clock or time.monotonic
        self._held: deque[tuple[float | None, bytes]] = deque()
        self._t_held: list[float | None] = [None, None]  # time span held since the failure
        self._n_failed = 0  # lines held since the failure began
        self._lost_before = 0  # n_lost when the failure began
        self._retry_at = 0.0
        self._wait_s = self.backoff_s[0]
        self.error: str | None = None
        self.n_lost = 0
        self._t_lost: list[float | None] = [None, None]
        self._alerts: list[tuple[str, str]] = []

    @property
    def failing(self) -> bool:
        return self.error is not None

    def add(self, line: bytes, t: float | None = None) -> None:
        """Queue one whole line (``t``: its LSL time, for reports) and write what can be."""
        self._held.append((t, line))
        if self.failing:
            self._n_failed += 1
            _widen(self._t_held, t)
        if len(self._held) > self.max_held:
            t_old, _ = self._held.popleft()
            self.n_lost += 1
            _widen(self._t_lost, t_old)
        self.flush()

    def flush(self, force: bool = False) -> bool:
        """Write the held lines (while failing: only once the backoff has passed, or when
        ``force``). Returns True when nothing is held any more."""
        if self.failing and not force and self._clock() < self._retry_at:
            return False
        while self._held:
            chunk, n = [], 0
            for _, line in self._held:
                if chunk and n + len(line) > _CHUNK_BYTES:
                    break
                chunk.append(line)
                n += len(line)
            try:
                self.file.write(b"".join(chunk))
            except OSError as err:
                self._failed(err)
                return False
            for _ in chunk:
                self._held.popleft()
        if self.failing:
            self._recovered()
        return True

    def _failed(self, err: OSError) -> None:
        first = not self.failing
        self.error = f"{err.strerror or err} (errno {errno.errorcode.get(err.errno, err.errno)})"
        if first:
            self._n_failed = len(self._held)
            self._lost_before = self.n_lost
            self._t_held = [None, None]
            for t, _ in self._held:
                _widen(self._t_held, t)
            self._wait_s = self.backoff_s[0]
            msg = (
                f"cannot write the session log {self.file.path}: {self.error}; holding rows in "
                f"memory (up to {self.max_held}) and retrying; predictions go on. Free disk "
                "space to keep the log complete."
            )
            logger.error("%s", msg)
            self._alerts.append((LOG_WRITE_ERROR, msg))
        else:
            self._wait_s = min(self._wait_s * 2, self.backoff_s[1])
        self._retry_at = self._clock() + self._wait_s

    def _recovered(self) -> None:
        lost = self.n_lost - self._lost_before
        msg = (
            f"the session log {self.file.path} is writable again: {self._n_failed - lost} rows "
            f"held during the outage{_span(*self._t_held)} are written now"
        )
        if lost:
            msg += f"; {lost} rows were lost{_span(*self._t_lost)} (the hold was full)"
        logger.warning("%s", msg)
        self._alerts.append((LOG_RECOVERED, msg))
        self.error = None

    def pop_alerts(self) -> list[tuple[str, str]]:
        """State changes since the last call, ``(kind, message)``, each reported once."""
        out, self._alerts = self._alerts, []
        return out

    def unwritten(self) -> str | None:
        """One sentence on what is not in the file (held now and lost), or None if nothing."""
        if not self._held and not self.n_lost:
            return None
        span: list[float | None] = [None, None]
        for t, _ in self._held:
            _widen(span, t)
        parts = []
        if self._held:
            parts.append(f"{len(self._held)} rows were not written{_span(*span)}")
        if self.n_lost:
            parts.append(f"{self.n_lost} rows were lost{_span(*self._t_lost)} (hold full)")
        why = f": {self.error}" if self.error else ""
        return f"session log {self.file.path}: " + " and ".join(parts) + why


def _widen(span: list[float | None], t: float | None) -> None:
    if t is None:
        return
    span[0] = t if span[0] is None else min(span[0], t)
    span[1] = t if span[1] is None else max(span[1], t)
