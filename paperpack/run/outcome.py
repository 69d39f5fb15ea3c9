"""Turn what the runner wrote (and what the engine saw) into a precise status and message."""

from __future__ import annotations

import signal
from typing import Any

from .plan import Limits, PlannedNotebook
from .results import NotebookRun

__all__ = ["interpret"]

FAILED_STATUSES = frozenset({"error", "timeout", "dead-kernel", "oom", "pids-limit", "no-kernel",
                             "interrupted", "not-run"})


def _signal_name(code: int | None) -> str | None:
    if code is None or code >= 0:
        return None
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _source_cell(result: dict[str, Any], cell: int | None) -> int | None:
    """The cell's index in the committed notebook (the injected parameters cell shifts later ones)."""
    injected = result.get("injected_cell")
    if cell is None or injected is None:
        return cell
    return cell - 1 if cell > injected else cell


def interpret(nb: PlannedNotebook, result: dict[str, Any] | None, facts: dict[str, Any],
              limits: Limits, cancelled: bool) -> NotebookRun:
    run = NotebookRun(path=nb.path, parameters=dict(nb.parameters), kernel=nb.kernel)
    if result is None:
        return _no_result(run, facts, limits, cancelled)
    run.duration = result.get("duration")
    run.kernel = result.get("kernel")
    run.cells = result.get("cells") or []
    run.status = str(result.get("status", "error"))
    error = dict(result.get("error") or {}) or None
    if error is not None:
        error["source_cell"] = _source_cell(result, error.get("cell"))
    run.error = error
    if run.status == "ok":
        return run
    run.verdict = "failed"
    cell = error.get("source_cell") if error else None
    where = f"cell {cell}" if cell is not None else "before the first cell"
    if cancelled:  # whatever the runner saw while being stopped, the cause is the interruption
        run.status, run.message = "interrupted", f"interrupted in {where}"
        return run
    ename, evalue = (error or {}).get("ename", ""), (error or {}).get("evalue", "")
    if run.status == "timeout":
        if (error or {}).get("kind") == "cell-timeout":
            run.message = f"timeout: {where} ran longer than {nb.cell_timeout:g} s (the cell timeout)"
        else:
            run.message = f"timeout: the notebook ran longer than {nb.timeout:g} s; it was in {where}"
    elif run.status == "dead-kernel":
        oom = bool(result.get("oom_kills")) or bool(facts.get("oom_killed"))
        sig = _signal_name(result.get("kernel_exit"))
        if oom:
            run.status = "oom"
            run.message = (f"out of memory: the kernel was killed in {where} "
                           f"(memory limit {limits.memory}; raise it with --memory)")
        elif sig:
            cause = {"SIGSEGV": "a segmentation fault (SIGSEGV)", "SIGKILL": "SIGKILL",
                     "SIGABRT": "an abort (SIGABRT)"}.get(sig, sig)
            run.message = f"the kernel died in {where}: killed by {cause}"
        else:
            exit_code = result.get("kernel_exit")
            status = f" with exit code {exit_code}" if exit_code is not None else ""
            run.message = f"the kernel died in {where}: it exited{status} (os._exit or a crash)"
    elif run.status == "no-kernel":
        available = ", ".join(result.get("available_kernels") or []) or "none"
        run.message = (f"kernel {result.get('kernel')!r} is not installed in the environment "
                       f"(available: {available})")
    else:
        run.message = f"{where}: {ename}: {evalue}".rstrip(": ")
    if facts.get("disk_limit") and run.status == "error":
        run.message += _disk_hint(f"{ename}: {evalue}", str(facts["disk_limit"]))
    if result.get("pids_limit_hits"):
        run.status = "pids-limit" if run.status == "error" else run.status
        run.message += f" — the process limit ({limits.pids}) was reached: stopped by --pids"
    return run


def _no_result(run: NotebookRun, facts: dict[str, Any], limits: Limits, cancelled: bool) -> NotebookRun:
    run.verdict = "failed"
    if cancelled:
        run.status, run.message = "interrupted", "interrupted before it finished"
    elif facts.get("oom_killed"):
        run.status = "oom"
        run.message = f"out of memory: the container was killed (memory limit {limits.memory}; raise it with --memory)"
    else:
        run.status = "error"
        output = facts.get("output") or ""
        tail = output.strip().splitlines()[-5:]
        run.message = (f"the runner stopped without a result (exit code {facts.get('exit_code')})"
                       + (": " + " | ".join(tail) if tail else ""))
        if facts.get("disk_limit") and NO_SPACE in output:
            run.message += (f" — the repository's working copy does not fit in the disk limit "
                            f"({facts['disk_limit']}): raise run.disk in paperpack.yml or --disk")
        for needle, hint in RUNNER_PROBLEMS:
            if needle in output:
                run.message += f" — {hint}"
                break
    return run


NO_SPACE = "No space left on device"  # ENOSPC, as Python words it
READ_ONLY = "Read-only file system"  # EROFS


def _disk_hint(error: str, disk: str) -> str:
    """What the docker engine's disk limit and read-only image mean for a cell's error, or ""."""
    if NO_SPACE in error:
        return (f" — the notebook wrote more than {disk} (the limit on the working folder, shared by the run's "
                f"notebooks, and on /tmp): raise run.disk in paperpack.yml or --disk")
    if READ_ONLY in error:
        return (" — in the container only the working folder (where the notebook runs) and /tmp are "
                "writable: write files there, with paths relative to the notebook")
    return ""


#: What the runner's output says when the environment cannot run it, and what to do.
RUNNER_PROBLEMS = (
    ("No module named 'nbclient'", "the environment lacks nbclient (every repo2docker image has it): "
                                   "add nbclient to requirements.txt or rebuild with `paperpack build`"),
    ("No module named 'nbformat'", "the environment lacks nbformat: add it to requirements.txt"),
    ("executable file not found", "the image has no python3 on its PATH: pass --image with a Jupyter image "
                                  "built by repo2docker, or build one with `paperpack build`"),
)
