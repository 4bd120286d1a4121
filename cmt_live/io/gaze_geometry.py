"""Gaze in screen units -> degrees of visual angle, and two eyes -> one gaze point.

Our gaze streams carry one gaze point in degrees from the screen centre (+x right, +y up) and
one pupil per eye (:data:`cmt_live.channels.GAZE_CHANNELS`). Trackers export pixels (EyeLink,
Tobii Pro Lab), a fraction of the screen (Tobii SDK, Pupil Labs' ``norm_pos``) or degrees, and
usually both eyes; :class:`ScreenGeometry` converts the first two, :func:`combine_eyes` the
second.

Conversion, in order of preference:

1. ``--screen-px W H --screen-cm W H --distance-cm D``: each axis on its own,
   ``deg = atan(offset_cm / distance_cm)`` (:func:`features.eye_events.pixels_to_degrees`).
2. ``--px-per-deg P`` (or the tracker's own figure, EyeLink's ``RES`` on its ``END`` lines):
   linear, ``deg = offset_px / P``, good to ~1 % within ±10° of the centre.

The centre is the middle of ``--screen-px`` (or of the tracker's ``GAZE_COORDS``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.eye_events import pixels_to_degrees

#: Gaze units a gaze file may hold (``--gaze-units``).
GAZE_UNITS = ("deg", "px", "norm")

_NEEDS = (
    "pass --px-per-deg P, or --screen-px W H --screen-cm W H --distance-cm D (the screen's "
    "resolution and visible size, the eye-to-screen distance)"
)


@dataclass(frozen=True)
class ScreenGeometry:
    """What converts screen coordinates to degrees (any field may be unknown: None).

    Parameters
    ----------
    screen_px : (float, float) | None
        Screen resolution ``(width, height)``, pixels.
    screen_cm : (float, float) | None
        Visible screen size ``(width, height)``, cm.
    distance_cm : float | None
        Eye-to-screen distance, cm.
    px_per_deg : (float, float) | None
        Pixels per degree ``(x, y)``: used when the physical sizes are not all given.
    """

    screen_px: tuple[float, float] | None = None
    screen_cm: tuple[float, float] | None = None
    distance_cm: float | None = None
    px_per_deg: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        for name in ("screen_px", "screen_cm", "px_per_deg"):
            v = getattr(self, name)
            if v is not None:
                v = tuple(float(a) for a in v)
                if len(v) != 2 or not all(np.isfinite(a) and a > 0 for a in v):
                    raise ValueError(
                        f"{name}={v!r} is invalid; it needs two positive numbers (x, y)."
                    )
                object.__setattr__(self, name, v)
        d = self.distance_cm
        if d is not None and not (np.isfinite(d) and d > 0):
            raise ValueError(f"distance_cm={d!r} is invalid; it must be a positive number (cm).")

    @property
    def physical(self) -> bool:
        """Screen resolution, size and distance are all known."""
        return None not in (self.screen_px, self.screen_cm, self.distance_cm)

    def with_defaults(self, *, screen_px=None, px_per_deg=None) -> ScreenGeometry:
        """The tracker's own figures (e.g. EyeLink's ``GAZE_COORDS`` and ``RES``) where the
        user gave none."""
        return ScreenGeometry(
            screen_px=self.screen_px or screen_px,
            screen_cm=self.screen_cm,
            distance_cm=self.distance_cm,
            px_per_deg=self.px_per_deg or px_per_deg,
        )

    def px_to_degrees(self, x_px, y_px, *, source: str = "gaze") -> tuple[np.ndarray, np.ndarray]:
        """Pixels (origin top-left, y down) -> degrees from the centre (+y up).

        Raises
        ------
        ValueError
            Neither the physical geometry nor pixels per degree are known, or the resolution
            (so the centre) is unknown (names the fix).
        """
        x = np.asarray(x_px, dtype=np.float64)
        y = np.asarray(y_px, dtype=np.float64)
        if self.physical:
            (w, h), (w_cm, _) = self.screen_px, self.screen_cm
            return pixels_to_degrees(
                x, y, screen_w_px=w, screen_h_px=h, screen_w_cm=w_cm, distance_cm=self.distance_cm
            )
        if self.px_per_deg is None:
            raise ValueError(
                f"{source}: gaze is in pixels and the screen geometry is unknown; {_NEEDS}."
            )
        if self.screen_px is None:  # degrees are from the centre: it must be known
            raise ValueError(
                f"{source}: gaze is in pixels and the screen resolution is unknown, so its "
                "centre (0 degrees) is too; pass --screen-px W H."
            )
        cx, cy = self.screen_px[0] / 2, self.screen_px[1] / 2
        return (x - cx) / self.px_per_deg[0], -(y - cy) / self.px_per_deg[1]

    def norm_to_degrees(self, x_n, y_n, *, source: str = "gaze") -> tuple[np.ndarray, np.ndarray]:
        """Fractions of the screen (0..1, origin top-left) -> degrees; needs ``screen_px``."""
        if self.screen_px is None:
            raise ValueError(
                f"{source}: gaze is in fractions of the screen; pass --screen-px W H "
                f"and {_NEEDS.removeprefix('pass ')}."
            )
        w, h = self.screen_px
        return self.px_to_degrees(np.asarray(x_n) * w, np.asarray(y_n) * h, source=source)

    def to_degrees(self, x, y, units: str, *, source: str = "gaze"):
        """Gaze in ``units`` (:data:`GAZE_UNITS`) -> degrees."""
        if units == "deg":
            return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if units == "px":
            return self.px_to_degrees(x, y, source=source)
        if units == "norm":
            return self.norm_to_degrees(x, y, source=source)
        raise ValueError(f"--gaze-units {units!r} is invalid; use one of {GAZE_UNITS}.")


def combine_eyes(left, right):
    """One gaze point from two eyes: their mean where both are valid.

    Parameters
    ----------
    left, right : tuple (x, y, valid) of arrays of shape (n,) | None
        Each eye's gaze (any unit) and validity; None for an eye not recorded.

    Returns
    -------
    x, y : ndarray of shape (n,)
        NaN where invalid.
    valid : ndarray of bool, shape (n,)

    Notes
    -----
    A sample is valid only when every recorded eye is: falling back to the one eye left during
    a one-eyed blink or track loss would jump by the two eyes' vergence offset (often 0.5-1°),
    which the event detector would count as saccades.
    """
    eyes = [e for e in (left, right) if e is not None]
    if not eyes:
        raise ValueError("No eye recorded: the gaze file has neither left- nor right-eye data.")
    valid = np.logical_and.reduce(
        [np.asarray(v, bool) & np.isfinite(x) & np.isfinite(y) for x, y, v in eyes]
    )
    x = np.mean([np.asarray(e[0], np.float64) for e in eyes], axis=0)
    y = np.mean([np.asarray(e[1], np.float64) for e in eyes], axis=0)
    x[~valid] = np.nan
    y[~valid] = np.nan
    return x, y, valid
