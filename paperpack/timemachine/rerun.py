"""The dated rerun: after the declared environment failed the way drift fails, run again as of the date.

The declared run's verdict stays the primary one. :func:`dated_rerun` decides whether to try
(``--as-of auto``: at least one failure :func:`~paperpack.timemachine.drift.classify` calls
drift; ``--as-of DATE``: always; ``off``: never), finds the date, resolves the requirements as of
it (cached), builds a second local environment from the dated pins (cached by their content) and
runs the notebooks again into ``<out>/as-of-DATE/``. :class:`DatedRun` carries the outcome, the
versions that differ and the sentence for the report.

After a run in a container, the dated environment is a second image: the offline buildpack builds a
copy of the repository whose requirements.txt holds the dated pins (content-tagged like any image, so
a second time it is reused), with the Python of the first image; the notebooks of the repository
itself then run in it, in a container like the first run. (Never with the local engine: running the
paper's code outside the container because the container run failed would lower its isolation.)
An image built in binder mode gets its twin in binder mode (stock repo2docker, :meth:`DatedSource.binder_scratch_files`:
the pins in place, the Python of the date from :func:`~paperpack.timemachine.sources.binder_python`). An
environment.yml is dated as the offline build installs it (:mod:`.sources`): its conda entries under their
PyPI names and its pip entries, resolved together; the scratch copy's environment file holds the pins.
The local engine does not install an environment.yml, so it gets no dated rerun of one. A repository
that declares no Python gets, in its dated image, the Python of its date when a base image here provides it
(:func:`~paperpack.timemachine.sources.dated_python`); ``run.dated.python_note`` says which and why.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..environment import Environment, detect
from ..errors import BuildError, EngineError
from ..image.builder import BuildMode
from ..notebook.verdicts import Verdict
from ..repository.repo import Repo
from ..run.api import run_notebooks
from ..run.engines import EngineName, EngineRegistry
from ..run.local import LocalEngine
from ..run.plan import Limits
from ..run.results import NotebookRun, RunEvent, RunResult
from ..run.runner import skip_entries
from ..run.venv import choose_python
from ..util.words import Word
from .asof import AsOf, AsOfChoice, AsOfMode, repository_date
from .drift import Drift, classify, failure_of
from .resolve import DatedResolution, ResolutionStatus, resolve_as_of
from .sources import DatedSource, PythonChoice, SourceKind, binder_python, dated_python, dated_source

__all__ = ["DatedOutcome", "DatedRun", "dated_rerun", "drifted", "dated_image", "PAPER_CLASS"]

log = logging.getLogger(__name__)

#: the paper-level class a journal can quote when only the dated environment reproduces the paper
PAPER_CLASS = "reproduced with dated dependencies"


class DatedOutcome(Word):
    REPRODUCED = "reproduced"  #: every notebook runs with the dated dependencies, same results
    DIFFERS = "runs-with-differences"  #: every notebook runs, some results differ
    NOT_REPRODUCED = "not-reproduced"  #: notebooks still fail with the dated dependencies
    UNRESOLVABLE = "unresolvable"  #: the requirements cannot be resolved as of the date
    NOT_TRIED = "not-tried"  #: no date, another engine, nothing to resolve (``reason`` says which)


@dataclass
class DatedRun:
    outcome: DatedOutcome
    declared_ok: bool  #: whether the declared environment reproduced the paper (the primary verdict)
    as_of: AsOf | None = None
    drift: dict[str, Drift] = field(default_factory=dict)  #: failed notebook → the drift it looks like
    resolution: DatedResolution | None = None
    result: RunResult | None = None
    reason: str = ""  #: why it was not tried, or could not be resolved
    source: DatedSource | None = None  #: what was resolved (which file the fix pins)
    python_choice: str = ""  #: which Python the dated image has and why, when the repository declares none

    @property
    def paper_class(self) -> str | None:
        """:data:`PAPER_CLASS` when only the dated environment reproduced the paper, else ``None``."""
        return PAPER_CLASS if self.outcome is DatedOutcome.REPRODUCED and not self.declared_ok else None

    @property
    def fix(self) -> str | None:
        """The command that writes the dated pins into the repository."""
        if self.outcome not in (DatedOutcome.REPRODUCED, DatedOutcome.DIFFERS) or self.as_of is None:
            return None
        lock = f"paperpack lock PATH --as-of {self.as_of.date}"
        if self.source is not None and self.source.kind is SourceKind.PACKAGE:
            return f"{lock} (it prints the pins to commit as requirements.txt)"
        source, resolution = self.source, self.resolution
        by_hand = source.conda_pins(resolution.versions) if source and resolution else []
        if source is not None and by_hand:
            return f"{lock} --write (the pip section); pin the conda entries of {source.rel}: {', '.join(by_hand)}"
        return f"{lock} --write"

    def verdict(self) -> str:
        """The sentence for the report: the declared verdict first, then what the date gave."""
        head = "reproduced as declared" if self.declared_ok else "not reproduced as declared"
        date = self.as_of.date if self.as_of else None
        changes = self.resolution.changes if self.resolution else []
        shown = ", ".join(str(c) for c in changes[:6]) + (f", … ({len(changes)} in all)" if len(changes) > 6 else "")
        versions = f" ({shown})" if shown else ""
        if self.outcome is DatedOutcome.REPRODUCED:
            return f"{head}; reproduced with dependencies as of {date}{versions}"
        if self.outcome is DatedOutcome.DIFFERS:
            return f"{head}; with dependencies as of {date} every notebook runs, but results differ{versions}"
        if self.outcome is DatedOutcome.NOT_REPRODUCED:
            failed = sum(1 for nb in (self.result.notebooks if self.result else []) if nb.verdict == Verdict.FAILED)
            return (
                f"{head}, nor with dependencies as of {date}: {failed} notebook(s) still fail, so the failure "
                f"is not (only) dependency drift"
            )
        if self.outcome is DatedOutcome.UNRESOLVABLE:
            return f"{head}; the dependencies cannot be resolved as of {date}: {self.reason}"
        return f"{head}; not retried with dated dependencies: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        res = self.resolution
        return {
            "outcome": self.outcome.value,
            "verdict": self.verdict(),
            "paper_class": self.paper_class,
            "as_of": self.as_of.to_dict() if self.as_of else None,
            "drift": {path: d.to_dict() for path, d in sorted(self.drift.items())},
            "python": res.python if res else None,
            "python_note": " ".join(n for n in (self.python_choice, res.python_note if res else None) if n) or None,
            "changes": [c.to_dict() for c in res.changes] if res else [],
            "reason": self.reason or None,
            "fix": self.fix,
            "run": self.result.to_dict() if self.result else None,
        }


def drifted(result: RunResult) -> dict[str, Drift]:
    """The failed notebooks of ``result`` whose error looks like drift."""
    found = {}
    for nb in result.notebooks:
        if nb.verdict != Verdict.FAILED:
            continue
        drift = classify(failure_of(nb.error, nb.path, nb.status))
        if drift is not None:
            found[nb.path] = drift
    return found


def _outcome(runs: list[NotebookRun]) -> DatedOutcome:
    if any(nb.verdict == Verdict.FAILED for nb in runs):
        return DatedOutcome.NOT_REPRODUCED
    if any(nb.verdict == Verdict.DIFFERS for nb in runs):
        return DatedOutcome.DIFFERS
    return DatedOutcome.REPRODUCED


def dated_rerun(
    repo: Repo,
    result: RunResult,
    choice: AsOfChoice,
    *,
    jobs: int | None = None,
    parameters: dict[str, object] | None = None,
    limits: Limits | None = None,
    progress: Callable[[RunEvent], None] | None = None,
    offline: bool = False,
) -> DatedRun | None:
    """Rerun ``repo``'s notebooks with dependencies as of the date, when ``choice`` and ``result`` call for it.

    ``None`` when nothing is to be tried (``off``, or ``auto`` and no failure at all); otherwise a
    :class:`DatedRun` saying what happened, including why it was not tried.
    """
    declared_ok = not any(nb.verdict in (Verdict.FAILED, Verdict.DIFFERS) for nb in result.notebooks)
    if choice.mode is AsOfMode.OFF or (
        choice.mode is AsOfMode.AUTO and not any(nb.verdict == Verdict.FAILED for nb in result.notebooks)
    ):
        return None
    drift = drifted(result)
    if choice.mode is AsOfMode.AUTO and not drift:
        return DatedRun(DatedOutcome.NOT_TRIED, declared_ok, reason="no failure looks like dependency drift")
    as_of = repository_date(
        repo.root, notebooks=repo.notebooks, manifest=repo.manifest.data if repo.manifest else None, given=choice.date
    )
    if as_of is None:
        return DatedRun(
            DatedOutcome.NOT_TRIED,
            declared_ok,
            drift=drift,
            reason="no date: not a git repository, and paperpack.yml states no environment.as_of "
            "(give one with --as-of YYYY-MM-DD)",
        )
    env = detect(repo.root)
    source = dated_source(repo.root, env, packages=result.engine == EngineName.DOCKER)
    if isinstance(source, str):
        return DatedRun(DatedOutcome.NOT_TRIED, declared_ok, as_of, drift, reason=source)
    if source.kind is SourceKind.ENVIRONMENT_YML and result.engine != EngineName.DOCKER:
        return DatedRun(
            DatedOutcome.NOT_TRIED,
            declared_ok,
            as_of,
            drift,
            reason=(
                f"the local engine does not install {source.rel} (an environment file is built into an image: "
                f"run with --engine docker --mode offline for a dated image; `paperpack lock PATH --as-of "
                f"{as_of.date}` shows the dated pins of its pip section)"
            ),
        )
    labels = _image_labels(result.image) if result.engine == EngineName.DOCKER and result.image else {}
    mode = labels.get(f"{_LABELS}.mode")
    if result.engine == EngineName.DOCKER and mode not in (BuildMode.OFFLINE, BuildMode.BINDER):
        return DatedRun(
            DatedOutcome.NOT_TRIED,
            declared_ok,
            as_of,
            drift,
            reason=f"a dated image is built like the declared one, and {result.image} is not an image "
            "`paperpack build` made (build with --mode offline or --mode binder)",
        )
    python = labels.get(f"{_LABELS}.python") or choose_python(repo.root).version
    if result.engine != EngineName.DOCKER:
        pick = PythonChoice(python)
    elif mode == BuildMode.BINDER:
        declared = _declared_python(repo, env)
        pick = binder_python(as_of.date, declared=declared, used=python, runtime_file=bool(env.runtime.name))
    else:
        pick = _image_python(repo, env, as_of, python)
    resolution = resolve_as_of(source.text, as_of, pick.version, offline=offline, extra=source.extra)
    if resolution.status is not ResolutionStatus.RESOLVED:
        outcome = DatedOutcome.UNRESOLVABLE if resolution.status is ResolutionStatus.FAILED else DatedOutcome.NOT_TRIED
        return DatedRun(
            outcome,
            declared_ok,
            as_of,
            drift,
            resolution,
            reason=resolution.reason,
            source=source,
            python_choice=pick.note,
        )
    log.warning(
        "rerunning the notebooks with dependencies as of %s, the %s (%s)",
        as_of.date,
        as_of.detail,
        ", ".join(str(c) for c in resolution.changes[:4]) or "no version differs",
    )
    out = Path(result.out_dir) / f"as-of-{as_of.date}"
    try:
        if result.engine == EngineName.DOCKER:
            ask = pick.version if pick.ask else None
            if mode == BuildMode.BINDER:
                files = source.binder_scratch_files(
                    repo.root, env, resolution.text, resolution.versions, str(as_of.date), ask
                )
                image = dated_image(repo, files, mode=BuildMode.BINDER)
            else:
                image = dated_image(repo, source.scratch_files(resolution.text, str(as_of.date), ask))
            dated = run_notebooks(
                repo,
                engine=EngineName.DOCKER,
                image=image,
                out_dir=out,
                jobs=jobs,
                parameters=parameters,
                limits=limits,
                progress=progress,
            )
        else:
            registry = EngineRegistry()
            registry.register(EngineName.LOCAL, lambda: _dated_engine(resolution.text))
            dated = run_notebooks(
                repo,
                engine=EngineName.LOCAL,
                out_dir=out,
                jobs=jobs,
                parameters=parameters,
                limits=limits,
                progress=progress,
                registry=registry,
            )
    except (BuildError, EngineError) as exc:  # the declared verdict stands; say why no dated one came
        log.warning("the dated environment could not be made: %s", exc)
        return DatedRun(
            DatedOutcome.NOT_TRIED,
            declared_ok,
            as_of,
            drift,
            resolution,
            reason=f"the environment with the dated pins could not be built: {exc}",
            source=source,
            python_choice=pick.note,
        )
    return DatedRun(
        _outcome(dated.notebooks), declared_ok, as_of, drift, resolution, dated, source=source, python_choice=pick.note
    )


_LABELS = "io.paperpack"


def _image_python(repo: Repo, env: Environment, as_of: AsOf, used: str) -> PythonChoice:
    """The Python of the dated image (:func:`~paperpack.timemachine.sources.dated_python`): a repository that
    declares none (no runtime.txt, environment.yml ``python=``, paperpack.yml ``environment.python`` or
    ``base_image``) gets the Python of its date when a base image on this machine provides it."""
    from ..image.baseimage import base_image_tag
    from ..util.docker import image_id

    return dated_python(
        as_of.date,
        declared=_declared_python(repo, env),
        used=used,
        runtime_file=bool(env.runtime.name),
        present=lambda release: image_id(base_image_tag(release)) is not None,
    )


def _declared_python(repo: Repo, env: Environment) -> str | None:
    """The Python (or base image) the repository declares: runtime.txt, environment.yml ``python=``, paperpack.yml
    ``environment.python`` or ``base_image``; ``None`` when it declares none."""
    settings = ((repo.manifest.data if repo.manifest else None) or {}).get("environment") or {}
    declared = env.python_version or settings.get("python") or settings.get("base_image")
    return str(declared) if declared else None


def _image_labels(image: str) -> dict[str, str]:
    from ..util.docker import image_inspect

    info = image_inspect(image) or {}
    return dict((info.get("Config") or {}).get("Labels") or {})


def dated_image(repo: Repo, files: dict[str, str], mode: BuildMode = BuildMode.OFFLINE) -> str:
    """The image of ``repo`` (built in ``mode``) with ``files`` (relative path → text: the dated environment
    file) in place of the repository's: built from a scratch copy (the repository is never written),
    content-tagged, so built once per set of pins."""
    from ..image.builder import build_image

    with tempfile.TemporaryDirectory(prefix="paperpack-dated-") as scratch:
        copy = Path(scratch) / repo.root.name  # the same folder name: the same image repository name
        shutil.copytree(repo.root, copy, symlinks=True, ignore=skip_entries)
        for rel, text in files.items():
            target = copy / rel
            target.unlink(missing_ok=True)  # a link in the copy: never written through
            target.write_text(text, encoding="utf-8")
        built = build_image(Repo.open(copy), mode=mode, allow_substitution=False)
    log.info("dated image %s (%s)", built.image, "reused" if built.reused else f"built in {built.duration:.0f} s")
    return built.image


def _dated_engine(requirements: str) -> LocalEngine:
    engine = LocalEngine()
    engine.requirements = requirements
    return engine
