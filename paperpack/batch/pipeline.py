"""One submission's whole pipeline, in a process of its own: fetch → :func:`paperpack.verify.verify`.

:func:`run_submission` is what ``python -m paperpack.batch`` runs (the batch's Dask
task starts it: :mod:`paperpack.batch.task`). It holds the submission's lock for its whole
life, so two attempts (a task re-run after its worker died, a second batch) never work on
one submission at once. It starts over cleanly an attempt that was interrupted (its
workspace and partial output removed first), keeps a finished one when the revision and
paperpack's version are unchanged, and writes each transition to ``state.json``.

It dies with its parent (``PR_SET_PDEATHSIG``: a killed worker's pipeline gets SIGTERM), and
SIGTERM stops it as Ctrl-C stops ``paperpack build``: verify() stops every container and
runner, and the state says ``interrupted``, so the next attempt starts over.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import logging
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..errors import BuildError, ConfigError, EngineError, FetchError, PaperpackError, UnsafeArchiveError
from .queue import Submission
from .state import (
    Failure,
    FailureKind,
    Layout,
    NotebookLine,
    State,
    Status,
    SubmissionResult,
    bounded,
    read_state,
    write_state,
)

if TYPE_CHECKING:
    from ..verify import Result

__all__ = ["TaskConfig", "run_submission", "main", "serve", "deadline_for", "EXIT_INTERRUPTED"]

log = logging.getLogger(__name__)

#: the pipeline's exit status when stopped (SIGTERM, its parent gone): the state stays, the next attempt redoes it
EXIT_INTERRUPTED = 130
#: the image repository every batch image goes to: tags are content hashes, so identical sources share one image
IMAGE_NAME = "paperpack/batch"


@dataclass(frozen=True)
class TaskConfig:
    """The settings of every submission of a batch (sent to the workers)."""

    out_dir: str  # absolute; on a cluster, a folder every worker sees (a shared file system)
    engine: str = "auto"
    mode: str = "auto"
    timeout: float | None = None  # seconds: the build's limit and each notebook's
    memory: str | None = None  # the notebooks' memory limit (e.g. 2g)
    cache_dir: str | None = None
    deadline: float | None = None  # seconds: the whole pipeline's wall clock (see deadline_for)
    #: verifications at once on one machine, shared by every worker process there (the local cluster: --jobs);
    #: None: one per worker process (an existing cluster's workers, wherever they run)
    host_slots: int | None = None
    #: the batch run's name: when the batch is stopped (Ctrl-C, SIGTERM), every worker stops the pipelines of
    #: this run (see paperpack.batch.task.stop_pipelines)
    batch_run: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def deadline_for(timeout: float | None) -> float | None:
    """The whole pipeline's limit for ``--timeout S``: the build and each notebook have S seconds, set-up and
    fetching five minutes, so 2 × S + 300 leaves verify()'s own limits (which name the cause) to fire first."""
    return None if timeout is None else 2 * timeout + 300


def _die_with_parent(parent: int) -> None:
    """SIGTERM when the process that started this one dies (Linux), and stop now if it already has."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        raise SystemExit(EXIT_INTERRUPTED)


def _clear(path: Path, keep: tuple[str, ...] = ()) -> None:
    """Remove ``path`` (or everything in it but ``keep``), never following a link."""
    if path.is_symlink() or path.is_file():
        path.unlink()
        return
    if not path.is_dir():
        return
    for entry in path.iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _failure(exc: BaseException) -> Failure:
    hint = getattr(exc, "hint", "") or ""
    if isinstance(exc, UnsafeArchiveError):
        return Failure(FailureKind.UNSAFE_SOURCE, str(exc), hint)
    if isinstance(exc, FetchError):
        return Failure(FailureKind.FETCH, str(exc), hint)
    if isinstance(exc, BuildError):
        timed_out = exc.step == "time limit"
        return Failure(FailureKind.TIMEOUT if timed_out else FailureKind.BUILD, str(exc), hint)
    if isinstance(exc, EngineError):
        return Failure(FailureKind.ENGINE, str(exc), hint)
    if isinstance(exc, ConfigError):
        return Failure(FailureKind.CONFIG, str(exc), hint)
    if isinstance(exc, PaperpackError):
        return Failure(FailureKind.ERROR, f"{type(exc).__name__}: {exc}", hint)
    tail = "".join(traceback.format_exception(exc)[-6:])
    return Failure(
        FailureKind.CRASH,
        f"unexpected {type(exc).__name__}: {exc}\n{tail}",
        "a bug in paperpack: report it with this message",
    )


def _result(sub: Submission, commit: str, verified: Result, started: float) -> SubmissionResult:
    verdict = verified.verdict
    run = verified.run
    notebooks = [
        NotebookLine(
            nb.path,
            str(nb.verdict),
            str(nb.status),
            nb.duration,
            bounded(nb.message or ""),
            bounded(nb.comparison),
            bounded(nb.error),
        )
        for nb in (run.notebooks if run is not None else [])
    ]
    written = [verified.report_path] if verified.report_path else []
    written += list(verified.published.written) if verified.published else []
    return SubmissionResult(
        id=sub.id,
        status=Status.DONE,
        commit=commit,
        verdict=verdict.cls.value,
        label=verdict.label(),
        reasons=[r.value for r in verdict.reasons],
        notebooks=notebooks,
        duration=time.monotonic() - started,
        engine=verified.engine.name if verified.engine else None,
        image=verified.engine.image if verified.engine else None,
        reports=sorted({Path(p).name for p in written}),
        image_reused=verified.build.reused if verified.build is not None else None,
        validation_errors=verified.findings.errors,
    )


def _verify(root: Path, sub: Submission, config: TaskConfig) -> Result:
    from ..run.plan import Limits
    from ..verify import BuildSettings, RunSettings, ValidateSettings, VerifyOptions, verify

    layout = Layout(Path(config.out_dir))
    options = VerifyOptions(
        validate=ValidateSettings(offline=True),
        build=BuildSettings(mode=config.mode, timeout=config.timeout, image_name=IMAGE_NAME),
        run=RunSettings(
            engine=config.engine,
            out_dir=layout.submission(sub.id),
            untrusted=True,
            limits=Limits(timeout=config.timeout, memory=config.memory),
        ),
        cache_dir=Path(config.cache_dir) if config.cache_dir else None,
        shown_path=sub.id,
    )
    return verify(root, options)


@contextlib.contextmanager
def _locked_file(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:  # opened close-on-exec: runners started below never hold it
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


#: seconds between two looks at a pool of slots that were all taken: a look is two non-blocking ``flock`` calls,
#: and a slot freed waits half of this on average (0.2 s cost 12 submissions on 2 slots ~0.6 s of the batch's wall)
SLOT_POLL = 0.05


@contextlib.contextmanager
def _any_slot(slots: Sequence[Path]) -> Iterator[Path]:
    """Hold the first free one of ``slots`` (lock files) until leaving; wait while every one is held.

    One slot: a blocking lock. Several (the local cluster's machine-wide pool): a look at each in
    turn every :data:`SLOT_POLL` seconds, as the kernel has no wait on any one of several locks. A
    lock is released by the kernel when its holder dies, so a killed pipeline never keeps a slot.
    """
    if len(slots) == 1:
        with _locked_file(slots[0]):
            yield slots[0]
        return
    with contextlib.ExitStack() as files:
        handles = []
        for path in slots:
            path.parent.mkdir(parents=True, exist_ok=True)
            handles.append((path, files.enter_context(open(path, "w"))))
        while True:
            for path, handle in handles:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                yield path
                return
            time.sleep(SLOT_POLL)


def _image_lock(root: Path, config: TaskConfig, layout: Layout) -> contextlib.AbstractContextManager[None]:
    """One build at a time per image tag across the batch's workers, so identical submissions build it once.

    The tag is the content hash :func:`~paperpack.image.builder.expected_image` gives (nothing is built
    here); without Docker, or with the local engine, there is no image and no lock.
    """
    if config.engine == "local":
        return contextlib.nullcontext()
    from ..image.builder import expected_image
    from ..repository.repo import Repo

    try:
        tag = expected_image(Repo.open(root), mode=config.mode, image_name=IMAGE_NAME)
    except PaperpackError:  # no Docker (the local engine will run), or a problem verify() reports itself
        return contextlib.nullcontext()
    return _locked_file(layout.private / "locks" / f"image-{hashlib.sha256(tag.encode()).hexdigest()[:20]}.lock")


def run_submission(
    sub: Submission,
    config: TaskConfig,
    *,
    worker_pid: int | None = None,
    slots: Sequence[Path] = (),
    started_fd: int | None = None,
) -> int:
    """Fetch and verify ``sub``; record it in ``state.json``. Returns 0, or :data:`EXIT_INTERRUPTED`.

    ``slots``: lock files, one of which is held while verifying, so a worker (or a machine) verifies
    as many submissions at a time as there are slots while fetching the next; ``started_fd``: a pipe
    told when the verification starts (see :func:`_announce`).
    """
    layout = Layout(Path(config.out_dir))
    with _locked_file(layout.lock(sub.id)):  # an earlier attempt still stopping finishes first
        return _locked(sub, config, layout, worker_pid, slots, started_fd)


def _locked(
    sub: Submission,
    config: TaskConfig,
    layout: Layout,
    worker_pid: int | None,
    slots: Sequence[Path],
    started_fd: int | None,
) -> int:
    prior = read_state(layout, sub.id)
    out, work = layout.submission(sub.id), layout.workspace(sub.id)
    if prior is None or not prior.status.final:
        if prior is not None:
            log.warning("%s: starting over (the last attempt stopped while %s)", sub.id, prior.status)
        _clear(out)  # an interrupted attempt's partial output
    _clear(work)
    state = State(
        sub.id, Status.FETCHING, attempt=(prior.attempt if prior else 0) + 1, pid=os.getpid(), worker_pid=worker_pid
    )
    if prior is not None and prior.status.final:
        state.commit = prior.commit
    out.mkdir(parents=True, exist_ok=True)
    write_state(layout, state)
    started = time.monotonic()
    try:
        from .fetch import fetch  # here, not at the top: a worker imports this module for TaskConfig alone

        try:
            fetched = fetch(sub, work / "src")
        except PaperpackError as exc:
            _clear(out, keep=("state.json",))  # an earlier revision's reports are not this one's
            state.status, state.commit = Status.FAILED, None
            state.result = SubmissionResult(
                sub.id, Status.FAILED, failure=_failure(exc), duration=time.monotonic() - started
            )
            write_state(layout, state)
            return 0
        state.commit = fetched.commit
        if prior is not None and prior.finished_at(fetched.commit):
            log.info("%s: already verified at %s by paperpack %s", sub.id, fetched.commit, __version__)
            write_state(layout, prior, event="reused")
            return 0
        with contextlib.ExitStack() as stack:
            waiting = time.monotonic()
            if slots:  # this one was fetched while others verified: it waits for a free slot
                stack.enter_context(_any_slot(slots))
            started += time.monotonic() - waiting
            _announce(started_fd)
            return _verify_stage(sub, config, layout, state, fetched.root, started)
    except KeyboardInterrupt:
        return _interrupted(layout, state)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _interrupted(layout: Layout, state: State) -> int:
    """Record that the attempt was stopped from outside (its runs stopped by then): the next run starts over."""
    log.warning("%s: stopped while %s; the next batch run starts it over", state.id, state.status)
    state.status, state.result = Status.INTERRUPTED, None
    write_state(layout, state)
    return EXIT_INTERRUPTED


def _announce(fd: int | None) -> None:
    """Tell the task the verification starts (its time limit starts now): one byte on ``fd``, then close it."""
    if fd is None:
        return
    try:
        os.write(fd, b"v")
    except OSError:
        pass
    finally:
        os.close(fd)


def _verify_stage(sub: Submission, config: TaskConfig, layout: Layout, state: State, root: Path, started: float) -> int:
    _clear(layout.submission(sub.id), keep=("state.json",))
    commit = state.commit
    assert commit is not None
    state.status = Status.VERIFYING
    write_state(layout, state)
    try:
        with _image_lock(root, config, layout):
            verified = _verify(root, sub, config)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 -- a failure is recorded with its cause; the other submissions go on
        state.status = Status.FAILED
        state.result = SubmissionResult(
            sub.id, Status.FAILED, commit=commit, failure=_failure(exc), duration=time.monotonic() - started
        )
        write_state(layout, state)
        return 0
    if not verified.complete and _STOPPING:  # verify() stopped its runs: the next attempt starts over
        return _interrupted(layout, state)
    state.status = Status.DONE
    state.result = _result(sub, commit, verified, started)
    write_state(layout, state)
    return 0


_STOPPING = False


def _stop(signum: int, frame: object) -> None:
    """SIGTERM, SIGINT: stop as Ctrl-C stops ``paperpack build`` (verify() stops its runs on KeyboardInterrupt)."""
    global _STOPPING
    _STOPPING = True
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """``python -m paperpack.batch``: the request (JSON) on standard input."""
    return serve(json.loads(sys.stdin.read()))


def serve(request: dict[str, Any]) -> int:
    """Run the pipeline ``request`` asks for, in this process (a fresh one, or one forked by the fork server)."""
    started_fd = request.get("started_fd")
    if started_fd is not None:
        os.set_inheritable(started_fd, False)  # never passed on to the runners
    _die_with_parent(int(request.get("die_with") or request["parent"]))
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if request.get("die_with"):
        zygote = f", itself forked from the batch's zygote {request['zygote']}" if request.get("zygote") else ""
        log.info("pipeline %d forked from the worker's fork server %d%s", os.getpid(), request["die_with"], zygote)
    return run_submission(
        Submission.from_dict(request["submission"]),
        TaskConfig(**request["config"]),
        worker_pid=int(request["parent"]),
        slots=[Path(p) for p in request.get("slots") or ()],
        started_fd=started_fd,
    )
