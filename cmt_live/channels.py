"""Match a stream's channels to the model's, parse ``--channel-map`` and units.

Channel names are compared case-insensitively after optional renames, so ``Fp1`` matches the
model's ``FP1`` without a map; a map is for names that differ otherwise (``"EEG 001=FP1"``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._logging import logger
from .channel_fill import MAX_FILL_FRACTION, interpolation_matrix, max_fill
from .montage import template_position
from .settings import ContractError
from .windowing import GAZE_COLUMNS

#: Unit spellings (lower-cased) -> factor to volts.
_UNIT_SCALES: dict[str, float] = {
    "v": 1.0,
    "volt": 1.0,
    "volts": 1.0,
    "mv": 1e-3,
    "millivolt": 1e-3,
    "millivolts": 1e-3,
    "uv": 1e-6,
    "\u00b5v": 1e-6,  # MICRO SIGN
    "\u03bcv": 1e-6,  # GREEK SMALL LETTER MU
    "microvolt": 1e-6,
    "microvolts": 1e-6,
    "nv": 1e-9,
    "nanovolt": 1e-9,
    "nanovolts": 1e-9,
}


def parse_unit(unit: str | None) -> float | None:
    """Factor that converts values in ``unit`` to volts.

    Parameters
    ----------
    unit : str | None
        ``"V"``, ``"volts"``, ``"mV"``, ``"uV"``, ``"µV"``, ``"microvolts"``, ``"nV"``, ... (case
        and surrounding spaces ignored), or a positive number: volts per sample unit (``"1e-12"``
        rescales a file whose reader returns µV 10^6 times too large). Empty or None means
        "not declared".

    Returns
    -------
    scale : float | None
        Multiply by this to get volts; None when the unit was not declared (the caller decides,
        see :class:`cmt_live.lsl.inlet.StreamInput`).

    Raises
    ------
    ValueError
        An unknown unit, with the accepted spellings.
    """
    if unit is None or not unit.strip():
        return None
    key = unit.strip().lower()
    try:
        factor = float(key)
    except ValueError:
        factor = None
    if factor is not None and np.isfinite(factor) and factor > 0:
        return factor
    if key not in _UNIT_SCALES:
        raise ValueError(
            f"Unknown EEG unit {unit!r}; expected one of V, volts, mV, uV, \u00b5V, microvolts, "
            "nV, or a factor to volts (e.g. 1e-6). Override it with --eeg-unit (e.g. --eeg-unit "
            "uV)."
        )
    return _UNIT_SCALES[key]


def parse_channel_map(spec: str | Path | Mapping[str, str] | None) -> dict[str, str]:
    """Parse a ``--channel-map`` value into ``{stream_label: model_label}``.

    Parameters
    ----------
    spec : str | Path | dict | None
        ``"A=B,C=D"`` (stream label ``A`` is the model's ``B``), the path of a JSON file holding
        such an object, a dict, or None/empty for no renames.

    Returns
    -------
    mapping : dict of str to str

    Raises
    ------
    ValueError
        Malformed pairs, a JSON file that is not an object of strings, or one stream label
        mapped twice.
    """
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        items = list(spec.items())
        source = "channel map"
    else:
        text = str(spec).strip()
        if not text:
            return {}
        path = Path(text)
        if text.lower().endswith(".json") or (("=" not in text) and path.is_file()):
            if not path.is_file():
                raise ValueError(f"--channel-map file {text!r} does not exist.")
            try:
                obj = json.loads(path.read_text())
            except json.JSONDecodeError as e:
                raise ValueError(f"--channel-map file {text!r} is not valid JSON: {e}.") from e
            if not isinstance(obj, dict):
                raise ValueError(
                    f"--channel-map file {text!r} must hold a JSON object "
                    '{"stream label": "model label", ...}; got ' + type(obj).__name__ + "."
                )
            items = list(obj.items())
            source = f"--channel-map file {text!r}"
        else:
            items = []
            for pair in text.split(","):
                if not pair.strip():
                    continue
                if pair.count("=") != 1:
                    raise ValueError(
                        f"--channel-map entry {pair.strip()!r} must look like STREAM=MODEL "
                        '(e.g. "EEG 001=FP1,EEG 002=FPZ").'
                    )
                a, b = (x.strip() for x in pair.split("="))
                if not a or not b:
                    raise ValueError(
                        f"--channel-map entry {pair.strip()!r} has an empty side; expected "
                        "STREAM=MODEL."
                    )
                items.append((a, b))
            source = "--channel-map"
    mapping: dict[str, str] = {}
    for a, b in items:
        if not isinstance(a, str) or not isinstance(b, str):
            raise ValueError(f"{source}: labels must be strings; got {a!r}: {b!r}.")
        if a.lower() in {k.lower() for k in mapping}:
            raise ValueError(f"{source}: stream label {a!r} is mapped twice.")
        mapping[a] = b
    return mapping


#: A label of a positional cap (BioSemi's A1...H32, ANT's like): a letter A-H and a number.
_POSITIONAL = re.compile(r"^[A-Ha-h](?:[1-9]|[1-9][0-9])$")


@dataclass(frozen=True, eq=False)
class ChannelSelection:
    """How a stream's columns become the model's channels, filled ones included.

    Parameters
    ----------
    index : int array of shape (n_model_channels,)
        Stream column of each model channel (a placeholder for a filled one).
    filled : tuple of str
        Model channels the stream lacks, computed by interpolation.
    weights : array of shape (len(filled), n_model_channels) | None
        ``filled = weights @ model_order_data``; zero on the filled channels themselves.
    fill_pos : int array of shape (len(filled),) | None
        Model positions of the filled channels.
    """

    index: np.ndarray
    filled: tuple[str, ...] = ()
    weights: np.ndarray | None = None
    fill_pos: np.ndarray | None = None

    def complete(self, data: np.ndarray) -> np.ndarray:
        """Data in model order, ``(n_samples, n_model_channels)`` as ``data[:, index]`` gives
        it, with the filled channels computed (in place when ``data`` is float64)."""
        x = np.asarray(data, dtype=np.float64)
        if not self.filled:
            return x
        pos = self.fill_pos
        x[:, pos] = 0.0  # the placeholders must not leak into the weights (0 * NaN is NaN)
        x[:, pos] = x @ self.weights.T
        return x

    def take(self, data: np.ndarray) -> np.ndarray:
        """A stream chunk ``(n_samples, n_stream_channels)`` -> model order, filled."""
        x = np.asarray(data)[:, self.index]
        return self.complete(x) if self.filled else x


def _is_positional_cap(labels: Sequence[str]) -> bool:
    """Most labels look like BioSemi/ANT positions (A1, B12, ...), not 10-20 names."""
    n = sum(1 for lab in labels if _POSITIONAL.match(lab))
    return n >= 16 and n >= 0.5 * len(labels)


def select_channels(
    stream_labels: Sequence[str | None],
    model_channels: Sequence[str],
    channel_map: str | Path | Mapping[str, str] | None = None,
    *,
    fill_missing: int = 0,
) -> ChannelSelection:
    """Which stream column feeds each model channel, and which missing ones to fill.

    Parameters
    ----------
    stream_labels : sequence of str (None/"" for an unlabelled channel)
        Labels in stream order, from the stream's description.
    model_channels : sequence of str
        The model's channel list (its contract), in model order.
    channel_map : str | Path | dict | None
        Renames applied to stream labels first (see :func:`parse_channel_map`).
    fill_missing : int
        ``--fill-missing``: up to this many model channels the stream lacks are filled by
        spherical-spline interpolation from the montage (:mod:`cmt_live.channel_fill`; at most
        :func:`cmt_live.channel_fill.max_fill` of them). 0: every channel must be recorded.

    Returns
    -------
    ChannelSelection
        ``selection.take(stream_data)`` is the data in model order. Extra stream channels are
        ignored.

    Raises
    ------
    ValueError
        Model channels missing from the stream (named, with the fix), more of them than may be
        filled, two stream channels that would both provide the same model channel, or a
        positional cap (BioSemi A1...H32) whose labels match 10-20 names only by coincidence.
    """
    mapping = {k.lower(): v for k, v in parse_channel_map(channel_map).items()}
    renamed: list[str] = []
    for lab in stream_labels:
        lab = (lab or "").strip()
        renamed.append(mapping.get(lab.lower(), lab))
    stripped = [(s or "").strip() for s in stream_labels]
    unknown_map = [k for k in mapping if k not in {s.lower() for s in stripped}]
    by_name: dict[str, int] = {}
    for i, lab in enumerate(renamed):
        if not lab:
            continue
        key = lab.lower()
        if key in by_name:
            raise ValueError(
                f"Stream channels {by_name[key]} and {i} are both called {lab!r} (after "
                "--channel-map, case-insensitive); rename one with --channel-map "
                '"LABEL=OTHER".'
            )
        by_name[key] = i
    if _is_positional_cap(stripped):
        chance = [
            ch
            for ch in model_channels
            if ch.lower() in by_name
            and stripped[by_name[ch.lower()]].lower() not in mapping
            and _POSITIONAL.match(stripped[by_name[ch.lower()]])
        ]
        if chance:
            raise ValueError(
                f"The stream's labels are positions of a BioSemi-style cap (A1...H32), not "
                f"10-20 names: its {', '.join(chance)} match the model's channels only by "
                "coincidence (BioSemi's C1 is not 10-20 C1). Map the cap's labels to 10-20 "
                'names with --channel-map (e.g. a JSON file {"A1": "CZ", ...} from the cap\'s '
                'layout), or map a label to itself ("C1=C1") where it truly is that site.'
            )
    missing = [ch for ch in model_channels if ch.lower() not in by_name]
    if missing and len(missing) <= fill_missing:
        return _filled_selection(model_channels, by_name, missing, fill_missing)
    if missing:
        n_unlabelled = sum(1 for lab in renamed if not lab)
        shown = ", ".join(missing[:20]) + (
            f" ... ({len(missing)} in all)" if len(missing) > 20 else ""
        )
        have = ", ".join(lab for lab in renamed if lab)[:400]
        hint = (
            f" The --channel-map entries {sorted(unknown_map)} match no stream channel."
            if unknown_map
            else ""
        )
        fill = (
            f" --fill-missing {fill_missing} fills fewer."
            if fill_missing
            else (
                f" A few missing channels (up to {max_fill(len(model_channels))}) can be "
                "interpolated from the montage with --fill-missing N."
            )
        )
        raise ValueError(
            f"The stream lacks {len(missing)} of the model's {len(model_channels)} channels: "
            f"{shown}. The stream has {len(stream_labels)} channels"
            + (f" ({n_unlabelled} without a label in its description)" if n_unlabelled else "")
            + f": {have or 'none labelled'}. Map stream labels to model names with "
            '--channel-map "STREAM=MODEL,..." (or a JSON file), or use a model trained on '
            "these channels." + fill + hint
        )
    return ChannelSelection(np.array([by_name[ch.lower()] for ch in model_channels], np.intp))


def _filled_selection(model_channels, by_name, missing, fill_missing) -> ChannelSelection:
    """The selection that fills ``missing`` from the recorded model channels."""
    limit = max_fill(len(model_channels))
    if fill_missing > limit:
        raise ValueError(
            f"--fill-missing {fill_missing} exceeds the limit of {limit} channels "
            f"({MAX_FILL_FRACTION:.0%} of the model's {len(model_channels)}); with more missing, "
            "interpolation guesses whole regions. Use a model trained on these channels."
        )
    present = [ch for ch in model_channels if ch.lower() in by_name]
    sources = [ch for ch in present if template_position(ch) is not None]
    weights_src = interpolation_matrix(sources, missing)
    pos = {ch: i for i, ch in enumerate(model_channels)}
    weights = np.zeros((len(missing), len(model_channels)))
    weights[:, [pos[ch] for ch in sources]] = weights_src
    index = np.array([by_name.get(ch.lower(), 0) for ch in model_channels], np.intp)
    fill_pos = np.array([pos[ch] for ch in missing], np.intp)
    logger.warning(
        "%d missing channel(s) filled by spherical-spline interpolation from %d recorded: %s.",
        len(missing),
        len(sources),
        ", ".join(missing),
    )
    return ChannelSelection(index, tuple(missing), weights, fill_pos)


def match_channels(
    stream_labels: Sequence[str | None],
    model_channels: Sequence[str],
    channel_map: str | Path | Mapping[str, str] | None = None,
) -> np.ndarray:
    """Indices that pick and order the stream's channels as the model expects (every channel
    recorded: :func:`select_channels` without filling).

    Returns
    -------
    index : int array of shape (len(model_channels),)
        ``stream_data[:, index]`` is the data in model order.
    """
    return select_channels(stream_labels, model_channels, channel_map).index


def eeg_scales(name: str, declared: Sequence[str], override: str | None = None) -> np.ndarray:
    """Per-channel factors from an EEG stream's declared units to volts.

    The one place EEG units are read: live inlets, fast replay and recordings all use it, so a
    recording with mixed units gives the same numbers in each.

    Parameters
    ----------
    name : str
        Stream name, for messages.
    declared : sequence of str
        The unit of each channel as the stream or file declares it (``""`` when absent).
    override : str | None
        ``--eeg-units``: one unit for every channel, replacing the declared ones.

    Returns
    -------
    array of shape (n_channels,)
        Multiply the data (n_samples, n_channels) by it to get volts.

    Raises
    ------
    ValueError
        An unknown unit, or declared units that are mixed with missing ones.
    """
    n = len(declared)
    if override is not None:
        s = parse_unit(override)
        if s is None:
            raise ValueError("unit override must not be empty; e.g. unit='uV'.")
        return np.full(n, s)
    try:
        scales = [parse_unit(u) for u in declared]
    except ValueError as e:
        if {str(u).strip().lower() for u in declared} & {"degrees", "deg", "pixels", "px"}:
            raise ValueError(
                f"Stream {name!r} is a gaze stream (units {sorted(set(declared))}), not EEG; "
                f"give it as --eye-stream and the EEG stream as --eeg-stream."
            ) from e
        raise ValueError(f"EEG stream {name!r}: {e}") from e
    if all(s is None for s in scales):
        logger.warning(
            "EEG stream %r declares no units; assuming microvolts (override with --eeg-unit).",
            name,
        )
        return np.full(n, 1e-6)
    if any(s is None for s in scales):
        known = [s for s in scales if s is not None]
        if len(set(known)) > 1:
            raise ValueError(
                f"EEG stream {name!r} declares mixed units for some channels and none for "
                "others; set one with --eeg-unit."
            )
        scales = [known[0] if s is None else s for s in scales]
    return np.asarray(scales, dtype=np.float64)


#: Channel labels of the gaze streams this project makes (simulator, gaze CSV files); x, y in
#: degrees of visual angle, pupils in the tracker's unit, valid 1/0.
GAZE_CHANNELS: tuple[str, ...] = ("x", "y", "pupil_1", "pupil_2", "valid")

#: Accepted gaze channel labels (lower case) per column of the gaze buffer.
GAZE_ALIASES: dict[str, tuple[str, ...]] = {
    "x_deg": ("x", "x_deg", "gaze_x", "gazex", "screenx", "x_degrees"),
    "y_deg": ("y", "y_deg", "gaze_y", "gazey", "screeny", "y_degrees"),
    "pupil_1": ("pupil_1", "pupil1", "pupil_left", "left_pupil", "diameter_left", "pupil"),
    "pupil_2": ("pupil_2", "pupil2", "pupil_right", "right_pupil", "diameter_right"),
    "valid": ("valid", "validity", "confidence"),
}


def match_gaze_channels(labels: Sequence[str]) -> np.ndarray:
    """Indices of ``x, y, pupil_1, pupil_2, valid`` in a gaze stream's channels.

    A stream with exactly 5 channels none of which match is taken in that order. Raises
    :class:`ContractError` naming the missing columns otherwise.
    """
    low = [(s or "").strip().lower() for s in labels]
    idx, missing = [], []
    for col in GAZE_COLUMNS:
        hit = next((i for i, lab in enumerate(low) if lab in GAZE_ALIASES[col]), None)
        if hit is None:
            missing.append(col)
        idx.append(hit)
    if not missing:
        return np.asarray(idx, dtype=np.intp)
    if len(labels) == len(GAZE_COLUMNS) and len(missing) == len(GAZE_COLUMNS):
        logger.warning(
            "gaze channels %s are not labelled as expected; taking them as %s in that order.",
            list(labels),
            GAZE_COLUMNS,
        )
        return np.arange(len(GAZE_COLUMNS))
    raise ContractError(
        f"The gaze stream lacks the columns {missing} (its channels: {list(labels)}). Expected "
        f"labels like {[GAZE_ALIASES[c][0] for c in GAZE_COLUMNS]} (x, y in degrees, two pupil "
        "sizes, validity)."
    )
