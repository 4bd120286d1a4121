"""Resume bookkeeping of a run folder: ``state.json`` records the run's identity (settings and
data fingerprint) and the results already written, so an interrupted run skips finished folds
and a folder never mixes models of different settings or data.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..config import ModelConfig
from ..jsonsafe import jsonable
from .config import TrainConfig

STATE_FILE = "state.json"


def atomic_write_json(path: Path, obj) -> None:
    """Write ``jsonable(obj)`` as JSON to ``path`` through a temporary file and a rename."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(jsonable(obj), indent=2))
    tmp.replace(path)


def run_identity(
    cfg: TrainConfig, model_config: ModelConfig, fingerprint: str, *, protocol: str = "loso"
) -> dict:
    """What must match for a run folder to be resumed: settings, protocol and data fingerprint.

    Seeds and modalities are not part of it: each adds fold tasks with their own names, so a
    run can be extended by another seed or modality.
    """
    return jsonable(
        {
            "train_config": cfg.to_dict(),
            "model_config": model_config.to_dict(),
            "data_fingerprint": fingerprint,
            "protocol": protocol,
        }
    )


def load_state(out: Path, identity: dict) -> dict:
    """The run folder's state (a fresh one if there is none), checked against ``identity``.

    Returns
    -------
    dict
        ``identity`` and ``finished`` (result name -> JSON file, relative to ``out``).

    Raises
    ------
    ValueError
        ``state.json`` is corrupt, or records a run with other settings or data (the
        differences are named).
    """
    path = out / STATE_FILE
    if not path.is_file():
        return {"identity": identity, "finished": {}}
    try:
        state = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path} is corrupt ({err}); delete it to retrain every fold, or use another --out."
        ) from err
    old = state.get("identity", {})
    if old != identity:
        diffs = []
        for key in identity:
            a, b = old.get(key), identity[key]
            if isinstance(a, dict) and isinstance(b, dict):
                diffs += [
                    f"{key}.{k}: {a.get(k)!r} -> {b.get(k)!r}"
                    for k in sorted(set(a) | set(b))
                    if a.get(k) != b.get(k)
                ]
            elif a != b:
                diffs.append(f"{key}: {a!r} -> {b!r}")
        raise ValueError(
            f"{out} holds a run with other settings or data ({'; '.join(diffs)}); resuming would "
            "mix models. Use another --out, or delete the run folder to start over."
        )
    return state


def finished_result(out: Path, state: dict, name: str, model_file: str) -> dict | None:
    """The stored result ``name``, or None unless it and its ``model_file`` are both there."""
    rel = state["finished"].get(name)
    if rel is None or not (out / rel).is_file() or not (out / model_file).is_file():
        return None
    return json.loads((out / rel).read_text())
