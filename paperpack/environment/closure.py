"""Dependency closure from pip's own resolver: every distribution the declared requirements install.

``import discretisedfield`` with only ``ubermag`` declared is fine when installing ubermag
installs discretisedfield; no hand-written table can know that for all of PyPI, so pip is
asked: ``pip install --dry-run --ignore-installed --only-binary :all: --report FILE
--python-version X.Y REQ…`` resolves the named requirements against the package index
(pip's own configuration: ``PIP_INDEX_URL``, ``pip.conf``, proxies) and installs nothing.

Safety: only *named* requirements from an index are resolved (a local path, a URL or a VCS
reference is left out), and ``--only-binary :all:`` means no source distribution is ever
built, so no code of the paper (``setup.py``) or of any package runs on this machine.

``PAPERPACK_PIP_INDEX_URL``, when set, is the only index used: pip's configuration files and
``PIP_*`` variables are then ignored (tests point it at a loopback server).

Results are cached (:class:`~paperpack.util.cache.JsonCache`, folder ``closure``) by the
requirement set, the target Python and the index settings; ``offline`` reads the cache only.

The modules each resolved distribution provides come from the wheel itself: pip's report gives
each one's core metadata (no file list) and the URL of its wheel, whose file list (RECORD's
content) and top_level.txt :mod:`paperpack.environment.wheelfiles` reads with range requests
(:attr:`Closure.modules`). A wheel whose list cannot be read leaves its distribution to the
name table (:func:`paperpack.notebook.importmap.distributions_for`).
"""

from __future__ import annotations

import enum
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..util.cache import JsonCache, cache_dir

__all__ = ["ClosureStatus", "Closure", "resolve_closure", "resolvable", "INDEX_ENV"]

log = logging.getLogger(__name__)

INDEX_ENV = "PAPERPACK_PIP_INDEX_URL"
#: pip settings that change the answer, part of the cache key
_KEY_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONSTRAINT", INDEX_ENV)
#: a resolved set changes only when the index gains releases: a week
TTL = 7 * 86400
#: pip said no (a pin without a wheel for the target Python, conflicting pins): re-asked after a day
TTL_FAILED = 86400
#: signs in pip's output that the index was not reached (as opposed to an answer)
_UNREACHABLE = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "ConnectionRefused",
    "Connection refused",
    "Temporary failure in name resolution",
    "ProxyError",
    "SSLError",
    "Read timed out",
    "ConnectTimeout",
    "Network is unreachable",
)

#: pip's answer that the set cannot be installed
_NO_ANSWER = (
    "No matching distribution found",
    "Could not find a version that satisfies",
    "ResolutionImpossible",
    "conflicting dependencies",
)

_NOT_REACHED = "the package index was not reached"
#: an index pip could not reach is not asked again by this process for this long (seconds): validating many
#: repositories without network then costs one attempt, not one per repository
UNREACHED_FOR = 60.0
_UNREACHED: dict[str, tuple[float, str]] = {}  # index settings → (when, reason)


class ClosureStatus(str, enum.Enum):
    RESOLVED = "resolved"  #: pip resolved the set: ``distributions`` is the full closure
    FAILED = "failed"  #: pip answered that the set cannot be installed (``reason`` says why)
    UNAVAILABLE = "unavailable"  #: pip could not reach its index, or could not run
    OFFLINE = "offline"  #: offline and nothing in the cache


@dataclass
class Closure:
    status: ClosureStatus
    python: str
    distributions: dict[str, str] = field(default_factory=dict)  #: normalised name → version
    via: dict[str, str] = field(default_factory=dict)  #: pulled-in distribution → a requested one that needs it
    reason: str = ""
    cached: bool = False
    seconds: float = 0.0
    #: distribution → the top-level modules its wheel installs (those whose file list was read)
    modules: dict[str, list[str]] = field(default_factory=dict)

    def providers(self) -> dict[str, tuple[str, ...]]:
        """Top-level module → the resolved distributions whose wheels install it."""
        out: dict[str, list[str]] = {}
        for dist, modules in sorted(self.modules.items()):
            for module in modules:
                out.setdefault(module, []).append(dist)
        return {module: tuple(dists) for module, dists in out.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "python": self.python,
            "distributions": self.distributions,
            "via": self.via,
            "reason": self.reason,
            "modules": self.modules,
        }


def resolvable(text: str) -> str | None:
    """``text`` as a named requirement pip may resolve from an index, or ``None`` (a path, URL, VCS…)."""
    try:
        req = Requirement(text.strip())
    except InvalidRequirement:
        return None
    if req.url:
        return None
    return str(req)


def _cache_key(requirements: Sequence[str], python: str, before: str | None = None) -> str:
    env = {name: os.environ.get(name, "") for name in _KEY_ENV}
    # "modules": entries written before the closure carried each wheel's modules are not reused
    key: dict[str, Any] = {"requirements": sorted(set(requirements)), "python": python, "env": env, "modules": 1}
    if before:
        key["before"] = before
    return json.dumps(key, sort_keys=True)


def resolve_closure(
    requirements: Sequence[str],
    *,
    python: str,
    offline: bool = False,
    cache_folder: Path | None = None,
    timeout: float = 300,
    before: str | None = None,
) -> Closure:
    """The closure of ``requirements`` (named, see :func:`resolvable`) for Python ``python`` (``"3.11"``).

    ``before`` (an ISO 8601 date or time, e.g. ``"2023-06-15T00:00:00Z"``) resolves the set as of
    that moment: only files uploaded before it are considered (pip's ``--uploaded-prior-to``,
    pip 26 and later); part of the cache key.
    """
    reqs = sorted({r for r in (resolvable(t) for t in requirements) if r})
    if not reqs:
        return Closure(ClosureStatus.RESOLVED, python)
    cache = JsonCache((cache_folder or cache_dir()) / "closure", ttl=TTL)
    key = _cache_key(reqs, python, before)
    hit = cache.get(key)
    if isinstance(hit, dict):
        return Closure(
            ClosureStatus(hit["status"]),
            python,
            dict(hit["distributions"]),
            dict(hit["via"]),
            str(hit["reason"]),
            cached=True,
            modules=dict(hit.get("modules") or {}),
        )
    if offline:
        return Closure(
            ClosureStatus.OFFLINE, python, reason="offline, and this set of requirements was never resolved before"
        )
    index = _cache_key([], "")  # the index settings
    known = _UNREACHED.get(index)
    if known is not None and time.monotonic() - known[0] < UNREACHED_FOR:
        return Closure(ClosureStatus.UNAVAILABLE, python, reason=known[1])
    start = time.monotonic()
    closure = _run_pip(reqs, python, timeout, before)
    if closure.status is ClosureStatus.UNAVAILABLE and closure.reason.startswith(_NOT_REACHED):
        _UNREACHED[index] = (time.monotonic(), closure.reason)
    closure.seconds = time.monotonic() - start
    log.info(
        "resolved %d requirements for Python %s in %.1f s: %s", len(reqs), python, closure.seconds, closure.status.value
    )
    if closure.status is ClosureStatus.RESOLVED:
        cache.set(key, closure.to_dict())
    elif closure.status is ClosureStatus.FAILED:
        cache.set(key, closure.to_dict(), ttl=TTL_FAILED)
    return closure


def _pip_env() -> tuple[dict[str, str], list[str]]:
    env = dict(os.environ)
    index = env.get(INDEX_ENV)
    if not index:
        return env, []
    env = {k: v for k, v in env.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # pip then reads no configuration file at all
    return env, ["--index-url", index]


#: pip settings a dated resolution keeps from pip's configuration (what reaches the index)
_DATED_KEEP = ("index-url", "cert", "client-cert", "proxy", "trusted-host", "timeout", "retries")


def _dated_pip_env(env: dict[str, str], extra: list[str]) -> tuple[dict[str, str], list[str]]:
    """pip's settings for a dated resolution: the index URL and how to reach it, and nothing else.

    pip applies ``--uploaded-prior-to`` to files of remote indexes only: a wheel from a find-links folder
    or a ``file://`` index would enter undated (and a local mirror shadows older releases), so those are
    dropped; pip's configuration files are read once here and only :data:`_DATED_KEEP` carried over.
    """
    if extra:  # PAPERPACK_PIP_INDEX_URL: already the only index, configuration files ignored
        return env, extra
    out = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    kept: dict[str, str] = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition("=")
        option = key.rsplit(".", 1)[-1]
        if option in _DATED_KEEP and not (option == "index-url" and value.strip("'\"").startswith("file:")):
            kept[option] = value.strip().strip("'\"")  # later scopes (env) override earlier ones (files)
    env = {k: v for k, v in env.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env.update({f"PIP_{option.upper().replace('-', '_')}": value for option, value in kept.items()})
    return env, []


def _run_pip(reqs: list[str], python: str, timeout: float, before: str | None = None) -> Closure:
    env, extra = _pip_env()
    if before:
        env, extra = _dated_pip_env(env, extra)
        extra = [*extra, "--uploaded-prior-to", before]
    with tempfile.TemporaryDirectory(prefix="paperpack-closure-") as tmp:
        report = Path(tmp) / "report.json"
        # --target: pip accepts --python-version with --dry-run only there; nothing is written to it
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--only-binary",
            ":all:",
            "--python-version",
            python,
            "--target",
            str(Path(tmp) / "target"),
            "--report",
            str(report),
            "--quiet",
            "--no-input",
            "--disable-pip-version-check",
            "--retries",
            "2",
            *extra,
            *reqs,
        ]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp, check=False)
        except subprocess.TimeoutExpired:
            return Closure(ClosureStatus.UNAVAILABLE, python, reason=f"pip did not finish within {timeout:.0f} s")
        except OSError as exc:
            return Closure(ClosureStatus.UNAVAILABLE, python, reason=f"pip could not be started: {exc}")
        output = done.stdout + done.stderr
        if before and "no such option: --uploaded-prior-to" in output:
            return Closure(
                ClosureStatus.UNAVAILABLE,
                python,
                reason="the pip paperpack runs with has no "
                "--uploaded-prior-to option (pip 26 and later have it): upgrade pip in paperpack's "
                "environment to resolve requirements as of a date",
            )
        if done.returncode != 0 or not report.is_file():
            errors = [line[len("ERROR: ") :].strip() for line in output.splitlines() if line.startswith("ERROR: ")]
            why = "; ".join(errors[:2]) or (output.strip().splitlines() or ["pip failed"])[-1]
            if any(sign in output for sign in _UNREACHABLE):
                return Closure(ClosureStatus.UNAVAILABLE, python, reason=f"{_NOT_REACHED} ({why})")
            if any(sign in output for sign in _NO_ANSWER):
                return Closure(ClosureStatus.FAILED, python, reason=why[:400])
            return Closure(ClosureStatus.UNAVAILABLE, python, reason=f"pip stopped: {why[:300]}")
        closure, wheels = _from_report(json.loads(report.read_text(encoding="utf-8")), python)
    from .wheelfiles import remote_wheels_modules  # HTTP client: only after a resolution

    closure.modules = remote_wheels_modules(wheels)
    return closure


def _from_report(report: dict[str, Any], python: str) -> tuple[Closure, dict[str, str]]:
    """Distributions and, for each pulled-in one, a requested distribution that needs it (breadth first);
    and the URL of each distribution's wheel."""
    versions: dict[str, str] = {}
    wheels: dict[str, str] = {}
    needs: dict[str, list[str]] = {}
    requested: list[str] = []
    for item in report.get("install") or []:
        meta = item.get("metadata") or {}
        name = canonicalize_name(str(meta.get("name", "")))
        versions[name] = str(meta.get("version", ""))
        url = (item.get("download_info") or {}).get("url")
        if isinstance(url, str) and url.startswith(("https://", "http://", "file:")):
            wheels[name] = url
        deps: list[str] = []
        for text in meta.get("requires_dist") or []:
            try:
                deps.append(canonicalize_name(Requirement(text).name))
            except InvalidRequirement:
                continue
        needs[name] = deps
        if item.get("requested"):
            requested.append(name)
    via: dict[str, str] = {}
    for top in sorted(requested):
        queue = [top]
        while queue:
            for dep in needs.get(queue.pop(0), []):
                if dep in versions and dep not in via and dep not in requested:
                    via[dep] = top
                    queue.append(dep)
    return Closure(ClosureStatus.RESOLVED, python, versions, via), wheels
