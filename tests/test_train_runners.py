"""Fold runners without Ray: local worker processes (``--jobs``) give the in-process results,
and a fold whose worker process dies is retried and the run says so."""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path

import pytest
import torch
from test_training import make_data, make_trials

from models.train import RunnerSpec, TrainConfig
from models.train import run as train_run
from models.train.runners import FoldFailed, execute, usable_cores

pytestmark = pytest.mark.usefixtures("one_thread")


def crash_once(task, ctx, *, marker_dir: str, fold_index: int = 1):
    """A task function whose worker process dies the first time it runs fold ``fold_index``
    (``os._exit``: no exception, no clean-up, as a killed or out-of-memory worker)."""
    marker = Path(marker_dir) / f"{task.name}.crashed"
    if task.fold.index == fold_index and not marker.exists():
        marker.write_text("crashed once")
        os._exit(3)
    return execute(task, ctx)


def record_task(task, ctx, *, log: str):
    """A task function that appends the task's name to the file ``log``, then runs it."""
    with open(log, "a") as f:
        f.write(task.name + "\n")
    return execute(task, ctx)


def with_threads(task, ctx):
    """A task function that records the torch threads its fold ran with."""
    outcome = execute(task, ctx)
    outcome["result"]["torch_threads"] = torch.get_num_threads()
    return outcome


def fail_always(task, ctx):
    raise RuntimeError(f"{task.name}: simulated failure")


def comparable(metrics):
    """The fold results without what legitimately differs between runners (times, worker)."""
    out = []
    for f in json.loads(json.dumps(metrics["folds"])):
        f.pop("wall_s")
        f.pop("worker")
        f.pop("torch_threads", None)
        out.append(f)
    return out


@pytest.fixture(scope="module")
def data():
    return make_data(make_trials(n_subjects=3, n_windows=(2, 4)))


@pytest.fixture(scope="module")
def local_run(data, tmp_path_factory):
    cfg = TrainConfig.from_preset("tiny", epochs=1)
    out = tmp_path_factory.mktemp("local")
    spec = RunnerSpec(cpus_per_fold=1)  # one torch thread, as each worker of the others
    return train_run.run_cv(data, out, cfg, final=False, device="cpu", runner=spec)


def test_jobs_equal_local_and_a_dead_worker_is_retried(data, local_run, tmp_path, caplog):
    cfg = TrainConfig.from_preset("tiny", epochs=1)
    spec = RunnerSpec(
        kind="jobs", jobs=2, task_fn=partial(crash_once, marker_dir=str(tmp_path)), retries=1
    )
    m = train_run.run_cv(data, tmp_path / "run", cfg, final=False, device="cpu", runner=spec)
    assert (tmp_path / "fold_02_subject_02.crashed").is_file()  # the worker did die
    assert m["retries"]["fold_02_subject_02"] >= 1
    assert "fold_02_subject_02 failed" in caplog.text and "retry 1 of 1" in caplog.text
    assert "failed and was retried" in (tmp_path / "run" / "report.md").read_text()
    assert comparable(m) == comparable(local_run)
    assert {f["worker"]["pid"] for f in m["folds"]} != {os.getpid()}  # ran in workers


def test_jobs_workers_load_the_data_once_and_share_the_cores(data, local_run, tmp_path):
    cfg = TrainConfig.from_preset("tiny", epochs=1)
    spec = RunnerSpec(kind="jobs", jobs=2, task_fn=with_threads)
    m = train_run.run_cv(data, tmp_path / "run", cfg, final=False, device="cpu", runner=spec)
    pids = [f["worker"]["pid"] for f in m["folds"]]
    # 3 folds on 2 persistent workers: one of them ran two folds (not a process per fold).
    assert len(m["folds"]) == 3 and len(set(pids)) <= 2 and os.getpid() not in pids
    assert {f["torch_threads"] for f in m["folds"]} == {max(1, usable_cores() // 2)}
    assert comparable(m) == comparable(local_run)


def test_a_fold_that_keeps_failing_stops_the_run_naming_it(data, tmp_path, caplog):
    cfg = TrainConfig.from_preset("tiny", epochs=1)
    spec = RunnerSpec(task_fn=fail_always, retries=2)
    with pytest.raises(FoldFailed, match=r"fold_01_subject_01 failed 3 times.*--retries"):
        train_run.run_cv(data, tmp_path / "run", cfg, final=False, device="cpu", runner=spec)
    assert caplog.text.count("simulated failure") == 2  # two retries logged, then the error


def test_runner_settings_are_checked():
    with pytest.raises(ValueError, match="--jobs 0 is invalid"):
        RunnerSpec(kind="jobs", jobs=0)
    with pytest.raises(ValueError, match="--retries -1 is invalid"):
        RunnerSpec(retries=-1)
    with pytest.raises(ValueError, match="--cpus-per-fold 0 is invalid"):
        RunnerSpec(cpus_per_fold=0)
