"""The one JSON-safe encoder: known answers, and valid JSON out of model contracts and runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from models.jsonsafe import jsonable


def test_known_answer():
    obj = {
        "nan": float("nan"),
        "inf": math.inf,
        "-inf": -np.inf,
        "f32": np.float32(0.5),
        "f32nan": np.float32("nan"),
        "i64": np.int64(7),
        "bool": np.bool_(True),
        "tuple": (1, (2.0, np.nan)),
        "array": np.array([[1.0, np.inf], [np.nan, 2.5]], dtype=np.float32),
        "ints": np.arange(3, dtype=np.int16),
        "scalar_array": np.array(3.0),
        "path": Path("runs/a"),
        3: None,
        "nested": {"x": [np.float64(1.25), {"y": np.int32(-1)}]},
        "plain": ["s", 1, 2.0, False],
    }
    out = jsonable(obj)
    assert out == {
        "nan": None,
        "inf": None,
        "-inf": None,
        "f32": 0.5,
        "f32nan": None,
        "i64": 7,
        "bool": True,
        "tuple": [1, [2.0, None]],
        "array": [[1.0, None], [None, 2.5]],
        "ints": [0, 1, 2],
        "scalar_array": 3.0,
        "path": "runs/a",
        "3": None,
        "nested": {"x": [1.25, {"y": -1}]},
        "plain": ["s", 1, 2.0, False],
    }
    assert type(out["i64"]) is int and type(out["f32"]) is float and type(out["bool"]) is bool
    text = json.dumps(out, allow_nan=False)  # valid JSON: no NaN/Infinity tokens
    assert json.loads(text) == out


def test_run_files_are_written_through_it(tmp_path):
    # One encoder: a value reads the same in a model file and in the run folder beside it.
    from models.train.resume import atomic_write_json

    atomic_write_json(tmp_path / "r.json", {"acc": np.float32("nan"), "s": (1, 2)})
    text = (tmp_path / "r.json").read_text()
    assert json.loads(text) == {"acc": None, "s": [1, 2]}
    assert not (tmp_path / "r.json.tmp").exists()


def test_metrics_are_built_through_it(tmp_path):
    from features.spec import FeatureSpec
    from models import ModelConfig
    from models.seedv import SeedVData
    from models.train import TrainConfig
    from models.train.metrics import build_metrics

    fold = {
        "test": {"trial_acc": float("nan"), "confusion": [[1, 0], [0, 1]], "streaming_acc": {}},
        "best_val_acc": 0.5,
        "wall_s": 2.0,
    }
    out = build_metrics(
        data=SeedVData(root=tmp_path, trials=[], fingerprint="f"),
        cfg=TrainConfig(),
        model_config=ModelConfig.preset("tiny"),
        folds_total=1,
        fold_results=[fold],
        deployment=None,
        device="cpu",
        spec=FeatureSpec(),
        spec_source="test",
        wall_s=np.float32("nan"),
    )
    assert json.loads(json.dumps(out, allow_nan=False)) == out  # valid JSON, no NaN tokens
    assert out["wall_s"] is None
    assert out["folds"][0]["test"]["trial_acc"] is None
    assert out["summary"]["trial_acc"] == {"mean": None, "std": None}
    assert out["model_config"] == ModelConfig.preset("tiny").to_dict()
