"""``run_notebooks``: plan, run every notebook in the chosen engine, compare, gather results."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..repository.repo import DEFAULT_OUTPUT, OUTPUT_MARKER, Repo, default_output, mark_output_dir, untrusted_from_env
from ..util.atomic import sweep_temp_files, write_atomic
from .channel import Delivery
from .engines import Batch, Engine, EngineChoice, EngineRegistry, Session, choose_engine, default_registry
from .mounts import data_sources
from .outcome import interpret, link_upstream
from .plan import Limits, Plan, PlannedNotebook, make_plan
from .results import EventKind, NotebookRun, RunEvent, RunResult, Status, Verdict
from .scheduler import Executor, ThreadExecutor
from .sweep import new_scratch
from .verdict import judge

__all__ = ["run_notebooks", "prepare_out_dir"]

log = logging.getLogger(__name__)


def run_notebooks(
    repo: Repo,
    *,
    engine: str | EngineChoice = "auto",
    image: str | None = None,
    out_dir: Path | None = None,
    jobs: int | None = None,
    parameters: dict[str, object] | None = None,
    limits: Limits | None = None,
    progress: Callable[[RunEvent], None] | None = None,
    registry: EngineRegistry | None = None,
    executor: Executor | None = None,
    isolate: bool = False,
    untrusted: bool | None = None,
    cache_dir: Path | None = None,
) -> RunResult:
    """Run every notebook of ``repo`` end to end and compare it with its committed outputs.

    ``engine`` is ``docker`` (needs ``image``, else the image `paperpack build` made for
    this state of the repository), ``local``, ``auto`` — each decided by
    :func:`~paperpack.run.engines.choose_engine`, the engine policy: ``auto`` falls back
    to the local engine only for a reason of the machine, with a note in the result — or
    an :class:`~paperpack.run.engines.EngineChoice` the caller already made (``image`` is
    then ignored). ``cache_dir`` is paperpack's cache folder (``--cache-dir``), where the
    fetched data is looked for. Executed copies go
    to ``out_dir/executed/``; the repository itself is never written. The default output
    folder is ``<repo>/paperpack-out``, or, with ``untrusted`` (default: ``PAPERPACK_UNTRUSTED``
    set), a folder outside the repository (:func:`~paperpack.repository.repo.default_output`). On
    Ctrl-C every container and process is stopped and the result comes back with
    ``complete=False``.

    Notebooks that do not depend on each other run together, ``jobs`` at a time, in one
    runner process (one container) per batch; ``isolate=True`` gives each notebook its
    own container, so memory and process limits apply to it alone. ``registry`` and
    ``executor`` let tests (or a Dask cluster) supply their own.
    """
    registry = registry or default_registry()
    choice = engine if isinstance(engine, EngineChoice) else choose_engine(registry, engine, image, repo=repo)
    if untrusted is None:
        untrusted = untrusted_from_env()
    out = prepare_out_dir(
        Path(out_dir) if out_dir is not None else default_output(repo.root, untrusted=untrusted), repo.root
    )
    name, image = choice.name, choice.image
    runner = registry.get(name)
    run_section = repo.manifest.section("run") if repo.manifest else {}
    jobs = max(1, jobs if jobs is not None else run_section.get("jobs") or os.cpu_count() or 1)
    plan = make_plan(repo, parameters=parameters, limits=limits, jobs=jobs)
    notify = progress or (lambda event: None)
    result = RunResult(
        engine=name,
        isolation=runner.isolation,
        image=image if name == "docker" else None,
        out_dir=out,
        jobs=jobs,
        limits=plan.limits.to_dict(),
        image_source=choice.source,
        engine_note=choice.note or None,
    )
    started = time.monotonic()
    scratch = new_scratch(docker=name == "docker")  # after removing what killed runs left
    try:
        work = scratch / "work"
        work.mkdir()
        keys = {nb.path: f"nb{i:03d}" for i, nb in enumerate(plan.notebooks)}
        paths = {key: path for path, key in keys.items()}

        def on_event(event: dict[str, Any]) -> None:
            path = paths.get(str(event.get("key")), "")
            if event.get("event") in (EventKind.START, EventKind.CELL):
                notify(
                    RunEvent(
                        kind=EventKind(event["event"]), path=path, cell=event.get("cell"), cells=event.get("cells")
                    )
                )

        session = Session(
            repo=repo, work_dir=work, limits=plan.limits, jobs=jobs, image=image, on_event=on_event, cache_dir=cache_dir
        )
        runs = _schedule(
            plan, runner, session, scratch, keys, executor or ThreadExecutor(jobs), notify, result, isolate
        )
        for nb in plan.notebooks:
            run = runs.get(nb.path) or NotebookRun(
                path=nb.path,
                status=Status.NOT_RUN,
                verdict=Verdict.FAILED,
                message="not run: interrupted before it started",
            )
            result.notebooks.append(run)
            if nb.path not in runs:
                notify(
                    RunEvent(
                        kind=EventKind.DONE, path=nb.path, status=run.status, verdict=run.verdict, message=run.message
                    )
                )
        link_upstream(result.notebooks)
        if any(run.status == Status.INTERRUPTED for run in result.notebooks):
            result.complete = False  # a runner stopped from outside (docker stop, a cluster evicting it)
    finally:
        runner.close()
        shutil.rmtree(scratch, ignore_errors=True)
        result.duration = time.monotonic() - started
    notify(RunEvent(kind=EventKind.FINISHED, message=result.summary()))
    return result


def prepare_out_dir(out: Path, repo_root: Path | None = None) -> Path:
    """Create the output folder and check it, before any notebook runs.

    The folder gets paperpack's output marker, so that an output folder inside the
    repository is never read back (or copied into the working copy) as the paper's sources.
    Inside the repository it must be a new folder (or one paperpack made): never the
    root, nor a folder holding the paper's own files. Outputs never go through a link: a
    link inside the repository on the way to the folder (the folder itself, a parent, a
    link elsewhere that leads into the repository and through a link there), an
    ``executed/`` that is a link or holds one, a marker that is a link: each is a
    :class:`UsageError` naming it. Temporary files that paperpack's own atomic writes left
    (a run killed while writing) are removed.
    """
    out = Path(os.path.abspath(out))
    if repo_root is not None:
        _check_no_repo_links(out, repo_root.resolve())
        _check_out_dir_placement(out, repo_root)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(
            f"the output folder {out} exists and is not a folder",
            hint="pass --out-dir with a folder path (new or existing), or move that file away",
        ) from None
    except OSError as exc:
        raise UsageError(
            f"cannot create the output folder {out}: {exc.strerror or exc}",
            hint="pass --out-dir with a folder you can write to",
        ) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(
            f"the output folder {out} is not writable",
            hint="pass --out-dir with a folder you can write to, or fix its permissions",
        )
    try:
        mark_output_dir(out)
    except OSError as exc:
        raise UsageError(
            f"cannot write into the output folder {out}: {exc.strerror or exc}",
            hint="pass --out-dir with a folder you can write to",
        ) from None
    _check_executed(out)
    # only where paperpack writes: --out-dir may be a big folder of the user's
    for path in sweep_temp_files(out, below=False) + sweep_temp_files(out / "executed"):
        log.info("removed %s, left by an earlier paperpack run that was stopped while writing it", path)
    return out


def _links_on_the_way(path: Path) -> list[Path]:
    """Every symbolic link met while resolving ``path`` (an absolute path), each as a link-free path."""
    links: list[Path] = []
    current = Path(path.anchor)
    pending = list(path.parts[1:])
    while pending and len(links) < 40:
        name = pending.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            current = current.parent
            continue
        candidate = current / name
        if not candidate.is_symlink():
            current = candidate
            continue
        links.append(candidate)
        target = Path(os.readlink(candidate))
        if target.is_absolute():
            current = Path(target.anchor)
        pending = list(target.parts[1:] if target.is_absolute() else target.parts) + pending
    return links


def _check_no_repo_links(out: Path, root: Path) -> None:
    """A link inside the repository never leads the output anywhere (the repository may be hostile)."""
    for link in _links_on_the_way(out):
        if link == root or link.is_relative_to(root):
            raise UsageError(
                f"the output folder {out} goes through the symbolic link {link}, which is inside the "
                "repository; paperpack never writes through a link the repository could have made",
                hint=f"remove the link {link}, or pass --out-dir with a folder outside the repository "
                "(or run with --untrusted)",
                path=link,
            )


def _check_executed(out: Path) -> None:
    """``executed/`` (where paperpack writes) must be a real folder holding no link."""
    executed = out / "executed"
    if not os.path.lexists(executed):
        return
    if executed.is_symlink() or not executed.is_dir():
        raise UsageError(
            f"{executed} is {'a symbolic link' if executed.is_symlink() else 'not a folder'}; "
            "paperpack writes the executed notebooks there and never through a link",
            hint=f"remove {executed} (paperpack makes it again), or pass --out-dir with a new folder",
            path=executed,
        )
    for dirpath, dirnames, filenames in os.walk(executed, followlinks=False):
        for name in dirnames + filenames:
            found = Path(dirpath) / name
            if found.is_symlink():
                raise UsageError(
                    f"{found} is a symbolic link; paperpack writes the executed notebooks in "
                    f"{executed} and never through a link",
                    hint=f"remove {executed} (paperpack makes it again), or pass --out-dir with a new folder",
                    path=found,
                )


def _check_out_dir_placement(out: Path, repo_root: Path) -> None:
    target, root = out.resolve(), repo_root.resolve()
    if target == root or root.is_relative_to(target):
        raise UsageError(
            f"the output folder {out} is the repository or holds it; paperpack never writes over sources",
            hint=f"pass --out-dir with a new folder, e.g. {root / DEFAULT_OUTPUT}",
        )
    if (
        target.is_relative_to(root)
        and target.is_dir()
        and not (target / OUTPUT_MARKER).is_file()
        and any(target.iterdir())
    ):
        raise UsageError(
            f"the output folder {out} already holds files of the repository",
            hint="pass --out-dir with a new folder (or one paperpack made before)",
        )


def _schedule(
    plan: Plan,
    runner: Engine,
    session: Session,
    scratch: Path,
    keys: dict[str, str],
    executor: Executor,
    notify: Callable[[RunEvent], None],
    result: RunResult,
    isolate: bool,
) -> dict[str, NotebookRun]:
    runs: dict[str, NotebookRun] = {}
    succeeded: set[str] = set()
    failed: set[str] = set()
    settled: set[str] = set()
    running: dict[Any, Batch] = {}
    number = 0

    def settle(run: NotebookRun) -> None:
        runs[run.path] = run
        settled.add(run.path)
        (succeeded if run.verdict not in (Verdict.FAILED, Verdict.SKIPPED) else failed).add(run.path)
        notify(
            RunEvent(kind=EventKind.DONE, path=run.path, status=run.status, verdict=run.verdict, message=run.message)
        )

    for nb in plan.notebooks:
        if nb.skip is not None:
            settle(NotebookRun(path=nb.path, status=Status.SKIPPED, verdict=Verdict.SKIPPED, message=nb.skip))
        else:
            notify(RunEvent(kind=EventKind.QUEUED, path=nb.path))
    try:
        if plan.to_run:
            session.data = data_sources(
                session.repo, session.cache_dir
            )  # once per run: it checks the hashes of in-repo data
            runner.prepare(session)
            result.isolation = runner.isolation  # what the engine applied (the local engine learns it here)
        while True:
            for nb, dep in plan.blocked(failed, settled):
                settle(
                    NotebookRun(
                        path=nb.path,
                        status=Status.SKIPPED,
                        verdict=Verdict.SKIPPED,
                        message=f"not run: it depends on {dep}, which did not succeed",
                    )
                )
            in_flight = {nb.path for batch in running.values() for nb in batch.notebooks}
            ready = [nb for nb in plan.ready(succeeded, settled) if nb.path not in in_flight]
            for group in [[nb] for nb in ready] if isolate else [ready] if ready else []:
                batch = Batch(number=number, notebooks=group, keys=keys)
                number += 1
                running[executor.submit(runner.run_batch, session, batch)] = batch
            if not running:
                break
            for future in executor.wait_first(running):
                batch = running.pop(future)
                for run in _collect(batch, future.result(), session, result.out_dir):
                    settle(run)
    except KeyboardInterrupt:
        log.warning("interrupted: stopping every running notebook")
        result.complete = False
        session.cancelled.set()
        runner.cancel()
        for future, batch in running.items():
            try:
                facts = future.result()
            except Exception as exc:  # noqa: BLE001 - report what we have
                facts = {"exit_code": None, "output": str(exc)}
            for run in _collect(batch, facts, session, result.out_dir):
                settle(run)
    finally:
        executor.shutdown(wait=True)
    return runs


def _collect(batch: Batch, facts: dict[str, Any], session: Session, out_dir: Path) -> list[NotebookRun]:
    """Each notebook's run from what came back on the runner's channel (never from files it could write)."""
    runs = []
    deliveries: dict[str, Delivery] = facts.get("deliveries") or {}
    for nb in batch.notebooks:
        delivery = deliveries.get(batch.keys[nb.path]) or Delivery()
        problems = list(delivery.problems)  # each fails the notebook; a signed, well-formed result still explains it
        run = interpret(
            nb,
            delivery.result,
            facts,
            session.limits,
            session.cancelled.is_set(),
            root=session.repo.root,
            image=session.image,
            environment=session.repo.environment,
        )
        executed: Path | None = None
        if delivery.notebook is not None and not problems:
            try:
                run.executed = _publish(delivery.notebook, out_dir, nb)
                executed = out_dir / run.executed
            except UsageError as exc:
                problems.append(f"its executed copy was not written: {exc}")
        if problems:
            run.status = Status.ERROR if run.status == Status.OK else run.status
            run.verdict = Verdict.FAILED
            refused = "what came back from the run was refused: " + "; ".join(problems)
            run.message = f"{run.message} — {refused}" if run.message else refused
        judge(run, nb, session.repo.root / nb.path, executed)
        runs.append(run)
    return runs


#: the mode of every executed copy, whatever was there before
EXECUTED_MODE = 0o644


def _publish(data: bytes, out_dir: Path, nb: PlannedNotebook) -> str:
    """Write the executed notebook to ``out_dir/executed/<path>`` atomically, through no link; return that path.

    Every folder below ``out_dir`` is created or opened without following links (a link
    there is refused), the file gets :data:`EXECUTED_MODE`.
    """
    rel = Path("executed") / nb.path
    write_atomic(
        out_dir / rel,
        data,
        within=out_dir,
        mode=EXECUTED_MODE,
        hint=f"remove {out_dir / 'executed'} (paperpack rewrites it), or pass --out-dir with a new folder",
    )
    return rel.as_posix()
