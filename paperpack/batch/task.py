"""The batch's task: one submission's pipeline in a child process, under a wall-clock limit.

:func:`run_task` is what a Dask worker runs (or the batch itself, without a cluster). The
pipeline runs in a process of its own (:mod:`paperpack.batch.pipeline`, forked from the worker's
fork server, :mod:`paperpack.batch.forkserver`, which imported paperpack once) so that a time limit can
stop all of it, a crash cannot take the worker down, and a worker that dies takes its
pipeline with it (the child gets SIGTERM and stops its runs). The task returns the typed
result recorded in ``state.json``.

A worker verifies one submission at a time (a lock file per worker process, the *slot*; on the
local cluster, a pool of --jobs slots shared by the machine's workers: :func:`slots`), but runs
two tasks: while one verifies, the next is started, fetched and checked against its earlier
result, then waits for a slot. The pipeline says (a byte on a pipe) when its verification
starts; the time limit counts from then.

When the batch is stopped (Ctrl-C, SIGTERM), it runs :func:`stop_pipelines` on every worker
(``client.run``; Dask cannot interrupt a running task's thread, so ``client.cancel`` alone would
leave the pipeline running): each running pipeline of the batch is stopped (SIGTERM: verify() stops
its containers and kernels, the state says ``interrupted``) and its task raises :class:`Interrupted`;
a task that starts afterwards runs nothing. Nothing polls, and nothing is left waiting on the
scheduler when the batch ends.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Union

from . import forkserver
from .pipeline import EXIT_INTERRUPTED, TaskConfig
from .queue import Submission
from .state import Failure, FailureKind, Layout, State, Status, SubmissionResult, read_state, write_state

__all__ = ["run_task", "slots", "stop_pipelines", "Interrupted", "GRACE"]

log = logging.getLogger(__name__)

#: seconds a stopped pipeline gets to stop its runs before it is killed
GRACE = 60.0


#: a running pipeline: forked by the worker's fork server, or a fresh process
Pipeline = Union["forkserver.Forked", "subprocess.Popen[bytes]"]

#: this worker process's running pipelines, by the batch run that started them (TaskConfig.batch_run) …
_RUNNING: dict[str, set[Pipeline]] = {}
#: … and the batch runs stopped (:func:`stop_pipelines`), both under :data:`_LOCK`
_STOPPED: set[str] = set()
_LOCK = threading.Lock()


class Interrupted(RuntimeError):
    """The pipeline was stopped from outside before it finished: the next batch run starts it over."""


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(proc: Pipeline) -> None:
    """SIGTERM (the pipeline stops its runs), then SIGKILL after :data:`GRACE` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=GRACE)
    except subprocess.TimeoutExpired:
        if isinstance(proc, subprocess.Popen) and proc.poll() is None:  # a fresh process leads its own session:
            try:  # its runs go with it, as a forked pipeline's kill() does for its group
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.kill()
        proc.wait()


def _start(request: dict[str, Any], sink: int, announce: int) -> Pipeline:
    """Start the pipeline: forked from this worker's fork server (:mod:`paperpack.batch.forkserver`: its
    imports done once), or a fresh ``python -m paperpack.batch`` where there is none (not Linux, switched
    off with ``PAPERPACK_BATCH_FORK=0``, or the server could not start)."""
    if forkserver.enabled():
        try:
            return forkserver.spawn(request, sink, announce)
        except OSError as exc:
            log.warning(
                "%s: no fork server (%s): starting the pipeline as a fresh process",
                request["submission"].get("id"),
                exc,
            )
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperpack.batch"],
        stdin=subprocess.PIPE,
        stdout=sink,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        pass_fds=(announce,),
    )
    assert proc.stdin is not None
    try:
        proc.stdin.write(json.dumps(request).encode())
        proc.stdin.close()
    except BaseException:
        _stop(proc)
        raise
    return proc


def _record(layout: Layout, sub: Submission, kind: FailureKind, message: str, hint: str, started: float) -> None:
    prior = read_state(layout, sub.id)
    state = State(
        sub.id,
        Status.FAILED,
        commit=prior.commit if prior else None,
        attempt=prior.attempt if prior else 0,
        pid=prior.pid if prior else None,
        worker_pid=os.getpid(),
    )
    state.result = SubmissionResult(
        sub.id,
        Status.FAILED,
        commit=state.commit,
        failure=Failure(kind, message, hint),
        duration=time.monotonic() - started,
    )
    write_state(layout, state)


def slots(layout: Layout, settings: TaskConfig) -> list[Path]:
    """The lock files of which a pipeline holds one while it verifies (see the module docstring).

    The local cluster (``host_slots``: its --jobs): a pool shared by every worker process of the
    machine, so a submission fetched on one worker verifies as soon as any verification of the
    machine ends — a long one (a notebook waiting an hour) never holds up the submission fetched
    behind it in the same worker while another worker is idle. Otherwise one slot per worker process.
    """
    folder = layout.private / "slots"
    host = socket.gethostname()
    if settings.host_slots:
        return [folder / f"{host}-{k}.lock" for k in range(settings.host_slots)]
    return [folder / f"{host}-{os.getpid()}.lock"]


def stop_pipelines(batch_run: str) -> int:
    """Stop this worker process's pipelines of ``batch_run`` (as Ctrl-C stops ``paperpack build``); its tasks
    that start later run nothing. What the stopped batch runs on every worker (``client.run``, on the worker's
    event loop: it only starts the stopping, :func:`_stop` waits up to :data:`GRACE` s). Returns how many."""
    with _LOCK:
        _STOPPED.add(batch_run)
        running = list(_RUNNING.pop(batch_run, ()))
    for proc in running:  # SIGTERM: it stops its runs and says interrupted; SIGKILL after GRACE
        threading.Thread(target=_stop, args=(proc,), daemon=True, name="paperpack-batch-stop").start()
    if running:
        log.warning("the batch was stopped: stopping %d pipeline(s)", len(running))
    return len(running)


def _stopped(batch_run: str | None) -> bool:
    with _LOCK:
        return batch_run in _STOPPED


def _track(batch_run: str | None, proc: Pipeline) -> bool:
    """Let :func:`stop_pipelines` find ``proc``; whether its batch run was stopped already (then nothing will)."""
    if batch_run is None:
        return False
    with _LOCK:
        if batch_run in _STOPPED:
            return True
        _RUNNING.setdefault(batch_run, set()).add(proc)
        return False


def _untrack(batch_run: str | None, proc: Pipeline) -> None:
    if batch_run is None:
        return
    with _LOCK:
        running = _RUNNING.get(batch_run, set())
        running.discard(proc)
        if not running:
            _RUNNING.pop(batch_run, None)


def run_task(submission: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Run one submission's pipeline; return its :class:`SubmissionResult` as a dict.

    Takes and returns plain dicts (what Dask sends between processes). Raises
    :class:`Interrupted` when the pipeline was stopped by something other than the time limit.
    """
    sub, settings = Submission.from_dict(submission), TaskConfig(**config)
    layout = Layout(Path(settings.out_dir))
    output = layout.output_log(sub.id)
    output.parent.mkdir(parents=True, exist_ok=True)
    if _stopped(settings.batch_run):  # started after the batch was stopped: nothing to stop, nothing run
        raise Interrupted(f"{sub.id}: the batch was stopped before it started")
    announced, announce = os.pipe()
    request = {
        "submission": sub.to_dict(),
        "config": settings.to_dict(),
        "parent": os.getpid(),
        "slots": [str(p) for p in slots(layout, settings)],
        "started_fd": announce,
    }
    started = time.monotonic()
    timed_out, running = False, None
    with open(output, "ab") as sink:
        try:
            proc = _start(request, sink.fileno(), announce)
        except BaseException:
            os.close(announced)
            raise
        finally:
            os.close(announce)
        try:
            if _track(settings.batch_run, proc):  # stopped while it started
                _stop(proc)
            with os.fdopen(announced, "rb") as verifying:
                verifying.read(1)  # the verification starts (or the pipeline ended): the time limit starts now
            try:
                proc.wait(timeout=settings.deadline)
            except subprocess.TimeoutExpired:
                timed_out = True
                log.warning("%s: still running after %s s: stopping it", sub.id, settings.deadline)
                running = read_state(layout, sub.id)  # before it stops and says interrupted
                _stop(proc)
        except BaseException:  # the task itself is stopped: the pipeline stops with it
            _stop(proc)
            raise
        finally:
            _untrack(settings.batch_run, proc)
    state = read_state(layout, sub.id)
    if state is not None and state.status.final and state.result is not None and not timed_out:
        return state.result.to_dict()
    if timed_out:
        _record(
            layout,
            sub,
            FailureKind.TIMEOUT,
            f"{sub.id}: the submission ran longer than its time limit of {settings.deadline:g} s and "
            f"was stopped while {running.status if running else 'starting'}",
            "raise --timeout (the whole submission gets 2 × timeout + 300 s), or ask the authors for a "
            "reduced-size run (parameters in paperpack.yml)",
            started,
        )
    elif proc.returncode == EXIT_INTERRUPTED:
        raise Interrupted(f"{sub.id}: the pipeline was stopped while {state.status if state else 'starting'}")
    else:
        _record(
            layout,
            sub,
            FailureKind.CRASH,
            f"{sub.id}: the pipeline's process ended with status {proc.returncode} while "
            f"{state.status if state else 'starting'}:\n{_tail(output)}",
            f"see {output}; a bug in paperpack, or the process was killed (out of memory?)",
            started,
        )
    final = read_state(layout, sub.id)
    assert final is not None and final.result is not None
    return final.result.to_dict()
