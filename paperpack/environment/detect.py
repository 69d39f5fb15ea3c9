"""Which environment files repo2docker will use, and which it will silently ignore.

This mirrors jupyter-repo2docker 2026.4.0 (``app.py`` ``buildpacks`` and
``buildpacks/*``) without importing its ``detect()``, which needs ``chdir``: an
ordered list of small classes, the first whose :meth:`BuildPackRule.detect` is true
wins, and ``PythonBuildPack`` is the default when none does.

``detect(root)`` never raises on bad content: whatever repo2docker would refuse
(``binder/`` and ``.binder/`` both present, a malformed ``runtime.txt``…) is
recorded in :attr:`Environment.problems` for the ENV checks to report;
:meth:`Environment.check_buildable` raises it for the build and the local engine.
This is the one answer to "what will repo2docker build from here": validate, the
offline build and the local engine all read it (``repo.environment``).
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from ..errors import ConfigError, EnvironmentFileError
from ..repository.files import RepoPath, resolve_repo_path
from .files import (
    CondaEnv,
    EnvProblem,
    ProblemCode,
    Requirement,
    Runtime,
    parse_apt_txt,
    parse_environment_yml,
    parse_pipfile,
    parse_pyproject,
    parse_requirements_txt,
    parse_runtime,
    parse_setup_py,
    read_text,
)

if TYPE_CHECKING:
    from ..repository.repo import Repo

__all__ = [
    "Environment",
    "IgnoredFile",
    "Requirement",
    "EnvProblem",
    "BuildPackRule",
    "BUILDPACKS",
    "detect",
    "ENV_FILES",
    "ROOT_ONLY",
    "SUPPORTED_PYTHON",
    "LEGACY_PYTHON",
    "DEFAULT_PYTHON",
]

log = logging.getLogger(__name__)

#: repo2docker's ``buildpacks/conda/supported_python_version.py`` (3.8–3.14 have lock files).
SUPPORTED_PYTHON = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
#: Older versions repo2docker still builds, in a separate kernel environment (it ships linux-64 lock files for them).
LEGACY_PYTHON = ("2.7", "3.5", "3.6", "3.7")
#: repo2docker's default for an unspecified Python 3 (``major_pythons["3"]``).
DEFAULT_PYTHON = "3.10"

#: Every file name repo2docker looks at in the configuration folder.
ENV_FILES = (
    "Dockerfile",
    "Project.toml",
    "JuliaProject.toml",
    "REQUIRE",
    "default.nix",
    "install.R",
    "DESCRIPTION",
    "environment.yml",
    "environment.yaml",
    "Pipfile",
    "Pipfile.lock",
    "requirements.txt",
    "requirements3.txt",
    "setup.py",
    "pyproject.toml",
    "runtime.txt",
    "apt.txt",
    "postBuild",
    "start",
)
#: Files read only at the repository root, and only without a configuration folder.
ROOT_ONLY = ("setup.py", "pyproject.toml", "DESCRIPTION")
BASE_FILES = ("apt.txt", "postBuild", "start")


class IgnoredFile(NamedTuple):
    """An environment file repo2docker will not read (named fields; still unpacks as ``path, reason``)."""

    path: str
    reason: str


@dataclass
class Environment:
    """What repo2docker will build from, as paperpack understands it."""

    buildpack: str  #: repo2docker's class name, e.g. ``PythonBuildPack``
    config_dir: str  #: "", "binder" or ".binder"
    files: list[str] = field(default_factory=list)  #: environment files used (relative POSIX)
    ignored: list[IgnoredFile] = field(default_factory=list)
    language: str | None = None  #: "python", "r", "julia" or None (Dockerfile, Nix)
    kernels: set[str] = field(default_factory=set)  #: kernel languages the image serves
    python_version: str | None = None  #: from runtime.txt / environment.yml / Pipfile ("3.11")
    python_source: str | None = None  #: file that set it, None for repo2docker's default
    requirements: list[Requirement] = field(default_factory=list)
    local_packages: list[str] = field(default_factory=list)  #: normalised names the repo installs itself
    runtime: Runtime = field(default_factory=Runtime)  #: the configuration folder's runtime.txt
    problems: list[EnvProblem] = field(default_factory=list)
    defaulted: bool = False  #: no buildpack detected anything: repo2docker's default was taken
    conda: CondaEnv | None = None  #: the environment.yml (or .yaml) used, parsed
    pip_reads_repo: bool = False  #: requirements.txt installs or includes files of the repository (``-e .``, ``-r``)
    installs_repo: bool = False  #: repo2docker runs ``pip install .`` (setup.py, or pyproject.toml with a build-system)

    def path(self, name: str) -> str:
        """``name`` inside the configuration folder."""
        return f"{self.config_dir}/{name}" if self.config_dir else name

    def uses(self, name: str) -> str | None:
        """The relative path of ``name`` (in the configuration folder) when repo2docker uses it, else ``None``."""
        rel = self.path(name)
        return rel if rel in self.files else None

    def linked_out(self, name: str) -> bool:
        """Whether ``name`` (in the configuration folder) is a link out of the repository: never used, but refused
        by the build and the local engine rather than skipped."""
        return any(p.code == ProblemCode.LINK_OUTSIDE and p.path == self.path(name) for p in self.problems)

    @property
    def requirements_txt(self) -> str | None:
        """The pip requirements file repo2docker installs (``None`` when it ignores or lacks one)."""
        return self.uses("requirements.txt")

    @property
    def conda_file(self) -> str | None:
        """The conda environment file repo2docker uses (``environment.yml`` wins over ``.yaml``)."""
        return self.uses("environment.yml") or self.uses("environment.yaml")

    def check_buildable(self) -> None:
        """Raise what repo2docker raises before reading any file: one rule for the build and the local engine.

        Validate reports the same problems as findings (ENV002, ENV010) instead.
        """
        for p in self.problems:
            if p.code == ProblemCode.LINK_OUTSIDE and p.path in ("binder", ".binder"):
                raise EnvironmentFileError(
                    p.message, hint=f"replace the link {p.path} with the folder itself", path=p.path
                )
            if p.code == ProblemCode.BINDER_BOTH:
                raise ConfigError(
                    f"{p.message}", hint="keep one of binder/ and .binder/ and delete the other", path=p.path
                )

    @property
    def summary(self) -> str:
        used = ", ".join(self.files) or "no environment files"
        py = f", Python {self.python_version}" if self.python_version else ""
        where = f" from {self.config_dir}/" if self.config_dir else ""
        return f"{self.buildpack}{where}: {used}{py}" + (f"; {len(self.ignored)} ignored" if self.ignored else "")

    def to_dict(self) -> dict[str, object]:
        return {
            "buildpack": self.buildpack,
            "config_dir": self.config_dir,
            "files": list(self.files),
            "ignored": [{"path": i.path, "reason": i.reason} for i in self.ignored],
            "language": self.language,
            "kernels": sorted(self.kernels),
            "python_version": self.python_version,
            "requirements": [r.to_dict() for r in self.requirements],
            "local_packages": list(self.local_packages),
            "summary": self.summary,
        }


class _Probe:
    """The repository as one buildpack sees it: files looked up in the configuration folder."""

    def __init__(self, root: Path, config_dir: str):
        self.root = root
        self.config_dir = config_dir
        self.problems: list[EnvProblem] = []
        self._runtime: Runtime | None = None

    def rel(self, name: str) -> str:
        return f"{self.config_dir}/{name}" if self.config_dir else name

    def exists(self, name: str) -> bool:
        return self._where(self.rel(name)) is not None

    def _where(self, rel: str) -> RepoPath | None:
        """``rel`` resolved inside the repository, ``None`` (and a problem) for a link that leaves it."""
        try:
            return resolve_repo_path(self.root, rel)
        except EnvironmentFileError as exc:
            if not any(p.path == rel for p in self.problems):
                self.problems.append(EnvProblem(ProblemCode.LINK_OUTSIDE, rel, exc.message))
            return None
        except OSError:
            return None

    def root_exists(self, name: str) -> bool:
        if self.config_dir:
            return False
        where = self._where(name)
        return where is not None and where.kind == stat.S_IFREG

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime()
            text = read_text(self.root, self.rel("runtime.txt")) if self.exists("runtime.txt") else None
            if text is not None:
                try:
                    self._runtime = parse_runtime(text)
                except ValueError as exc:
                    self.problems.append(EnvProblem(ProblemCode.RUNTIME_INVALID, self.rel("runtime.txt"), str(exc), 1))
        return self._runtime

    def is_python_package(self) -> bool:
        if self.config_dir:
            return False
        if self.root_exists("setup.py"):
            return True
        if self.root_exists("pyproject.toml"):
            return parse_pyproject(self.root, "pyproject.toml").installable
        return False


class BuildPackRule:
    """One of repo2docker's buildpacks: when it is picked and which files it reads."""

    name: ClassVar[str] = ""
    language: ClassVar[str | None] = "python"
    kernels: ClassVar[frozenset[str]] = frozenset({"python"})
    #: files read in the configuration folder, in addition to apt.txt, postBuild and start
    reads: ClassVar[tuple[str, ...]] = ()

    def detect(self, p: _Probe) -> bool:
        raise NotImplementedError


class LegacyBinderDockerRule(BuildPackRule):
    name = "LegacyBinderDockerBuildPack"

    def detect(self, p: _Probe) -> bool:
        text = read_text(p.root, "Dockerfile") or ""  # repo2docker reads the root one, whatever binder/ says
        for number, line in enumerate(text.splitlines(), start=1):
            if line.startswith("FROM") and "andrewosh/binder-base" in line.split("#")[0].lower():
                p.problems.append(
                    EnvProblem(
                        ProblemCode.LEGACY_DOCKERFILE,
                        "Dockerfile",
                        "FROM andrewosh/binder-base: repo2docker removed the legacy buildpack "
                        "in January 2020 and refuses to build",
                        number,
                    )
                )
        return False


class DockerRule(BuildPackRule):
    name = "DockerBuildPack"
    language = None
    kernels = frozenset()
    reads = ("Dockerfile",)

    def detect(self, p: _Probe) -> bool:
        return p.exists("Dockerfile")


class JuliaProjectTomlRule(BuildPackRule):
    name = "JuliaProjectTomlBuildPack"
    language = "julia"
    kernels = frozenset({"python", "julia"})
    reads = (
        "Project.toml",
        "JuliaProject.toml",
        "environment.yml",
        "environment.yaml",
        "runtime.txt",
        "requirements.txt",
    )

    def detect(self, p: _Probe) -> bool:
        return p.exists("Project.toml") or p.exists("JuliaProject.toml")


class JuliaRequireRule(BuildPackRule):
    name = "JuliaRequireBuildPack"
    language = "julia"
    kernels = frozenset({"python", "julia"})
    reads = ("REQUIRE",)

    def detect(self, p: _Probe) -> bool:
        found = p.exists("REQUIRE")
        if found:
            p.problems.append(
                EnvProblem(
                    ProblemCode.JULIA_REQUIRE,
                    p.rel("REQUIRE"),
                    "Julia REQUIRE files are no longer supported by repo2docker; the build fails",
                    None,
                )
            )
        return found


class NixRule(BuildPackRule):
    name = "NixBuildPack"
    language = None
    kernels = frozenset()
    reads = ("default.nix",)

    def detect(self, p: _Probe) -> bool:
        return p.exists("default.nix")


class RRule(BuildPackRule):
    name = "RBuildPack"
    language = "r"
    kernels = frozenset({"python", "r"})
    reads = ("install.R", "DESCRIPTION", "runtime.txt", "requirements.txt", "environment.yml", "environment.yaml")

    def detect(self, p: _Probe) -> bool:
        if p.runtime.name == "r" and p.runtime.date:
            return True
        return p.root_exists("DESCRIPTION")


class CondaRule(BuildPackRule):
    name = "CondaBuildPack"
    reads = ("environment.yml", "environment.yaml")

    def detect(self, p: _Probe) -> bool:
        return p.exists("environment.yml") or p.exists("environment.yaml")


class PipfileRule(BuildPackRule):
    name = "PipfileBuildPack"
    reads = ("Pipfile", "Pipfile.lock", "runtime.txt")

    def detect(self, p: _Probe) -> bool:
        name = p.runtime.name
        if name and name != "python":
            return False
        return p.exists("Pipfile") or p.exists("Pipfile.lock")


class PythonRule(BuildPackRule):
    name = "PythonBuildPack"
    reads = ("runtime.txt", "requirements.txt")

    def detect(self, p: _Probe) -> bool:
        name = p.runtime.name
        if name:
            return name == "python"
        if p.is_python_package():
            return True
        return p.exists("requirements.txt")


#: repo2docker's ``Repo2Docker.buildpacks`` default, in order; the first match wins.
BUILDPACKS: tuple[type[BuildPackRule], ...] = (
    LegacyBinderDockerRule,
    DockerRule,
    JuliaProjectTomlRule,
    JuliaRequireRule,
    NixRule,
    RRule,
    CondaRule,
    PipfileRule,
    PythonRule,
)
DEFAULT_BUILDPACK: type[BuildPackRule] = PythonRule


def _config_dir(root: Path, problems: list[EnvProblem]) -> str:
    for name in ("binder", ".binder"):
        if (root / name).is_symlink():
            target = os.readlink(root / name)
            problems.append(
                EnvProblem(
                    ProblemCode.LINK_OUTSIDE,
                    name,
                    f"{name} is a symbolic link to {target}; paperpack "
                    "reads environment files only from a real folder of the repository",
                )
            )
    has_binder = (root / "binder").is_dir() and not (root / "binder").is_symlink()
    has_dot = (root / ".binder").is_dir() and not (root / ".binder").is_symlink()
    if has_binder and has_dot:
        problems.append(
            EnvProblem(
                ProblemCode.BINDER_BOTH,
                ".binder",
                "the repository has both binder/ and .binder/; repo2docker refuses to build (they are exclusive)",
            )
        )
    # With both, repo2docker stops (check_buildable); validate goes on with .binder/ to check its files.
    return ".binder" if has_dot else "binder" if has_binder else ""


def detect(repo: Repo | Path) -> Environment:
    """The environment repo2docker would build for ``repo``, with every file it uses and ignores.

    Prefer ``repo.environment``, which detects once per :class:`~paperpack.repository.repo.Repo`.
    """
    root = Path(repo) if isinstance(repo, (str, os.PathLike)) else repo.root
    problems: list[EnvProblem] = []
    config_dir = _config_dir(root, problems)
    probe = _Probe(root, config_dir)
    picked: type[BuildPackRule] | None = next((bp for bp in BUILDPACKS if bp().detect(probe)), None)
    env = Environment(buildpack=(picked or DEFAULT_BUILDPACK).name, config_dir=config_dir, defaulted=picked is None)
    rule = picked or DEFAULT_BUILDPACK
    env.language = rule.language
    env.kernels = set(rule.kernels)
    env.runtime = probe.runtime
    _collect(env, rule, probe)
    env.problems = problems + probe.problems + env.problems
    _ignored(env, rule, probe)
    log.debug("environment: %s", env.summary)
    return env


def _used_names(rule: type[BuildPackRule], p: _Probe) -> list[str]:
    if rule is DockerRule:
        return ["Dockerfile"]
    names = [n for n in rule.reads + BASE_FILES if p.exists(n)]
    if "environment.yml" in names and "environment.yaml" in names:
        names.remove("environment.yaml")  # repo2docker takes the first of the two
    if rule in (RRule, JuliaProjectTomlRule, PythonRule) and p.is_python_package():
        names += [n for n in ("setup.py", "pyproject.toml") if p.root_exists(n)]
    if rule is RRule and "DESCRIPTION" in names and p.config_dir:
        names.remove("DESCRIPTION")
    if "runtime.txt" in names and rule is not RRule and p.runtime.name not in (None, "python"):
        names.remove("runtime.txt")
    return sorted(names, key=ENV_FILES.index)


def _collect(env: Environment, rule: type[BuildPackRule], p: _Probe) -> None:
    names = _used_names(rule, p)
    env.files = [p.rel(n) for n in names]
    root = p.root
    runtime = p.runtime
    if "runtime.txt" in names and runtime.name == "python" and runtime.version:
        env.python_version, env.python_source = runtime.version, p.rel("runtime.txt")
    for n in ("environment.yml", "environment.yaml"):
        if n in names:
            conda = env.conda = parse_environment_yml(root, p.rel(n))
            env.requirements += conda.requirements
            env.problems += conda.problems
            env.files += [f for f in conda.included if f not in env.files]
            if conda.python and not env.python_version:
                env.python_version, env.python_source = conda.python, p.rel(n)
            if {"r-base", "r-irkernel"} & set(conda.conda_names):
                env.kernels.add("r")
    if "apt.txt" in names:
        env.problems += parse_apt_txt(root, p.rel("apt.txt")).problems
    if "requirements.txt" in names:
        pip = parse_requirements_txt(root, p.rel("requirements.txt"))
        env.requirements += pip.requirements
        env.problems += pip.problems
        env.files += [f for f in pip.files if f not in env.files]
        env.pip_reads_repo = pip.reads_repo
        if pip.local:
            env.local_packages += _local_names(root)
    if "Pipfile" in names or "Pipfile.lock" in names:
        pipenv = parse_pipfile(
            root,
            p.rel("Pipfile") if "Pipfile" in names else "",
            p.rel("Pipfile.lock") if "Pipfile.lock" in names else None,
        )
        env.requirements += pipenv.requirements
        env.problems += pipenv.problems
        if pipenv.python and not env.python_version:
            env.python_version, env.python_source = str(pipenv.python), p.rel("Pipfile")
    if "setup.py" in names:
        setup = parse_setup_py(root, "setup.py")
        env.requirements += setup.requirements
        env.problems += setup.problems
        env.local_packages.append(canonicalize_name(setup.name) if setup.name else "")
        env.installs_repo = True
    if "pyproject.toml" in names:
        project = parse_pyproject(root, "pyproject.toml")
        env.requirements += project.requirements
        env.problems += project.problems
        env.local_packages.append(canonicalize_name(project.name) if project.name else "")
        env.installs_repo = True
        _check_requires_python(env, project.requires_python)
    env.local_packages = sorted({n for n in env.local_packages if n})
    if env.python_version:  # None: repo2docker's default (DEFAULT_PYTHON), which ENV012 mentions
        env.python_version = ".".join(env.python_version.split(".")[:2])


def _local_names(root: Path) -> list[str]:
    out = []
    if (root / "setup.py").is_file():
        out.append(parse_setup_py(root, "setup.py").name or "")
    if (root / "pyproject.toml").is_file():
        out.append(parse_pyproject(root, "pyproject.toml").name or "")
    return [canonicalize_name(n) for n in out if n]


def _check_requires_python(env: Environment, requires_python: str | None) -> None:
    if not requires_python or not env.python_version or env.python_source is None:
        return
    try:
        ok = SpecifierSet(requires_python).contains(".".join(env.python_version.split(".")[:2]))
    except InvalidSpecifier:
        return
    if not ok:
        env.problems.append(
            EnvProblem(
                ProblemCode.REQUIRES_PYTHON,
                env.python_source,
                f"{env.python_source} asks for Python {env.python_version} but pyproject.toml says "
                f"requires-python = {requires_python!r}; repo2docker refuses to build",
                1,
            )
        )


def _ignored(env: Environment, rule: type[BuildPackRule], p: _Probe) -> None:
    used = set(env.files)
    if "pyproject.toml" not in used and not parse_pyproject(p.root, "pyproject.toml").declares_project:
        used.add("pyproject.toml")  # never reported: it only configures tools
    if p.config_dir:
        for n in ENV_FILES:
            if (p.root / n).is_file() and n not in used:
                env.ignored.append(
                    IgnoredFile(n, f"{p.config_dir}/ exists, so repo2docker reads environment files only from there")
                )
    for n in ENV_FILES:
        rel = p.rel(n)
        if rel in used or not p.exists(n) or (n in ROOT_ONLY and p.config_dir):
            continue
        env.ignored.append(IgnoredFile(rel, _reason(n, rule, p)))


def _reason(n: str, rule: type[BuildPackRule], p: _Probe) -> str:
    if rule is DockerRule:
        return f"{p.rel('Dockerfile')} exists, so repo2docker builds from it and ignores every other environment file"
    if rule is CondaRule and n in (
        "requirements.txt",
        "runtime.txt",
        "Pipfile",
        "Pipfile.lock",
        "setup.py",
        "pyproject.toml",
        "install.R",
    ):
        return f"{p.rel('environment.yml')} exists, so repo2docker uses conda and ignores {n}"
    if rule is PipfileRule and n in ("requirements.txt", "setup.py", "pyproject.toml"):
        return f"a Pipfile exists, so repo2docker installs with pipenv and ignores {n}"
    if n == "environment.yaml":
        return "environment.yml exists too; repo2docker reads only environment.yml"
    if n == "runtime.txt":
        return f"runtime.txt names {p.runtime.name!r}, which {rule.name} does not read"
    if n in ("install.R", "DESCRIPTION"):
        return (
            "R is only installed when runtime.txt names an R snapshot date (r-4.3-2024-01-15) "
            "or a DESCRIPTION file is at the root"
        )
    if n == "requirements3.txt":
        return "requirements3.txt is read only for a Python 2 kernel"
    if n == "pyproject.toml":
        return "pyproject.toml has a [project] table but no [build-system], so repo2docker does not install it"
    return f"{rule.name} does not read {n}"
