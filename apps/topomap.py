"""Scalp positions of the SEED-V cap and a precomputed topomap interpolation (no Qt here).

Positions come from MNE's template 10-05 montage (:mod:`cmt_live.montage`), matched to
:data:`features.constants.SEEDV_CHANNELS` case-insensitively (``FPZ`` -> ``Fpz``). The montage
is projected to 2-D the way topomaps usually are: a sphere is fitted to the montage, and each
electrode goes to an azimuthal-equidistant position (polar angle from the vertex as the radius),
scaled so that the equator of the fitted sphere (Fpz, T7, T8, Oz) lies near radius 1 (the head
outline).

``CB1``/``CB2`` are drawn at ``I1``/``I2`` (the nearest standard sites, see
:mod:`cmt_live.montage`); this affects only where their value is drawn.

The image is a linear function of the channel values, so it is computed once as a matrix
``W (n_pixels, n_channels)`` and each redraw is one matrix-vector product:

- inside the convex hull of the electrodes: linear (barycentric) interpolation on a Delaunay
  triangulation, exact at the electrodes (what ``scipy.interpolate.griddata(method="linear")``
  does, but precomputed);
- between the hull and the outer radius: a ring of virtual points, each the mean of its
  ``n_neighbors`` nearest electrodes (MNE's "local" extrapolation idea), joins the
  triangulation so the map reaches the head outline without a hard edge;
- outside the outer radius: masked (transparent).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.spatial import Delaunay, cKDTree

from cmt_live.montage import template, template_position
from features.constants import SEEDV_CHANNELS


def _fit_sphere(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares sphere through ``points (n, 3)``: returns (centre (3,), radius)."""
    # |p|^2 = 2 c.p + (r^2 - |c|^2) is linear in (c, k).
    a = np.column_stack([2 * points, np.ones(len(points))])
    b = (points**2).sum(axis=1)
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    centre = sol[:3]
    radius = float(np.sqrt(sol[3] + centre @ centre))
    return centre, radius


@functools.lru_cache(maxsize=8)
def channel_positions_2d(ch_names: tuple[str, ...] = SEEDV_CHANNELS) -> np.ndarray:
    """2-D topomap positions of ``ch_names``.

    Parameters
    ----------
    ch_names : tuple of str
        Channel labels (case-insensitive; ``CB1``/``CB2`` map to ``I1``/``I2``).

    Returns
    -------
    pos : array of shape (n_channels, 2)
        x to the right ear, y to the nose; the head outline is the unit circle.

    Raises
    ------
    ValueError
        If a channel has no template position.
    """
    # Fitted to the whole template (10-05 sites cover the upper head evenly).
    centre, _ = _fit_sphere(np.array(list(template()[0].values())))
    missing = [ch for ch in ch_names if template_position(ch) is None]
    if missing:
        raise ValueError(
            f"No scalp position for channel(s) {missing}: they are not in MNE's 10-05 template "
            f"montage. Rename them to 10-05 labels (e.g. 'FPZ' -> 'Fpz') or add them to "
            f"cmt_live.montage.SUBSTITUTE_SITES."
        )
    pos3 = np.array([template_position(ch) for ch in ch_names])
    rel = pos3 - centre
    r = np.linalg.norm(rel, axis=1)
    theta = np.arccos(np.clip(rel[:, 2] / r, -1.0, 1.0))  # polar angle from the vertex
    phi = np.arctan2(rel[:, 1], rel[:, 0])
    rho = theta / (np.pi / 2)  # equator -> 1
    pos = np.column_stack([rho * np.cos(phi), rho * np.sin(phi)])
    pos.flags.writeable = False
    return pos


def _barycentric_matrix(tri: Delaunay, query: np.ndarray, n_points: int) -> np.ndarray:
    """Dense (n_query, n_points) weights of linear interpolation on ``tri``; 0 rows outside."""
    simplex = tri.find_simplex(query)
    w = np.zeros((len(query), n_points))
    inside = simplex >= 0
    t = tri.transform[simplex[inside]]  # (m, 3, 2)
    delta = query[inside] - t[:, 2]
    b = np.einsum("mij,mj->mi", t[:, :2], delta)
    bary = np.column_stack([b, 1.0 - b.sum(axis=1)])
    rows = np.nonzero(inside)[0]
    verts = tri.simplices[simplex[inside]]
    # The three vertices of a triangle are distinct, so plain fancy assignment is exact
    # (and far faster than np.add.at).
    for k in range(3):
        w[rows, verts[:, k]] = bary[:, k]
    return w


def interpolation_matrix(
    pos: np.ndarray,
    query: np.ndarray,
    *,
    outer_radius: float = 1.15,
    n_ring: int = 36,
    n_neighbors: int = 4,
) -> np.ndarray:
    """Weights mapping channel values to values at ``query`` points.

    Parameters
    ----------
    pos : array of shape (n_channels, 2)
        Electrode positions (unit circle = head outline).
    query : array of shape (n_query, 2)
        Where to evaluate.
    outer_radius : float
        Radius of the ring of virtual points (and of the drawn disc).
    n_ring : int
        Virtual points on the ring.
    n_neighbors : int
        Electrodes averaged into each virtual point.

    Returns
    -------
    W : array of shape (n_query, n_channels)
        ``values_at_query = W @ channel_values``; rows of points outside the ring are NaN.
        Rows sum to 1 elsewhere; at an electrode the row is that electrode's indicator.
    """
    pos = np.asarray(pos, dtype=float)
    query = np.asarray(query, dtype=float)
    if pos.ndim != 2 or pos.shape[1] != 2 or len(pos) < 3:
        raise ValueError(
            f"pos must be (n_channels >= 3, 2) electrode positions; got shape {pos.shape}."
        )
    n_ch = len(pos)
    ang = np.linspace(0, 2 * np.pi, n_ring, endpoint=False)
    r_out = max(outer_radius, float(np.linalg.norm(pos, axis=1).max()) * 1.02)
    ring = r_out * np.column_stack([np.cos(ang), np.sin(ang)])
    # Each ring point = mean of its nearest electrodes: a linear map channels -> ring values.
    k = min(n_neighbors, n_ch)
    _, nn = cKDTree(pos).query(ring, k=k)
    ext = np.zeros((n_ring, n_ch))
    np.put_along_axis(ext, nn.reshape(n_ring, k), 1.0 / k, axis=1)
    tri = Delaunay(np.vstack([pos, ring]))
    b = _barycentric_matrix(tri, query, n_ch + n_ring)
    w = b[:, :n_ch] + b[:, n_ch:] @ ext
    outside = np.hypot(query[:, 0], query[:, 1]) > r_out
    outside |= tri.find_simplex(query) < 0
    w[outside] = np.nan
    return w


class Topomap:
    """Precomputed topomap for a fixed channel set and image size.

    Parameters
    ----------
    ch_names : tuple of str
    size_px : int
        Image is ``size_px x size_px`` over ``[-extent, extent]^2``.
    extent : float
        Half-width of the image in head radii.
    clip_radius : float
        The map is masked beyond this radius (1 = the head outline).

    Attributes
    ----------
    pos : array of shape (n_channels, 2)
    weights : array of shape (size_px * size_px, n_channels)
    mask : array of shape (size_px, size_px), bool
        True where the map is defined.
    """

    def __init__(
        self,
        ch_names: tuple[str, ...] = SEEDV_CHANNELS,
        *,
        size_px: int = 48,
        extent: float = 1.2,
        clip_radius: float = 1.0,
    ) -> None:
        if size_px < 8:
            raise ValueError(f"size_px must be >= 8 pixels; got {size_px}.")
        self.ch_names = tuple(ch_names)
        self.size_px = int(size_px)
        self.extent = float(extent)
        self.pos = channel_positions_2d(self.ch_names)
        g = np.linspace(-extent, extent, self.size_px)
        gx, gy = np.meshgrid(g, g, indexing="ij")  # image[i, j] = (x_i, y_j), pyqtgraph order
        query = np.column_stack([gx.ravel(), gy.ravel()])
        w = interpolation_matrix(self.pos, query, outer_radius=min(extent, 1.15))
        # The ring of virtual points beyond the head makes the edge smooth; the map itself
        # stops at the head outline (colour outside it read as signal off the scalp).
        inside = (query**2).sum(axis=1) <= clip_radius**2
        self.mask = (np.isfinite(w[:, 0]) & inside).reshape(self.size_px, self.size_px)
        self.weights = np.nan_to_num(w, nan=0.0)

    def image(self, values: np.ndarray) -> np.ndarray:
        """Interpolated map of one value per channel.

        Parameters
        ----------
        values : array of shape (n_channels,)

        Returns
        -------
        img : array of shape (size_px, size_px)
            ``img[i, j]`` at ``x_i, y_j``; NaN outside the head disc.
        """
        values = np.asarray(values, dtype=float)
        if values.shape != (len(self.ch_names),):
            raise ValueError(
                f"Topomap needs one value per channel, shape ({len(self.ch_names)},); "
                f"got {values.shape}."
            )
        img = (self.weights @ values).reshape(self.size_px, self.size_px)
        img[~self.mask] = np.nan
        return img
