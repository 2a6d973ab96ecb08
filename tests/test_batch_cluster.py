"""nst batch on a Ray cluster simulated on this machine (a head and two worker nodes, all on 127.0.0.1): a node
removed while it runs a job; every job still finishes exactly once."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from batch_support import SMALL, descendants, ledger_lines, make_images, require_ray, titled

import common.batch


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A head node with no CPU for jobs and two worker nodes of one CPU each (nst batch joins it by address)."""
    require_ray()
    (tmp_path / "scratch" / "ray").mkdir(parents=True)  # Ray writes the cluster's address in $TMPDIR/ray
    monkeypatch.setenv("TMPDIR", str(tmp_path / "scratch"))  # and the nodes' workers their temporary files
    from common.batch.local import loopback_environment

    short = tempfile.mkdtemp(prefix="nst-rc-", dir="/tmp")  # Ray's socket paths must stay short
    try:
        with loopback_environment(tmp_path / "ray") as worker_env:
            from ray.cluster_utils import Cluster

            c = Cluster(
                initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False, "temp_dir": short}
            )
            try:
                nodes = [c.add_node(num_cpus=1) for _ in range(2)]
                c.wait_for_nodes()
                yield c, nodes, worker_env
            finally:
                c.shutdown()
    finally:
        shutil.rmtree(short, ignore_errors=True)


def raylet_pid(node) -> int:
    """The pid of a node's raylet (its workers are the raylet's children)."""
    from ray._private import ray_constants

    return node.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid


def remove_node_while_it_runs_a_job(c, node, removed: list[int], stop: threading.Event) -> None:
    """Remove ``node`` as soon as one of its workers runs a job."""
    pid = raylet_pid(node)
    while not stop.is_set():
        running = titled("ray::run_job", descendants(pid))
        if running:
            c.remove_node(node, allow_graceful=False)
            removed.append(running[0])
            return
        stop.wait(0.02)


def test_a_node_removed_mid_job_has_its_job_run_again_elsewhere_exactly_once(cluster, tmp_path: Path) -> None:
    c, (first, second), _ = cluster
    contents, styles = make_images(tmp_path / "in", 3, 1)
    removed, stop = [], threading.Event()
    remover = threading.Thread(target=remove_node_while_it_runs_a_job, args=(c, second, removed, stop))
    remover.start()
    try:
        settings = {**SMALL, "backend": "torch", "steps": 30}
        report = common.batch.run(
            tmp_path / "out", content=contents, style=styles, settings=settings, address=c.address, progress=False
        )
    finally:
        stop.set()
        remover.join()
    assert removed, "the second node never ran a job"
    assert (report.exit_code, report.ok, report.total) == (0, 3, 3)
    assert report.stats["slots"] == 2 and report.stats["nodes"] == ["127.0.0.1"]  # the cluster's CPUs, loopback
    lines = ledger_lines(tmp_path / "out")
    assert len(lines) == len({line["job"] for line in lines}) == 3  # each job recorded once
    assert removed[0] not in {line["worker"]["pid"] for line in lines}
    assert {line["worker"]["node_id"] for line in lines} == {first.node_id}  # it ran again on the surviving node
    assert {line["worker"]["node"] for line in lines} == {"127.0.0.1"}
    assert all((tmp_path / "out" / f"c{i}__s0.png").is_file() for i in range(3))
