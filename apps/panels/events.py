"""The events list: stream and pipeline events, newest at the bottom, bounded."""

from __future__ import annotations

from collections.abc import Iterable

from apps._qt import QtWidgets


class EventsList(QtWidgets.QPlainTextEdit):
    """Read-only list of event lines; keeps the newest ``max_lines`` (bounded memory)."""

    def __init__(self, max_lines: int = 500, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(int(max_lines))

    def append_lines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.appendPlainText(line)
