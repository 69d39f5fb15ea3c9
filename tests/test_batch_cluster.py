"""`--cluster slurm|pbs`: the dask-jobqueue clusters batch mode builds, checked through their job scripts.

No Slurm or PBS runs here: the clusters are built (their scheduler on 127.0.0.1) and their job
scripts read, never submitted.
"""

from __future__ import annotations

import pytest

from paperpack.batch.cluster import jobqueue_cluster
from paperpack.errors import UsageError

LOOPBACK = {"scheduler_options": {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}}


def test_a_slurm_cluster_runs_one_single_threaded_worker_with_the_docker_resource_per_job() -> None:
    pytest.importorskip("dask_jobqueue")
    with jobqueue_cluster(
        "slurm", memory="8GB", walltime="02:00:00", queue="short", account="journal", **LOOPBACK
    ) as cluster:
        script = cluster.job_script()
    assert "#SBATCH -p short" in script and "#SBATCH -A journal" in script
    assert "#SBATCH -t 02:00:00" in script and "#SBATCH --mem=" in script
    assert "#SBATCH --cpus-per-task=1" in script and "#SBATCH -J paperpack-batch" in script
    command = script.strip().splitlines()[-1]
    assert "distributed.cli.dask_worker" in command and "tcp://127.0.0.1:" in command
    assert "--resources docker=1" in command and command.count("--nthreads 1") == 1
    assert "--preload paperpack.batch.preload" in command  # each worker starts its fork server as it starts


def test_a_pbs_cluster_gets_the_same_workers() -> None:
    pytest.importorskip("dask_jobqueue")
    with jobqueue_cluster("pbs", memory="4GB", walltime="01:00:00", queue="batch", **LOOPBACK) as cluster:
        script = cluster.job_script()
    assert "#PBS -q batch" in script and "#PBS -l walltime=01:00:00" in script
    assert "#PBS -l select=1:ncpus=1:mem=" in script
    assert "--resources docker=1" in script.strip().splitlines()[-1]


def test_an_unknown_cluster_kind_says_which_there_are() -> None:
    pytest.importorskip("dask_jobqueue")
    with pytest.raises(UsageError, match="'sge' is not one of slurm, pbs"):
        jobqueue_cluster("sge")
