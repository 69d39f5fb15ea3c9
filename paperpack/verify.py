"""``verify``: the whole verification of a paper's repository as one library call.

validate → data → image → run → compare → reports. The command line (``paperpack build``
and ``paperpack run``), batch mode and the CI action all call :func:`verify` with typed
:class:`VerifyOptions` and render the typed :class:`Result`; nothing here reads argparse
or prints. The repository is opened (and walked) once, every stage reads the same
:class:`~paperpack.repository.repo.Repo`, and one ``report.json`` per output folder is written at the
end, merged with what an earlier command wrote there (:mod:`paperpack.report.merge`).
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checks.findings import Findings
from .errors import BuildError, DataError, DoiError, EngineError, PaperpackError, UsageError
from .report import Report
from .report.merge import Section, merge_reports, read_previous
from .report.paper import PaperVerdict, paper_verdict
from .report.publish import Published
from .repository.repo import Repo, default_output, untrusted_from_env
from .util.atomic import write_json_atomic

if TYPE_CHECKING:  # the run package is imported when a run starts: `import paperpack` stays light
    from .image.builder import BuildResult
    from .run.engines import EngineChoice
    from .run.plan import Limits
    from .run.results import RunEvent, RunResult
    from .timemachine import AsOfChoice

__all__ = [
    "verify",
    "VerifyOptions",
    "ValidateSettings",
    "BuildSettings",
    "RunSettings",
    "Stage",
    "ALL_STAGES",
    "Result",
    "Observer",
    "ENGINES",
    "REPORT_NAME",
    "NOT_LOCAL",
]

log = logging.getLogger(__name__)

#: ``RunSettings.engine``: docker, local, or auto (the engine policy of :func:`~paperpack.run.engines.choose_engine`)
ENGINES = ("auto", "docker", "local")
#: the report in the output folder
REPORT_NAME = "report.json"
#: added to the hint of a failed build with ``engine="auto"``
NOT_LOCAL = (
    "The notebooks were not run: with a Docker daemon, --engine auto never runs them without a container; "
    "pass --engine local to run them as you, knowingly"
)


class Stage(enum.Enum):
    """The stages :func:`verify` can run; compare and the report always follow a run."""

    VALIDATE = "validate"  # the checks of `paperpack validate`
    DATA = "data"  # fetch declared data missing from the repository and the cache (before the image)
    IMAGE = "image"  # build (or reuse) the container image; with engine auto and no Docker: none
    RUN = "run"  # run every notebook and compare it with its committed outputs


#: ``paperpack build``: everything; ``paperpack run`` is ``{Stage.RUN}``
ALL_STAGES = frozenset(Stage)


@dataclass(frozen=True)
class ValidateSettings:
    offline: bool = True  # DOIs: syntax and cache only (`paperpack validate` resolves them)
    strict: bool = False  # warnings fail the verification too


@dataclass(frozen=True)
class BuildSettings:
    mode: str = "auto"  # auto, binder or offline (see docs/build.md)
    force: bool = False  # rebuild even when the image of this content exists
    push: bool = False
    image_name: str | None = None  # e.g. ghcr.io/me/paper (default paperpack/<folder name>)
    allow_python_substitution: bool | None = None  # None: the manifest decides
    ca_bundle: Path | None = None  # default: from PIP_CERT, REQUESTS_CA_BUNDLE, …
    timeout: float | None = None  # seconds; default build.builder.build_timeout()

    def __post_init__(self) -> None:
        from .image.builder import MODES  # here: the builder imports repo2docker's helpers

        if self.mode not in MODES:
            raise UsageError(
                f"build mode {self.mode!r} is not one of {', '.join(MODES)}",
                hint="use auto (the default), binder or offline",
            )


@dataclass(frozen=True)
class RunSettings:
    engine: str = "auto"  # one of ENGINES
    image: str | None = None  # run in this image (default: the one `paperpack build` made for this state)
    jobs: int | None = None  # notebooks at once (default: run.jobs in paperpack.yml, else the cores)
    parameters: Mapping[str, Any] = field(default_factory=dict)  # injected after the `parameters` cell
    limits: Limits | None = None  # None: the manifest's run section, then the defaults
    isolate: bool = False  # one container per notebook
    untrusted: bool | None = None  # None: PAPERPACK_UNTRUSTED; True: the output folder goes outside the repo
    out_dir: Path | None = None  # executed notebooks and report.json (default: repo.default_output)
    allow_differs: bool = False  # "differs" does not fail the verification

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise UsageError(
                f"engine {self.engine!r} is not one of {', '.join(ENGINES)}",
                hint="use auto (the default), docker or local",
            )
        if self.jobs is not None and self.jobs < 1:
            raise UsageError(f"jobs must be a whole number above 0, got {self.jobs}", hint="pass jobs=1 or more")


class Observer:
    """What :func:`verify` says as it goes (the CLI's subclass draws it); each method here does nothing.

    Called from the calling thread, except :meth:`run_event`, which comes from the
    threads running notebooks.
    """

    def validated(self, report: Report) -> None:
        """Validation finished with these findings."""

    def engine_chosen(self, choice: EngineChoice) -> None:
        """The engine (and image) decided, with its note when auto chose the less isolated local engine."""

    def message(self, text: str) -> None:
        """A line of progress (data being fetched)."""

    def build_started(self, repo: Repo) -> Callable[[str], None]:
        """The image build starts; return what receives its output lines."""
        return lambda line: None

    def build_finished(self, result: BuildResult | None) -> None:
        """The build ended (``None``: it failed and the error follows). Always called after build_started."""

    def run_started(self) -> None:
        """The notebooks start running."""

    def run_event(self, event: RunEvent) -> None:
        """A notebook was queued, started, reached a cell, finished."""

    def run_finished(self) -> None:
        """The run ended (also when interrupted or failed). Always called after run_started."""


@dataclass(frozen=True)
class VerifyOptions:
    """What :func:`verify` does. The defaults are ``paperpack build PATH``'s."""

    stages: frozenset[Stage] = ALL_STAGES
    validate: ValidateSettings = field(default_factory=ValidateSettings)
    build: BuildSettings = field(default_factory=BuildSettings)
    run: RunSettings = field(default_factory=RunSettings)
    cache_dir: Path | None = None  # paperpack's cache folder, as PAPERPACK_CACHE_DIR (default: cache.cache_dir())
    progress: Observer | None = None
    as_of: AsOfChoice | None = None  # the time machine (--as-of): None or off never reruns as of a date
    shown_path: str | None = None  # the repository as the user wrote it, for hints (default: its root)

    def __post_init__(self) -> None:
        if Stage.IMAGE in self.stages and Stage.RUN not in self.stages and self.run.engine == "local":
            raise UsageError(
                "--engine local --no-run: nothing to do (the local engine builds no image)",
                hint="drop --no-run to run the notebooks, or use --engine docker to build the image",
            )


@dataclass
class Result:
    """What :func:`verify` found: each stage's typed result, the engine choice and the report written."""

    root: Path
    options: VerifyOptions
    validation: Report | None = None  # findings, environment, what was checked (None: not validated)
    build: BuildResult | None = None  # None: no image built (run stage only, or the local engine)
    run: RunResult | None = None  # None: the notebooks were not run
    engine: EngineChoice | None = None  # the engine and image, and why (note) when auto chose local
    report: dict[str, Any] = field(default_factory=dict)  # report.json as written (merged)
    report_path: Path | None = None
    published: Published | None = None  # the other report files (report/publish.py), after report.json
    failure: str | None = None  # why nothing ran: the build or the data failed (the error raised, in words)

    @property
    def verdict(self) -> PaperVerdict:
        """The paper-level verdict (reproduced, … not run) of this verification's run."""
        return paper_verdict(self.run, build_failed=self.failure is not None)

    @property
    def findings(self) -> Findings:
        return self.validation.findings if self.validation is not None else Findings()

    @property
    def complete(self) -> bool:
        """False when the run was interrupted (the report is marked incomplete)."""
        return self.run is None or self.run.complete

    @property
    def validation_failed(self) -> bool:
        """Validation errors (with ``strict``: warnings too)."""
        findings = self.findings
        return bool(findings.errors or (self.options.validate.strict and findings.warnings))

    @property
    def run_failed(self) -> bool:
        """A notebook failed, or (unless ``allow_differs``) gave different results."""
        from .run.results import FAILING_VERDICTS

        if self.run is None:
            return False
        bad = {"failed"} if self.options.run.allow_differs else set(FAILING_VERDICTS)
        return any(nb.verdict in bad for nb in self.run.notebooks)

    @property
    def passed(self) -> bool:
        return self.complete and not self.validation_failed and not self.run_failed


def verify(repo: Repo | Path | str, options: VerifyOptions | None = None) -> Result:
    """Verify the repository ``repo``: the stages ``options.stages``, in order; return what each gave.

    Raises the :class:`~paperpack.errors.PaperpackError` of a stage that cannot go on (no
    Docker when it is required, a failed build, data that cannot be fetched, the engine
    policy refusing a fallback); an interrupted run (Ctrl-C) is not an error: the result
    and the report are marked incomplete. Never writes into the repository except its
    output folder (``paperpack-out`` by default).
    """
    from .run.engines import GIVEN, EngineChoice

    options = options or VerifyOptions()
    shown = options.shown_path or (str(repo) if not isinstance(repo, Repo) else None)
    repo = repo if isinstance(repo, Repo) else Repo.open(repo)
    shown = shown or str(repo.root)
    observer = options.progress or Observer()
    stages, settings = options.stages, options.run
    result = Result(root=repo.root, options=options)
    from .run.api import prepare_out_dir

    untrusted = settings.untrusted if settings.untrusted is not None else untrusted_from_env()
    out_dir = Path(
        os.path.abspath(
            settings.out_dir if settings.out_dir is not None else default_output(repo.root, untrusted=untrusted)
        )
    )
    _check_out_dir(out_dir)  # a file or a read-only folder stops here, not after a long build

    if Stage.VALIDATE in stages:
        result.validation = _validate(repo, options)
        observer.validated(result.validation)
    if Stage.IMAGE in stages:  # the build decides the engine: docker when a daemon answers
        result.engine = _build_engine(settings.engine, runs=Stage.RUN in stages, repo=repo, build=options.build)
        observer.engine_chosen(result.engine)
    try:
        if Stage.RUN in stages and Stage.DATA in stages:  # before the build: a data problem should not wait for it
            from .data import ensure_data  # here: it imports the HTTP client

            fetched = ensure_data(repo, cache_dir=options.cache_dir, progress=observer.message)
            if fetched:
                observer.message(f"data: {len(fetched)} file(s) fetched into the cache")
        if result.engine is not None and result.engine.name == "docker":
            result.build = _build(repo, options.build, observer, auto=settings.engine == "auto")
            result.engine = EngineChoice("docker", result.build.image, GIVEN)
    except (BuildError, DataError, DoiError) as exc:  # the reports say it (not run: build-failed), then it is raised
        result.failure = _failure_text(exc)
        _write_failure_report(repo, result, out_dir)
        raise

    if Stage.RUN in stages:
        if result.engine is None:
            from .run.engines import choose_engine, default_registry

            result.engine = choose_engine(default_registry(), settings.engine, settings.image, repo=repo, path=shown)
            observer.engine_chosen(result.engine)
        result.run = _run(repo, options, result.engine, observer)
        if options.as_of is not None and result.run.complete:
            from .timemachine.rerun import dated_rerun

            result.run.dated = dated_rerun(
                repo,
                result.run,
                options.as_of,
                jobs=settings.jobs,
                parameters=dict(settings.parameters),
                limits=settings.limits,
                progress=observer.run_event,
            )
        out_dir = result.run.out_dir
    else:
        out_dir = prepare_out_dir(out_dir, repo.root)
    _write_report(repo, result, out_dir)
    return result


def _check_out_dir(out: Path) -> None:
    """Fail early, creating nothing, when the output folder cannot be made or written: a file is in the way,
    or the nearest folder that exists refuses a new entry (tried for real: root ignores permission bits)."""
    hint = "pass --out-dir with a folder you can write to"
    if out.exists() and not out.is_dir():
        raise UsageError(
            f"the output folder {out} exists and is not a folder",
            hint=f"{hint} (new or existing), or move that file away",
            path=out,
        )
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        raise UsageError(f"cannot create the output folder {out}: {existing} is not a folder", hint=hint, path=out)
    import tempfile

    try:
        os.rmdir(tempfile.mkdtemp(prefix=".paperpack-probe-", dir=existing))
    except OSError as exc:
        what = "is not writable" if existing == out else f"cannot be created in {existing}"
        raise UsageError(
            f"the output folder {out} {what}: {exc.strerror or exc}", hint=f"{hint}, or fix its permissions", path=out
        ) from None


def _failure_text(exc: PaperpackError) -> str:
    """The error that stopped the verification, as the reports carry it: message, hint, the build's last lines."""
    lines = [str(exc)]
    if exc.hint:
        lines.append(f"hint: {exc.hint}")
    tail = getattr(exc, "log_tail", None)
    if tail:
        lines += ["", str(tail)]
    return "\n".join(lines)


def _write_failure_report(repo: Repo, result: Result, out_dir: Path) -> None:
    """The reports of a verification the build (or data) stopped; never hides the error being raised."""
    try:
        from .run.api import prepare_out_dir

        _write_report(repo, result, prepare_out_dir(out_dir, repo.root))
    except (PaperpackError, OSError) as exc:
        log.warning("could not write the reports of the failed verification: %s", exc)


def _validate(repo: Repo, options: VerifyOptions) -> Report:
    from .checks import CheckContext
    from .validate import validate

    context = CheckContext(
        offline=options.validate.offline,
        resolve_dois=not options.validate.offline,
        options={"cache_dir": options.cache_dir} if options.cache_dir is not None else {},
    )
    return validate(repo, context=context)


def _build_engine(engine: str, *, runs: bool, repo: Repo, build: BuildSettings) -> EngineChoice:
    """The build's engine: docker when asked, or (auto) when this machine can build the image; else local, saying why.

    auto with a Docker daemon that cannot build yet (:func:`~paperpack.image.readiness.readiness`):
    a base image this machine can make is made first (the note says so, once: later builds
    reuse it); anything else missing (the buildx plugin, debootstrap, root) runs the
    notebooks with the local engine, as without a daemon, the note naming what is missing
    and the command that enables container builds. An explicit ``--mode`` gets no such
    fall back: the build says what is missing (exit 2).
    """
    from .image.readiness import daemon_readiness, readiness
    from .run.engines import EngineChoice, docker_available

    if engine == "local":
        return EngineChoice(engine)
    ok, why = docker_available()
    if not ok:
        if engine == "docker":
            return EngineChoice(engine)  # the build says Docker is missing (exit 2)
        daemon = daemon_readiness(why)
        if not runs:
            raise EngineError(
                f"cannot build an image: {daemon.problem}",
                hint=f"run `{daemon.fix}` (see docs/build.md), or drop --no-run to run the "
                "notebooks with the local engine",
            )
        return EngineChoice(
            "local",
            note=f"no usable container engine ({daemon.problem}): running the notebooks "
            f"with the local engine — {LOCAL_NOTE}; `{daemon.fix}` enables container "
            "builds",
        )
    ready = readiness(repo, build.mode, build.allow_python_substitution)
    if ready.make_base:
        return EngineChoice(
            "docker",
            note=f"making the base image {ready.make_base} first: it is not present yet "
            f"and this machine can make it (debootstrap of Debian {ready.release}, "
            "about a minute; made once, later builds reuse it)",
        )
    if ready.can_build or engine == "docker" or build.mode != "auto":
        return EngineChoice("docker")  # an explicit request: the build says what is missing (exit 2)
    if not runs:
        raise EngineError(f"cannot build an image here: {ready.problem}", hint=f"run `{ready.fix}`")
    return EngineChoice(
        "local",
        note=f"Docker answers but cannot build images here ({ready.problem}): running "
        f"the notebooks with the local engine — {LOCAL_NOTE}; `{ready.fix}` enables "
        "container builds",
    )


#: the end of the note when auto runs the notebooks with the local engine
LOCAL_NOTE = (
    "less isolated: notebook code runs as you, on your files (the run's report says which limits and "
    "network isolation this machine allowed)"
)


def _build(repo: Repo, settings: BuildSettings, observer: Observer, *, auto: bool) -> BuildResult:
    from .image import build_image

    sink = observer.build_started(repo)
    built = None
    try:
        built = build_image(
            repo,
            mode=settings.mode,
            force=settings.force,
            ca_bundle=settings.ca_bundle,
            push=settings.push,
            progress=sink,
            image_name=settings.image_name,
            allow_substitution=settings.allow_python_substitution,
            timeout=settings.timeout,
            make_base=True,
        )
    except (BuildError, EngineError) as exc:
        if auto:  # the notebooks did not run, and auto does not run them without a container
            exc.hint = f"{exc.hint}. {NOT_LOCAL}" if exc.hint else NOT_LOCAL
        raise
    finally:
        observer.build_finished(built)
    return built


def _run(repo: Repo, options: VerifyOptions, choice: EngineChoice, observer: Observer) -> RunResult:
    from .run.api import run_notebooks

    settings = options.run
    observer.run_started()
    try:
        return run_notebooks(
            repo,
            engine=choice,
            out_dir=settings.out_dir,
            jobs=settings.jobs,
            parameters=dict(settings.parameters),
            limits=settings.limits,
            progress=observer.run_event,
            isolate=settings.isolate,
            untrusted=settings.untrusted,
            cache_dir=options.cache_dir,
        )
    finally:
        observer.run_finished()


def _write_report(repo: Repo, result: Result, out_dir: Path) -> None:
    """``<out_dir>/report.json``: this verification's sections, merged with the earlier report's others."""
    manifest = repo.manifest.path.relative_to(repo.root).as_posix() if repo.manifest and repo.manifest.path else None
    report = result.validation or Report(root=repo.root, commit=repo.commit(), manifest=manifest)
    report.build = result.build.to_dict() if result.build is not None else None
    report.run = result.run.to_dict() if result.run is not None else None
    report.complete = result.complete
    made = {
        section
        for section, done in (
            (Section.VALIDATION, result.validation is not None),
            (Section.BUILD, result.build is not None),
            (Section.RUN, result.run is not None),
        )
        if done
    }
    path = out_dir / REPORT_NAME
    written = report.to_dict(result.options.validate.strict)
    written["paper"] = (
        dict(result.verdict.to_dict(), error=result.failure)
        if result.run is not None or result.failure is not None
        else None
    )
    result.report = merge_reports(read_previous(path, repo.root), written, made)
    write_json_atomic(path, result.report)
    result.report_path = path
    from .report.publish import Publication, publish

    result.published = publish(
        Publication(
            repo=repo,
            result=result,
            verdict=result.verdict,
            out_dir=out_dir,
            commit=report.commit,
            report=result.report,
            failure=result.failure,
        )
    )
