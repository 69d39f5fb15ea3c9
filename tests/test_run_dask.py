"""Batches handed to a real Dask cluster (scheduler and worker processes on loopback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperpack.repository.repo import Repo
from paperpack.run import DaskExecutor, run_notebooks

pytestmark = pytest.mark.slow


def test_run_on_a_dask_cluster(copy_case, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    repo = copy_case("run-basic")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        result = run_notebooks(Repo.open(repo), engine="local", out_dir=tmp_path / "out", executor=DaskExecutor(client))
        worker_pids = set(client.run(lambda: __import__("os").getpid()).values())
        prefixes = client.run_on_scheduler(
            lambda dask_scheduler: {
                name: prefix.state_counts["memory"] for name, prefix in dask_scheduler.task_prefixes.items()
            }
        )
    verdicts = {nb.path: nb.verdict for nb in result.notebooks}
    assert verdicts == {
        "analysis/produce.ipynb": "same",
        "analysis/consume.ipynb": "same",
        "independent.ipynb": "same",
        "differs.ipynb": "differs",
        "empty.ipynb": "no-outputs",
    }
    assert len(worker_pids) == 2 and result.complete
    assert prefixes.get("run_batch", 0) >= 2, prefixes  # the batches ran as Dask tasks (produce, then consume)
