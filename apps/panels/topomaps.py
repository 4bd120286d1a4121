"""The latest window's DE as five small scalp maps, one per band, each on its own colour scale.

Positions and the interpolation matrix come from :mod:`apps.topomap` (no Qt there).
"""

from __future__ import annotations

import numpy as np

from apps._qt import QtCore, QtWidgets, pg
from apps.theme import FOREGROUND, HEAD_OUTLINE, MUTED
from apps.topomap import Topomap
from features.constants import BANDS
from features.spec import ORDERS


class TopomapPanel:
    """Five small scalp maps of the latest window's DE, one per band (own colour scale each).

    Parameters
    ----------
    widget : pyqtgraph.GraphicsLayoutWidget
        Where the maps and their captions go.
    ch_names : tuple of str
        EEG channels in the order of the DE features.
    order : {"band-major", "channel-major"}
        Column order of the DE vector: ``band * n_channels + channel`` or
        ``channel * n_bands + band``.
    size_px : int
        Side of each map image.
    """

    def __init__(
        self,
        widget: pg.GraphicsLayoutWidget,
        ch_names: tuple[str, ...],
        *,
        order: str = "band-major",
        size_px: int = 64,
    ) -> None:
        if order not in ORDERS:
            raise ValueError(
                f"order must be 'band-major' (col = band * n_channels + channel) or "
                f"'channel-major' (col = channel * n_bands + band); got {order!r}."
            )
        self.order = order
        self.n_ch = len(ch_names)
        self.n_bands = len(BANDS)
        self.topo = Topomap(tuple(ch_names), size_px=size_px)
        self.lut = pg.colormap.get("viridis").getLookupTable(nPts=256, alpha=True)
        self.images: list[pg.ImageItem] = []
        self.range_labels: list[pg.LabelItem] = []
        widget.addLabel(
            "Differential entropy per band, latest window  (nats; own colour scale per band)",
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
            outline = [
                pg.PlotCurveItem(x, y, pen=pg.mkPen(HEAD_OUTLINE, width=1.2)) for x, y in head
            ]
            sites = pg.ScatterPlotItem(
                self.topo.pos[:, 0],
                self.topo.pos[:, 1],
                size=2.5,
                pen=None,
                brush=pg.mkBrush(255, 255, 255, 150),
            )
            for item in (*outline, sites):
                # Static: repainted from a pixmap when the map under them changes.
                item.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
                vb.addItem(item)
            vb.setRange(xRange=(-e - 0.05, e + 0.05), yRange=(-e - 0.05, e + 0.2), padding=0)
            self.images.append(img)
            lab = widget.addLabel("—", row=3, col=b, color=MUTED, size="8pt")
            self.range_labels.append(lab)
        # The colour bar: the same viridis ramp for every band, from its own min to its max
        # (the numbers under each map).
        widget.addLabel("band min", row=4, col=0, color=MUTED, size="8pt")
        bar_box = widget.addViewBox(row=4, col=1, colspan=self.n_bands - 2, enableMouse=False)
        bar_box.setMenuEnabled(False)
        bar = pg.ImageItem(self.lut[np.arange(256)][:, None, :])
        bar.setRect(QtCore.QRectF(0, 0, 1, 1))
        bar_box.addItem(bar)
        bar_box.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        bar_box.setFixedHeight(12)
        widget.addLabel("band max", row=4, col=self.n_bands - 1, color=MUTED, size="8pt")
        # The maps take the spare height; the caption rows stay at their text height.
        for row in range(6):
            widget.ci.layout.setRowStretchFactor(row, 1 if row == 2 else 0)
        self.status = widget.addLabel(
            "waiting for features", row=5, col=0, colspan=self.n_bands, color=MUTED, size="9pt"
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
        """Draw DE vector ``eeg (n_bands * n_channels,)`` of the window ending at ``t_rel``."""
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
            self.range_labels[b].setText(f"{lo:.2f} … {hi:.2f} nats")
        self.status.setText(
            f"window ending at {t_rel:.1f} s" + ("" if valid else "  —  EEG invalid (faded)")
        )
