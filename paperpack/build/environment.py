"""What an offline build installs: the Python version and the pip requirements.

Reads ``runtime.txt``, ``environment.yml`` and ``pyproject.toml`` the way repo2docker
does (``binder/`` or ``.binder/`` wins over the root; ``environment.yml`` makes
``runtime.txt`` and ``requirements.txt`` ignored), maps the Python version to a
Debian release, and translates an ``environment.yml`` into pip requirements.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ..discover import ENV_FILES, ROOT_ONLY
from ..errors import ConfigError, EnvironmentFileError
from ..repofile import read_repo_bytes, read_repo_text, repo_has
from .baseimage import DEFAULT_RELEASE, RELEASES, release_for_python

__all__ = ["OfflinePlan", "binder_dir", "check_environment_files", "plan_offline", "translate_environment",
           "CONDA_ONLY"]

#: conda package name → PyPI distribution name, where they differ.
CONDA_TO_PYPI = {
    "pytorch": "torch", "matplotlib-base": "matplotlib", "py-xgboost": "xgboost", "pytables": "tables",
    "python-graphviz": "graphviz", "msgpack-python": "msgpack", "pyqt": "PyQt5", "py-opencv": "opencv-python",
    "opencv": "opencv-python", "scikit-learn-intelex": "scikit-learn-intelex", "jupyter_core": "jupyter-core",
}

#: conda packages that are not Python distributions on PyPI (or are a different thing there),
#: with the Debian package (for apt.txt) that provides the same program, where there is one.
CONDA_ONLY: dict[str, str] = {
    "r-base": "r-base", "nodejs": "nodejs", "openjdk": "default-jre-headless", "ffmpeg": "ffmpeg",
    "graphviz": "graphviz", "pandoc": "pandoc", "gdal": "gdal-bin", "libgdal": "libgdal-dev", "proj": "proj-bin",
    "geos": "libgeos-dev", "hdf5": "libhdf5-dev", "netcdf-fortran": "libnetcdff-dev", "libnetcdf": "libnetcdf-dev",
    "cudatoolkit": "", "cudnn": "", "nomkl": "", "blas": "", "openblas": "libopenblas-dev", "compilers": "build-essential",
    "c-compiler": "gcc", "cxx-compiler": "g++", "fortran-compiler": "gfortran", "gcc": "gcc", "gxx": "g++",
    "gfortran": "gfortran", "make": "make", "git": "git", "curl": "curl", "wget": "wget", "imagemagick": "imagemagick",
    "texlive-core": "texlive", "cdo": "cdo", "nco": "nco", "gmt": "gmt", "julia": "julia", "go": "golang",
    "udunits2": "libudunits2-dev", "eccodes": "libeccodes-dev", "zlib": "zlib1g-dev", "openssl": "openssl",
    "sqlite": "sqlite3", "tk": "tk", "xz": "xz-utils", "bzip2": "bzip2",
}
CONDA_ONLY_PREFIXES = ("r-", "lib", "_", "cuda-")
#: conda-only names that nonetheless are Python distributions on PyPI with the same meaning.
PYPI_DESPITE_PREFIX = frozenset({"librosa", "libpysal", "lifelines", "libtmux", "library"})

_SPEC = re.compile(r"^\s*(?:(?P<channel>[\w.-]+)::)?(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<rest>.*)$")


def binder_dir(root: Path) -> Path:
    """Where repo2docker looks for environment files: ``binder/``, ``.binder/`` or the root.

    A ``binder``/``.binder`` that is a symbolic link is refused: it could lead out of the repository.
    """
    b, d = root / "binder", root / ".binder"
    for link in (b, d):
        if link.is_symlink():
            raise EnvironmentFileError(f"{link.name} is a symbolic link to {os.readlink(link)}; paperpack builds "
                                       "only from a real configuration folder of the repository",
                                       hint=f"replace the link {link.name} with the folder itself",
                                       path=link.name, link=os.readlink(link))
    if b.is_dir() and d.is_dir():
        raise ConfigError(f"{root}: both binder/ and .binder/ exist; repo2docker refuses such a repository",
                          hint="keep one of the two folders", path=root)
    return d if d.is_dir() else b if b.is_dir() else root


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


def _conda_to_pip(spec: str, where: str) -> str | None:
    """One conda dependency string → a pip requirement, ``None`` to drop it; raises for conda-only."""
    m = _SPEC.match(spec)
    if not m:
        raise ConfigError(f"{where}: cannot read the dependency {spec!r}",
                          hint="write it as name, name=1.2 or name>=1.2", path=where)
    name, rest = m.group("name"), m.group("rest").strip()
    low = name.lower()
    if low in ("python", "pip"):
        return None
    if low in CONDA_ONLY or (low.startswith(CONDA_ONLY_PREFIXES) and low not in PYPI_DESPITE_PREFIX):
        apt = CONDA_ONLY.get(low, "")
        fix = f"put the Debian package {apt!r} in apt.txt instead" if apt else "use binder mode (conda), or drop it"
        raise ConfigError(f"{where}: {name!r} is a conda-only package; an offline build installs from PyPI only",
                          hint=f"{fix}, or build with --mode binder where conda-forge is reachable", path=where)
    pypi = CONDA_TO_PYPI.get(low, name)
    rest = rest.replace(" ", "")
    if not rest:
        return pypi
    if rest.count("=") >= 2 and not rest.startswith(("==", ">=", "<=", "!=", "~=")):
        rest = "=" + rest.split("=")[1]  # name=1.2=build_string → name=1.2
    if rest.startswith("=") and not rest.startswith("=="):
        version = rest[1:]
        return f"{pypi}=={version}" if version.endswith("*") or version.count(".") >= 2 else f"{pypi}=={version}.*"
    if re.match(r"^[0-9]", rest):  # "numpy 1.26.*"
        return f"{pypi}=={rest}"
    return f"{pypi}{rest}"


def translate_environment(root: Path, rel: str) -> tuple[list[str], str | None]:
    """pip requirements and the Python version (or ``None``) of the ``environment.yml`` at ``root/rel``."""
    text = read_repo_text(root, rel)
    try:
        doc: Any = YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise ConfigError(f"{rel}: not readable as YAML: {exc}", hint="fix the YAML syntax", path=rel) from None
    deps = (doc or {}).get("dependencies") if isinstance(doc, dict) else None
    if not isinstance(deps, list):
        raise ConfigError(f"{rel}: no 'dependencies' list", hint="list the packages under 'dependencies:'", path=rel)
    requirements: list[str] = []
    python: str | None = None
    for dep in deps:
        if isinstance(dep, dict):
            for key, value in dep.items():
                if key != "pip" or not isinstance(value, list):
                    raise ConfigError(f"{rel}: unexpected entry {key!r} under dependencies",
                                      hint="only package strings and a 'pip:' list are understood", path=rel)
                requirements += [str(v) for v in value]
            continue
        text = str(dep)
        m = _SPEC.match(text)
        if m and m.group("name").lower() == "python":
            found = re.search(r"(\d+\.\d+)", m.group("rest"))
            python = found.group(1) if found else None
            continue
        req = _conda_to_pip(text, rel)
        if req:
            requirements.append(req)
    return requirements, python


def _runtime_python(root: Path, rel: str) -> str:
    text = read_repo_text(root, rel).strip()
    m = re.fullmatch(r"python-(\d+)\.(\d+)(?:\.\d+)?(?:-\d{4}-\d\d-\d\d)?", text)
    if not m:
        raise ConfigError(f"{rel}: {text[:80]!r} is not a Python runtime an offline build can honour",
                          hint="write python-3.11 (offline builds have Python "
                               + ", ".join(RELEASES.values()) + "), or build with --mode binder", path=rel)
    return f"{m.group(1)}.{m.group(2)}"


def _pick_release(python: str | None, source: str, allow_substitution: bool,
                  present: Callable[[str], bool]) -> tuple[str, str, str | None]:
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
            path=source)

    def distance(item: tuple[str, str]) -> tuple[bool, int, int]:
        minor = int(item[1].split(".")[1])
        want = int(python.split(".")[1]) if python.count(".") else minor
        return not present(item[0]), abs(minor - want), -minor  # a base image that exists, nearest, newer
    release, used = min(RELEASES.items(), key=distance)
    return release, used, f"Python {python} requested by {source}; built with Python {used} (Debian {release})"


def check_environment_files(root: Path) -> list[str]:
    """Every environment file repo2docker may read (configuration folder and root), checked safe to read.

    Returns their relative paths. Raises :class:`~paperpack.errors.EnvironmentFileError`
    for one that is a link out of the repository (or nowhere), not a regular file, or
    too large: repo2docker, buildx (a ``Dockerfile``) and the buildpacks open these
    files on the host, so none of them may lead to a host file.
    """
    bdir = binder_dir(root)
    prefix = "" if bdir == root else bdir.name + "/"
    found = []
    for rel in dict.fromkeys([prefix + n for n in ENV_FILES] + list(ROOT_ONLY)):
        if repo_has(root, rel):
            read_repo_bytes(root, rel)
            found.append(rel)
    return found


def plan_offline(root: Path, *, python: str | None = None, allow_substitution: bool = False,
                 present: Callable[[str], bool] = lambda release: True) -> OfflinePlan:
    """Work out the offline build of the repository at ``root``.

    ``python`` (from paperpack.yml ``environment.python``) overrides the files.
    ``present(release)`` says whether that release's base image exists: a substitution
    prefers one that does (the nearest Python among them), so that an allowed
    substitution never asks for a base image to be made while another one would do.
    """
    bdir = binder_dir(root)
    check_environment_files(root)
    prefix = "" if bdir == root else bdir.name + "/"
    requirements: list[str] = []
    env_rel = None
    source = "default"
    requested: str | None = None
    if repo_has(root, prefix + "environment.yml"):
        env_rel = prefix + "environment.yml"
        requirements, requested = translate_environment(root, env_rel)
        source = env_rel if requested else source
    elif repo_has(root, prefix + "runtime.txt"):
        source = prefix + "runtime.txt"
        requested = _runtime_python(root, source)
    if python:
        requested, source = python, "paperpack.yml (environment.python)"
    release, used, substitution = _pick_release(requested, source, allow_substitution, present)
    return OfflinePlan(python=used, release=release, requested=requested, source=source,
                       substitution=substitution, requirements=requirements, environment_yml=env_rel)
