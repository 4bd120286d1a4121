"""Ground truth on the probability plot: a labelled dashed line per marker and a colour strip.

The strip runs along the bottom of the plot (below probability 0) from one marker to the next,
in the class colour; the newest one grows with the session.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from apps._qt import QtCore, QtGui, pg
from apps.panels.plotting import Spans, brush
from apps.theme import BACKGROUND, class_color

#: The strip's extent on the probability axis: the room left below probability 0
#: (:data:`apps.panels.probabilities.Y_RANGE`), clipped by the view's bottom edge.
STRIP_Y = (-0.1, -0.045)


@dataclass
class _DrawnMarker:
    t: float
    line: pg.InfiniteLine
    brush: QtGui.QBrush
    end: float  # where its strip ends: the next marker, or the newest time for the last


class TruthMarkers:
    """Markers drawn on ``plot`` (the probability plot), newest ``max_markers`` kept."""

    def __init__(
        self, plot: pg.PlotItem, class_names: tuple[str, ...], max_markers: int = 200
    ) -> None:
        self.plot = plot
        self.class_names = tuple(class_names)
        self.max_markers = int(max_markers)
        self._markers: deque[_DrawnMarker] = deque()
        self._strips = Spans(plot, STRIP_Y, z=-5)  # all strips in one item

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
        if self._markers:
            self._markers[-1].end = t
        self.plot.addItem(line)
        self._markers.append(_DrawnMarker(t, line, brush(color, 210), t))
        while len(self._markers) > self.max_markers:
            self.plot.removeItem(self._markers.popleft().line)
        self._draw_strips()

    def extend_last(self, t_now: float) -> None:
        """Stretch the newest marker's strip to session time ``t_now``."""
        if self._markers:
            last = self._markers[-1]
            last.end = max(last.t, t_now)
            self._draw_strips()

    def _draw_strips(self) -> None:
        self._strips.set_spans([(m.t, m.end, m.brush) for m in self._markers])

    @property
    def n_markers(self) -> int:
        return len(self._markers)

    @property
    def strip_regions(self) -> list[tuple[float, float]]:
        """Colour strips ``(start, end)`` (session seconds), oldest first."""
        return [(m.t, m.end) for m in self._markers]
