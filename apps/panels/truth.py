"""Ground truth on the probability plot: a labelled dashed line per marker and a colour strip.

The strip runs along the bottom of the plot (below probability 0) from one marker to the next,
in the class colour; the newest one grows with the session.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from apps._qt import QtCore, pg
from apps.panels.plotting import brush
from apps.theme import BACKGROUND, class_color


@dataclass
class _DrawnMarker:
    t: float
    line: pg.InfiniteLine
    strip: pg.LinearRegionItem


class TruthMarkers:
    """Markers drawn on ``plot`` (the probability plot), newest ``max_markers`` kept."""

    def __init__(
        self, plot: pg.PlotItem, class_names: tuple[str, ...], max_markers: int = 200
    ) -> None:
        self.plot = plot
        self.class_names = tuple(class_names)
        self.max_markers = int(max_markers)
        self._markers: deque[_DrawnMarker] = deque()

    def add(self, t: float, label: str) -> None:
        """Draw a marker at session time ``t``; it ends the previous marker's strip."""
        color = class_color(label, self.class_names, default="#FFFFFF")
        line = pg.InfiniteLine(
            pos=t,
            angle=90,
            movable=False,
            pen=pg.mkPen(color, width=1.5, style=QtCore.Qt.PenStyle.DashLine),
            label=label,
            labelOpts={"position": 0.93, "color": color, "fill": brush(BACKGROUND, 180)},
        )
        strip = pg.LinearRegionItem(
            values=(t, t),
            movable=False,
            brush=brush(color, 210),
            pen=pg.mkPen(None),
            span=(0.0, 0.045),
        )
        strip.setZValue(-5)
        if self._markers:
            prev = self._markers[-1]
            prev.strip.setRegion((prev.t, t))
        self.plot.addItem(line)
        self.plot.addItem(strip)
        self._markers.append(_DrawnMarker(t, line, strip))
        while len(self._markers) > self.max_markers:
            old = self._markers.popleft()
            self.plot.removeItem(old.line)
            self.plot.removeItem(old.strip)

    def extend_last(self, t_now: float) -> None:
        """Stretch the newest marker's strip to session time ``t_now``."""
        if self._markers:
            last = self._markers[-1]
            last.strip.setRegion((last.t, max(last.t, t_now)))

    @property
    def n_markers(self) -> int:
        return len(self._markers)

    @property
    def strip_regions(self) -> list[tuple[float, float]]:
        """Colour strips ``(start, end)`` (session seconds), oldest first."""
        return [tuple(m.strip.getRegion()) for m in self._markers]
