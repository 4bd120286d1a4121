"""Plot pieces of the monitor: palettes, ring-buffered history, and the pyqtgraph panels.

Every panel is fed in the GUI thread by :class:`apps.monitor.MonitorWindow`; none of them
knows about threads or the pipeline. Histories are preallocated ring buffers, so a redraw
costs the same after ten minutes as after ten seconds; curves use pyqtgraph's clip-to-view and
peak downsampling so the number of drawn points stays near the pixel width.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from apps._qt import QtCore, QtGui, QtWidgets, pg
from apps.topomap import Topomap
from features.constants import BANDS

# Okabe & Ito (2008) colour-blind-safe palette. Its "black" is replaced by a light grey
# because the monitor uses a dark background.
OKABE_ITO: dict[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#BBBBBB",
}

#: Colour per class (SEED-V order Disgust, Fear, Sad, Neutral, Happy), extended cyclically.
CLASS_COLORS: tuple[str, ...] = (
    OKABE_ITO["bluish_green"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["grey"],
    OKABE_ITO["orange"],
    OKABE_ITO["yellow"],
    OKABE_ITO["blue"],
    OKABE_ITO["vermillion"],
)

#: Modality gate colours (EEG, eye).
GATE_COLORS: tuple[str, str] = (OKABE_ITO["vermillion"], OKABE_ITO["yellow"])

#: Stream status -> colour (the status word is always shown too; colour is not the only cue).
STATUS_COLORS: dict[str, str] = {
    "connected": OKABE_ITO["bluish_green"],
    "stale": OKABE_ITO["vermillion"],
    "recovering": OKABE_ITO["orange"],
    "absent": "#777777",
}

BACKGROUND = "#1b1d21"
PANEL = "#24272d"
FOREGROUND = "#d8dade"
GRID = "#30343b"  # opaque: alpha-blended grid lines are slow in the software rasteriser


class History:
    """Preallocated ring buffer of timestamped rows with contiguous, copy-free views.

    Each row is written twice (at ``i`` and ``i + capacity``), so the newest ``capacity`` rows
    are always one contiguous slice: no ``np.roll``, no per-redraw copy.

    Parameters
    ----------
    capacity : int
        Rows kept; older ones are overwritten.
    n_cols : int
        Values per row.
    """

    def __init__(self, capacity: int, n_cols: int) -> None:
        if capacity < 1 or n_cols < 1:
            raise ValueError(
                f"History needs capacity >= 1 and n_cols >= 1; got {capacity} and {n_cols}."
            )
        self.capacity = int(capacity)
        self.n_cols = int(n_cols)
        self._t = np.zeros(2 * self.capacity)
        self._v = np.zeros((2 * self.capacity, self.n_cols))
        self.count = 0  # rows ever pushed

    def __len__(self) -> int:
        return min(self.count, self.capacity)

    def push(self, t: float, row) -> None:
        """Append one row at time ``t`` (seconds)."""
        i = self.count % self.capacity
        self._t[i] = self._t[i + self.capacity] = t
        self._v[i] = self._v[i + self.capacity] = row
        self.count += 1

    def push_many(self, t: np.ndarray, rows: np.ndarray) -> None:
        """Append ``rows (n, n_cols)`` at times ``t (n,)``; only the newest ``capacity`` stay."""
        t = np.asarray(t, dtype=float).reshape(-1)
        rows = np.asarray(rows, dtype=float).reshape(len(t), self.n_cols)
        n_total = len(t)
        t, rows = t[-self.capacity :], rows[-self.capacity :]
        n = len(t)
        # Rows dropped by the trim still count, so slot positions stay consistent.
        idx = (self.count + (n_total - n) + np.arange(n)) % self.capacity
        self._t[idx] = t
        self._t[idx + self.capacity] = t
        self._v[idx] = rows
        self._v[idx + self.capacity] = rows
        self.count += n_total

    def view(self, t_min: float = -np.inf) -> tuple[np.ndarray, np.ndarray]:
        """Rows with time ``>= t_min``, oldest first: ``(t (n,), values (n, n_cols))`` views."""
        n = len(self)
        start = self.count % self.capacity if self.count > self.capacity else 0
        t = self._t[start : start + n]
        v = self._v[start : start + n]
        if n and t[0] < t_min:
            k = int(np.searchsorted(t, t_min, side="left"))
            t, v = t[k:], v[k:]
        return t, v

    @property
    def last_t(self) -> float:
        """Time of the newest row (NaN when empty)."""
        if not self.count:
            return float("nan")
        return float(self._t[(self.count - 1) % self.capacity])


def _style_plot(plot: pg.PlotItem, *, y_label: str, y_range=(0.0, 1.0)) -> None:
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
        ax.setPen("#5a5f68")


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


#: Samples per pixel kept by pyqtgraph's auto-downsampling (its default, 5, drew every point
#: of a 6000-point history; line drawing dominated the redraw cost, bench/bench_gui.py).
DOWNSAMPLE_PER_PX = 1.2


def _curve(plot: pg.PlotItem, *args, **kwargs) -> pg.PlotDataItem:
    return plot.plot(*args, autoDownsampleFactor=DOWNSAMPLE_PER_PX, **kwargs)


class _AdaptiveWidth:
    """Draw curves 2 px wide while sparse and 1 px once dense (> 2 points per pixel).

    Wide lines go through Qt's stroker, which made a 10-Hz history's redraw ~1.8x slower in the
    software rasteriser; at that density a 2-px line only thickens the noise band anyway.
    """

    def __init__(self, curves: list[pg.PlotDataItem], wide: float = 2.0):
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


def _brush(color: str, alpha: int) -> QtGui.QBrush:
    c = QtGui.QColor(color)
    c.setAlpha(alpha)
    return pg.mkBrush(c)


class RegionPool:
    """Shaded time spans drawn from a 0/1 indicator series, with reused region items.

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

    def __init__(self, plot: pg.PlotItem, color: str, alpha: int, max_regions: int = 64):
        self.plot = plot
        self.brush = _brush(color, alpha)
        self.max_regions = int(max_regions)
        self.items: list[pg.LinearRegionItem] = []
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
        while len(self.items) < len(self.runs):
            item = pg.LinearRegionItem(movable=False, brush=self.brush, pen=pg.mkPen(None))
            item.setZValue(-15)
            self.plot.addItem(item)
            self.items.append(item)
        for item, run in zip(self.items, self.runs):
            item.setRegion(run)
            item.show()
        for item in self.items[len(self.runs) :]:
            item.hide()


class ProbabilityPanel:
    """Class probabilities over time, with ground-truth markers.

    Ground truth: a dashed vertical line labelled with the class at each marker, and a
    coloured strip along the bottom of the plot from one marker to the next.
    """

    def __init__(self, plot: pg.PlotItem, class_names: tuple[str, ...], max_markers: int = 200):
        self.plot = plot
        self.class_names = tuple(class_names)
        # Below 0 is room for the ground-truth strip, so it never hides a low probability.
        _style_plot(plot, y_label="probability", y_range=(-0.075, 1.0))
        plot.getAxis("left").setTicks([[(v, f"{v:.1f}") for v in np.linspace(0, 1, 6)]])
        colors = [CLASS_COLORS[i % len(CLASS_COLORS)] for i in range(len(self.class_names))]
        plot.setTitle(
            legend_html(
                "Emotion probabilities",
                [("━", c, n) for c, n in zip(colors, self.class_names)]
                + [("▬", "#9aa0a8", "truth (markers; strip below 0)")],
            ),
            size="10pt",
        )
        self.curves = [
            _curve(plot, [], [], pen=pg.mkPen(c, width=2), name=n)
            for c, n in zip(colors, self.class_names)
        ]
        self._width = _AdaptiveWidth(self.curves)
        self._markers: deque = deque()
        self.max_markers = int(max_markers)

    def set_data(self, t: np.ndarray, probs: np.ndarray) -> None:
        self._width.update(len(t))
        for i, curve in enumerate(self.curves):
            curve.setData(t, probs[:, i])

    def _color(self, label: str) -> str:
        try:
            return CLASS_COLORS[self.class_names.index(label) % len(CLASS_COLORS)]
        except ValueError:
            return "#FFFFFF"

    def add_marker(self, t: float, label: str) -> None:
        color = self._color(label)
        line = pg.InfiniteLine(
            pos=t,
            angle=90,
            movable=False,
            pen=pg.mkPen(color, width=1.5, style=QtCore.Qt.PenStyle.DashLine),
            label=label,
            labelOpts={"position": 0.93, "color": color, "fill": _brush(BACKGROUND, 180)},
        )
        strip = pg.LinearRegionItem(
            values=(t, t),
            movable=False,
            brush=_brush(color, 210),
            pen=pg.mkPen(None),
            span=(0.0, 0.045),
        )
        strip.setZValue(-5)
        if self._markers:
            prev = self._markers[-1]
            prev[3].setRegion((prev[0], t))
        self.plot.addItem(line)
        self.plot.addItem(strip)
        self._markers.append([t, label, line, strip])
        while len(self._markers) > self.max_markers:
            _, _, old_line, old_strip = self._markers.popleft()
            self.plot.removeItem(old_line)
            self.plot.removeItem(old_strip)

    def extend_last_marker(self, t_now: float) -> None:
        if self._markers:
            t0, _, _, strip = self._markers[-1]
            strip.setRegion((t0, max(t0, t_now)))

    @property
    def n_markers(self) -> int:
        return len(self._markers)


class GatesPanel:
    """Modality gates (EEG, eye) with missing-modality shading and stream-gap bands."""

    def __init__(self, plot: pg.PlotItem, max_gaps: int = 64):
        self.plot = plot
        _style_plot(plot, y_label="gate weight")
        plot.setTitle(
            legend_html(
                "Modality gates",
                [
                    ("━", GATE_COLORS[0], "EEG"),
                    ("━", GATE_COLORS[1], "eye"),
                    ("█", "#8a4a25", "EEG missing/stale"),
                    ("█", "#7d7a3c", "eye missing/stale"),
                    ("█", "#5c5f63", "stream gap"),
                ],
            ),
            size="10pt",
        )
        # Missing-modality shading: one rectangle per run of flagged predictions, from a pool
        # of reused items (no per-frame allocation; bounded by the runs in the view).
        self.eeg_missing = RegionPool(plot, GATE_COLORS[0], 70)
        self.eye_missing = RegionPool(plot, GATE_COLORS[1], 60)
        self.eeg = _curve(plot, [], [], pen=pg.mkPen(GATE_COLORS[0], width=2), name="EEG gate")
        self.eye = _curve(plot, [], [], pen=pg.mkPen(GATE_COLORS[1], width=2), name="eye gate")
        self._width = _AdaptiveWidth([self.eeg, self.eye])
        self._gaps: dict[tuple[str, float], pg.LinearRegionItem] = {}
        self.max_gaps = int(max_gaps)

    def set_data(self, t, gates, eeg_missing, eye_missing) -> None:
        self._width.update(len(t))
        self.eeg.setData(t, gates[:, 0])
        self.eye.setData(t, gates[:, 1])
        self.eeg_missing.set_runs(t, eeg_missing)
        self.eye_missing.set_runs(t, eye_missing)

    def add_gap(self, stream: str, t0: float, t1: float) -> bool:
        """Shade a stream gap ``[t0, t1]`` (session seconds); False if already shown."""
        key = (stream, round(t0, 3))
        if key in self._gaps:
            self._gaps[key].setRegion((t0, t1))  # an open gap may have grown
            return False
        item = pg.LinearRegionItem(
            values=(t0, t1), movable=False, brush=_brush("#9a9a9a", 70), pen=pg.mkPen(None)
        )
        item.setZValue(-10)
        self.plot.addItem(item)
        self._gaps[key] = item
        while len(self._gaps) > self.max_gaps:
            oldest = next(iter(self._gaps))
            self.plot.removeItem(self._gaps.pop(oldest))
        return True

    @property
    def n_gaps(self) -> int:
        return len(self._gaps)


class PupilPanel:
    """Pupil trace: per-window pupil means from the features, and raw pupil when fed gaze."""

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        _style_plot(plot, y_label="pupil (tracker units)", y_range=None)
        plot.setTitle(
            legend_html(
                "Pupil",
                [
                    ("━", OKABE_ITO["sky_blue"], "pupil 1, mean per window"),
                    ("━", OKABE_ITO["orange"], "pupil 2, mean per window"),
                    ("━", "#6f7580", "raw (mean of both, valid samples)"),
                ],
            ),
            size="10pt",
        )
        self.raw = _curve(
            plot, [], [], pen=pg.mkPen("#6f7580", width=1), name="raw pupil (mean of 2)"
        )
        self.p1 = _curve(
            plot,
            [],
            [],
            pen=pg.mkPen(OKABE_ITO["sky_blue"], width=2),
            name="pupil 1 mean / window",
        )
        self.p2 = _curve(
            plot,
            [],
            [],
            pen=pg.mkPen(OKABE_ITO["orange"], width=2),
            name="pupil 2 mean / window",
        )
        plot.setLabel("bottom", "session time (s)", color=FOREGROUND)
        self._width = _AdaptiveWidth([self.p1, self.p2])

    def set_features(self, t, pupil_means) -> None:
        self._width.update(len(t))
        self.p1.setData(t, pupil_means[:, 0], connect="finite")
        self.p2.setData(t, pupil_means[:, 1], connect="finite")

    def set_raw(self, t, pupil) -> None:
        self.raw.setData(t, pupil, connect="finite")


class TopomapPanel:
    """Five small scalp maps of the latest window's DE, one per band (own colour scale each)."""

    def __init__(
        self,
        widget: pg.GraphicsLayoutWidget,
        ch_names: tuple[str, ...],
        *,
        order: str = "band-major",
        size_px: int = 64,
    ):
        if order not in ("band-major", "channel-major"):
            raise ValueError(
                f"order must be 'band-major' (col = band * n_channels + channel) or "
                f"'channel-major' (col = channel * n_bands + band); got {order!r}."
            )
        self.order = order
        self.n_ch = len(ch_names)
        self.n_bands = len(BANDS)
        self.topo = Topomap(tuple(ch_names), size_px=size_px)
        self.lut = pg.colormap.get("viridis").getLookupTable(nPts=256, alpha=True)
        self.widget = widget
        self.images: list[pg.ImageItem] = []
        self.range_labels: list[pg.LabelItem] = []
        self.title = widget.addLabel(
            "DE per band, latest window  (viridis, own scale per band: low → high)",
            row=0,
            col=0,
            colspan=self.n_bands,
            color=FOREGROUND,
            size="10pt",
        )
        e = self.topo.extent
        head = self._head_outline()
        for b, (name, lo, hi) in enumerate(BANDS):
            widget.addLabel(f"{name} {lo:g}–{hi:g} Hz", row=1, col=b, color=FOREGROUND, size="9pt")
            vb = widget.addViewBox(row=2, col=b, lockAspect=True, enableMouse=False)
            vb.setMenuEnabled(False)
            # setRect needs an image first (pyqtgraph); start fully transparent.
            img = pg.ImageItem(np.zeros((size_px, size_px, 4), dtype=np.uint8))
            img.setRect(QtCore.QRectF(-e, -e, 2 * e, 2 * e))
            vb.addItem(img)
            for x, y in head:
                vb.addItem(pg.PlotCurveItem(x, y, pen=pg.mkPen("#c9ccd1", width=1.2)))
            vb.addItem(
                pg.ScatterPlotItem(
                    self.topo.pos[:, 0],
                    self.topo.pos[:, 1],
                    size=2.5,
                    pen=None,
                    brush=pg.mkBrush(255, 255, 255, 150),
                )
            )
            vb.setRange(xRange=(-e - 0.05, e + 0.05), yRange=(-e - 0.05, e + 0.2), padding=0)
            self.images.append(img)
            lab = widget.addLabel("—", row=3, col=b, color="#9aa0a8", size="8pt")
            self.range_labels.append(lab)
        # The maps take the spare height; the caption rows stay at their text height.
        for row in range(5):
            widget.ci.layout.setRowStretchFactor(row, 1 if row == 2 else 0)
        self.status = widget.addLabel(
            "waiting for features", row=4, col=0, colspan=self.n_bands, color="#9aa0a8", size="9pt"
        )

    @staticmethod
    def _head_outline() -> list[tuple[np.ndarray, np.ndarray]]:
        a = np.linspace(0, 2 * np.pi, 121)
        circle = (np.cos(a), np.sin(a))
        nose = (np.array([-0.12, 0.0, 0.12]), np.array([0.99, 1.15, 0.99]))
        ear_a = np.linspace(-np.pi / 2, np.pi / 2, 25)
        ear_r = (1.0 + 0.06 * np.cos(ear_a), 0.16 * np.sin(ear_a))
        ear_l = (-ear_r[0], ear_r[1])
        return [circle, nose, ear_r, ear_l]

    def band_values(self, eeg: np.ndarray) -> np.ndarray:
        """Reshape a DE vector to ``(n_bands, n_channels)`` according to ``order``."""
        eeg = np.asarray(eeg, dtype=float)
        if self.order == "band-major":
            return eeg.reshape(self.n_bands, self.n_ch)
        return eeg.reshape(self.n_ch, self.n_bands).T

    def set_frame(self, eeg: np.ndarray, valid: bool, t_rel: float) -> None:
        values = self.band_values(eeg)
        for b in range(self.n_bands):
            img = self.topo.image(values[b])
            finite = np.isfinite(img)
            lo, hi = (np.nanmin(img), np.nanmax(img)) if finite.any() else (0.0, 1.0)
            span = hi - lo if hi > lo else 1.0
            idx = np.zeros(img.shape, dtype=np.intp)
            idx[finite] = np.clip((img[finite] - lo) / span * 255.0, 0, 255).astype(np.intp)
            rgba = self.lut[idx]
            rgba[~finite, 3] = 0
            if not valid:
                rgba[..., 3] = np.where(finite, 70, 0)  # faded: this window's EEG is unusable
            self.images[b].setImage(rgba, autoLevels=False, levels=None)
            self.range_labels[b].setText(f"{lo:.2f} … {hi:.2f}")
        self.status.setText(
            f"window ending at {t_rel:.1f} s" + ("" if valid else "  —  EEG invalid (faded)")
        )


HEALTH_COLUMNS: tuple[str, ...] = (
    "stream",
    "status",
    "rate Hz\neff / nom.",
    "clock\noffset ms",
    "latency\nms",
    "samples",
    "dropped /\nts faults",
    "gaps",
)


class HealthTable(QtWidgets.QTableWidget):
    """One row per input stream: status (word + colour), rates, clock offset, latency, counts."""

    def __init__(self, parent=None):
        super().__init__(0, len(HEALTH_COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(HEALTH_COLUMNS))
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        hdr = self.horizontalHeader()
        hdr.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        hdr.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._rows: dict[str, int] = {}

    def _item(self, row: int, col: int) -> QtWidgets.QTableWidgetItem:
        item = self.item(row, col)
        if item is None:
            item = QtWidgets.QTableWidgetItem()
            item.setTextAlignment(
                QtCore.Qt.AlignmentFlag.AlignCenter
                if col
                else QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter
            )
            self.setItem(row, col, item)
        return item

    def update_health(self, health) -> None:
        for h in health:
            row = self._rows.get(h.name)
            if row is None:
                row = self.rowCount()
                self.insertRow(row)
                self._rows[h.name] = row
            nominal = f"{h.nominal_rate:.0f}" if h.nominal_rate > 0 else "irreg."
            texts = (
                h.name,
                h.status,
                f"{h.effective_rate:.0f} / {nominal}",
                f"{h.clock_offset_s * 1e3:+.2f}",
                f"{h.latency_s * 1e3:.0f}",
                f"{h.n_samples:d}",
                f"{h.n_dropped:d} / {h.n_timestamp_faults:d}",
                f"{len(h.gaps):d}",
            )
            for col, text in enumerate(texts):
                self._item(row, col).setText(text)
            status = self._item(row, 1)
            color = QtGui.QColor(STATUS_COLORS.get(h.status, "#CC79A7"))
            status.setBackground(color)
            status.setForeground(QtGui.QColor("#111111"))
            bad = h.n_dropped or h.n_timestamp_faults
            self._item(row, 6).setForeground(
                QtGui.QColor(OKABE_ITO["vermillion"] if bad else FOREGROUND)
            )

    def status_of(self, name: str) -> tuple[str, str]:
        """(status text, background colour name) shown for stream ``name`` (for tests)."""
        row = self._rows[name]
        item = self.item(row, 1)
        return item.text(), item.background().color().name()
