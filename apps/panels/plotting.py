"""What the time plots share: axis styling, title-line legends, downsampled curves, line width.

Curves use pyqtgraph's clip-to-view and peak downsampling so the number of drawn points stays
near the pixel width whatever the history length.
"""

from __future__ import annotations

import numpy as np

from apps._qt import QtGui, pg
from apps.theme import AXIS, FOREGROUND, GRID

#: Samples per pixel kept by pyqtgraph's auto-downsampling (its default, 5, drew every point
#: of a 6000-point history; line drawing dominated the redraw cost, bench/bench_gui.py).
DOWNSAMPLE_PER_PX = 1.2


def style_plot(plot: pg.PlotItem, *, y_label: str, y_range=(0.0, 1.0)) -> None:
    """Dark-theme axes, no mouse zoom on y, clip-to-view and peak downsampling.

    ``y_range`` None: the y axis follows the data; otherwise fixed, with reference lines at
    0.2 steps.
    """
    # Horizontal reference lines instead of pyqtgraph's grid: its grid is redrawn per tick
    # level with alpha and was half the plot repaint time (bench/bench_gui.py).
    if y_range is not None:
        for y in np.linspace(0.0, 1.0, 6)[1:]:
            line = pg.InfiniteLine(pos=y, angle=0, movable=False, pen=pg.mkPen(GRID, width=1))
            line.setZValue(-20)
            plot.addItem(line)
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
    """Draw curves 2 px wide while sparse and 1 px once dense (> 2 points per pixel).

    Wide lines go through Qt's stroker, which made a 10-Hz history's redraw ~1.8x slower in the
    software rasteriser; at that density a 2-px line only thickens the noise band anyway.
    """

    def __init__(self, curves: list[pg.PlotDataItem], wide: float = 2.0) -> None:
        self.curves = curves
        self.wide = wide
        self.thin: bool | None = None

    def update(self, n_points: int) -> None:
        vb = self.curves[0].getViewBox()
        width_px = vb.width() if vb is not None else 0.0
        thin = width_px > 0 and n_points > 2 * width_px
        if thin != self.thin:
            self.thin = thin
            for c in self.curves:
                c.setPen(pg.mkPen(c.opts["pen"].color(), width=1 if thin else self.wide))
