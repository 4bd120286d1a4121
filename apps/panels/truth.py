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
#: Marker lines span the probability axis; their labels sit at ``LABEL_Y``.
LINE_Y = (-0.1, 1.1)
LABEL_Y = 0.97


@dataclass
class _DrawnMarker:
    t: float
    label: str
    color: QtGui.QColor
    brush: QtGui.QBrush
    end: float  # where its strip ends: the next marker, or the newest time for the last


class MarkerLines(pg.GraphicsObject):
    """Every marker's dashed line and label, painted by one item.

    One ``InfiniteLine`` with a label per marker recomputed its extent and label position in
    Python on every repaint: ~6 ms of each redraw with 20 markers (bench/bench_gui.py).
    """

    def __init__(self, plot: pg.PlotItem, markers: deque[_DrawnMarker]) -> None:
        super().__init__()
        self.markers = markers
        self.label_bg = brush(BACKGROUND, 180)
        self.setZValue(5)
        plot.getViewBox().addItem(self, ignoreBounds=True)

    def changed(self) -> None:
        self.prepareGeometryChange()
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        if not self.markers:
            return QtCore.QRectF()
        t0, t1 = self.markers[0].t, self.markers[-1].t
        span = max(t1 - t0, 1.0)  # labels reach right of the newest line: a margin
        return QtCore.QRectF(t0, LINE_Y[0], 2 * span, LINE_Y[1] - LINE_Y[0])

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        to_px = painter.transform()
        painter.resetTransform()  # pixels: constant dash and text size at any zoom
        metrics = painter.fontMetrics()
        for m in self.markers:
            bottom = to_px.map(QtCore.QPointF(m.t, LINE_Y[0]))
            top = to_px.map(QtCore.QPointF(m.t, LINE_Y[1]))
            painter.setPen(pg.mkPen(m.color, width=1, style=QtCore.Qt.PenStyle.DashLine))
            painter.drawLine(bottom, top)
            at = to_px.map(QtCore.QPointF(m.t, LABEL_Y))
            box = QtCore.QRectF(metrics.boundingRect(m.label)).adjusted(-2, -1, 2, 1)
            box.moveTopLeft(QtCore.QPointF(at.x() + 3, at.y()))
            painter.fillRect(box, self.label_bg)
            painter.setPen(m.color)
            painter.drawText(box, QtCore.Qt.AlignmentFlag.AlignCenter, m.label)


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
        self._lines = MarkerLines(plot, self._markers)

    def add(self, t: float, label: str) -> None:
        """Draw a marker at session time ``t``; it ends the previous marker's strip."""
        color = class_color(label, self.class_names, default="#FFFFFF")
        if self._markers:
            self._markers[-1].end = t
        self._markers.append(_DrawnMarker(t, label, QtGui.QColor(color), brush(color, 210), t))
        while len(self._markers) > self.max_markers:
            self._markers.popleft()
        self._lines.changed()
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
