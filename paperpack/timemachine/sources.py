"""What a dated environment resolves, and the files that carry the dated pins into an image.

repo2docker reads one kind of environment per repository (the environment model,
:func:`paperpack.environment.detect`, says which). The time machine dates:

- ``requirements.txt`` (binder/, .binder/ or the root): its own lines;
- the dependencies of the package the repository installs (``setup.py``'s ``install_requires``,
  ``pyproject.toml``'s ``[project] dependencies``: repo2docker runs ``pip install .``), resolved with
  requirements.txt's lines; their pins go into requirements.txt's block of pulled-in distributions, or into
  a new requirements.txt when there is none (repo2docker installs it before the package; Python source is
  never rewritten);
- ``environment.yml`` (or ``.yaml``), as the offline build installs it: every conda entry under its PyPI
  name (:func:`~paperpack.image.environment.translate_environment`: ``numpy=1.24`` is ``numpy==1.24.*``)
  and every ``pip:`` entry, with the files the pip section includes with ``-r`` read in.

The text resolved is a requirements.txt text (:func:`~paperpack.timemachine.pins.pin_text` pins it);
:meth:`DatedSource.scratch_files` gives what replaces the repository's file in the scratch copy the dated
image is built from (the repository itself is never written). A Pipfile is not dated: the offline build
does not install it. For an environment.yml that is a new
environment file holding the declared Python and one ``pip:`` list of the pinned lines: the offline build
installs an environment file as one pip list in any case, so the dated image installs the same packages,
at the dated versions. A binder-mode image (stock repo2docker) gets :meth:`DatedSource.binder_scratch_files`
instead: the same requirements.txt, and an environment.yml kept as written with its entries pinned in place.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from ..environment import SUPPORTED_PYTHON, Environment
from ..environment.conda import pypi_name
from ..run.venv import requirements_file, requirements_text
from ..util.words import Word

__all__ = [
    "SourceKind",
    "DatedSource",
    "dated_source",
    "package_requirements",
    "PACKAGE_FILES",
    "PythonChoice",
    "dated_python",
    "binder_python",
    "BINDER_PYTHONS",
]


class SourceKind(Word):
    REQUIREMENTS = "requirements.txt"
    ENVIRONMENT_YML = "environment.yml"
    PACKAGE = "package"  #: setup.py / pyproject.toml alone: their dependencies, pinned in a new requirements.txt


#: the Pythons stock repo2docker (binder mode) builds as the kernel's, 3.8 to 3.14 (the environment model's)
BINDER_PYTHONS = SUPPORTED_PYTHON

#: where a package's own dependencies are declared (the environment model's ``Requirement.source``)
PACKAGE_FILES = ("setup.py", "pyproject.toml")


@dataclass(frozen=True)
class DatedSource:
    kind: SourceKind
    rel: str  #: the file repo2docker reads, relative POSIX
    text: str  #: the requirements resolved as of the date, as a requirements.txt text
    python: str | None = None  #: the Python an environment.yml declares (kept in the dated file)
    #: the dependencies of the package the repository installs (``pip install .``): resolved with :attr:`text`,
    #: their pins join the block of pulled-in distributions
    extra: tuple[str, ...] = ()
    #: an environment.yml's conda entries without a version (conda name, PyPI name): ``paperpack lock`` leaves
    #: them to the author, who pins them as :meth:`conda_pins` says
    conda: tuple[tuple[str, str], ...] = ()

    def conda_pins(self, versions: dict[str, str]) -> list[str]:
        """``numpy=1.24.3`` for each loose conda entry, at its dated version (``versions``: canonical name →)."""
        return [f"{name}={versions[pypi]}" for name, pypi in self.conda if pypi in versions]

    def scratch_files(self, pinned: str, date: str, python: str | None = None) -> dict[str, str]:
        """Relative path → text written into the scratch copy: the dated pins ``pinned`` (what
        :func:`~paperpack.timemachine.pins.pin_text` made of :attr:`text`), and ``python`` (the Python of the
        date, for a repository that declares none) where repo2docker reads it: runtime.txt beside
        requirements.txt, ``python=`` in an environment.yml."""
        if self.kind is SourceKind.ENVIRONMENT_YML:
            return {self.rel: dated_environment_yml(pinned, python or self.python, self.rel, date)}
        return self._requirements_files(pinned, python)

    def binder_scratch_files(
        self, root: Path, env: Environment, pinned: str, versions: dict[str, str], date: str, python: str | None = None
    ) -> dict[str, str]:
        """The same for a binder-mode image (stock repo2docker): requirements.txt as :meth:`scratch_files` writes
        it (and runtime.txt, ``python-X.Y``, beside it); an environment.yml kept as written but for its
        dependencies, pinned in place (:func:`~paperpack.timemachine.envyml.dated_conda_file`: conda entries
        ``name=version``, the pip section pinned, ``- python=X.Y`` added for ``python``)."""
        if self.kind is SourceKind.ENVIRONMENT_YML:
            from .envyml import dated_conda_file

            return {self.rel: dated_conda_file(root, env, self.rel, versions, date, python)}
        return self._requirements_files(pinned, python)

    def _requirements_files(self, pinned: str, python: str | None) -> dict[str, str]:
        runtime = {str(Path(self.rel).with_name("runtime.txt").as_posix()): f"python-{python}\n"} if python else {}
        return {self.rel: pinned, **runtime}


@dataclass(frozen=True)
class PythonChoice:
    """The Python of the dated image, and why (words for the report)."""

    version: str
    note: str = ""
    ask: bool = False  #: whether the scratch copy must ask for it (it is not the declared image's)


def dated_python(
    date: dt.date, *, declared: str | None, used: str, runtime_file: bool, present: Callable[[str], bool]
) -> PythonChoice:
    """The Python of the dated offline image: the declared image's (``used``) when the repository declares one
    (``declared``), else the Python current on ``date`` when an offline base image provides it and is on this
    machine (``present(release)``), else ``used``, with the reason. ``runtime_file``: the repository has a
    runtime.txt (of another language): nothing is written over it."""
    from ..image.baseimage import RELEASES, base_image_tag, make_command, release_for_python
    from .asof import python_of_date

    if declared:
        return PythonChoice(used)
    want = python_of_date(date)
    head = "the repository declares no Python"
    if want is None or want == used:
        return PythonChoice(
            used, f"{head}; Python {used} is the image's" + (f", and was current on {date}" if want == used else "")
        )
    release = release_for_python(want)
    if release is None:
        offered = ", ".join(RELEASES.values())
        why = f"the offline build does not provide it (it has {offered})"
    elif not present(release):
        why = (
            f"its base image {base_image_tag(release)} is not on this machine (make it with `{make_command(release)}`)"
        )
    elif runtime_file:
        why = "the repository's runtime.txt names another language, so no Python can be asked for"
    else:
        return PythonChoice(
            want, f"{head}; Python {want} was current on {date} (the declared image has {used})", ask=True
        )
    return PythonChoice(
        used, f"{head}; the Python current on {date} was {want}, but {why}: used Python {used}, the declared image's"
    )


def binder_python(date: dt.date, *, declared: str | None, used: str, runtime_file: bool) -> PythonChoice:
    """The Python of the dated binder-mode image: the declared image's (``used``) when the repository declares
    one or its runtime.txt names another language (nothing can be asked for), else the Python current on ``date``
    (:func:`~paperpack.timemachine.asof.python_of_date`, as offline mode picks it), or the oldest repo2docker
    offers (:data:`BINDER_PYTHONS`) for an earlier date."""
    from .asof import python_of_date

    if declared:
        return PythonChoice(used)
    head = "the repository declares no Python"
    if runtime_file:
        return PythonChoice(
            used,
            f"{head}, and its runtime.txt names another language, so no Python can be "
            f"asked for: used Python {used}, the declared image's",
        )
    want = python_of_date(date)
    if want in BINDER_PYTHONS:
        return PythonChoice(want, f"{head}; Python {want} was current on {date}", ask=True)
    oldest = BINDER_PYTHONS[0]
    return PythonChoice(
        oldest,
        f"{head}; the Python current on {date} was {want or 'older than 3.6'}, which "
        f"repo2docker no longer builds: used Python {oldest}, the oldest it offers",
        ask=True,
    )


def dated_environment_yml(pinned: str, python: str | None, rel: str, date: str) -> str:
    """An environment file whose one ``pip:`` list is the lines of ``pinned`` (options and local lines as
    they were, comments and the marker line left out), with ``python=X.Y`` when the repository's file declares it."""
    from ruamel.yaml import YAML  # here: only a dated environment.yml needs it

    lines = [line.strip() for line in pinned.splitlines()]
    pip = [line for line in lines if line and not line.startswith("#")]  # the marker too: a comment
    deps: list[object] = [f"python={python}"] if python else []
    deps += ["pip", {"pip": pip}]
    out = io.StringIO()
    out.write(f"# {rel} with its dependencies as of {date}, written by paperpack for the dated image\n")
    YAML(typ="safe", pure=True).dump({"dependencies": deps}, out)
    return out.getvalue()


def package_requirements(env: Environment) -> tuple[str, ...]:
    """The dependencies of the package repo2docker installs with ``pip install .`` (setup.py's
    ``install_requires``, pyproject.toml's ``[project] dependencies``), as written."""
    if not env.installs_repo:
        return ()
    return tuple(r.raw for r in env.requirements if r.source in PACKAGE_FILES)


def dated_source(root: Path, env: Environment, *, packages: bool = True) -> DatedSource | str:
    """What to resolve for the repository at ``root``, or the reason nothing can be (words for the report).

    ``packages``: whether the environment installs the repository's own package (an image does; the local
    engine installs requirements.txt alone), so that its dependencies are dated too."""
    extra = package_requirements(env) if packages else ()
    req = requirements_file(root, env)
    if req is not None:
        return DatedSource(
            SourceKind.REQUIREMENTS, req.relative_to(root).as_posix(), requirements_text(root, req), extra=extra
        )
    rel = env.conda_file
    if rel is not None:
        from ..errors import ConfigError
        from ..image.environment import translate_environment  # the offline build's own translation

        try:
            requirements, python = translate_environment(root, rel)
        except ConfigError as exc:
            return f"{rel} cannot be installed from PyPI, so no dated image can be built: {exc.message}"
        loose = (
            tuple((r.name, canonicalize_name(pypi_name(r.name))) for r in env.conda.conda_requirements if not r.pinned)
            if env.conda
            else ()
        )
        return DatedSource(
            SourceKind.ENVIRONMENT_YML, rel, "".join(f"{r}\n" for r in requirements), python, conda=loose
        )
    if env.buildpack == "PipfileBuildPack":
        return (
            "the repository declares its environment in a Pipfile, which the offline build does not install "
            "(repo2docker installs it with pipenv, in binder mode), so there is no dated image of it; "
            "`paperpack lock PATH --as-of DATE --write` pins its entries as of a date"
        )
    if extra:
        return DatedSource(SourceKind.PACKAGE, env.path("requirements.txt"), "", extra=extra)
    if env.installs_repo and not packages:
        files = " and ".join(f for f in PACKAGE_FILES if f in env.files)
        return (
            f"the local engine does not install the package of {files}: run with --engine docker --mode "
            "offline for a dated image"
        )
    return (
        "the repository declares no dependency to resolve as of a date (no requirements.txt, no "
        "environment.yml, no dependencies of a setup.py or pyproject.toml)"
    )
