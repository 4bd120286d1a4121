"""``cmt-live --demo``: simulator streams + a demo model + the monitor, on one machine.

1. The demo model: trained on simulated subjects by the project's own code (``cmt-sim
   dataset``'s :func:`cmt_live.sim.dataset.build_dataset`, then
   :func:`models.train.train_model` and :func:`models.train.export_model`, with progress
   bars), cached as ``<cache>/cmt-live/demo-model-<hash>.pt`` where ``<cache>`` is
   ``$XDG_CACHE_HOME`` or ``~/.cache`` and the hash covers :data:`DEMO_SETTINGS` and the package
   version. ``--rebuild-demo-model`` trains it again. The same file comes out of
   ``python -m cmt_live.sim.demo --build-model PATH`` (documented, reproducible: seeded).
2. The simulator: ``python -m cmt_live.cli.sim stream`` in a subprocess, with a unique stream
   prefix and a subject the demo model never saw (:data:`DEMO_SUBJECT`).
3. The monitor (GUI or headless) on those streams, until Ctrl-C; the subprocess is stopped on
   the way out, whatever happens.

The caller (``cmt-live --demo``) selected the loopback-only LSL config before anything imported
``pylsl`` (unless the user set ``LSLAPICFG``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from cmt_live._logging import logger
from cmt_live.sim.streams import STREAM_TYPES

#: What the demo model is trained on (and how); part of the cache key.
DEMO_SETTINGS: dict = {
    # 10 short subjects generalise better to a new one than 6 longer ones (measured: 42% on
    # subject 101 vs near-uniform outputs), in about the same training time.
    "subjects": 10,
    "trial_scale": 0.1,
    "sim_seed": 0,
    "preset": "small",
    "epochs": 15,
    "max_len": 8,
    "train_seed": 0,
}

#: The simulated subject streamed in the demo (not among the training subjects).
DEMO_SUBJECT = 101
#: Clip lengths of the demo stream (half SEED-V's: 16-37 s clips, long enough to watch).
DEMO_STREAM_TRIAL_SCALE = 0.5


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/cmt-live`` or ``~/.cache/cmt-live``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cmt-live"


def demo_model_path(settings: dict | None = None) -> Path:
    """Cache path of the demo model for ``settings`` (default :data:`DEMO_SETTINGS`)."""
    from cmt_live import __version__
    from features.constants import EYE_FEATURE_NAMES
    from features.spec import EYE_EVENTS
    from models.contract import FORMAT_VERSION

    # The model file format, the eye column order and the eye-event detector too: a cached model
    # of an older format would load with an unknown feature source (eye masked), in the old
    # column order, or trained on eye features the running detector no longer makes.
    key = json.dumps(
        {
            "settings": settings or DEMO_SETTINGS,
            "version": __version__,
            "model_format": FORMAT_VERSION,
            "eye_names": list(EYE_FEATURE_NAMES),
            "eye_events": [list(kv) for kv in EYE_EVENTS],
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_dir() / f"demo-model-{digest}.pt"


def build_demo_model(path: str | Path, settings: dict | None = None, *, progress: bool = True):
    """Simulate subjects, train a model on them and export it to ``path``.

    Parameters
    ----------
    path : path-like
        Output ``.pt`` (written atomically: a temporary file renamed at the end).
    settings : dict | None
        Keys of :data:`DEMO_SETTINGS`.
    progress : bool
        tqdm bars on stderr.

    Returns
    -------
    path : Path
    """
    from models import ModelConfig
    from models.seedv import load_feature_spec, load_seedv
    from models.train import TrainConfig, export_model, train_model

    from .dataset import build_dataset

    s = dict(DEMO_SETTINGS, **(settings or {}))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cmt-live-demo-") as tmp:
        data_dir = Path(tmp) / "sim"
        build_dataset(
            data_dir,
            n_subjects=int(s["subjects"]),
            trial_scale=float(s["trial_scale"]),
            seed=int(s["sim_seed"]),
            progress=progress,
        )
        data = load_seedv(data_dir)
        spec, _ = load_feature_spec(data_dir)
        subjects = sorted(data.subjects)
        val = subjects[-1:]
        train = [t for t in data.trials if t.subject not in val]
        val_trials = [t for t in data.trials if t.subject in val]
        cfg = TrainConfig.from_preset(
            s["preset"], epochs=int(s["epochs"]), seed=int(s["train_seed"])
        )
        mcfg = ModelConfig.preset(s["preset"], max_len=int(s["max_len"]))
        trained = train_model(
            train, val_trials, mcfg, cfg, device="cpu", progress=progress, desc="demo model"
        )
        tmp_out = path.with_name(path.name + f".{os.getpid()}.tmp")
        export_model(
            trained,
            tmp_out,
            feature_spec=spec,
            provenance={
                "purpose": "cmt-live --demo (simulated data, not real EEG)",
                "settings": s,
                "train_subjects": sorted({t.subject for t in train}),
                "val_subjects": val,
                "best_val_acc": trained.best_val_acc,
                "best_epoch": trained.best_epoch,
                "fingerprint": data.fingerprint,
            },
        )
        os.replace(tmp_out, path)
    logger.info(
        "demo model %s: val accuracy %.2f, built in %.0f s",
        path,
        trained.best_val_acc,
        time.perf_counter() - t0,
    )
    return path


def ensure_demo_model(*, rebuild: bool = False, progress: bool = True) -> Path:
    """The cached demo model, built first if missing (or if ``rebuild``)."""
    path = demo_model_path()
    if rebuild or not path.is_file():
        logger.warning(
            "training the demo model on simulated subjects (once; cached as %s) ...", path
        )
        build_demo_model(path, progress=progress)
    return path


class SimulatorProcess:
    """``cmt-sim stream`` in a subprocess with a unique prefix; a context manager.

    Parameters
    ----------
    subject : int
    extra_args : sequence of str
        More ``cmt-sim stream`` options (``--speed``, ``--trial-scale``, ``--duration`` ...).
    prefix : str | None
        Stream name prefix (default ``cmtdemo-<random>-``).
    """

    def __init__(self, subject: int = DEMO_SUBJECT, extra_args=(), prefix: str | None = None):
        self.prefix = prefix or f"cmtdemo-{uuid.uuid4().hex[:8]}-"
        self.cmd = [
            sys.executable,
            "-m",
            "cmt_live.cli.sim",
            "stream",
            "--prefix",
            self.prefix,
            "--subject",
            str(subject),
            *map(str, extra_args),
        ]
        self.proc: subprocess.Popen | None = None
        #: The stream names the simulator will publish.
        self.eeg, self.gaze, self.markers = (self.prefix + t for t in STREAM_TYPES)

    def start(self) -> SimulatorProcess:
        # The child inherits LSLAPICFG (loopback unless the user chose a config).
        self.proc = subprocess.Popen(self.cmd, env=dict(os.environ), stdin=subprocess.DEVNULL)
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout_s)

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv=None) -> int:
    """``python -m cmt_live.sim.demo --build-model PATH``: build the demo model reproducibly."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m cmt_live.sim.demo", description=main.__doc__)
    p.add_argument("--build-model", type=Path, required=True, help="output .pt")
    args = p.parse_args(argv)
    print(build_demo_model(args.build_model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
