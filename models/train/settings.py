"""The settings file of a run (``cmt-train --config run.toml``) and the resolved copy saved in
the run folder (``config.toml``, itself a valid ``--config``).

Sections: ``[train]`` (every :class:`~models.train.config.TrainConfig` field), ``[model]``
(every :class:`models.ModelConfig` field but ``n_domains``, which each fold sets) and ``[run]``
(protocol, seeds, modalities, runner, device...: the command line's other options, with dashes
as underscores). Precedence: preset < file < command-line flags.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..config import ModelConfig
from .config import TrainConfig

#: ``[run]`` keys and what they hold (the command line's options of the same names).
RUN_KEYS = {
    "protocol": str,
    "seeds": list,
    "modalities": list,
    "device": str,
    "out": str,
    "folds": int,
    "subjects": list,
    "threads": int,
    "final": bool,
    "baseline": bool,
    "jobs": int,
    "ray": str,
    "cpus_per_fold": float,
    "gpus_per_fold": float,
    "retries": int,
}

SECTIONS = {
    "train": {f.name for f in dataclasses.fields(TrainConfig)},
    "model": {f.name for f in dataclasses.fields(ModelConfig)} - {"n_domains"},
    "run": set(RUN_KEYS),
}


def load_settings(path: str | Path) -> dict[str, dict]:
    """Read and check a settings file.

    Returns
    -------
    dict
        ``{"train": {...}, "model": {...}, "run": {...}}`` (missing sections empty).

    Raises
    ------
    ValueError
        The file is missing, not TOML, or has an unknown section or key (named, with the
        keys allowed).
    """
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--config {path} does not exist; pass a TOML file (see README).")
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"--config {path} is not valid TOML ({err}); fix the file.") from err
    out = {name: {} for name in SECTIONS}
    for section, values in raw.items():
        if section not in SECTIONS or not isinstance(values, dict):
            raise ValueError(
                f"--config {path}: unknown section [{section}]; use [train], [model] and [run]."
            )
        unknown = sorted(set(values) - SECTIONS[section])
        if unknown:
            raise ValueError(
                f"--config {path}: unknown key(s) {unknown} in [{section}]; allowed: "
                f"{', '.join(sorted(SECTIONS[section]))}."
            )
        for key, value in values.items():
            want = RUN_KEYS.get(key) if section == "run" else None
            if want is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            # TOML's true/false are Python bools, which are ints: not a number here.
            if want is not None and (
                not isinstance(value, want) or (want is not bool and isinstance(value, bool))
            ):
                raise ValueError(
                    f"--config {path}: [run] {key} = {value!r} is invalid; it must be a TOML "
                    f"{want.__name__}."
                )
            out[section][key] = value
    if "context_lengths" in out["train"]:
        out["train"]["context_lengths"] = tuple(out["train"]["context_lengths"])
    return out


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def dump_settings(settings: dict[str, dict]) -> str:
    """TOML text of resolved settings (``None`` values are left out: they mean "auto")."""
    lines = ["# Resolved settings of this run; reusable as cmt-train --config."]
    for section in ("train", "model", "run"):
        lines += ["", f"[{section}]"]
        for key, value in settings.get(section, {}).items():
            if value is not None:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
