"""Two small trend plots for the right column: end-to-end latency against its budget, and each
regular stream's effective rate as a percentage of its nominal rate."""

from __future__ import annotations

import numpy as np

from apps._qt import QtCore, pg
from apps.panels.plotting import curve, legend_html, style_plot
from apps.theme import GRID, MUTED, OKABE_ITO

#: Colours of the per-stream rate lines, in the order streams first report.
RATE_COLORS = (OKABE_ITO["sky_blue"], OKABE_ITO["orange"], OKABE_ITO["reddish_purple"])


class TrendsPanel:
    """Latency (ms, with the budget as a dashed line) and stream rates (% of nominal).

    Parameters
    ----------
    widget : pyqtgraph.GraphicsLayoutWidget
    budget_ms : float
        The latency budget drawn as a reference line (the prediction step).
    """

    def __init__(self, widget: pg.GraphicsLayoutWidget, budget_ms: float = 1000.0) -> None:
        self.budget_ms = float(budget_ms)
        self.latency_plot = widget.addPlot(row=0, col=0)
        self.rate_plot = widget.addPlot(row=1, col=0)
        self.rate_plot.setXLink(self.latency_plot)
        style_plot(self.latency_plot, y_label="ms", y_range=None)
        style_plot(self.rate_plot, y_label="% nominal", y_range=None)
        self.rate_plot.setYRange(0, 150, padding=0)
        self.rate_plot.enableAutoRange(y=False)
        self.latency_plot.getAxis("bottom").setStyle(showValues=False)
        for p in (self.latency_plot, self.rate_plot):
            p.getAxis("left").setWidth(48)
        self.latency_plot.setTitle(
            legend_html(
                "Latency",
                [
                    ("━", OKABE_ITO["yellow"], "end-to-end per prediction"),
                    ("┅", MUTED, f"budget {self.budget_ms:.0f} ms"),
                ],
            ),
            size="9pt",
        )
        self.latency_plot.addItem(
            pg.InfiniteLine(
                pos=self.budget_ms,
                angle=0,
                pen=pg.mkPen(MUTED, width=1, style=QtCore.Qt.PenStyle.DashLine),
            )
        )
        self.rate_plot.addItem(pg.InfiniteLine(pos=100.0, angle=0, pen=pg.mkPen(GRID, width=1)))
        self.latency = curve(self.latency_plot, OKABE_ITO["yellow"], 1, "latency")
        self.rates: dict[str, pg.PlotDataItem] = {}
        self._rate_title = ""
        self._top = 0.0  # highest rate seen, percent (a sped-up source reads > 100)

    def set_latency(self, t: np.ndarray, ms: np.ndarray) -> None:
        """Latency ``ms (n,)`` at session times ``t (n,)``. The y axis follows the data (the
        budget line shows once latency nears it), so tens of ms stay readable; the start-up
        backlog's few seconds-long latencies do not set the scale (98th percentile)."""
        self.latency.setData(t, ms)
        finite = ms[np.isfinite(ms)]
        top = float(np.percentile(finite, 98)) if finite.size else 0.0
        self.latency_plot.setYRange(0, max(1.3 * top, 20.0), padding=0)

    def set_rates(self, rates: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """Per stream name: ``(t (n,), percent of nominal (n,))``."""
        for name, (t, pct) in rates.items():
            line = self.rates.get(name)
            if line is None:
                color = RATE_COLORS[len(self.rates) % len(RATE_COLORS)]
                line = self.rates[name] = curve(self.rate_plot, color, 1, name)
            line.setData(t, pct)
            self._top = max(self._top, float(np.nanmax(pct)) if len(pct) else 0.0)
        self.rate_plot.setYRange(0, max(150.0, 1.1 * self._top), padding=0)
        title = legend_html(
            "Stream rate",
            [("━", c.opts["pen"].color().name(), n) for n, c in self.rates.items()],
        )
        if title != self._rate_title:
            self._rate_title = title
            self.rate_plot.setTitle(title, size="9pt")
