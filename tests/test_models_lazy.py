"""``models`` loads torch only when a torch-dependent name is asked for; it never imports
``cmt_live`` or ``apps``; its version is the distribution's."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import models

ROOT = Path(__file__).resolve().parents[1]

#: Prepended to subprocess code: a meta-path finder that makes torch unimportable, as in an
#: environment without it.
HIDE_TORCH = textwrap.dedent(
    """
    import sys

    class _HideTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(f"No module named {name!r} (hidden)", name=name)
            return None

    sys.meta_path.insert(0, _HideTorch())
    """
)


def _run(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh interpreter at the repository root; it prints one JSON line."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _project_modules() -> str:
    return "sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'cmt_live', 'apps'))"


def test_seedv_reads_and_writes_without_torch(tmp_path):
    code = HIDE_TORCH + textwrap.dedent(
        f"""
        import json
        import numpy as np
        import models.jsonsafe, models.safe_pickle, models.version
        from models.seedv import Trial, load_feature_spec, load_seedv, write_seedv

        rng = np.random.default_rng(0)
        trials = [
            Trial(7, k // 15 + 1, k % 15 + 1, rng.normal(size=(2, 310)).astype(np.float32),
                  rng.normal(size=(2, 33)).astype(np.float32), k % 5)
            for k in range(45)
        ]
        write_seedv(sys.argv[1], trials)
        data = load_seedv(sys.argv[1])
        print(json.dumps({{
            "subjects": data.subjects,
            "n_trials": len(data.trials),
            "labels": [t.label for t in data.trials[:6]],
            "spec_source": load_feature_spec(sys.argv[1])[1],
            "loaded": {_project_modules()},
        }}))
        """
    )
    out = _run(code, str(tmp_path))
    assert out["subjects"] == [7] and out["n_trials"] == 45
    assert out["labels"] == [0, 1, 2, 3, 4, 0]
    assert out["spec_source"].startswith("assumed: SEED-V released features")
    assert out["loaded"] == []  # no torch, and nothing of cmt_live or apps


def test_torch_names_fail_on_use_naming_torch_without_torch():
    code = HIDE_TORCH + textwrap.dedent(
        """
        import json
        import models  # must not need torch

        out = {"config": models.ModelConfig.preset("tiny").d_model}
        try:
            models.Runtime
        except ImportError as err:
            out["error"] = f"{type(err).__name__}: {err}"
        out["torch_loaded"] = "torch" in sys.modules
        print(json.dumps(out))
        """
    )
    out = _run(code)
    assert out["config"] == 16
    assert out["error"].startswith("ImportError: models.Runtime needs torch")
    assert out["torch_loaded"] is False


def test_models_never_imports_cmt_live_or_apps():
    code = textwrap.dedent(
        f"""
        import importlib, json, pkgutil, sys
        import models

        names = [m.name for m in pkgutil.walk_packages(models.__path__, "models.")]
        for name in names:
            importlib.import_module(name)
        for name in models.__all__:
            getattr(models, name)
        loaded = {_project_modules()}
        print(json.dumps({{"modules": names, "loaded": [m for m in loaded if m != "torch"
                                                          and not m.startswith("torch.")]}}))
        """
    )
    out = _run(code)
    assert "models.train.run" in out["modules"] and "models.seedv" in out["modules"]
    assert out["loaded"] == []


def test_public_names_resolve():
    from models import (
        CrossModalTransformer,
        ModelConfig,
        ModelContract,
        export_torchscript,
        load_runtime,
    )
    from models.contract import ModelContract as contract_cls
    from models.runtime import load_runtime as runtime_load

    assert ModelContract is contract_cls and load_runtime is runtime_load
    assert callable(export_torchscript) and isinstance(CrossModalTransformer, type)
    assert ModelConfig.preset("tiny").n_heads == 2
    assert all(getattr(models, name) is not None for name in models.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        models.nope  # noqa: B018


def test_version_is_the_distributions():
    import cmt_live
    from models.version import __version__

    assert __version__ == importlib.metadata.version("cmt-live")
    assert cmt_live.__version__ is __version__


def test_version_of_an_uninstalled_source_tree(monkeypatch):
    tomllib = pytest.importorskip("tomllib")
    from models import version

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(version, "version", not_installed)
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert version._read_version() == declared
