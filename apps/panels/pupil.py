"""Pupil over time: per-window means from the features, and the raw samples from the gaze."""

from __future__ import annotations

import numpy as np

from apps._qt import pg
from apps.panels.plotting import AdaptiveWidth, curve, legend_html, style_plot
from apps.theme import FOREGROUND, MUTED, OKABE_ITO, RAW_PUPIL


class PupilPanel:
    """Per-window pupil means (two eyes) over the raw pupil trace (mean of both eyes)."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        style_plot(plot, y_label="pupil (tracker units)", y_range=None)
        self._has_raw = False
        self._set_title()
        self.raw = curve(plot, RAW_PUPIL, 1, "raw pupil (mean of 2)")
        self.p1 = curve(plot, OKABE_ITO["sky_blue"], 2, "pupil 1 mean / window")
        self.p2 = curve(plot, OKABE_ITO["orange"], 2, "pupil 2 mean / window")
        plot.setLabel("bottom", "session time (s)", color=FOREGROUND)
        self._width = AdaptiveWidth([self.p1, self.p2])

    def _set_title(self) -> None:
        # The raw entry says what is drawn: no promise of a trace before samples arrive.
        raw = (
            ("━", RAW_PUPIL, "raw (mean of both, valid samples)")
            if self._has_raw
            else ("·", MUTED, "raw: no gaze samples yet")
        )
        entries = [
            ("━", OKABE_ITO["sky_blue"], "pupil 1, mean per window"),
            ("━", OKABE_ITO["orange"], "pupil 2, mean per window"),
            raw,
        ]
        self.plot.setTitle(legend_html("Pupil", entries), size="10pt")

    def set_features(self, t: np.ndarray, pupil_means: np.ndarray) -> None:
        """Per-window means ``(n, 2)`` at session times ``t (n,)``; NaN rows break the lines."""
        self._width.update(len(t))
        self.p1.setData(t, pupil_means[:, 0], connect="finite")
        self.p2.setData(t, pupil_means[:, 1], connect="finite")

    def set_raw(self, t: np.ndarray, pupil: np.ndarray) -> None:
        """Raw pupil ``(n,)`` at session times ``t (n,)``; NaN values break the line."""
        self.raw.setData(t, pupil, connect="finite")
        if not self._has_raw and len(t):
            self._has_raw = True
            self._set_title()
