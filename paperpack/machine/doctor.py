"""``paperpack doctor``: what this machine can do, what each missing piece disables, and the fix.

Each :class:`Check` is a real probe, the same ones the commands use: the Docker client
and daemon (:func:`~paperpack.run.engines.docker_available`), the buildx plugin and
whether a base image can be made (:mod:`paperpack.image.readiness`,
:func:`~paperpack.image.baseimage.maker_problem`), the base images in the local image
store, rootless mode (``docker info``), the local engine's confinement
(:func:`~paperpack.run.sandbox.probe`: network namespaces, read-only caches, the pids
cgroup), the Pythons on PATH the local engine can build environments with, the DOI
services (only when asked: ``network=True``; their addresses are the configured ones,
``PAPERPACK_DOI_RESOLVER`` …), and the size of paperpack's caches.

:attr:`Diagnosis.default_path_works` is whether ``paperpack build`` verifies in a
container here (a daemon, buildx, and the base image present or makeable): the path
paperpack is designed around. Without it, notebooks still run with the local engine,
less isolated, and the checks say what to install.
"""

from __future__ import annotations

import enum
import json
import logging
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..util.sizes import folder_size, human_size

__all__ = ["PYTHONS", "Check", "Diagnosis", "Group", "diagnose"]

log = logging.getLogger(__name__)

#: the Python versions looked for on PATH (as ``pythonX.Y``)
PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14")


class Group(enum.Enum):
    """Which part of paperpack a check serves."""

    CONTAINER = "container builds"
    LOCAL = "local engine"
    NETWORK = "network"
    DISK = "disk"
    COMPARE = "comparison"


@dataclass(frozen=True)
class Check:
    """One piece of the machine: whether it is there, what it is, what its absence disables, the fix."""

    name: str
    group: Group
    ok: bool
    detail: str  # a version, a path, a size, or why not
    disables: str = ""  # what is lost without it ("" when ok, or when nothing is lost)
    fix: str = ""  # the command that fixes it
    required: bool = False  # part of the default path (container builds)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["group"] = self.group.value
        return data


@dataclass
class Diagnosis:
    checks: list[Check] = field(default_factory=list)

    @property
    def default_path_works(self) -> bool:
        """Whether ``paperpack build`` verifies in a container here."""
        return all(c.ok for c in self.checks if c.required)

    @property
    def engine(self) -> str:
        """The engine ``paperpack build`` (auto) runs notebooks with here."""
        return "docker" if self.default_path_works else "local"

    def to_dict(self) -> dict[str, Any]:
        return {
            "default_path_works": self.default_path_works,
            "engine": self.engine,
            "checks": [c.to_dict() for c in self.checks],
        }


def _docker_checks() -> list[Check]:
    from ..image.baseimage import (
        DEFAULT_RELEASE,
        RELEASES,
        base_image_tag,
        make_command,
        maker_problem,
    )
    from ..image.readiness import BUILDX_FIX, Readiness, buildx_problem, daemon_readiness
    from ..run.engines import docker_available
    from ..util.docker import docker_cli, image_inspect

    container = Group.CONTAINER
    cli = docker_cli()
    found = shutil.which(cli)
    checks = [
        Check(
            "docker client",
            container,
            found is not None,
            found or f"{cli!r} is not on PATH",
            "" if found else "container builds: notebooks run with the less isolated local engine",
            "" if found else "sudo apt-get install docker.io",
            required=True,
        )
    ]
    if found is None:
        return checks
    ok, why = docker_available()
    daemon = Readiness() if ok else daemon_readiness(why)
    checks.append(
        Check(
            "docker daemon",
            container,
            ok,
            f"server {why}" if ok else daemon.problem,
            "" if ok else "container builds: notebooks run with the less isolated local engine",
            daemon.fix,
            required=True,
        )
    )
    if not ok:
        return checks
    checks.append(_rootless())
    missing = buildx_problem()
    checks.append(
        Check(
            "docker buildx plugin",
            container,
            not missing,
            missing or "present",
            "image builds (repo2docker builds with `docker buildx build`): notebooks run with the local engine"
            if missing
            else "",
            BUILDX_FIX if missing else "",
            required=True,
        )
    )
    problem, fix = maker_problem()
    for release, python in RELEASES.items():
        tag = base_image_tag(release)
        info = image_inspect(tag)
        default = release == DEFAULT_RELEASE
        if info is not None:
            detail = f"{tag} present ({human_size(int(info.get('Size', 0)))}, Python {python})"
        elif problem:
            detail = f"{tag} missing, and cannot be made here"
        else:
            detail = f"{tag} missing; `paperpack build` makes it when a build needs it"
        present = info is not None or not problem
        checks.append(
            Check(
                f"base image {release}",
                container,
                present,
                detail,
                "" if info is not None else (f"offline builds of Python {python} repositories" if problem else ""),
                "" if info is not None or not problem else make_command(release),
                required=default,
            )
        )
    checks.append(
        Check(
            "debootstrap (makes base images)",
            container,
            not problem,
            "can make base images here" if not problem else problem,
            "making base images on the first build" if problem else "",
            fix,
        )
    )
    return checks


def _rootless() -> Check:
    from ..util.docker import docker_cli

    try:
        proc = subprocess.run(
            [docker_cli(), "info", "--format", "{{json .SecurityOptions}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        options = json.loads(proc.stdout or "[]") or []
    except (OSError, subprocess.TimeoutExpired, ValueError):
        options = []
    rootless = any("rootless" in str(option) for option in options)
    return Check(
        "rootless mode",
        Group.CONTAINER,
        True,
        "rootless daemon" if rootless else "rootful daemon (containers' root is mapped to root)",
    )


def _local_checks() -> list[Check]:
    from ..run.sandbox import probe

    local = Group.LOCAL
    caps = probe()
    pids = caps.cgroup is not None or not caps.root  # a user's processes are limited by RLIMIT_NPROC instead
    checks = [
        Check(
            "network namespace",
            local,
            caps.net is not None,
            caps.net_note,
            "" if caps.net else "no network for notebooks in the local engine (they may reach the network)",
            "" if caps.net else "sudo sysctl -w kernel.unprivileged_userns_clone=1 (or run as root)",
        ),
        Check(
            "read-only caches, hidden Docker socket",
            local,
            caps.fs,
            "user + mount namespaces" if caps.fs else caps.fs_note,
            "" if caps.fs else "local notebooks can write paperpack's caches and reach the Docker socket",
            "" if caps.fs else "sudo sysctl -w kernel.unprivileged_userns_clone=1",
        ),
        Check(
            "pids cgroup",
            local,
            pids,
            caps.cgroup_note,
            "" if pids else "a process limit for root in the local engine",
            "" if pids else "delegate a cgroup v2 subtree with the pids controller",
        ),
    ]
    pythons = [version for version in PYTHONS if shutil.which(f"python{version}")]
    checks.append(
        Check(
            "Pythons on PATH",
            local,
            bool(pythons),
            ", ".join(pythons) + " (as pythonX.Y)" if pythons else "no pythonX.Y on PATH",
            "" if pythons else "the local engine (it builds environments with pythonX.Y)",
            "" if pythons else "sudo apt-get install python3 python3-venv",
        )
    )
    return checks


def _network_checks() -> list[Check]:
    from ..util.httpclient import HttpClient, NetworkError, ServiceConfig

    config = ServiceConfig.from_env(timeout=5.0, retries=0)
    checks = []
    with HttpClient(config) as client:
        for name, url in (
            ("DOI resolver", config.doi_resolver),
            ("DataCite API", config.datacite_api),
            ("Crossref API", config.crossref_api),
            ("Zenodo API", config.zenodo_api),
        ):
            try:
                response = client.get(url)
                status = response.status_code
                response.close()
                ok, detail = True, f"{url} answers (HTTP {status})"
            except NetworkError as exc:
                ok, detail = False, f"{url}: {exc}"
            checks.append(
                Check(
                    name,
                    Group.NETWORK,
                    ok,
                    detail,
                    ""
                    if ok
                    else "resolving DOIs and fetching declared data (validate --offline and the cache still work)",
                    "" if ok else "check the network or the proxy (HTTPS_PROXY), or the PAPERPACK_* service URL",
                )
            )
    return checks


def _cache_checks(cache: Path | None) -> list[Check]:
    from ..util.cache import cache_dir

    root = cache_dir(cache)
    checks = []
    for sub, what in (
        ("venvs", "local engine environments"),
        ("data", "fetched data"),
        ("doi", "DOI answers"),
        ("closure", "dependency resolutions"),
    ):
        size = folder_size(root / sub)
        checks.append(Check(f"cache: {what}", Group.DISK, True, f"{human_size(size)} in {root / sub}"))
    return checks


def _ocr_check() -> Check:
    """Tesseract OCR, which reads the numbers of figures whose text was re-rendered (paperpack.compare.ocr)."""
    from ..compare.ocr import tesseract_path

    path = tesseract_path()
    return Check(
        "tesseract (OCR)",
        Group.COMPARE,
        path is not None,
        path or "not on PATH",
        "" if path else "a number changed in a figure whose text was re-rendered (another font or hinting) is not seen",
        "" if path else "sudo apt-get install tesseract-ocr tesseract-ocr-eng",
    )


def diagnose(*, network: bool = False, cache: Path | None = None) -> Diagnosis:
    """Every check; the DOI services only with ``network`` (they are contacted)."""
    checks = _docker_checks() + _local_checks() + [_ocr_check()]
    if network:
        checks += _network_checks()
    checks += _cache_checks(cache)
    return Diagnosis(checks)
