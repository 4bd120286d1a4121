"""The feature specification: the part of the model contract that features/ owns.

A model file embeds a :class:`FeatureSpec`; live use and replay build their extractor from
the same spec, so the numbers a model sees live are the numbers it was trained on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .constants import BANDS, EYE_FEATURE_NAMES, SEEDV_CHANNELS
from .eye_events import event_thresholds

DE_METHODS = ("seedv", "gaussian")
ORDERS = ("band-major", "channel-major")
SMOOTHINGS = ("none", "lds")
EYE_STATS = ("window", "clip")
#: The eye-event detector's version and thresholds now (features.eye_events).
EYE_EVENTS = tuple(event_thresholds().items())


@dataclass(frozen=True)
class FeatureSpec:
    """How features are computed, and in which column order.

    Parameters
    ----------
    ch_names : tuple of str
        EEG channels in feature order.
    sfreq : float
        EEG sampling rate the DE is computed at, Hz (SEED-V: 200).
    window_s : float
        Window length, seconds (SEED-V: 4, non-overlapping).
    bands : tuple of (str, float, float)
        ``(name, low_hz, high_hz)`` in column order.
    de_method : {"seedv", "gaussian"}
    order : {"band-major", "channel-major"}
        Column order of the EEG features (``band * n_channels + ch`` or ``ch * n_bands + band``).
    preprocess : bool
        Band-pass 1-75 Hz before DE (SEED-V's preprocessing).
    smoothing : {"none", "lds"}
        LDS smoothing of the DE series: the RTS smoother offline, the causal filter live.
    eye_names : tuple of str
        Eye feature columns.
    eye_stats : {"window", "clip"}
        Whether the 9 event statistics are computed per window or once per clip.
    eye_events : tuple of (str, float)
        The eye-event detector's version and thresholds the eye features were made with
        (:func:`features.eye_events.event_thresholds`; a dict is accepted). Empty: not
        recorded, i.e. a spec file written before they were (an older detector; see
        :meth:`from_dict`).
    """

    ch_names: tuple[str, ...] = SEEDV_CHANNELS
    sfreq: float = 200.0
    window_s: float = 4.0
    bands: tuple[tuple[str, float, float], ...] = BANDS
    de_method: str = "seedv"
    order: str = "band-major"
    preprocess: bool = True
    smoothing: str = "none"
    eye_names: tuple[str, ...] = EYE_FEATURE_NAMES
    eye_stats: str = "window"
    eye_events: tuple[tuple[str, float], ...] = EYE_EVENTS

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("de_method", self.de_method, DE_METHODS),
            ("order", self.order, ORDERS),
            ("smoothing", self.smoothing, SMOOTHINGS),
            ("eye_stats", self.eye_stats, EYE_STATS),
        ):
            if value not in allowed:
                raise ValueError(f"FeatureSpec.{name}={value!r} is invalid; use one of {allowed}.")
        if self.window_s <= 0 or self.sfreq <= 0:
            raise ValueError(
                f"FeatureSpec needs window_s > 0 and sfreq > 0; got window_s={self.window_s}, "
                f"sfreq={self.sfreq}."
            )
        # Normalise sequences to tuples so specs read back from JSON compare equal.
        object.__setattr__(self, "ch_names", tuple(self.ch_names))
        object.__setattr__(
            self, "bands", tuple((str(n), float(lo), float(hi)) for n, lo, hi in self.bands)
        )
        object.__setattr__(self, "eye_names", tuple(self.eye_names))
        events = self.eye_events
        try:
            pairs = tuple(
                (str(k), float(v))
                for k, v in (events.items() if isinstance(events, dict) else events)
            )
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"FeatureSpec.eye_events={events!r} is invalid ({err}); it must map threshold "
                "names to numbers, as features.eye_events.event_thresholds() returns."
            ) from None
        object.__setattr__(self, "eye_events", pairs)

    @property
    def n_eeg_features(self) -> int:
        return len(self.ch_names) * len(self.bands)

    @property
    def n_eye_features(self) -> int:
        return len(self.eye_names)

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples become lists; ``eye_events`` a dict)."""
        d = asdict(self)
        d["eye_events"] = dict(self.eye_events)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FeatureSpec:
        """Inverse of :meth:`to_dict`; unknown keys raise with their names.

        A dict without ``eye_events`` (written before the eye-event thresholds were
        recorded) reads with ``eye_events=()``: made by an older detector, not this one.
        """
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f"Unknown FeatureSpec fields {sorted(unknown)}; the model file may come from a "
                "newer cmt-live. Upgrade cmt-live or re-export the model."
            )
        return cls(**{"eye_events": (), **d})

    def mismatches(self, other: FeatureSpec) -> list[str]:
        """Human-readable differences between two specs (empty when they match)."""
        out = []
        for name in self.__dataclass_fields__:
            a, b = getattr(self, name), getattr(other, name)
            if a != b:
                if name == "ch_names":
                    missing = [c for c in a if c not in b]
                    out.append(f"ch_names differ (missing in other: {missing[:10]})")
                elif name == "eye_events":
                    out.append(_eye_events_difference(dict(a), dict(b)))
                else:
                    out.append(f"{name}: {a!r} != {b!r}")
        return out


def _eye_events_difference(a: dict, b: dict) -> str:
    """One line saying how two specs' eye-event detectors differ."""
    if not a or not b:
        return (
            "eye_events: the eye-event thresholds are not recorded on one side (features made "
            "by an older detector, before issue 10); eye features may differ"
        )
    keys = [k for k in a.keys() | b.keys() if a.get(k) != b.get(k)]
    return "eye_events differ: " + ", ".join(f"{k} {a.get(k)} != {b.get(k)}" for k in sorted(keys))
