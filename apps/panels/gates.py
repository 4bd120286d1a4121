"""Modality gates (EEG, eye) over time, with missing-modality shading and stream-gap bands."""

from __future__ import annotations

import numpy as np

from apps._qt import pg
from apps.panels.plotting import AdaptiveWidth, Spans, brush, curve, legend_html, style_plot
from apps.theme import EEG_MISSING_LEGEND, EYE_MISSING_LEGEND, GAP_FILL, GAP_LEGEND, GATE_COLORS

#: Vertical extent of shading on the gates plot (y in 0-1; the view clips the rest).
FULL_HEIGHT = (-1.0, 2.0)


class RegionPool:
    """Shaded time spans drawn from a 0/1 indicator series, in one :class:`Spans` item.

    A flagged prediction at ``t[i]`` covers the step since the previous one, so a run of
    flagged predictions ``i..j`` is shaded from ``t[i-1]`` (or ``t[i]`` for the first) to
    ``t[j]``.

    Parameters
    ----------
    plot : pyqtgraph.PlotItem
    color : str
    alpha : int
        0-255.
    max_regions : int
        Newest runs shown; older ones (beyond the view anyway, usually) are dropped.
    """

    def __init__(self, plot: pg.PlotItem, color: str, alpha: int, max_regions: int = 64) -> None:
        self.brush = brush(color, alpha)
        self.max_regions = int(max_regions)
        self.spans = Spans(plot, FULL_HEIGHT, z=-15)
        self.runs: list[tuple[float, float]] = []

    def set_runs(self, t: np.ndarray, indicator: np.ndarray) -> None:
        flagged = np.asarray(indicator) > 0.5
        if flagged.any():
            edges = np.diff(np.concatenate([[0], flagged.astype(np.int8), [0]]))
            starts = np.flatnonzero(edges == 1)[-self.max_regions :]
            ends = np.flatnonzero(edges == -1)[-self.max_regions :] - 1
            left = t[np.maximum(starts - 1, 0)]
            self.runs = list(zip(left.tolist(), t[ends].tolist()))
        else:
            self.runs = []
        self.spans.set_spans([(t0, t1, self.brush) for t0, t1 in self.runs])


class GatesPanel:
    """Modality gates (EEG, eye) with missing-modality shading and stream-gap bands."""

    def __init__(self, plot: pg.PlotItem, max_gaps: int = 64) -> None:
        self.plot = plot
        style_plot(plot, y_label="gate weight")
        plot.setTitle(
            legend_html(
                "Modality gates",
                [
                    ("━", GATE_COLORS[0], "EEG"),
                    ("━", GATE_COLORS[1], "eye"),
                    ("█", EEG_MISSING_LEGEND, "EEG missing/stale"),
                    ("█", EYE_MISSING_LEGEND, "eye missing/stale"),
                    ("█", GAP_LEGEND, "stream gap"),
                ],
            ),
            size="10pt",
        )
        # Missing-modality shading: one rectangle per run of flagged predictions, from a pool
        # of reused items (no per-frame allocation; bounded by the runs in the view).
        self.eeg_missing = RegionPool(plot, GATE_COLORS[0], 70)
        self.eye_missing = RegionPool(plot, GATE_COLORS[1], 60)
        self.eeg = curve(plot, GATE_COLORS[0], 2, "EEG gate")
        self.eye = curve(plot, GATE_COLORS[1], 2, "eye gate")
        self._width = AdaptiveWidth([self.eeg, self.eye])
        self._gaps: dict[tuple[str, float], tuple[float, float]] = {}
        self._gap_brush = brush(GAP_FILL, 70)
        self._gap_spans = Spans(plot, FULL_HEIGHT, z=-10)
        self.max_gaps = int(max_gaps)

    def set_data(
        self, t: np.ndarray, gates: np.ndarray, eeg_missing: np.ndarray, eye_missing: np.ndarray
    ) -> None:
        """Gates ``(n, 2)`` and 0/1 missing indicators ``(n,)`` at session times ``t (n,)``."""
        self._width.update(len(t))
        self.eeg.setData(t, gates[:, 0], skipFiniteCheck=True)
        self.eye.setData(t, gates[:, 1], skipFiniteCheck=True)
        self.eeg_missing.set_runs(t, eeg_missing)
        self.eye_missing.set_runs(t, eye_missing)

    def add_gap(self, stream: str, t0: float, t1: float) -> None:
        """Shade a stream gap ``[t0, t1]`` (session seconds), or update it if already shown."""
        self._gaps[(stream, round(t0, 3))] = (t0, t1)  # an open gap may have grown
        while len(self._gaps) > self.max_gaps:
            del self._gaps[next(iter(self._gaps))]
        self._gap_spans.set_spans([(a, b, self._gap_brush) for a, b in self._gaps.values()])

    @property
    def n_gaps(self) -> int:
        return len(self._gaps)

    @property
    def gap_regions(self) -> list[tuple[float, float]]:
        """Shaded stream gaps ``(t0, t1)`` (session seconds), oldest first."""
        return list(self._gaps.values())
