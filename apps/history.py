"""A preallocated ring buffer of timestamped rows (numpy only, no Qt).

The monitor keeps predictions, per-window pupil means and raw pupil samples in these, so a
redraw costs the same after ten minutes as after ten seconds.
"""

from __future__ import annotations

import numpy as np


class History:
    """Preallocated ring buffer of timestamped rows with contiguous, copy-free views.

    Each row is written twice (at ``i`` and ``i + capacity``), so the newest ``capacity`` rows
    are always one contiguous slice: no ``np.roll``, no per-redraw copy. Rows are expected in
    time order (views are cut with a binary search).

    Parameters
    ----------
    capacity : int
        Rows kept; older ones are overwritten.
    n_cols : int
        Values per row.
    """

    def __init__(self, capacity: int, n_cols: int) -> None:
        if capacity < 1 or n_cols < 1:
            raise ValueError(
                f"History needs capacity >= 1 and n_cols >= 1; got {capacity} and {n_cols}."
            )
        self.capacity = int(capacity)
        self.n_cols = int(n_cols)
        self._t = np.zeros(2 * self.capacity)
        self._v = np.zeros((2 * self.capacity, self.n_cols))
        self.count = 0  # rows ever pushed

    def __len__(self) -> int:
        return min(self.count, self.capacity)

    def push(self, t: float, row) -> None:
        """Append one row at time ``t`` (seconds)."""
        i = self.count % self.capacity
        self._t[i] = self._t[i + self.capacity] = t
        self._v[i] = self._v[i + self.capacity] = row
        self.count += 1

    def push_many(self, t: np.ndarray, rows: np.ndarray) -> None:
        """Append ``rows (n, n_cols)`` at times ``t (n,)``; only the newest ``capacity`` stay."""
        t = np.asarray(t, dtype=float).reshape(-1)
        rows = np.asarray(rows, dtype=float).reshape(len(t), self.n_cols)
        n_total = len(t)
        t, rows = t[-self.capacity :], rows[-self.capacity :]
        n = len(t)
        # Rows dropped by the trim still count, so slot positions stay consistent.
        idx = (self.count + (n_total - n) + np.arange(n)) % self.capacity
        self._t[idx] = t
        self._t[idx + self.capacity] = t
        self._v[idx] = rows
        self._v[idx + self.capacity] = rows
        self.count += n_total

    def view(self, t_min: float = -np.inf) -> tuple[np.ndarray, np.ndarray]:
        """Rows with time ``>= t_min``, oldest first: ``(t (n,), values (n, n_cols))`` views."""
        n = len(self)
        start = self.count % self.capacity if self.count > self.capacity else 0
        t = self._t[start : start + n]
        v = self._v[start : start + n]
        if n and t[0] < t_min:
            k = int(np.searchsorted(t, t_min, side="left"))
            t, v = t[k:], v[k:]
        return t, v

    @property
    def last_t(self) -> float:
        """Time of the newest row (NaN when empty)."""
        if not self.count:
            return float("nan")
        return float(self._t[(self.count - 1) % self.capacity])
