"""A preallocated, timestamped, circular sample buffer shared by one writer and readers.

The writer (an inlet's reader thread, or a fake source in tests) calls :meth:`RingBuffer.push`;
readers call :meth:`RingBuffer.get_range` (by LSL time), :meth:`RingBuffer.get_index_range`
(by absolute sample index, for windows on the sample grid), :meth:`RingBuffer.latest` or
:meth:`RingBuffer.read_new` (everything not read yet, for a streaming consumer). One lock guards
everything; no call allocates more than its result.

Samples are addressed by *absolute index*: the k-th sample ever pushed has index k, whatever
has been overwritten since. The buffer holds indices ``[n_total - size, n_total)``.

Overflow policy (``overflow=``):

``"overwrite-oldest"`` (default)
    The oldest samples make room. Samples overwritten before any reader saw them are counted
    (:attr:`RingBuffer.n_overwritten_unread`) and logged once per *episode* (from the first such
    push until a push that loses nothing unread), never silently.
``"raise"``
    A push that would overwrite samples no reader has seen raises :class:`BufferOverflowError`
    and leaves the buffer unchanged. Overwriting samples already read is normal circular use.

"Read" means covered by any read call: :meth:`get_range`, :meth:`get_index_range`,
:meth:`latest` and :meth:`read_new` all advance the read mark to the newest sample they
returned.
"""

from __future__ import annotations

import threading

import numpy as np

from ._logging import logger

OVERFLOW_POLICIES = ("overwrite-oldest", "raise")


class BufferOverflowError(RuntimeError):
    """A push would overwrite samples nobody has read (overflow policy ``"raise"``)."""


class RingBuffer:
    """Circular buffer of ``capacity`` samples with one float64 timestamp per sample.

    Parameters
    ----------
    n_channels : int
        Channels per sample (> 0).
    capacity : int
        Samples held (> 0). Size it as seconds x rate x a margin (e.g. 30 s of EEG).
    dtype : numpy dtype
        Sample type of the data array (default float32; timestamps are always float64).
    overflow : ``"overwrite-oldest"`` | ``"raise"``
        What happens when unread samples would be overwritten (see the module docstring).
    name : str
        Used in log messages.

    Notes
    -----
    :meth:`get_range` bisects the timestamps, so they must not decrease; the stream checks
    (:mod:`cmt_live.stream_checks`) drop backward and duplicate stamps before the buffer.
    :meth:`push` refuses decreasing stamps with a ``ValueError``.
    """

    def __init__(
        self,
        n_channels: int,
        capacity: int,
        dtype=np.float32,
        *,
        overflow: str = "overwrite-oldest",
        name: str = "",
    ):
        if int(n_channels) != n_channels or n_channels < 1:
            raise ValueError(f"n_channels must be a positive integer; got {n_channels!r}.")
        if int(capacity) != capacity or capacity < 1:
            raise ValueError(
                f"capacity must be a positive integer (samples); got {capacity!r}. Use seconds "
                "x sampling rate x a margin, e.g. 30 s of data."
            )
        if overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}; got {overflow!r}.")
        self.n_channels = int(n_channels)
        self.capacity = int(capacity)
        self.overflow = overflow
        self.name = name
        self._data = np.zeros((self.capacity, self.n_channels), dtype=dtype)
        self._ts = np.zeros(self.capacity, dtype=np.float64)
        self._lock = threading.Lock()
        self._n_total = 0  # samples ever pushed (absolute index of the next sample)
        self._read_upto = 0  # absolute index one past the newest sample any reader returned
        self._n_overwritten_unread = 0
        self._episode_lost = 0  # unread samples lost in the current overflow episode
        self._hidden_before = 0  # clear() hides samples below this absolute index

    # --- properties -------------------------------------------------------------------------
    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def n_total(self) -> int:
        """Samples pushed since creation (absolute index of the next sample)."""
        with self._lock:
            return self._n_total

    @property
    def size(self) -> int:
        """Samples currently held (``<= capacity``)."""
        with self._lock:
            return self._n_total - self._first()

    @property
    def first_index(self) -> int:
        """Absolute index of the oldest sample held."""
        with self._lock:
            return self._first()

    @property
    def n_new_samples(self) -> int:
        """Samples pushed and still held that no read call has returned yet."""
        with self._lock:
            return self._n_total - max(self._read_upto, self._first())

    @property
    def n_overwritten_unread(self) -> int:
        """Samples overwritten before any reader returned them (overflow losses)."""
        with self._lock:
            return self._n_overwritten_unread

    @property
    def newest_timestamp(self) -> float | None:
        """Timestamp of the newest sample, LSL seconds; None when empty."""
        with self._lock:
            if self._n_total == self._first():
                return None
            return float(self._ts[(self._n_total - 1) % self.capacity])

    @property
    def oldest_timestamp(self) -> float | None:
        """Timestamp of the oldest sample held, LSL seconds; None when empty."""
        with self._lock:
            if self._n_total == self._first():
                return None
            return float(self._ts[self._first() % self.capacity])

    # --- writing ----------------------------------------------------------------------------
    def newer(self, data: np.ndarray, timestamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The samples stamped after the newest one held (a chunk that overlaps what was
        already pushed, e.g. after a stream restart, keeps only its new part).

        Returns
        -------
        data : array of shape (n_kept, n_channels)
        timestamps : array of shape (n_kept,)
        """
        newest = self.newest_timestamp
        if newest is not None and len(timestamps) and timestamps[0] <= newest:
            keep = timestamps > newest
            return data[keep], timestamps[keep]
        return data, timestamps

    def push(self, data: np.ndarray, timestamps: np.ndarray) -> int:
        """Append samples (copied in, oldest first).

        Parameters
        ----------
        data : array of shape (n_samples, n_channels)
        timestamps : array of shape (n_samples,)
            LSL seconds, non-decreasing and not before the newest sample already held.

        Returns
        -------
        n_lost : int
            Unread samples overwritten by this push (``"overwrite-oldest"`` only).

        Raises
        ------
        ValueError
            Wrong shapes, or timestamps that go backwards.
        BufferOverflowError
            Policy ``"raise"`` and this push would overwrite unread samples.
        """
        data = np.asarray(data)
        ts = np.asarray(timestamps, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != self.n_channels or ts.shape != (data.shape[0],):
            raise ValueError(
                f"push needs data of shape (n_samples, {self.n_channels}) and timestamps of "
                f"shape (n_samples,); got {data.shape} and {ts.shape}."
            )
        n = data.shape[0]
        if n == 0:
            return 0
        if n > 1 and np.any(np.diff(ts) < 0):
            raise ValueError(
                "timestamps must not decrease within a push; run them through "
                "cmt_live.stream_checks.TimestampChecker first."
            )
        with self._lock:
            if (
                self._n_total > self._first()
                and ts[0] < self._ts[(self._n_total - 1) % self.capacity]
            ):
                raise ValueError(
                    f"timestamp {ts[0]!r} is before the newest buffered sample "
                    f"({self._ts[(self._n_total - 1) % self.capacity]!r}); run the stream "
                    "through cmt_live.stream_checks.TimestampChecker first."
                )
            # Samples that will be overwritten: absolute indices [first, new_first).
            new_total = self._n_total + n
            new_first = max(0, new_total - self.capacity)
            lost = max(0, new_first - max(self._read_upto, self._first()))
            if lost and self.overflow == "raise":
                raise BufferOverflowError(
                    f"ring buffer {self.name!r}: pushing {n} samples would overwrite {lost} "
                    f"samples nobody has read (capacity {self.capacity}). Read more often or "
                    "make the buffer larger."
                )
            # Only the last `capacity` samples of a huge push can survive.
            if n > self.capacity:
                data, ts = data[-self.capacity :], ts[-self.capacity :]
                start = (new_total - self.capacity) % self.capacity
            else:
                start = self._n_total % self.capacity
            m = data.shape[0]
            first_part = min(m, self.capacity - start)
            self._data[start : start + first_part] = data[:first_part]
            self._ts[start : start + first_part] = ts[:first_part]
            if first_part < m:
                self._data[: m - first_part] = data[first_part:]
                self._ts[: m - first_part] = ts[first_part:]
            self._n_total = new_total
            self._account_overflow(lost)
            return lost

    def _account_overflow(self, lost: int) -> None:
        # Called with the lock held. One warning per episode, a summary when it ends.
        if lost:
            self._n_overwritten_unread += lost
            if self._episode_lost == 0:
                logger.warning(
                    "ring buffer %r overflowed: %d unread samples overwritten (capacity %d); "
                    "counting further losses until the reader catches up.",
                    self.name,
                    lost,
                    self.capacity,
                )
            self._episode_lost += lost
        elif self._episode_lost:
            logger.warning(
                "ring buffer %r: overflow episode over, %d unread samples lost in it "
                "(%d in total).",
                self.name,
                self._episode_lost,
                self._n_overwritten_unread,
            )
            self._episode_lost = 0

    def clear(self) -> None:
        """Forget every sample (absolute indices keep counting; nothing counts as lost)."""
        with self._lock:
            self._read_upto = self._n_total
            self._hidden_before = self._n_total

    # --- reading ----------------------------------------------------------------------------
    def _first(self) -> int:
        # Absolute index of the oldest sample held (lock held by the caller).
        return max(self._n_total - self.capacity, self._hidden_before)

    def _copy(self, i0: int, i1: int) -> tuple[np.ndarray, np.ndarray]:
        # Copy absolute indices [i0, i1) out in logical order (lock held; range is held).
        n = i1 - i0
        out = np.empty((n, self.n_channels), dtype=self._data.dtype)
        out_ts = np.empty(n, dtype=np.float64)
        if n:
            s = i0 % self.capacity
            first_part = min(n, self.capacity - s)
            out[:first_part] = self._data[s : s + first_part]
            out_ts[:first_part] = self._ts[s : s + first_part]
            if first_part < n:
                out[first_part:] = self._data[: n - first_part]
                out_ts[first_part:] = self._ts[: n - first_part]
        self._read_upto = max(self._read_upto, i1)
        return out, out_ts

    def _search(self, t: float) -> int:
        # Absolute index of the first held sample with timestamp >= t (lock held).
        i0, i1 = self._first(), self._n_total
        if i1 == i0:
            return i0
        s = i0 % self.capacity
        n = i1 - i0
        first_part = min(n, self.capacity - s)
        seg_a = self._ts[s : s + first_part]
        if first_part == n or t <= seg_a[-1]:
            return i0 + int(np.searchsorted(seg_a, t, side="left"))
        seg_b = self._ts[: n - first_part]
        return i0 + first_part + int(np.searchsorted(seg_b, t, side="left"))

    def get_range(self, t_start: float, t_end: float) -> tuple[np.ndarray, np.ndarray]:
        """Samples with ``t_start <= timestamp < t_end`` (copies, oldest first).

        Returns
        -------
        data : array of shape (n_samples, n_channels)
        timestamps : array of shape (n_samples,), float64 LSL seconds
        """
        with self._lock:
            i0 = self._search(t_start)
            i1 = max(i0, self._search(t_end))
            return self._copy(i0, i1)

    def index_of(self, t: float) -> int:
        """Absolute index of the first held sample stamped at or after ``t`` (else ``n_total``)."""
        with self._lock:
            return self._search(t)

    def get_index_range(self, i_start: int, i_end: int) -> tuple[np.ndarray, np.ndarray]:
        """Samples with absolute indices ``[i_start, i_end)`` (copies, oldest first).

        Raises
        ------
        IndexError
            Part of the range was overwritten already or has not been pushed yet.
        """
        with self._lock:
            first = self._first()
            if i_start < first or i_end > self._n_total or i_end < i_start:
                raise IndexError(
                    f"ring buffer {self.name!r} holds absolute indices [{first}, "
                    f"{self._n_total}); asked for [{i_start}, {i_end})."
                )
            return self._copy(i_start, i_end)

    def latest(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The newest ``min(n, size)`` samples (copies, oldest first)."""
        with self._lock:
            i1 = self._n_total
            i0 = max(self._first(), i1 - int(n))
            return self._copy(i0, i1)

    def read_new(self) -> tuple[np.ndarray, np.ndarray]:
        """Every held sample not returned by a read call yet (copies, oldest first).

        The single-consumer path: a streaming stage calls it once per tick and sees each sample
        exactly once (unless the buffer overflowed, which is counted and logged).
        """
        with self._lock:
            i0 = max(self._read_upto, self._first())
            return self._copy(i0, self._n_total)
