"""What the time plots share: axis styling, title-line legends, downsampled curves, line width.

Curves use pyqtgraph's clip-to-view and peak downsampling so the number of drawn points stays
near the pixel width whatever the history length.
"""

from __future__ import annotations

import numpy as np

from apps._qt import QtCore, QtGui, pg
from apps.theme import AXIS, FOREGROUND, GRID

#: Samples per pixel kept by pyqtgraph's auto-downsampling (its default, 5, drew every point
#: of a 6000-point history; line drawing dominated the redraw cost, bench/bench_gui.py).
DOWNSAMPLE_PER_PX = 1.2
#: Reference lines span +-this many session seconds (beyond any session; the x axis does not
#: auto-range, so their extent never sets the view).
REFERENCE_X_S = 1e6


def style_plot(plot: pg.PlotItem, *, y_label: str, y_range=(0.0, 1.0)) -> None:
    """Dark-theme axes, no mouse zoom on y, clip-to-view and peak downsampling.

    ``y_range`` None: the y axis follows the data; otherwise fixed, with reference lines at
    0.2 steps.
    """
    # Horizontal reference lines instead of pyqtgraph's grid: its grid is redrawn per tick
    # level with alpha and was half the plot repaint time (bench/bench_gui.py). One curve of
    # disconnected segments, not an InfiniteLine each: those recompute their extent in Python
    # on every repaint (~5 ms of a redraw for the five plots' lines).
    if y_range is not None:
        ys = np.repeat(np.linspace(0.0, 1.0, 6)[1:], 2)
        xs = np.tile([-REFERENCE_X_S, REFERENCE_X_S], len(ys) // 2)
        lines = pg.PlotCurveItem(
            xs, ys, pen=pg.mkPen(GRID, width=1), connect="pairs", skipFiniteCheck=True
        )
        lines.setZValue(-20)
        plot.getViewBox().addItem(lines, ignoreBounds=True)
    plot.setLabel("left", y_label, color=FOREGROUND)
    plot.setMouseEnabled(x=True, y=False)
    plot.setMenuEnabled(False)
    plot.hideButtons()
    if y_range is not None:
        plot.setYRange(*y_range, padding=0.02)
    plot.setClipToView(True)
    plot.setDownsampling(auto=True, mode="peak")
    plot.enableAutoRange(x=False, y=y_range is None)
    for name in ("left", "bottom"):
        ax = plot.getAxis(name)
        ax.setTextPen(FOREGROUND)
        ax.setPen(AXIS)


def legend_html(title: str, entries: list[tuple[str, str, str]]) -> str:
    """A plot title carrying its own legend: ``entries`` of (glyph, colour, text).

    Legends inside the view box cover data; a title line never does.
    """
    parts = [f'<span style="color:{FOREGROUND};font-weight:bold">{title}</span>']
    for glyph, color, text in entries:
        parts.append(
            f'<span style="color:{color};font-size:13pt">{glyph}</span>'
            f'<span style="color:{FOREGROUND}">&nbsp;{text}</span>'
        )
    return "&nbsp;&nbsp;&nbsp;&nbsp;".join(parts)


def curve(plot: pg.PlotItem, color: str, width: float, name: str) -> pg.PlotDataItem:
    """An empty curve on ``plot`` with the monitor's downsampling factor."""
    return plot.plot(
        [], [], pen=pg.mkPen(color, width=width), name=name, autoDownsampleFactor=DOWNSAMPLE_PER_PX
    )


def brush(color: str, alpha: int) -> QtGui.QBrush:
    """A brush of ``color`` with ``alpha`` (0-255)."""
    c = QtGui.QColor(color)
    c.setAlpha(alpha)
    return pg.mkBrush(c)


class AdaptiveWidth:
    """Draw curves 2 px wide while sparse and 1 px once past one point per ``px_per_point``
    pixels.

    Wider lines go through Qt's stroker (pyqtgraph draws them as segments): with 600 points
    across 800 px, 2-px curves made each redraw of the time plots ~7 ms (20%) dearer in the
    software rasteriser (bench/bench_gui.py), and at that density a 1-px line reads as well.
    Short sessions (the first minutes, screenshots) keep the bolder line at little cost.
    """

    def __init__(
        self, curves: list[pg.PlotDataItem], wide: float = 2.0, px_per_point: float = 4.0
    ) -> None:
        self.curves = curves
        self.wide = wide
        self.px_per_point = px_per_point
        self.thin: bool | None = None

    def update(self, n_points: int) -> None:
        vb = self.curves[0].getViewBox()
        width_px = vb.width() if vb is not None else 0.0
        thin = width_px > 0 and n_points * self.px_per_point > width_px
        if thin != self.thin:
            self.thin = thin
            for c in self.curves:
                c.setPen(pg.mkPen(c.opts["pen"].color(), width=1 if thin else self.wide))


class Spans(pg.GraphicsObject):
    """Shaded time spans ``[t0, t1]`` between ``y0`` and ``y1`` (data units), in one item.

    One item paints all spans with ``drawRect``: pyqtgraph's ``LinearRegionItem`` (one per
    span, each with two ``InfiniteLine`` edges) recomputed its extent in Python on every
    repaint, a few ms of each redraw of the time plots (bench/bench_gui.py).

    Parameters
    ----------
    plot : pyqtgraph.PlotItem
        Added to its view box, outside its auto-range bounds.
    y_span : (float, float)
        Vertical extent in data units (clipped to the view).
    z : float
        Stacking order (negative: under the curves).
    """

    def __init__(self, plot: pg.PlotItem, y_span: tuple[float, float], z: float) -> None:
        super().__init__()
        self.y0, self.y1 = float(y_span[0]), float(y_span[1])
        self.spans: list[tuple[float, float, QtGui.QBrush]] = []
        self._bounds = QtCore.QRectF()
        self.setZValue(z)
        plot.getViewBox().addItem(self, ignoreBounds=True)

    def set_spans(self, spans: list[tuple[float, float, QtGui.QBrush]]) -> None:
        """Show ``(t0, t1, brush)`` spans (session seconds), replacing the previous ones."""
        if spans == self.spans:
            return
        self.prepareGeometryChange()
        self.spans = list(spans)
        if spans:
            t0 = min(s[0] for s in spans)
            t1 = max(s[1] for s in spans)
            self._bounds = QtCore.QRectF(t0, self.y0, max(t1 - t0, 1e-9), self.y1 - self.y0)
        else:
            self._bounds = QtCore.QRectF()
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        return self._bounds

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        for t0, t1, b in self.spans:
            painter.setBrush(b)
            painter.drawRect(QtCore.QRectF(t0, self.y0, t1 - t0, self.y1 - self.y0))
