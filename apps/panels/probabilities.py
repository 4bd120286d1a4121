"""Class probabilities over time, one Okabe-Ito colour per class."""

from __future__ import annotations

import numpy as np

from apps._qt import pg
from apps.panels.plotting import AdaptiveWidth, curve, legend_html, style_plot
from apps.theme import TRUTH_LEGEND, class_color

#: Room below 0 on the probability axis for the truth strip, so it never hides a low probability.
Y_RANGE = (-0.075, 1.0)


class ProbabilityPanel:
    """One curve per class on ``plot``; the truth markers share the plot (:mod:`.truth`)."""

    def __init__(self, plot: pg.PlotItem, class_names: tuple[str, ...]) -> None:
        self.plot = plot
        self.class_names = tuple(class_names)
        style_plot(plot, y_label="probability", y_range=Y_RANGE)
        plot.getAxis("left").setTicks([[(v, f"{v:.1f}") for v in np.linspace(0, 1, 6)]])
        colors = [class_color(n, self.class_names) for n in self.class_names]
        plot.setTitle(
            legend_html(
                "Emotion probabilities",
                [("━", c, n) for c, n in zip(colors, self.class_names)]
                + [("▬", TRUTH_LEGEND, "truth (markers; strip below 0)")],
            ),
            size="10pt",
        )
        self.curves = [curve(plot, c, 2, n) for c, n in zip(colors, self.class_names)]
        self._width = AdaptiveWidth(self.curves)

    def set_data(self, t: np.ndarray, probs: np.ndarray) -> None:
        """Show ``probs (n, n_classes)`` at session times ``t (n,)``."""
        self._width.update(len(t))
        for i, c in enumerate(self.curves):
            c.setData(t, probs[:, i], skipFiniteCheck=True)  # softmax output: finite
