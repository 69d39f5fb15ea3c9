"""``run_batch``: every submission of a queue through its pipeline, as Dask tasks, then the index.

Submissions already finished at the same revision by the same paperpack version are not
sent again (their ``state.json`` says so); the others become one task each
(:func:`paperpack.batch.task.run_task`). A task whose worker dies is run again by Dask on
another worker, and its pipeline starts over cleanly. One submission's failure never stops
the others. On Ctrl-C (or SIGTERM) every running task stops its pipeline on its worker (which
stops its containers and kernels and records the submission as interrupted), the others are
cancelled, the index is written, and :class:`BatchInterrupted` is raised.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .cluster import connect, start_local_early, task_resources
from .fetch import quick_revision
from .forkserver import start_zygote
from .index import BatchEntry, collect, write_index
from .pipeline import TaskConfig, deadline_for
from .queue import Submission
from .state import Failure, FailureKind, Layout, State, Status, SubmissionResult, read_state, write_state
from .task import GRACE, Interrupted, run_task, stop_pipelines

__all__ = ["BatchOptions", "BatchResult", "BatchInterrupted", "run_batch", "task_config", "DEFAULT_OUT"]

log = logging.getLogger(__name__)

DEFAULT_OUT = Path("batch-out")


@dataclass(frozen=True)
class BatchOptions:
    out_dir: Path = DEFAULT_OUT
    jobs: int = 1  # worker processes of the local cluster (or jobs of --cluster)
    scheduler: str | None = None  # an existing Dask scheduler's address
    cluster: str | None = None  # slurm or pbs (dask-jobqueue)
    timeout: float | None = None  # seconds per submission
    memory: str | None = None  # per notebook run (e.g. 2g)
    engine: str = "auto"
    mode: str = "auto"
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise UsageError(f"--jobs must be 1 or more, got {self.jobs}", hint="pass --jobs 1 or more")
        if self.scheduler and self.cluster:
            raise UsageError(
                "--scheduler and --cluster both given",
                hint="--scheduler uses a running cluster, --cluster starts one: give one of them",
            )
        if self.timeout is not None and self.timeout <= 0:
            raise UsageError(
                f"--timeout must be a positive number of seconds, got {self.timeout:g}", hint="pass e.g. --timeout 3600"
            )


@dataclass
class BatchResult:
    entries: list[BatchEntry]
    index: list[Path] = field(default_factory=list)
    interrupted: bool = False

    @property
    def failed(self) -> list[BatchEntry]:
        return [e for e in self.entries if e.result is None or e.result.failure is not None]

    @property
    def unfinished(self) -> list[BatchEntry]:
        """Submissions without a result: interrupted (their runs stopped) or never started."""
        return [e for e in self.entries if not e.status.final]


class BatchInterrupted(KeyboardInterrupt):
    """The batch was stopped (Ctrl-C, SIGTERM) after its tasks were stopped and the index written."""

    def __init__(self, result: BatchResult) -> None:
        super().__init__(f"{len(result.unfinished)} submission(s) not finished")
        self.result = result


def _check_out(out: Path) -> Path:
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise UsageError(
            f"the batch output folder {out} exists and is not a folder",
            hint="pass --out-dir with a folder (new or from an earlier batch run)",
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the batch output folder {out}: {exc.strerror or exc}",
            hint="pass --out-dir with a folder you can write to",
        ) from None
    return out


def _crashed(layout: Layout, sub: Submission, exc: BaseException) -> SubmissionResult:
    """A task that raised (its workers kept dying, a bug): recorded as the submission's failure."""
    prior = read_state(layout, sub.id)
    failure = Failure(
        FailureKind.CRASH,
        f"{sub.id}: the task failed: {type(exc).__name__}: {exc}",
        "a worker running it died repeatedly (out of memory?), or a bug in paperpack",
    )
    state = State(sub.id, Status.FAILED, commit=prior.commit if prior else None, attempt=prior.attempt if prior else 0)
    state.result = SubmissionResult(sub.id, Status.FAILED, commit=state.commit, failure=failure)
    write_state(layout, state)
    return state.result


def task_config(options: BatchOptions, layout: Layout) -> TaskConfig:
    """The settings every task gets. The local cluster's workers share --jobs verification slots (all on this
    machine: see :func:`paperpack.batch.task.slots`); an existing or HPC cluster's keep one per worker."""
    local = options.scheduler is None and options.cluster is None
    return TaskConfig(
        out_dir=str(layout.out),
        engine=options.engine,
        mode=options.mode,
        timeout=options.timeout,
        memory=options.memory,
        cache_dir=str(options.cache_dir.resolve()) if options.cache_dir else None,
        deadline=deadline_for(options.timeout),
        host_slots=options.jobs if local else None,
    )


def run_batch(
    submissions: list[Submission], options: BatchOptions, on_result: Callable[[BatchEntry], None] | None = None
) -> BatchResult:
    """Verify every submission; write ``index.json``, ``index.html``, ``batch.junit.xml``."""
    layout = Layout(_check_out(options.out_dir))
    notify = on_result or (lambda entry: None)
    config = task_config(options, layout)
    with contextlib.ExitStack() as stack:
        # the local cluster's workers fork their servers from one zygote, started first: its imports overlap the
        # earlier results' checks and the cluster's start-up (paperpack/batch/forkserver.py)
        zygote = start_zygote() if config.host_slots else None
        if zygote is not None:
            stack.enter_context(zygote)
        if config.host_slots:
            start_local_early()
        return _run(submissions, options, layout, config, notify, zygote.env() if zygote else None)


def _run(
    submissions: list[Submission],
    options: BatchOptions,
    layout: Layout,
    config: TaskConfig,
    notify: Callable[[BatchEntry], None],
    worker_env: dict[str, str] | None,
) -> BatchResult:
    reused: set[str] = set()
    pending: list[Submission] = []
    for sub in submissions:
        prior = read_state(layout, sub.id)
        if prior is not None and prior.status.final and prior.finished_at(quick_revision(sub)):
            reused.add(sub.id)
            notify(BatchEntry(sub, prior.status, prior.result, reused=True))
            continue
        if prior is None:
            write_state(layout, State(sub.id, Status.QUEUED))
        pending.append(sub)
    interrupted = False
    if pending:
        try:
            _dispatch(pending, config, options, layout, notify, reused, worker_env)
        except KeyboardInterrupt:
            interrupted = True
    entries = collect(layout, submissions, reused)
    result = BatchResult(entries, write_index(layout, entries), interrupted)
    if interrupted:
        raise BatchInterrupted(result)
    return result


def _reused(layout: Layout, ident: str) -> bool:
    """The pipeline found the submission finished at the revision it fetched (its log's last event)."""
    try:
        lines = layout.log(ident).read_text(encoding="utf-8").splitlines()
        return bool(lines) and json.loads(lines[-1]).get("event") == "reused"
    except (OSError, ValueError):
        return False


def _dispatch(
    pending: list[Submission],
    config: TaskConfig,
    options: BatchOptions,
    layout: Layout,
    notify: Callable[[BatchEntry], None],
    reused: set[str],
    worker_env: dict[str, str] | None = None,
) -> None:
    from distributed import as_completed

    connecting = time.monotonic()
    with connect(
        jobs=options.jobs,
        scheduler=options.scheduler,
        cluster=options.cluster,
        memory=options.memory,
        worker_env=worker_env,
    ) as client:
        log.info("the Dask cluster answered in %.1f s", time.monotonic() - connecting)
        resources = task_resources(client)
        run = uuid.uuid4().hex[:8]
        batch_run = f"paperpack-batch-{run}"
        config = dataclasses.replace(config, batch_run=batch_run)
        futures: dict[Any, Submission] = {}
        for sub in pending:
            future = client.submit(
                run_task,
                sub.to_dict(),
                config.to_dict(),
                key=f"paperpack-batch-{sub.id}-{run}",
                pure=False,
                resources=resources,
            )
            futures[future] = sub
        try:
            for future in as_completed(list(futures)):
                sub = futures.pop(future)
                try:
                    result = SubmissionResult.from_dict(future.result())
                except Interrupted as exc:
                    log.warning("%s", exc)
                    continue
                except Exception as exc:  # noqa: BLE001 - a task's error is that submission's failure
                    result = _crashed(layout, sub, exc)
                finally:
                    future.release()  # forgotten by the scheduler: a worker dying later never reruns it
                if _reused(layout, sub.id):
                    reused.add(sub.id)
                notify(BatchEntry(sub, result.status, result, reused=sub.id in reused))
        except BaseException:
            _stop_tasks(client, batch_run, list(futures))
            raise


def _stop_tasks(client: Any, batch_run: str, futures: list[Any]) -> None:
    """Stop every task: the running ones stop their pipelines (see paperpack.batch.task) and record them as
    interrupted, those not started run nothing; wait for that (a second Ctrl-C stops waiting), then cancel."""
    from distributed import wait

    log.warning("stopping %d unfinished submission(s) on the cluster", len(futures))
    try:
        client.run(stop_pipelines, batch_run, on_error="ignore")  # a worker gone has nothing left to stop
        wait(futures, timeout=GRACE + 30)
    except (KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 -- the cluster gone, or a second Ctrl-C
        log.warning("did not see every task stop: %s", exc or type(exc).__name__)
    finally:
        client.cancel(futures, force=True)
