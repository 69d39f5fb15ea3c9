"""The Dask cluster a batch runs on: local worker processes, an existing scheduler, or Slurm/PBS jobs.

One code path for all three: a ``distributed.Client``. ``--jobs N`` starts a
``LocalCluster`` of N worker processes (one thread each) on 127.0.0.1; ``--scheduler ADDRESS``
connects to a cluster someone runs already; ``--cluster slurm|pbs`` starts one with
dask-jobqueue (the ``hpc`` extra), configured as dask-jobqueue reads its configuration
(``~/.config/dask/jobqueue.yaml``, ``DASK_JOBQUEUE__SLURM__QUEUE``…) plus what
:func:`jobqueue_cluster` sets. No scheduler of paperpack's own.

A worker verifies one submission at a time whatever its threads (:mod:`paperpack.batch.task`'s
slot), and with two threads fetches the next one meanwhile; the local cluster's workers have
two. Workers that advertise the resource ``docker=1`` (dask-jobqueue's here, or an existing
cluster's started with ``--resources docker=1``) get it asked of every task, so the scheduler
itself keeps one submission per worker (one build per worker at a time).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
from collections.abc import Iterator
from typing import Any

from ..errors import UsageError

__all__ = ["connect", "jobqueue_cluster", "start_local_early", "task_resources", "CLUSTERS", "RESOURCE", "PRELOAD"]

log = logging.getLogger(__name__)

CLUSTERS = ("slurm", "pbs")
#: the worker resource that keeps one build per worker at a time
RESOURCE = "docker"
#: the worker preload that starts a worker's fork server as the worker starts (:mod:`paperpack.batch.preload`)
PRELOAD = "paperpack.batch.preload"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError(
            "batch mode needs Dask's distributed package",
            hint="pip install 'paperpack[dask]' (or 'paperpack[hpc]' for --cluster slurm|pbs)",
        ) from None
    return distributed


def jobqueue_cluster(
    kind: str, *, jobs: int = 1, memory: str | None = None, walltime: str | None = None, **overrides: Any
) -> Any:
    """A dask-jobqueue ``SLURMCluster`` or ``PBSCluster`` whose jobs each run one batch worker.

    Each job is one worker process with one thread and the ``docker=1`` resource (harmless where
    no Docker runs: the engine policy picks the local engine there). ``memory`` is the job's
    memory (dask-jobqueue's spelling: ``4GB``); ``overrides`` go to the cluster class as they are
    (``queue``, ``account``, ``job_extra_directives``, ``scheduler_options`` …). Nothing is
    submitted until the cluster is scaled.
    """
    try:
        import dask_jobqueue
    except ImportError:
        raise UsageError(f"--cluster {kind} needs dask-jobqueue", hint="pip install 'paperpack[hpc]'") from None
    classes = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}
    if kind not in classes:
        raise UsageError(
            f"--cluster {kind!r} is not one of {', '.join(CLUSTERS)}",
            hint="use --cluster slurm or --cluster pbs, or --scheduler ADDRESS for another cluster",
        )
    settings: dict[str, Any] = {
        "cores": 1,
        "processes": 1,
        "memory": memory or "4GB",
        "worker_extra_args": ["--resources", f"{RESOURCE}=1", "--preload", PRELOAD],
        "job_name": "paperpack-batch",
    }
    if walltime:
        settings["walltime"] = walltime
    settings.update(overrides)
    cluster = classes[kind](**settings)
    log.info("dask-jobqueue %s cluster, job script:\n%s", kind, cluster.job_script())
    return cluster


@contextlib.contextmanager
def connect(
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    cluster: str | None = None,
    memory: str | None = None,
    worker_env: dict[str, str] | None = None,
) -> Iterator[Any]:
    """A ``distributed.Client`` for the batch; what was started here is stopped on leaving.

    ``worker_env``: set in the local cluster's workers (the batch's fork-server zygote's address)."""
    distributed = _distributed()
    import dask  # installed with distributed

    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout="30s")
        except OSError as exc:
            raise UsageError(
                f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                hint="check the address (tcp://HOST:8786) and that the scheduler runs",
            ) from None
        with client:
            yield client
        return
    if cluster is not None:
        with jobqueue_cluster(cluster, jobs=jobs, memory=memory) as hpc:
            hpc.scale(jobs=jobs)
            with distributed.Client(hpc) as client:
                yield client
        return
    # two threads: one task verifies while the next fetches (each worker verifies one at a time: task.py's slot)
    with (
        dask.config.set({"distributed.worker.multiprocessing-method": _start_method()}),
        distributed.LocalCluster(
            n_workers=jobs,
            threads_per_worker=2,
            processes=True,
            host="127.0.0.1",
            # its HTTP server (metrics, and the dashboard when bokeh is installed) on a free loopback port:
            # None would still take 8787, and fail when another cluster holds it
            dashboard_address="127.0.0.1:0",
            memory_limit=0,
            silence_logs=logging.ERROR,
            preload=[PRELOAD],  # each worker starts its fork server as it starts (paperpack/batch/preload.py)
            env=worker_env or {},
        ) as local,
        distributed.Client(local) as client,
    ):
        yield client


def start_local_early() -> None:
    """Start now what the local cluster's workers are forked from (multiprocessing's fork server, importing
    ``distributed`` and the worker preload), so that its imports overlap the batch's own (``distributed`` in this
    process) instead of following them. Nothing else is started: the cluster itself starts in :func:`connect`
    (which uses this server), and the server exits with this process."""
    if _start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["distributed", PRELOAD])  # distributed's own choice would import it too
    try:
        forkserver.ensure_running()
    except OSError as exc:  # the cluster starts it (or says why it cannot) in connect()
        log.info("multiprocessing's fork server did not start early: %s", exc)


def _start_method() -> str:
    """How the local cluster starts its worker processes: forked from multiprocessing's fork server, which
    imported distributed once, where there is one (Linux, macOS), rather than each a fresh interpreter importing
    it again (spawn). Measured with 2 workers at load ~6 on 2 cores: the cluster answers in 2.4 s instead of
    3.4 s. A worker so started still exits when the batch process dies (Dask's pipe from its parent)."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def task_resources(client: Any) -> dict[str, float] | None:
    """``{"docker": 1}`` when a worker advertises that resource, else ``None`` (a task could never start)."""
    workers = client.scheduler_info().get("workers", {})
    return {RESOURCE: 1} if any(RESOURCE in (w.get("resources") or {}) for w in workers.values()) else None
