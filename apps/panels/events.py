"""The events list: stream and pipeline events with their session time, newest at the bottom.

Every kind the pipeline sends is shown as it comes (``[stale]``, ``[eye_missing]``,
``[marker]``, ...); clicking a line emits :attr:`EventsList.jump` with its session time so the
window can move the time axis there.
"""

from __future__ import annotations

from collections.abc import Iterable

from apps._qt import QtCore, QtGui, QtWidgets
from apps.state import EventLine
from apps.theme import FOREGROUND, MUTED, OKABE_ITO

#: Kinds drawn in a warning colour; everything else in the normal text colour.
_WARN_WORDS = (
    "stale", "missing", "gap", "fault", "skipped", "refused", "implausible", "lost", "coverage",
    "error", "failed", "nonfinite", "flat",
)  # fmt: skip


def event_color(kind: str, text: str) -> str:
    """Orange for trouble starting, muted for markers and things clearing, else plain."""
    if kind == "marker":
        return MUTED
    if text.startswith("cleared") or kind in ("connected", "recovered"):
        return OKABE_ITO["bluish_green"]
    if any(w in kind for w in _WARN_WORDS):
        return OKABE_ITO["orange"]
    return FOREGROUND


class EventsList(QtWidgets.QListWidget):
    """Event lines, bounded to the newest ``max_lines``; a click emits ``jump(t)``."""

    jump = QtCore.Signal(float)

    def __init__(self, max_lines: int = 500, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.max_lines = int(max_lines)
        self.setToolTip("Click an event to show its time on the plots (resume view to follow).")
        self.itemClicked.connect(
            lambda item: self.jump.emit(float(item.data(QtCore.Qt.ItemDataRole.UserRole)))
        )

    def append_events(self, events: Iterable[EventLine]) -> None:
        added = False
        for ev in events:
            item = QtWidgets.QListWidgetItem(str(ev))
            item.setData(QtCore.Qt.ItemDataRole.UserRole, float(ev.t))
            item.setForeground(QtGui.QColor(event_color(ev.kind, ev.text)))
            self.addItem(item)
            added = True
        while self.count() > self.max_lines:
            self.takeItem(0)
        if added:
            self.scrollToBottom()

    def lines(self) -> list[str]:
        """The shown lines, oldest first (for tests)."""
        return [self.item(i).text() for i in range(self.count())]
