"""The latency budget on request: where the newest prediction's time went, and rolling p50/p99
per part (waiting for EEG, waiting for gaze, queue, features, model, sinks)."""

from __future__ import annotations

import math

from apps._qt import QtCore, QtWidgets

#: Rows of the table (the parts are its columns, so it stays a few lines high).
BUDGET_ROWS: tuple[str, ...] = ("latest", "p50", "p99")

#: Column headers for the parts (two lines, narrow columns).
PART_HEADERS: dict[str, str] = {
    "wait_eeg": "wait\nEEG",
    "wait_gaze": "wait\ngaze",
    "queue": "queue",
    "features": "features",
    "model": "model",
    "sinks": "sinks",
    "sum of parts": "sum of\nparts",
    "end-to-end": "end-to-\nend",
}

#: What each part means, as the row's tooltip (cmt_live.records.Prediction.budget).
PART_HELP: dict[str, str] = {
    "wait_eeg": "window end until the EEG buffer held its last sample (the source's chunks, "
    "transport, wake-up; negative if that sample, one period before the end, came earlier)",
    "wait_gaze": "then until the window was cut (gaze passing its end, bounded wait)",
    "queue": "then until its features started (other windows due at once)",
    "features": "featurising the window",
    "model": "the model's share of its call",
    "sinks": "sinks called before the monitor (outlet, ...)",
    "sum of parts": "the parts above added up",
    "end-to-end": "prediction time minus window end (the headline's latency)",
}


def ms_text(value: float) -> str:
    """``12.3``, or ``—`` for a part that was not given."""
    return "—" if math.isnan(value) else f"{value:.1f}"


class BudgetTable(QtWidgets.QTableWidget):
    """One column per budget part, rows latest / p50 / p99 in ms (parts as
    :meth:`apps.state.MonitorState.budget_view` gives them)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(len(BUDGET_ROWS), 0, parent)
        self.setVerticalHeaderLabels([f"{r} ms" for r in BUDGET_ROWS])
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.verticalHeader().setDefaultSectionSize(22)
        self._parts: list[str] = []
        self._shown: list[tuple[str, ...]] = []

    def show_budget(self, rows: list[tuple[str, float, float, float]]) -> None:
        """Show ``(part, latest ms, p50 ms, p99 ms)`` per part; unchanged cells are left alone."""
        texts = [(name, *(ms_text(v) for v in values)) for name, *values in rows]
        if texts == self._shown:
            return
        parts = [t[0] for t in texts]
        if parts != self._parts:
            self._parts = parts
            self.setColumnCount(len(parts))
            self.setHorizontalHeaderLabels([PART_HEADERS.get(p, p) for p in parts])
            for c, part in enumerate(parts):
                self.horizontalHeaderItem(c).setToolTip(PART_HELP.get(part, ""))
        for c, row in enumerate(texts):
            for r, text in enumerate(row[1:]):
                item = self.item(r, c)
                if item is None:
                    item = QtWidgets.QTableWidgetItem()
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
                    self.setItem(r, c, item)
                if item.text() != text:
                    item.setText(text)
        self._shown = texts
        # Size hints, not heights: the table may be laid out for the first time only now.
        header_px = self.horizontalHeader().sizeHint().height()
        self.setFixedHeight(header_px + self.verticalHeader().length() + 2 * self.frameWidth())

    def cell(self, part: str, row: str) -> str:
        """The text shown for ``part`` in ``row`` (one of :data:`BUDGET_ROWS`)."""
        if part not in self._parts:
            raise KeyError(f"No budget part {part!r}; parts shown: {self._parts}.")
        return self.item(BUDGET_ROWS.index(row), self._parts.index(part)).text()
