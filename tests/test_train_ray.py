"""Folds as Ray tasks on a local Ray (loopback only, sized for CI): results equal to the
in-process runner's, and a fold whose worker dies is retried and the run says so."""

from __future__ import annotations

import sys
from functools import partial

import pytest
from test_train_runners import comparable, crash_once, record_task
from test_training import make_data, make_trials

from models.train import RunnerSpec, TrainConfig
from models.train import run as train_run

ray = pytest.importorskip("ray", reason="Ray is in the test extra: pip install '.[test]'")

pytestmark = pytest.mark.usefixtures("one_thread")

#: The smallest object store Ray accepts is 75 MiB; the folds' data and weights are < 1 MiB.
OBJECT_STORE = 80 * 1024**2


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module: 2 CPUs, no dashboard, every process on 127.0.0.1."""
    ray.init(
        address="local",  # a new Ray, not one another test run left in /tmp/ray
        num_cpus=2,
        object_store_memory=OBJECT_STORE,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
    )
    # The fault-injecting task function lives in a test module the workers cannot import.
    ray.cloudpickle.register_pickle_by_value(sys.modules[crash_once.__module__])
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def data():
    return make_data(make_trials(n_subjects=3, n_windows=(2, 4)))


def test_ray_listens_on_loopback_only(local_ray):
    nodes = local_ray.nodes()
    assert len(nodes) == 1
    assert nodes[0]["NodeManagerAddress"] == "127.0.0.1"
    gcs = local_ray.get_runtime_context().gcs_address
    assert gcs.startswith("127.0.0.1:")


def test_ray_equals_local_and_a_dead_fold_is_retried(local_ray, data, tmp_path, caplog):
    cfg = TrainConfig.from_preset("tiny", epochs=1)
    local = train_run.run_cv(
        data, tmp_path / "local", cfg, final=False, device="cpu", runner=RunnerSpec(cpus_per_fold=1)
    )
    spec = RunnerSpec(kind="ray", task_fn=partial(crash_once, marker_dir=str(tmp_path)))
    out = tmp_path / "ray"
    m = train_run.run_cv(data, out, cfg, final=False, device="cpu", runner=spec)
    assert (tmp_path / "fold_02_subject_02.crashed").is_file()  # the worker did die
    assert m["retries"] == {"fold_02_subject_02": 1}
    assert "fold_02_subject_02 failed" in caplog.text and "retry 1 of 2" in caplog.text
    assert (
        "`fold_02_subject_02` failed and was retried 1 time(s)" in (out / "report.md").read_text()
    )
    assert comparable(m) == comparable(local)  # same seeds, same results
    assert all(f["worker"]["ray_node"] for f in m["folds"])
    for f in m["folds"]:  # the driver wrote every fold's files
        for ext in ("pt", "json", "csv"):
            assert (out / f"{f['name']}.{ext}").is_file()
    # an interrupted run resumes: a missing fold is the only task submitted again
    (out / "fold_03_subject_03.pt").unlink()
    spec = RunnerSpec(kind="ray", task_fn=partial(record_task, log=str(tmp_path / "ran")))
    again = train_run.run_cv(data, out, cfg, final=False, device="cpu", runner=spec)
    assert (tmp_path / "ran").read_text().split() == ["fold_03_subject_03"]
    assert comparable(again) == comparable(local)
