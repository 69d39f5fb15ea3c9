"""Turn what the runner wrote (and what the engine saw) into a precise status and message.

A failure's message starts with where it happened, as a person finds it in Jupyter (the
1-based position among code cells, and ``In [n]`` where the committed notebook has an
execution count), then its root cause and fix in words (:mod:`paperpack.run.causes`),
then the error itself. The cause goes into ``error.cause`` of report.json.
"""

from __future__ import annotations

import datetime
import functools
import re
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..notebook.cells import cell_name
from ..notebook.parse import Cell, ParsedNotebook, read_notebook
from ..util.terminal import strip_ansi
from .causes import REPRODUCES_COMMITTED_ERROR, UPSTREAM_OUTPUT, Diagnosis, Failure, clean_traceback, diagnose
from .plan import Limits, PlannedNotebook
from .results import NotebookRun, Status, Verdict

if TYPE_CHECKING:
    from ..environment import Environment

__all__ = ["interpret", "link_upstream", "FAILED_STATUSES", "REPRODUCES_ERROR"]

FAILED_STATUSES = frozenset(set(Status) - {Status.OK, Status.SKIPPED})
#: The verdict of a notebook whose failing cell fails as the committed notebook shows it did.
REPRODUCES_ERROR = Verdict.REPRODUCES_ERROR
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


def _signal_name(code: int | None) -> str | None:
    if code is None or code >= 0:
        return None
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _status(value: Any) -> Status:
    """The runner's status word as a :class:`Status` (the channel admits only known words; ``error`` otherwise)."""
    try:
        return Status(value)
    except ValueError:
        return Status.ERROR


def _source_cell(result: dict[str, Any], cell: int | None) -> int | None:
    """The cell's index in the committed notebook (the injected parameters cell shifts later ones)."""
    injected = result.get("injected_cell")
    if cell is None or injected is None:
        return cell
    return cell - 1 if cell > injected else cell


def _committed(root: Path | None, nb: PlannedNotebook) -> ParsedNotebook | None:
    if root is None:
        return None
    parsed = read_notebook(root / nb.path, nb.path)
    return parsed if isinstance(parsed, ParsedNotebook) else None


def _committed_cell(committed: ParsedNotebook | None, index: int | None) -> Cell | None:
    if committed is None or index is None or not 0 <= index < len(committed.cells):
        return None
    return committed.cells[index]


def where(committed: ParsedNotebook | None, index: int | None) -> str:
    """ "code cell 3 (In [7])": the failing cell as a person finds it in the committed notebook."""
    cell = _committed_cell(committed, index)
    cell_types = [c.cell_type for c in committed.cells] if committed is not None else []
    return cell_name(cell_types, index, cell.execution_count if cell is not None else None)


def interpret(
    nb: PlannedNotebook,
    result: dict[str, Any] | None,
    facts: dict[str, Any],
    limits: Limits,
    cancelled: bool,
    *,
    root: Path | None = None,
    image: str | None = None,
    environment: Environment | None = None,
) -> NotebookRun:
    """The run of ``nb`` from the runner's ``result`` and the engine's ``facts``.

    ``root`` (the repository) lets the message count cells as the committed notebook shows
    them and name the root cause (:func:`paperpack.run.causes.diagnose`). ``image`` is the
    image the notebook ran in (``None``: the local engine), to tell whether its environment
    was translated from environment.yml to PyPI packages. ``environment`` is the repository's
    environment model (``repo.environment``, detected once per repository, never here): it
    says which environment.yml the build used.
    """
    run = NotebookRun(path=nb.path, parameters=dict(nb.parameters), kernel=nb.kernel)
    if result is None:
        return _no_result(run, nb, facts, limits, cancelled, root, environment)
    run.duration = result.get("duration")
    run.started, run.ended = iso_time(result.get("started")), iso_time(result.get("ended"))
    run.kernel = result.get("kernel")
    run.cells = result.get("cells") or []
    run.status = _status(result.get("status"))
    error = dict(result.get("error") or {}) or None
    if error is not None:
        error["source_cell"] = _source_cell(result, error.get("cell"))
        if error.get("traceback"):
            error["traceback"] = clean_traceback(list(error["traceback"]))
    run.error = error
    if run.status == Status.OK:
        return run
    run.verdict = Verdict.FAILED
    index = error.get("source_cell") if error else None
    committed = _committed(root, nb) if run.status != Status.INTERRUPTED and not cancelled else None
    at = where(committed, index)
    if error is not None:
        error["where"] = at
    if cancelled:  # whatever the runner saw while being stopped, the cause is the interruption
        run.status, run.message = Status.INTERRUPTED, f"interrupted in {at}"
        return run
    ename, evalue = (error or {}).get("ename", ""), (error or {}).get("evalue", "")
    if run.status == Status.TIMEOUT:
        if (error or {}).get("kind") == "cell-timeout":
            run.message = f"timeout: {at} ran longer than {nb.cell_timeout:g} s (the cell timeout)"
        else:
            run.message = f"timeout: the notebook ran longer than {nb.timeout:g} s; it was in {at}"
    elif run.status == Status.DEAD_KERNEL:
        oom = bool(result.get("oom_kills")) or bool(facts.get("oom_killed"))
        sig = _signal_name(result.get("kernel_exit"))
        if oom:
            run.status = Status.OOM
            run.message = (
                f"out of memory: the kernel was killed in {at} (memory limit {limits.memory}; raise it with --memory)"
            )
        elif sig:
            cause = {
                "SIGSEGV": "a segmentation fault (SIGSEGV)",
                "SIGKILL": "SIGKILL",
                "SIGABRT": "an abort (SIGABRT)",
            }.get(sig, sig)
            run.message = f"the kernel died in {at}: killed by {cause}"
        else:
            exit_code = result.get("kernel_exit")
            status = f" with exit code {exit_code}" if exit_code is not None else ""
            run.message = f"the kernel died in {at}: it exited{status} (os._exit or a crash)"
    elif run.status == Status.NO_KERNEL:
        available = ", ".join(result.get("available_kernels") or []) or "none"
        run.message = f"kernel {result.get('kernel')!r} is not installed in the environment (available: {available})"
    elif _reproduces(committed, index, ename, evalue) and (error or {}).get("kind") == "cell-error":
        run.verdict = REPRODUCES_ERROR
        run.message = (
            f"{at}: reproduces the committed error ({ename}: {_first_line(evalue)}); the committed "
            "notebook shows the same error in that cell"
        )
        assert error is not None
        error["cause"] = {
            "id": REPRODUCES_COMMITTED_ERROR,
            "message": "the cell fails with the error the committed notebook shows",
            "fix": "nothing to fix for reproducibility; fix the cell if the error is not intended",
        }
        return run
    else:
        run.message = f"{at}: {ename}: {evalue}".rstrip(": ")
    if run.status in (Status.ERROR, Status.NO_KERNEL, Status.TIMEOUT):
        found = diagnose(_failure(nb, result, error, committed, root, image=image, environment=environment))
        if found is not None:
            _explain(run, error, found, at)
        elif facts.get("disk_limit") and run.status == Status.ERROR:
            run.message += _disk_hint(f"{ename}: {evalue}", str(facts["disk_limit"]))
    if result.get("pids_limit_hits"):
        run.status = Status.PIDS_LIMIT if run.status == Status.ERROR else run.status
        run.message += f" — the process limit ({limits.pids}) was reached: stopped by --pids"
    return run


def iso_time(value: Any) -> str | None:
    """An ISO 8601 time from the runner's result, or ``None`` when it is not one."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds")


def _first_line(text: str, limit: int = 160) -> str:
    line = (strip_ansi(text).strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _reproduces(committed: ParsedNotebook | None, index: int | None, ename: str, evalue: str) -> bool:
    """Whether the committed notebook shows the same error (name and value) in cell ``index``."""
    cell = _committed_cell(committed, index)
    if cell is None or not ename:
        return False
    got = _ADDRESS.sub("0x…", strip_ansi(evalue).strip())
    return any(
        o.output_type == "error" and o.ename == ename and _ADDRESS.sub("0x…", strip_ansi(o.evalue or "").strip()) == got
        for o in cell.outputs
    )


def _failure(
    nb: PlannedNotebook,
    result: dict[str, Any] | None,
    error: dict[str, Any] | None,
    committed: ParsedNotebook | None,
    root: Path | None,
    output: str = "",
    image: str | None = None,
    environment: Environment | None = None,
) -> Failure:
    error = error or {}
    index = error.get("source_cell")
    code = [
        c.source
        for c in (committed.cells if committed else [])
        if c.cell_type == "code" and (index is None or c.index <= index)
    ]
    cell = _committed_cell(committed, index)
    environment_yml = _environment_yml(environment)
    if environment_yml is not None and not _translated(image):
        environment_yml = None  # conda solved it: what is missing is the author's to declare
    return Failure(
        notebook=nb.path,
        status="no-result" if result is None else str(result.get("status", "error")),
        ename=str(error.get("ename") or ""),
        evalue=strip_ansi(str(error.get("evalue") or "")),
        traceback=clean_traceback(list(error.get("traceback") or [])),
        stderr=strip_ansi(str(error.get("stderr") or "")),
        output=output,
        cell=index,
        source=cell.source if cell is not None else "",
        code=code,
        root=root,
        writers=dict(nb.writers),
        kernel=(result or {}).get("kernel"),
        available_kernels=list((result or {}).get("available_kernels") or []),
        environment_yml=environment_yml,
        waiting_on=list(error.get("waiting_on") or []),
    )


def _translated(image: str | None) -> bool:
    """Whether the environment's packages came from PyPI: the local engine, or an image ``paperpack build``
    made in offline mode (its ``io.paperpack.mode`` label), where environment.yml is translated, not solved."""
    if image is None:
        return True
    return _image_mode(image) == "offline"


@functools.lru_cache(maxsize=16)
def _image_mode(image: str) -> str | None:
    from ..errors import PaperpackError
    from ..image.builder import LABEL_PREFIX
    from ..util.docker import image_inspect

    try:
        info = image_inspect(image)
    except PaperpackError:
        return None
    labels = ((info or {}).get("Config") or {}).get("Labels") or {}
    return labels.get(f"{LABEL_PREFIX}.mode")


def _environment_yml(env: Environment | None) -> dict[str, str] | None:
    """The conda dependencies (lower-case name → spec) of an environment.yml the build translates, if any."""
    if env is None:
        return None
    from ..errors import PaperpackError

    try:
        env.check_buildable()
    except PaperpackError:
        return None
    if env.conda is None:
        return None
    deps = dict.fromkeys(env.conda.conda_names, "")
    deps.update({r.name: r.specifier for r in env.conda.requirements})
    return deps


def _explain(run: NotebookRun, error: dict[str, Any] | None, found: Diagnosis, at: str) -> None:
    """Put the cause first in the message (before the error), and into ``error.cause``."""
    if error is None:
        error = run.error = {
            "kind": "runner",
            "cell": None,
            "source_cell": None,
            "ename": "",
            "evalue": "",
            "traceback": [],
        }
    error["cause"] = found.to_dict()
    ename, evalue = error.get("ename", ""), error.get("evalue", "")
    seen = f" ({ename}: {_first_line(evalue)})" if ename else ""
    head = f"{at}: " if at and error.get("source_cell") is not None else ""
    run.message = f"{head}{found.message}{seen} — fix: {found.fix}"


def link_upstream(runs: list[NotebookRun]) -> None:
    """A failure for want of a file another notebook writes names how that notebook did (after the run)."""
    by_path = {run.path: run for run in runs}
    for run in runs:
        cause = (run.error or {}).get("cause") or {}
        if cause.get("id") != UPSTREAM_OUTPUT:
            continue
        notes = []
        for writer in (cause.get("detail") or {}).get("writers", []):
            other = by_path.get(writer)
            passed = (Verdict.SAME, Verdict.SAME_WITH_WARNINGS, Verdict.NO_OUTPUTS)
            if other is not None and other.verdict not in passed:
                notes.append(
                    f"{writer} {other.verdict}: {other.message}" if other.message else f"{writer} {other.verdict}"
                )
        if notes:
            cause["upstream"] = notes
            run.message += " — upstream: " + "; ".join(notes)


def _no_result(
    run: NotebookRun,
    nb: PlannedNotebook,
    facts: dict[str, Any],
    limits: Limits,
    cancelled: bool,
    root: Path | None,
    environment: Environment | None,
) -> NotebookRun:
    run.verdict = Verdict.FAILED
    if cancelled:
        run.status, run.message = Status.INTERRUPTED, "interrupted before it finished"
    elif facts.get("oom_killed"):
        run.status = Status.OOM
        run.message = f"out of memory: the container was killed (memory limit {limits.memory}; raise it with --memory)"
    else:
        run.status = Status.ERROR
        output = facts.get("output") or ""
        tail = strip_ansi(output).strip().splitlines()[-5:]
        run.message = f"the runner stopped without a result (exit code {facts.get('exit_code')})" + (
            ": " + " | ".join(tail) if tail else ""
        )
        if facts.get("disk_limit") and NO_SPACE in output:
            run.message += (
                f" — the repository's working copy does not fit in the disk limit "
                f"({facts['disk_limit']}): raise run.disk in paperpack.yml or --disk"
            )
            return run
        found = diagnose(_failure(nb, None, None, None, root, output=strip_ansi(output), environment=environment))
        if found is not None:
            _explain(run, None, found, "")
            run.message += f" (the runner stopped with exit code {facts.get('exit_code')})"
            return run
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
        return (
            f" — the notebook wrote more than {disk} (the limit on the working folder, shared by the run's "
            f"notebooks, and on /tmp): raise run.disk in paperpack.yml or --disk"
        )
    if READ_ONLY in error:
        return (
            " — in the container only the working folder (where the notebook runs) and /tmp are "
            "writable: write files there, with paths relative to the notebook"
        )
    return ""


#: What the runner's output says when the environment cannot run it, and what to do.
RUNNER_PROBLEMS = (
    (
        "No module named 'nbclient'",
        "the environment lacks nbclient (every repo2docker image has it): "
        "add nbclient to requirements.txt or rebuild with `paperpack build`",
    ),
    ("No module named 'nbformat'", "the environment lacks nbformat: add it to requirements.txt"),
    (
        "executable file not found",
        "the image has no python3 on its PATH: pass --image with a Jupyter image "
        "built by repo2docker, or build one with `paperpack build`",
    ),
)
