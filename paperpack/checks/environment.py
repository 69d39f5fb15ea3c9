"""Environment family (ENV): the files repo2docker will build from, read exactly as it reads them.

The :class:`~paperpack.environment.Environment` is ``repo.environment``, detected once and read
by the other families (dependencies, notebooks), the build and the local engine alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..environment import LEGACY_PYTHON, SUPPORTED_PYTHON, Environment
from ..environment.files import read_text
from ..repository.repo import Repo
from . import CheckContext
from .findings import Finding, Rule, Severity

__all__ = ["check", "environment_of"]

_F = "environment"
ENV001 = Rule(
    "ENV001",
    "no-environment",
    Severity.ERROR,
    "Without an environment file, repo2docker builds a bare default Python and every import the "
    "notebooks need fails for the next reader.",
    family=_F,
)
ENV002 = Rule(
    "ENV002",
    "binder-dirs-both",
    Severity.ERROR,
    "repo2docker refuses to build a repository with both binder/ and .binder/ (they are exclusive).",
    family=_F,
)
ENV003 = Rule(
    "ENV003",
    "file-ignored",
    Severity.WARNING,
    "repo2docker reads environment files in a fixed precedence; a file it ignores is not installed, whatever it says.",
    family=_F,
)
ENV004 = Rule(
    "ENV004",
    "dockerfile-shadows",
    Severity.WARNING,
    "A Dockerfile makes repo2docker ignore every other environment file, and the image it builds may "
    "lack Jupyter or the notebooks' kernels.",
    family=_F,
)
ENV005 = Rule(
    "ENV005",
    "postbuild-no-set-e",
    Severity.WARNING,
    "Without `set -e`, a failing command in postBuild does not fail the build, and the image silently "
    "lacks what it should install.",
    family=_F,
)
ENV006 = Rule(
    "ENV006",
    "conda-build-strings",
    Severity.WARNING,
    "Build strings from `conda env export` are specific to one platform and often vanish from the "
    "channels, so the environment cannot be solved elsewhere or later.",
    family=_F,
)
ENV007 = Rule(
    "ENV007",
    "unpinned-requirement",
    Severity.WARNING,
    "An unpinned requirement installs whatever version is newest at build time; results drift and "
    "code breaks years later (the most common failure of published notebooks).",
    family=_F,
)
ENV008 = Rule(
    "ENV008",
    "runtime-invalid",
    Severity.ERROR,
    "repo2docker refuses a runtime.txt it cannot parse or a Python version it has no environment for.",
    family=_F,
)
ENV009 = Rule(
    "ENV009",
    "python2",
    Severity.ERROR,
    "Python 2 reached end of life in 2020; its packages are gone from the channels and the image cannot be rebuilt.",
    family=_F,
)
ENV010 = Rule(
    "ENV010",
    "env-file-invalid",
    Severity.ERROR,
    "An environment file that cannot be parsed makes the build fail.",
    family=_F,
)
ENV011 = Rule(
    "ENV011",
    "build-refused",
    Severity.ERROR,
    "repo2docker stops with an error for this configuration, so no image is built.",
    family=_F,
)
ENV012 = Rule(
    "ENV012",
    "python-default",
    Severity.INFO,
    "Without a declared Python version, repo2docker picks its current default, which changes between releases.",
    family=_F,
)
ENV013 = Rule(
    "ENV013",
    "python-legacy",
    Severity.WARNING,
    "Python versions past their end of life get no fixes and lose package wheels; repo2docker still "
    "builds them, in a separate kernel environment, but each year fewer packages install.",
    family=_F,
)
ENV014 = Rule(
    "ENV014",
    "python-offline-unavailable",
    Severity.WARNING,
    "An offline build (no Docker Hub, no conda) gets Python from a Debian release, which offers only a "
    "few versions; another version fails the build, or is replaced by one that exists when "
    "substitution is allowed.",
    family=_F,
)

_PROBLEM_RULES = {
    "binder-both": ENV002,
    "runtime-invalid": ENV008,
    "yaml-invalid": ENV010,
    "toml-invalid": ENV010,
    "json-invalid": ENV010,
    "python-invalid": ENV010,
    "requirement-invalid": ENV010,
    "file-unreadable": ENV010,
    "legacy-dockerfile": ENV011,
    "link-outside": ENV010,
    "julia-require": ENV011,
    "requires-python": ENV011,
    "apt-invalid": ENV010,
}
_FIXES = {
    "binder-both": "keep one of binder/ and .binder/ and delete the other",
    "runtime-invalid": "write one line such as `python-3.11` or `r-4.3-2024-01-15`",
    "legacy-dockerfile": "replace the Dockerfile with requirements.txt or environment.yml",
    "julia-require": "replace REQUIRE with a Project.toml (julia> ]activate .; add …)",
    "requires-python": "make runtime.txt and requires-python agree",
    "link-outside": "replace the link with the file itself, committed in the repository",
    "apt-invalid": "one Debian package per line, as `name` or `name=version` (lower-case letters, digits, "
    "'+', '-', '.'; never a trailing '-', which apt-get reads as remove)",
}
_SET_E = re.compile(r"^\s*set\s+-[a-zA-Z]*e|^#!.*\s-[a-zA-Z]*e\b|^\s*set\s+-o\s+errexit")


def environment_of(repo: Repo, ctx: CheckContext) -> Environment:
    """The detected environment: ``repo.environment`` (kept in ``ctx.cache`` for callers that read it there)."""
    env = ctx.cache.get("environment")
    if env is None:
        env = ctx.cache["environment"] = repo.environment
    return env


def check(repo: Repo, ctx: CheckContext) -> Iterable[Finding]:
    env = environment_of(repo, ctx)
    yield from _problems(env)
    yield from _ignored(repo, env)
    mode = ((repo.manifest.get("environment") or {}) if repo.manifest else {}).get("mode")
    yield from _python(env, mode if isinstance(mode, str) else None)
    yield from _offline_python(repo, env)
    yield from _postbuild(repo, env)
    yield from _requirements(env)


def _problems(env: Environment) -> Iterable[Finding]:
    for p in env.problems:
        rule = _PROBLEM_RULES.get(p.code, ENV010)
        fix = _FIXES.get(p.code, f"fix {p.path} so that it parses")
        yield rule.at(p.path, p.message, fix, line=p.line)
    if env.defaulted and not env.files:
        yield ENV001.at(
            None,
            "no environment file: repo2docker would build a bare default Python "
            "with none of the packages the notebooks import",
            "add requirements.txt with pinned versions (or environment.yml), and runtime.txt with e.g. python-3.11",
        )
    if env.buildpack == "DockerBuildPack":
        others = [p for p, _ in env.ignored]
        tail = f"; ignored: {', '.join(others)}" if others else ""
        yield ENV004.at(
            env.path("Dockerfile"),
            f"the Dockerfile is used as is and shadows every other environment file{tail}",
            "delete the Dockerfile and declare packages in requirements.txt or environment.yml, "
            "or make sure the Dockerfile installs Jupyter and everything the notebooks need",
            line=1,
        )


def _holds_packages(repo: Repo, path: str) -> bool:
    text = read_text(repo.root, path) or ""
    name = path.rsplit("/", 1)[-1]
    if name in ("runtime.txt", "Dockerfile", "postBuild", "start", "DESCRIPTION", "pyproject.toml", "setup.py"):
        return bool(text.strip())
    return any(line.split("#")[0].strip() for line in text.splitlines())


def _ignored(repo: Repo, env: Environment) -> Iterable[Finding]:
    post_build = read_text(repo.root, env.path("postBuild")) if env.path("postBuild") in env.files else None
    for path, reason in env.ignored:
        if env.buildpack == "DockerBuildPack" and "Dockerfile" in reason:
            continue  # said once, by ENV004
        loud = _holds_packages(repo, path)
        what = "and what it declares is not installed" if loud else "(it is empty)"
        if loud and post_build and path.rsplit("/", 1)[-1] in post_build:
            loud, what = False, "(postBuild names it, so it may be installed there)"
        yield ENV003.at(
            path,
            f"ignored by repo2docker {what}: {reason}",
            f"move what {path} declares into {', '.join(env.files) or 'the file repo2docker uses'}, then delete {path}",
            severity=None if loud else Severity.INFO,
        )  # info: empty, or postBuild names it


def _python(env: Environment, mode: str | None = None) -> Iterable[Finding]:
    name, version = env.runtime.name, env.runtime.version
    source = env.python_source
    if name == "python" and version is not None:
        source = env.path("runtime.txt")
    py = version if name == "python" and version else env.python_version
    if py is None:
        if env.language == "python" and env.files and env.buildpack != "DockerBuildPack":
            yield ENV012.at(
                None,
                f"no Python version is declared; {_default_python(mode)}",
                "add runtime.txt with one line such as python-3.11",
            )
        return
    major_minor = ".".join(py.split(".")[:2])
    where = source or env.path("runtime.txt")
    line = 1 if where.endswith("runtime.txt") else None
    if py.split(".")[0] == "2":
        yield ENV009.at(
            where, f"Python {py} is Python 2", "port the code to Python 3 and declare python-3.11", line=line
        )
    elif not re.fullmatch(r"\d+(\.\d+){0,2}", py):
        yield ENV008.at(where, f"{py!r} is not a Python version", "write e.g. python-3.11", line=line)
    elif major_minor in LEGACY_PYTHON:
        yield ENV013.at(
            where,
            f"Python {py} is past its end of life: repo2docker installs it as a separate legacy "
            "kernel, and current packages publish no wheels for it",
            f"move to a supported Python ({SUPPORTED_PYTHON[0]}–{SUPPORTED_PYTHON[-1]}) and re-pin the requirements",
            line=line,
        )
    elif py != "3" and major_minor not in SUPPORTED_PYTHON:
        yield ENV008.at(
            where,
            f"Python {py} is not supported by repo2docker (supported: {', '.join(SUPPORTED_PYTHON)})",
            f"declare one of {', '.join(SUPPORTED_PYTHON)}",
            line=line,
        )


def _default_python(mode: str | None) -> str:
    """What each build mode really uses when no Python is declared (ENV012's message)."""
    from ..image.baseimage import DEFAULT_RELEASE, RELEASES

    offline = f"paperpack's offline build uses Debian {DEFAULT_RELEASE}'s Python {RELEASES[DEFAULT_RELEASE]}"
    binder = "repo2docker's stock build (binder mode) uses its own default, Python 3.10 today"
    if mode == "offline":
        return offline
    if mode == "binder":
        return binder
    return f"{binder}, and {offline}: the two can differ"


def _offline_python(repo: Repo, env: Environment) -> Iterable[Finding]:
    """ENV014: the declared Python is not one an offline build can give (unless the manifest chose binder mode)."""
    from ..image.baseimage import RELEASES  # Debian release → its python3: what offline builds can give

    settings = dict((repo.manifest.get("environment") or {}) if repo.manifest else {})
    py = env.python_version
    if settings.get("mode") == "binder" or env.buildpack == "DockerBuildPack" or env.language != "python" or not py:
        return
    if py not in SUPPORTED_PYTHON or py in RELEASES.values():
        return  # ENV008/ENV009/ENV013 already speak of an unsupported or legacy version
    offered = ", ".join(f"{v} (Debian {r})" for r, v in RELEASES.items())
    where = env.python_source or env.path("runtime.txt")
    if settings.get("allow_python_substitution"):
        what = "paperpack.yml allows a substitution, so an offline build uses the nearest of these"
    else:
        what = "an offline build (`paperpack build` where Docker Hub is unreachable) stops with an error"
    yield ENV014.at(
        where,
        f"Python {py} is not one an offline build can provide (it has {offered}); {what}",
        f"declare one of {', '.join(RELEASES.values())} if the notebooks run with it, or build with "
        "`--mode binder` where Docker Hub and conda-forge are reachable",
        line=1 if where.endswith("runtime.txt") else None,
    )


def _postbuild(repo: Repo, env: Environment) -> Iterable[Finding]:
    rel = env.path("postBuild")
    if rel not in env.files:
        return
    text = read_text(repo.root, rel) or ""
    lines = text.splitlines()
    shebang = re.match(r"#!\s*(\S+)(?:\s+(\S+))?", lines[0]) if lines else None
    if shebang:
        interpreter = shebang.group(1).rsplit("/", 1)[-1]
        if interpreter == "env":
            interpreter = shebang.group(2) or ""
        if interpreter not in ("sh", "bash", "dash", "zsh", "ksh"):
            return  # a Python or other interpreter script: set -e does not apply
    if not any(_SET_E.search(line) for line in lines[:20]):
        yield ENV005.at(
            rel,
            "postBuild does not start with `set -e`: a failing step would not fail the build",
            "add `set -euo pipefail` after the #! line",
            line=1,
        )


def _requirements(env: Environment) -> Iterable[Finding]:
    builds = [r for r in env.requirements if r.build]
    if builds:
        first = builds[0]
        more = f" (and {len(builds) - 1} more)" if len(builds) > 1 else ""
        yield ENV006.at(
            first.path,
            f"{first.raw!r} carries the build string {first.build!r}{more}: this looks like a `conda env export`",
            "re-export with `conda env export --from-history`, or drop the build strings (keep name=version)",
            line=first.line,
        )
    for r in env.requirements:
        if r.pinned or r.build:
            continue
        spec = f" ({r.specifier})" if r.specifier else ""
        yield ENV007.at(
            r.path,
            f"{r.name} is not pinned to a version{spec}",
            f"pin it, e.g. {_pin_example(r.source, r.name)}",
            line=r.line,
        )


def _pin_example(source: str, name: str) -> str:
    if source == "environment.yml:conda":
        return f"`{name}=1.2.3` (the version you ran the notebooks with: `conda list {name}`)"
    return f"`{name}==1.2.3` (the version you ran the notebooks with: `pip show {name}`)"
