"""The batch's task: one submission's pipeline in a child process, under a wall-clock limit.

:func:`run_task` is what a Dask worker runs (or the batch itself, without a cluster). The
pipeline runs in a child process (:mod:`paperpack.batch.pipeline`) so that a time limit can
stop all of it, a crash cannot take the worker down, and a worker that dies takes its
pipeline with it (the child gets SIGTERM and stops its runs). The task returns the typed
result recorded in ``state.json``.

A worker verifies one submission at a time (a lock file per worker process, the *slot*), but
runs two tasks: while one verifies, the next is started, fetched and checked against its earlier
result, then waits for the slot. The pipeline says (a byte on a pipe) when its verification
starts; the time limit counts from then.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .pipeline import EXIT_INTERRUPTED, TaskConfig
from .queue import Submission
from .state import Failure, FailureKind, Layout, State, Status, SubmissionResult, read_state, write_state

__all__ = ["run_task", "Interrupted", "GRACE"]

log = logging.getLogger(__name__)

#: seconds a stopped pipeline gets to stop its runs before it is killed
GRACE = 60.0


class Interrupted(RuntimeError):
    """The pipeline was stopped from outside before it finished: the next batch run starts it over."""


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the pipeline stops its runs), then SIGKILL after :data:`GRACE` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _record(layout: Layout, sub: Submission, kind: FailureKind, message: str, hint: str, started: float) -> None:
    prior = read_state(layout, sub.id)
    state = State(sub.id, Status.FAILED, commit=prior.commit if prior else None,
                  attempt=prior.attempt if prior else 0, pid=prior.pid if prior else None, worker_pid=os.getpid())
    state.result = SubmissionResult(sub.id, Status.FAILED, commit=state.commit, failure=Failure(kind, message, hint),
                                    duration=time.monotonic() - started)
    write_state(layout, state)


def run_task(submission: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Run one submission's pipeline; return its :class:`SubmissionResult` as a dict.

    Takes and returns plain dicts (what Dask sends between processes). Raises
    :class:`Interrupted` when the pipeline was stopped by something other than the time limit.
    """
    sub, settings = Submission.from_dict(submission), TaskConfig(**config)
    layout = Layout(Path(settings.out_dir))
    output = layout.output_log(sub.id)
    output.parent.mkdir(parents=True, exist_ok=True)
    # one verification per worker process at a time; the next task fetches meanwhile (see module docstring)
    slot = layout.private / "slots" / f"{socket.gethostname()}-{os.getpid()}.lock"
    announced, announce = os.pipe()
    request = json.dumps({"submission": sub.to_dict(), "config": settings.to_dict(), "parent": os.getpid(),
                          "slot": str(slot), "started_fd": announce})
    started = time.monotonic()
    timed_out = False
    with open(output, "ab") as sink:
        try:
            proc = subprocess.Popen([sys.executable, "-m", "paperpack.batch"], stdin=subprocess.PIPE,
                                    stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                                    pass_fds=(announce,))
        except BaseException:
            os.close(announced)
            raise
        finally:
            os.close(announce)
        try:
            assert proc.stdin is not None
            proc.stdin.write(request.encode())
            proc.stdin.close()
            with os.fdopen(announced, "rb") as verifying:
                verifying.read(1)  # the verification starts (or the pipeline ended): the time limit starts now
            try:
                proc.wait(timeout=settings.deadline)
            except subprocess.TimeoutExpired:
                timed_out = True
                log.warning("%s: still running after %s s: stopping it", sub.id, settings.deadline)
                _stop(proc)
        except BaseException:  # the task itself is stopped: the pipeline stops with it
            _stop(proc)
            raise
    state = read_state(layout, sub.id)
    if state is not None and state.status.final and state.result is not None and not timed_out:
        return state.result.to_dict()
    if timed_out:
        _record(layout, sub, FailureKind.TIMEOUT,
                f"{sub.id}: the submission ran longer than its time limit of {settings.deadline:g} s and "
                f"was stopped while {state.status if state else 'starting'}",
                "raise --timeout (the whole submission gets 2 × timeout + 300 s), or ask the authors for a "
                "reduced-size run (parameters in paperpack.yml)", started)
    elif proc.returncode == EXIT_INTERRUPTED:
        raise Interrupted(f"{sub.id}: the pipeline was stopped while {state.status if state else 'starting'}")
    else:
        _record(layout, sub, FailureKind.CRASH,
                f"{sub.id}: the pipeline's process ended with status {proc.returncode} while "
                f"{state.status if state else 'starting'}:\n{_tail(output)}",
                f"see {output}; a bug in paperpack, or the process was killed (out of memory?)", started)
    final = read_state(layout, sub.id)
    assert final is not None and final.result is not None
    return final.result.to_dict()
