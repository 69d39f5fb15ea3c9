"""``paperpack lock``: the dated pins, as a change to the repository's requirements.txt, or to the
``pip:`` section of its environment.yml when repo2docker uses that (:mod:`.envyml`). The dependencies of
the package repo2docker installs (setup.py, pyproject.toml) are resolved with requirements.txt and pinned in
its block of pulled-in distributions; without a requirements.txt, the pins are only printed, for the author
to commit as one (Python source and package metadata are never rewritten). A Pipfile (without a Pipfile.lock,
which already pins everything) is pinned in its own lines (:mod:`.pipfile`).

:func:`plan_lock` resolves and returns the new text and its diff without writing
anything; :func:`write_lock` writes it atomically (through no link, inside the
repository), and only when asked (the command's ``--write``).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from ..environment import Environment, detect
from ..errors import ConfigError, DatedResolutionError
from ..repository.files import read_repo_text
from ..run.venv import requirements_file, requirements_text
from ..util.atomic import write_atomic
from .asof import AsOf, repository_date
from .envyml import pin_pip_section, pip_section
from .pins import unified_diff
from .pipfile import pin_pipfile, pipfile_section
from .resolve import DatedResolution, ResolutionStatus, resolve_as_of
from .sources import PACKAGE_FILES, package_requirements

__all__ = ["LockPlan", "plan_lock", "write_lock", "target_python", "date_for"]

log = logging.getLogger(__name__)


@dataclass
class LockPlan:
    root: Path
    path: Path  #: the requirements file, or the environment.yml
    old: str
    new: str
    resolution: DatedResolution
    #: the package file (setup.py, pyproject.toml) whose dependencies are pinned in a requirements.txt that does
    #: not exist: paperpack lock prints it for the author to commit, and never writes it (nor the package file)
    package_file: str | None = None

    @property
    def rel(self) -> str:
        return self.path.relative_to(self.root).as_posix()

    @property
    def changed(self) -> bool:
        return self.old != self.new

    def diff(self) -> str:
        return unified_diff(self.old, self.new, self.rel)


def target_python(root: Path, env: Environment | None = None) -> str:
    """The Python the repository asks for (runtime.txt …), else the one running paperpack ("3.11").
    ``env``: the repository's environment, when the caller has detected it already."""
    asked = ".".join(((env or detect(root)).python_version or "").split(".")[:2])
    return asked if asked.count(".") == 1 else "%d.%d" % sys.version_info[:2]


def date_for(root: Path, notebooks: list[str], manifest: dict[str, object] | None, given: dt.date | None) -> AsOf:
    """The date (:func:`~paperpack.timemachine.asof.repository_date`), or an error saying how to give one."""
    as_of = repository_date(root, notebooks=notebooks, manifest=manifest, given=given)
    if as_of is None:
        raise ConfigError(
            f"no date for {root}: it is not a git repository with a commit that changed a notebook or an "
            "environment file, paperpack.yml states no environment.as_of, and no paper.doi whose metadata "
            "gives the day of publication",
            hint="give the date with --as-of YYYY-MM-DD, or state it in paperpack.yml (environment: as_of: …)",
            path=root,
        )
    return as_of


def plan_lock(root: Path, as_of: AsOf, *, python: str | None = None, offline: bool = False) -> LockPlan:
    """Resolve the repository's requirements.txt (or its environment.yml's pip section) as of ``as_of``;
    nothing is written."""
    env = detect(root)
    req = requirements_file(root, env)
    conda_file = env.conda_file if req is None else None
    linked = next((n for n in ("environment.yml", "environment.yaml") if env.linked_out(n)), None)
    if req is None and conda_file is None and linked is not None:
        conda_file = env.path(linked)  # refused below by the no-follow reader, never followed
    extra = package_requirements(env)
    python = python or target_python(root, env)
    if req is None and conda_file is None:
        if env.buildpack == "PipfileBuildPack":
            return _pipfile_plan(root, env, as_of, python, offline)
        if not extra:
            raise DatedResolutionError(
                f"{root} has no requirements.txt (in binder/, .binder/ or the root), environment.yml, Pipfile, "
                "nor a setup.py or pyproject.toml with dependencies to pin",
                hint="paperpack lock pins requirements.txt, the pip section of environment.yml, a Pipfile or a "
                "package's dependencies; declare the dependencies there first",
                path=root,
            )
        package = next(f for f in PACKAGE_FILES if f in env.files)  # setup.py / pyproject.toml: never rewritten
        resolution = _resolved("", as_of, python, offline, root / package, root, extra)
        return LockPlan(root, root / "requirements.txt", "", resolution.text, resolution, package)
    if conda_file is not None:
        path = root / conda_file
        text = read_repo_text(root, conda_file)  # an EnvironmentFileError for a link out of the repository
        section = pip_section(root, env, conda_file, text)
        resolution = _resolved(section.requirements, as_of, python, offline, path, root)
        return LockPlan(root, path, section.text, pin_pip_section(section, resolution.text), resolution)
    assert req is not None
    text = requirements_text(root, req)
    resolution = _resolved(text, as_of, python, offline, req, root, extra)
    return LockPlan(root, req, text, resolution.text, resolution)


def _pipfile_plan(root: Path, env: Environment, as_of: AsOf, python: str, offline: bool) -> LockPlan:
    locked, rel = env.uses("Pipfile.lock"), env.uses("Pipfile")
    if locked is not None or rel is None:
        raise DatedResolutionError(
            f"{locked or env.path('Pipfile.lock')} pins every version pipenv installs, so there is nothing to pin "
            "as of a date",
            hint="to move it to the versions of a date, delete Pipfile.lock and run paperpack lock "
            "on the Pipfile (then `pipenv lock`)",
            path=root / (locked or env.path("Pipfile.lock")),
        )
    text = read_repo_text(root, rel)  # an EnvironmentFileError for a link out of the repository
    section = pipfile_section(root, rel, text)
    resolution = _resolved(section.requirements, as_of, python, offline, root / rel, root)
    return LockPlan(root, root / rel, text, pin_pipfile(section, resolution.versions, str(as_of.date)), resolution)


def _resolved(
    text: str, as_of: AsOf, python: str, offline: bool, path: Path, root: Path, extra: tuple[str, ...] = ()
) -> DatedResolution:
    resolution = resolve_as_of(text, as_of, python, offline=offline, extra=extra)
    if resolution.status is not ResolutionStatus.RESOLVED:
        rel = path.relative_to(root).as_posix()
        note = f" ({resolution.python_note})" if resolution.python_note else ""
        raise DatedResolutionError(
            f"could not resolve {rel} as of {as_of.date} for Python {python}: {resolution.reason}{note}",
            hint="choose a later date with --as-of, pin the package to a release that has a wheel for this "
            "Python, or state an older Python in runtime.txt (in environment.yml: `- python=X.Y`; in a Pipfile: "
            '`python_version = "X.Y"` under [requires])',
            path=path,
        )
    return resolution


def write_lock(plan: LockPlan) -> None:
    """Write the pinned requirements (or environment file) in place of the file, atomically."""
    if plan.package_file is not None:
        raise DatedResolutionError(
            f"paperpack lock does not write the dependencies of {plan.package_file} (it never rewrites a package's "
            f"files, and {plan.rel} does not exist)",
            hint=f"commit the pins it printed as {plan.rel}: repo2docker installs it before the package",
            path=plan.path,
        )
    write_atomic(
        plan.path,
        plan.new,
        within=plan.root,
        hint=f"paperpack lock writes {plan.rel}; it must be a regular file inside the repository",
    )
    log.info("wrote the dated pins to %s", plan.path)
