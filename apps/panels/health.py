"""The stream health table: one row per input (markers included), with its full name, type and
source, status as a word and a colour."""

from __future__ import annotations

from collections.abc import Iterable

from apps._qt import QtCore, QtGui, QtWidgets
from apps.state import StreamLabel
from apps.theme import FOREGROUND, OKABE_ITO, STATUS_COLORS, UNKNOWN_STATUS_COLOR
from cmt_live.records import StreamHealth

HEALTH_COLUMNS: tuple[str, ...] = (
    "stream\ntype · source",
    "status",
    "rate Hz\neff/nom",
    "offset\nms",
    "latency\nms",
    "samples",
    "dropped/\nfaults",
    "gaps",
)


def health_texts(h: StreamHealth, label: StreamLabel) -> tuple[str, ...]:
    """The cells of ``h``'s row, in :data:`HEALTH_COLUMNS` order (a Markers row counts
    markers; its timing columns are empty)."""
    name = h.name + (f"\n{label.detail}" if label.detail else "")
    if label.role == "markers":
        return (name, h.status, "irreg.", "", "", f"{h.n_samples:d}", "", "")
    nominal = f"{h.nominal_rate:.0f}" if h.nominal_rate > 0 else "irreg."
    return (
        name,
        h.status,
        f"{h.effective_rate:.0f} / {nominal}",
        f"{h.clock_offset_s * 1e3:+.2f}",
        f"{h.latency_s * 1e3:.0f}",
        f"{h.n_samples:d}",
        f"{h.n_dropped:d} / {h.n_timestamp_faults:d}",
        f"{len(h.gaps):d}",
    )


class HealthTable(QtWidgets.QTableWidget):
    """One row per input stream: status (word + colour), rates, clock offset, latency, counts."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(0, len(HEALTH_COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(HEALTH_COLUMNS))
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        hdr = self.horizontalHeader()
        hdr.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.setWordWrap(True)
        self.verticalHeader().setSectionResizeMode(
            QtWidgets.QHeaderView.ResizeMode.ResizeToContents
        )
        self._rows: dict[str, int] = {}
        self._shown: dict[str, tuple[tuple[str, ...], str]] = {}  # row texts and status shown

    def _item(self, row: int, col: int) -> QtWidgets.QTableWidgetItem:
        item = self.item(row, col)
        if item is None:
            item = QtWidgets.QTableWidgetItem()
            item.setTextAlignment(
                QtCore.Qt.AlignmentFlag.AlignCenter
                if col
                else QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter
            )
            self.setItem(row, col, item)
        return item

    def update_health(self, health: Iterable[tuple[StreamHealth, StreamLabel]]) -> None:
        """Show each stream's newest health (with its label, as
        :meth:`apps.state.MonitorState.health_view` gives them); a new stream gets a row."""
        for h, label in health:
            row = self._rows.get(h.name)
            if row is None:
                row = self.rowCount()
                self.insertRow(row)
                self._rows[h.name] = row
            texts = health_texts(h, label)
            if self._shown.get(h.name) == (texts, h.status):
                continue  # unchanged: no item update, no repaint
            self._shown[h.name] = (texts, h.status)
            for col, text in enumerate(texts):
                self._item(row, col).setText(text)
            self._item(row, 0).setToolTip(texts[0])
            status = self._item(row, 1)
            status.setBackground(QtGui.QColor(STATUS_COLORS.get(h.status, UNKNOWN_STATUS_COLOR)))
            status.setForeground(QtGui.QColor("#111111"))
            bad = h.n_dropped or h.n_timestamp_faults
            self._item(row, 6).setForeground(
                QtGui.QColor(OKABE_ITO["vermillion"] if bad else FOREGROUND)
            )
        self.fit_height()

    def fit_height(self) -> None:
        """Tall enough for every row: the table never hides a stream behind a scroll bar."""
        rows = sum(self.rowHeight(r) for r in range(self.rowCount()))
        bar = self.horizontalScrollBar().sizeHint().height()
        self.setFixedHeight(self.horizontalHeader().height() + rows + bar + 2 * self.frameWidth())

    @property
    def stream_names(self) -> tuple[str, ...]:
        """Streams with a row, top to bottom."""
        return tuple(self._rows)

    def name_cell(self, name: str) -> str:
        """The full text of stream ``name``'s first cell (for tests)."""
        return self.item(self._rows[name], 0).text()

    def status_of(self, name: str) -> tuple[str, str]:
        """(status text, background colour name) shown for stream ``name`` (for tests)."""
        row = self._rows[name]
        item = self.item(row, 1)
        return item.text(), item.background().color().name()
