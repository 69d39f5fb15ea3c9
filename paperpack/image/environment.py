"""What an offline build installs: the Python version and the pip requirements.

Everything about the repository's files comes from the environment model
(:mod:`paperpack.environment`): which folder and files repo2docker reads, the Python version
and where it was declared, the conda and pip requirements. This module only decides what an
offline build makes of them: the Debian release giving that Python, and the conda packages
translated into pip requirements (:mod:`paperpack.environment.conda`), or a clear error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..environment import ENV_FILES, ROOT_ONLY, Environment, detect
from ..environment.conda import CONDA_ONLY, conda_only, pip_requirement
from ..environment.files import CondaEnv, parse_environment_yml
from ..errors import ConfigError
from ..repository.files import read_repo_bytes, read_repo_text, repo_has
from .baseimage import DEFAULT_RELEASE, RELEASES, release_for_python

__all__ = ["OfflinePlan", "binder_dir", "check_environment_files", "plan_offline", "translate_environment"]

#: Problems of the files an offline build reads that stop it (validate reports the same ones as ENV findings).
_BLOCKING = frozenset({"runtime-invalid", "yaml-invalid", "requirement-invalid", "file-unreadable", "link-outside"})


def binder_dir(root: Path, env: Environment | None = None) -> Path:
    """Where repo2docker looks for environment files: ``binder/``, ``.binder/`` or the root.

    Raises what repo2docker raises (:meth:`~paperpack.environment.Environment.check_buildable`):
    both folders, or one that is a symbolic link.
    """
    env = env or detect(root)
    env.check_buildable()
    return root / env.config_dir if env.config_dir else root


@dataclass
class OfflinePlan:
    """Everything the offline buildpack needs to know from the repository files."""

    python: str  # the Python the image gets, e.g. "3.11"
    release: str  # Debian release giving that Python
    requested: str | None = None  # what the repository asked for
    source: str = "default"  # the file (or setting) that asked
    substitution: str | None = None  # set when built with another Python than requested
    requirements: list[str] = field(default_factory=list)  # translated from environment.yml
    environment_yml: str | None = None  # relative path when translated


def _translate(conda: CondaEnv, rel: str) -> list[str]:
    """pip requirements of a parsed ``environment.yml``; raises for what an offline build cannot install."""
    if not conda.declared:
        raise ConfigError(f"{rel}: no 'dependencies' list", hint="list the packages under 'dependencies:'", path=rel)
    if conda.unknown:
        raise ConfigError(
            f"{rel}: unexpected entry {conda.unknown[0]!r} under dependencies",
            hint="only package strings and a 'pip:' list are understood",
            path=rel,
        )
    requirements: list[str] = []
    for req in conda.requirements:
        if not req.source.endswith(":conda"):
            requirements.append(req.raw)
            continue
        if conda_only(req.name):
            apt = CONDA_ONLY.get(req.name, "")
            fix = f"put the Debian package {apt!r} in apt.txt instead" if apt else "use binder mode (conda), or drop it"
            raise ConfigError(
                f"{rel}: {req.name!r} is a conda-only package; an offline build installs from PyPI only",
                hint=f"{fix}, or build with --mode binder where conda-forge is reachable",
                path=rel,
            )
        requirements.append(pip_requirement(req))
    return requirements + conda.local


def _raise_problem(env: Environment, paths: set[str]) -> None:
    for p in env.problems:
        if p.code in _BLOCKING and p.path in paths:
            where = f"{p.path}:{p.line}" if p.line and p.code != "runtime-invalid" else p.path
            raise ConfigError(
                f"{where}: {p.message}",
                hint="fix the file (paperpack validate names each problem), or build with --mode binder",
                path=p.path,
            )


def translate_environment(root: Path, rel: str) -> tuple[list[str], str | None]:
    """pip requirements and the Python version (or ``None``) of the ``environment.yml`` at ``root/rel``."""
    read_repo_text(root, rel)  # a link out of the repository raises here, naming the link
    conda = parse_environment_yml(root, rel)
    for p in conda.problems:
        if p.code in _BLOCKING:
            raise ConfigError(
                f"{rel}: {p.message}", hint="fix the YAML (paperpack validate names each problem)", path=rel
            )
    return _translate(conda, rel), conda.python


def _pick_release(
    python: str | None, source: str, allow_substitution: bool, present: Callable[[str], bool]
) -> tuple[str, str, str | None]:
    if python is None:
        return DEFAULT_RELEASE, RELEASES[DEFAULT_RELEASE], None
    release = release_for_python(python)
    if release:
        return release, python, None
    available = ", ".join(f"{v} ({r})" for r, v in RELEASES.items())
    if not allow_substitution:
        raise ConfigError(
            f"{source} asks for Python {python}, which no offline base image provides (available: {available})",
            hint="change it to one of those versions, or allow the nearest one with "
            "`environment: {allow_python_substitution: true}` in paperpack.yml "
            "(or --allow-python-substitution); the substitution is recorded in the image labels",
            path=source,
        )

    def distance(item: tuple[str, str]) -> tuple[bool, int, int]:
        minor = int(item[1].split(".")[1])
        want = int(python.split(".")[1]) if python.count(".") else minor
        return not present(item[0]), abs(minor - want), -minor  # a base image that exists, nearest, newer

    release, used = min(RELEASES.items(), key=distance)
    return release, used, f"Python {python} requested by {source}; built with Python {used} (Debian {release})"


def check_environment_files(root: Path, env: Environment | None = None) -> list[str]:
    """Every environment file repo2docker may read (configuration folder and root), checked safe to read.

    Returns their relative paths. Raises :class:`~paperpack.errors.EnvironmentFileError`
    for one that is a link out of the repository (or nowhere), not a regular file, or
    too large: repo2docker, buildx (a ``Dockerfile``) and the buildpacks open these
    files on the host, so none of them may lead to a host file.
    """
    bdir = binder_dir(root, env)
    prefix = "" if bdir == root else bdir.name + "/"
    found = []
    for rel in dict.fromkeys([prefix + n for n in ENV_FILES] + list(ROOT_ONLY)):
        if repo_has(root, rel):
            read_repo_bytes(root, rel)
            found.append(rel)
    return found


def plan_offline(
    root: Path,
    *,
    python: str | None = None,
    allow_substitution: bool = False,
    present: Callable[[str], bool] = lambda release: True,
    environment: Environment | None = None,
) -> OfflinePlan:
    """Work out the offline build of the repository at ``root`` (``environment``: its detected model).

    ``python`` (from paperpack.yml ``environment.python``) overrides the files.
    ``present(release)`` says whether that release's base image exists: a substitution
    prefers one that does (the nearest Python among them), so that an allowed
    substitution never asks for a base image to be made while another one would do.
    """
    env = environment or detect(root)
    check_environment_files(root, env)
    requirements: list[str] = []
    env_rel = env.conda_file
    # repo2docker reads runtime.txt only without an environment.yml
    runtime_rel = env.path("runtime.txt") if env_rel is None and repo_has(root, env.path("runtime.txt")) else None
    _raise_problem(env, {f for f in (env_rel, runtime_rel) if f} | set(env.conda.included if env.conda else ()))
    if env.conda is not None and env_rel is not None:
        requirements = _translate(env.conda, env_rel)
    elif runtime_rel and env.runtime.name not in (None, "python"):
        raise ConfigError(
            f"{runtime_rel}: {env.runtime.text[:80]!r} is not a Python runtime an offline build can honour",
            hint="write python-3.11 (offline builds have Python "
            + ", ".join(RELEASES.values())
            + "), or build with --mode binder",
            path=runtime_rel,
        )
    requested = env.python_version
    source = (env.python_source or "default") if requested else "default"
    if python:
        requested, source = python, "paperpack.yml (environment.python)"
    release, used, substitution = _pick_release(requested, source, allow_substitution, present)
    return OfflinePlan(
        python=used,
        release=release,
        requested=requested,
        source=source,
        substitution=substitution,
        requirements=requirements,
        environment_yml=env_rel,
    )
