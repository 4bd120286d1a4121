"""Folds spread over a two-node Ray cluster on this machine (``ray.cluster_utils.Cluster``:
two raylets on loopback), as over two machines: the driver joins by address and writes every
fold that either node finished."""

from __future__ import annotations

import signal

import pytest
from test_train_runners import comparable
from test_training import make_data, make_trials

from models.train import RunnerSpec, TrainConfig
from models.train import run as train_run

ray = pytest.importorskip("ray", reason="Ray is in the test extra: pip install '.[test]'")
cluster_utils = pytest.importorskip("ray.cluster_utils")

pytestmark = pytest.mark.usefixtures("one_thread")

NODE = dict(num_cpus=1, object_store_memory=80 * 1024**2, node_ip_address="127.0.0.1")


@pytest.fixture(scope="module")
def two_nodes():
    cluster = cluster_utils.Cluster(
        initialize_head=True, head_node_args={**NODE, "include_dashboard": False}
    )
    cluster.add_node(**NODE)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def test_folds_run_on_both_nodes_and_equal_the_local_run(two_nodes, tmp_path):
    term = signal.getsignal(signal.SIGTERM)
    data = make_data(make_trials(n_subjects=3, n_windows=(2, 4)))
    cfg = TrainConfig.from_preset("tiny", epochs=1)
    spec = RunnerSpec(kind="ray", ray_address=two_nodes.address)
    m = train_run.run_cv(data, tmp_path / "ray", cfg, final=False, device="cpu", runner=spec)
    assert not ray.is_initialized()  # the run joined the cluster, and left it when done
    ray.init(address=two_nodes.address)
    signal.signal(signal.SIGTERM, term)  # each ray.init installs its SIGTERM handler for good
    nodes = ray.nodes()
    assert len(nodes) == 2 and {n["NodeManagerAddress"] for n in nodes} == {"127.0.0.1"}
    # one CPU per node and SPREAD scheduling: the three folds used both nodes
    assert len({f["worker"]["ray_node"] for f in m["folds"]}) == 2
    local = train_run.run_cv(
        data, tmp_path / "local", cfg, final=False, device="cpu", runner=RunnerSpec(cpus_per_fold=1)
    )
    assert comparable(m) == comparable(local)
