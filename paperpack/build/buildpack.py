"""The offline buildpack: Debian's python3, a venv and the Jupyter stack from PyPI.

A repo2docker :class:`~repo2docker.buildpacks.base.BuildPack` that needs neither
Docker Hub nor conda: it starts from a local Debian base image (see
:mod:`paperpack.build.baseimage`) and honours ``requirements.txt``, ``runtime.txt``,
``apt.txt``, ``postBuild``, ``start``, ``setup.py``/``pyproject.toml`` and a
translated ``environment.yml``.

Steps that download from PyPI mount the CA bundle as the BuildKit secret ``cacert``
(and pip's cache as a cache mount): both exist only while that step runs, so neither
ends up in an image layer. Docker 20.10's BuildKit takes no ``# syntax=`` line and no
heredocs, so neither is used.
"""

from __future__ import annotations

import os
import re
import shlex
from functools import lru_cache
from pathlib import Path
from typing import Any

from ._r2d import BuildPack

from ..errors import ConfigError
from .environment import OfflinePlan, binder_dir, plan_offline

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["OfflineBuildPack", "offline_buildpack", "CA_SECRET_ID", "CA_PATH", "VENV", "JUPYTER_STACK"]

CA_SECRET_ID = "cacert"
CA_PATH = f"/run/secrets/{CA_SECRET_ID}"
VENV = "/srv/venv"
PIP_CACHE = "/tmp/paperpack-pip-cache"
NB_UID = 1000  # the builder always builds for uid 1000 (jovyan)
#: What every image gets, so it launches like a Binder image and runs notebooks.
JUPYTER_STACK = ("notebook>=7,<8", "jupyterlab>=4,<5", "ipykernel>=6.29,<8", "nbclient>=0.10,<1",
                 "nbconvert>=7,<8", "nbformat>=5.9,<6")

#: Mounts for a step that downloads: the CA bundle (if given) and pip's cache.
DOWNLOAD_MOUNTS = (f"--mount=type=secret,id={CA_SECRET_ID},mode=0444 "
                   f"--mount=type=cache,id=paperpack-pip,target={PIP_CACHE},uid={NB_UID},gid={NB_UID}")
#: Shell prefix that trusts the CA bundle when it was passed, and nowhere else.
TRUST_CA = (f'if [ -f {CA_PATH} ]; then export PIP_CERT={CA_PATH} REQUESTS_CA_BUNDLE={CA_PATH} '
            f'SSL_CERT_FILE={CA_PATH}; fi && export PIP_CACHE_DIR={PIP_CACHE} && ')
PIP = f"{VENV}/bin/pip install --disable-pip-version-check --progress-bar off"
_APT_NAME = re.compile(r"^[a-z0-9][a-z0-9.+-]*(=[A-Za-z0-9.+:~-]+)?$")


def download_step(command: str) -> str:
    """A RUN body that may reach PyPI: secret + cache mounts, CA trusted only here."""
    return f"{DOWNLOAD_MOUNTS} {TRUST_CA}{command}"


class OfflineBuildPack(BuildPack):
    """Debian python3 + venv + PyPI. Configure with :func:`offline_buildpack`."""

    #: Settings the builder fixes per build (class attributes, because repo2docker
    #: instantiates buildpacks itself with only ``base_image``).
    python_override: str | None = None
    allow_substitution: bool = False

    def __init__(self, base_image: str):
        super().__init__(base_image)
        # repo2docker creates buildpacks inside its chdir() to the checkout.
        self.root = Path.cwd()

    # --- where the files are -------------------------------------------------
    @property
    def binder_dir(self) -> str:
        d = binder_dir(self.root)
        return "" if d == self.root else d.name

    def _file(self, name: str) -> Path | None:
        p = self.root / self.binder_path(name)
        return p if p.is_file() else None

    @property
    def plan(self) -> OfflinePlan:
        if not hasattr(self, "_plan"):
            self._plan = plan_offline(self.root, python=self.python_override,
                                      allow_substitution=self.allow_substitution)
        return self._plan

    def detect(self) -> bool:
        return True

    def _check_stencila(self) -> None:  # repo2docker walks the cwd looking for a removed feature
        return None

    # --- the image -----------------------------------------------------------
    @lru_cache
    def get_base_packages(self) -> set[str]:
        return super().get_base_packages() | {"python3", "python3-venv", "ca-certificates"}

    @lru_cache
    def get_build_env(self) -> list[tuple[str, str]]:
        return [("APP_BASE", "/srv"), ("VENV_PATH", VENV)]

    @lru_cache
    def get_path(self) -> list[str]:
        return [f"{VENV}/bin"]

    @lru_cache
    def get_labels(self) -> dict[str, str]:
        return self.labels

    @lru_cache
    def get_build_scripts(self) -> list[tuple[str, str]]:
        want = self.plan.python
        check = (f"python3 -c 'import sys; v=\"%d.%d\" % sys.version_info[:2]; "
                 f"sys.exit(0 if v == \"{want}\" else \"base image {self.base_image} has Python \" + v + \", expected {want}\")'")
        profile = f"echo 'export PATH={VENV}/bin:$PATH' > /etc/profile.d/00-paperpack-venv.sh"
        return [
            ("root", f"{check} && python3 -m venv {VENV} && chown -R ${{NB_USER}}:${{NB_USER}} {VENV} && {profile}"),
            ("${NB_USER}", download_step(f"{PIP} " + " ".join(shlex.quote(r) for r in JUPYTER_STACK))),
        ]

    def _requirements(self) -> tuple[str | None, bool]:
        """``(path of requirements.txt or None, whether it refers to local files)``."""
        if self.plan.environment_yml:
            return None, False  # repo2docker ignores requirements.txt next to environment.yml
        req = self._file("requirements.txt")
        if req is None:
            return None, False
        local = False
        for line in req.read_text(encoding="utf-8", errors="replace").splitlines():
            s = line.split("#", 1)[0].strip()
            if s.startswith(("-e", "-r", "-c", ".", "/", "file:")) or " @ file:" in s:
                local = True
        return self.binder_path("requirements.txt"), local

    def _apt_packages(self) -> list[str]:
        apt = self._file("apt.txt")
        if apt is None:
            return []
        names = []
        for n, line in enumerate(apt.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            name = line.split("#", 1)[0].strip()
            if not name:
                continue
            if not _APT_NAME.match(name):
                raise ConfigError(f"{self.binder_path('apt.txt')}:{n}: {name!r} is not a Debian package name",
                                  hint="one package per line: lower-case name, optionally =version",
                                  path=self.binder_path("apt.txt"))
            names.append(name)
        return sorted(set(names))

    @lru_cache
    def get_preassemble_script_files(self) -> dict[str, str]:
        path, local = self._requirements()
        return {path: path} if path and not local else {}

    @lru_cache
    def get_preassemble_scripts(self) -> list[tuple[str, str]]:
        scripts = []
        packages = self._apt_packages()
        if packages:
            scripts.append(("root", "apt-get -qq update && apt-get install --yes --no-install-recommends "
                            + " ".join(packages) + " && apt-get -qq clean && rm -rf /var/lib/apt/lists/*"))
        if self.plan.requirements:
            reqs = " ".join(shlex.quote(r) for r in self.plan.requirements)
            scripts.append(("${NB_USER}", download_step(f"{PIP} {reqs}")))
        path, local = self._requirements()
        if path and not local:
            scripts.append(("${NB_USER}", download_step(f"{PIP} -r {shlex.quote(path)}")))
        return scripts

    def _installable_package(self) -> bool:
        if self.binder_dir:
            return False  # as repo2docker: a binder/ folder means the root is not the environment
        if (self.root / "setup.py").is_file():
            return True
        pyproject = self.root / "pyproject.toml"
        if not pyproject.is_file():
            return False
        try:
            data: dict[str, Any] = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"pyproject.toml: not valid TOML: {exc}", hint="fix the TOML syntax",
                              path="pyproject.toml") from None
        return "project" in data or "build-system" in data

    @lru_cache
    def get_assemble_scripts(self) -> list[tuple[str, str]]:
        scripts = []
        path, local = self._requirements()
        if path and local:
            scripts.append(("${NB_USER}", download_step(f"{PIP} -r {shlex.quote(path)}")))
        if self._installable_package():
            scripts.append(("${NB_USER}", download_step(f"{PIP} .")))
        return scripts

    @lru_cache
    def get_post_build_scripts(self) -> list[str]:
        return [self.binder_path("postBuild")] if self._file("postBuild") else []

    @lru_cache
    def get_start_script(self) -> str | None:
        return os.path.join("${REPO_DIR}", self.binder_path("start")) if self._file("start") else None


def offline_buildpack(*, python: str | None = None, allow_substitution: bool = False) -> type[OfflineBuildPack]:
    """A subclass of :class:`OfflineBuildPack` with this build's settings fixed."""
    attrs = {"python_override": python, "allow_substitution": allow_substitution}
    return type("OfflineBuildPack", (OfflineBuildPack,), attrs)
