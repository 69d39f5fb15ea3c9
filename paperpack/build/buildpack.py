"""The offline buildpack: Debian's python3, a venv and the Jupyter stack from PyPI.

A repo2docker :class:`~repo2docker.buildpacks.base.BuildPack` that needs neither
Docker Hub nor conda: it starts from a local Debian base image (see
:mod:`paperpack.build.baseimage`) and honours ``requirements.txt``, ``runtime.txt``,
``apt.txt``, ``postBuild``, ``start``, ``setup.py``/``pyproject.toml`` and a
translated ``environment.yml``.

Steps that download from PyPI mount the CA bundle as the BuildKit secret ``cacert`` and,
when the proxy needs credentials, the proxy settings as the secret ``proxy``: both exist
only while that step runs, so neither ends up in an image layer or in a step that runs
the paper's code without downloading (postBuild). No step mounts a pip cache: a cache
shared between builds is writable by every paper's ``setup.py`` and would carry one
paper's files into the next paper's build (BuildKit's layer cache still makes an
unchanged step free). Environment files are read with
:func:`paperpack.repofile.read_repo_text`, never through a link out of the repository.
Docker 20.10's BuildKit takes no ``# syntax=`` line and no heredocs, so neither is used.
"""

from __future__ import annotations

import os
import shlex
from functools import lru_cache
from pathlib import Path
from typing import Any

from ._r2d import BuildPack

from ..environment import Environment, detect
from ..environment.files import parse_apt_txt
from ..errors import EnvironmentFileError
from ..repofile import read_repo_bytes
from .environment import OfflinePlan, binder_dir, plan_offline

__all__ = ["OfflineBuildPack", "offline_buildpack", "stock_buildpacks", "CA_SECRET_ID", "CA_PATH", "PROXY_SECRET_ID",
           "VENV", "JUPYTER_STACK"]

CA_SECRET_ID = "cacert"
CA_PATH = f"/run/secrets/{CA_SECRET_ID}"
PROXY_SECRET_ID = "proxy"
PROXY_PATH = f"/run/secrets/{PROXY_SECRET_ID}"
VENV = "/srv/venv"
#: What every image gets, so it launches like a Binder image and runs notebooks.
JUPYTER_STACK = ("notebook>=7,<8", "jupyterlab>=4,<5", "ipykernel>=6.29,<8", "nbclient>=0.10,<1",
                 "nbconvert>=7,<8", "nbformat>=5.9,<6")

#: Mounts for a step that downloads: the CA bundle and the proxy settings, each if given.
DOWNLOAD_MOUNTS = (f"--mount=type=secret,id={CA_SECRET_ID},mode=0444 "
                   f"--mount=type=secret,id={PROXY_SECRET_ID},mode=0444")
#: Shell prefix that trusts the CA bundle and uses the proxy's credentials when they were passed,
#: in this step only; pip keeps no cache (it would land in the image's home folder).
TRUST_CA = (f'if [ -f {CA_PATH} ]; then export PIP_CERT={CA_PATH} REQUESTS_CA_BUNDLE={CA_PATH} '
            f'SSL_CERT_FILE={CA_PATH}; fi && if [ -f {PROXY_PATH} ]; then . {PROXY_PATH}; fi '
            f'&& export PIP_NO_CACHE_DIR=1 && ')
PIP = f"{VENV}/bin/pip install --disable-pip-version-check --progress-bar off"


#: repo2docker's entrypoint prints a RuntimeWarning on every start: the image starts it through this file
ENTRYPOINT_FILE = Path(__file__).resolve().parent / "paperpack-entrypoint"
ENTRYPOINT = "/usr/local/bin/paperpack-entrypoint"
R2D_ENTRYPOINT_LINE = 'ENTRYPOINT ["/usr/local/bin/repo2docker-entrypoint"]'
#: binder mode's images start the same entrypoint with ``-W``: a filter of that Python process only (unlike
#: PYTHONWARNINGS, no child inherits it), so the notebooks' own warnings still show; no file is added
QUIET_R2D_ENTRYPOINT_LINE = ('ENTRYPOINT ["/usr/local/bin/python3-login", "-W", '
                             '"ignore:line buffering:RuntimeWarning", "/usr/local/bin/repo2docker-entrypoint"]')


def download_step(command: str) -> str:
    """A RUN body that may reach PyPI: secret mounts, CA and proxy credentials used only here."""
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
    def environment(self) -> Environment:
        """What repo2docker builds from this repository: the model validate and the local engine read too."""
        if not hasattr(self, "_environment"):
            self._environment = detect(self.root)
        return self._environment

    @property
    def binder_dir(self) -> str:
        d = binder_dir(self.root, self.environment)
        return "" if d == self.root else d.name

    def _file(self, name: str) -> str | None:
        """The relative path of ``name`` in the configuration folder when repo2docker uses it (links are
        refused by :func:`~paperpack.build.environment.check_environment_files` before any of them is read;
        here too: one is refused, never skipped)."""
        if self.environment.linked_out(name):
            read_repo_bytes(self.root, self.environment.path(name))  # raises EnvironmentFileError naming the link
        return self.environment.uses(name)

    @property
    def plan(self) -> OfflinePlan:
        if not hasattr(self, "_plan"):
            self._plan = plan_offline(self.root, python=self.python_override,
                                      allow_substitution=self.allow_substitution, environment=self.environment)
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
        """``(path of requirements.txt or None, whether it refers to local files)``.

        The file repo2docker installs (none next to an environment.yml or a Pipfile), as the model says.
        """
        env = self.environment
        return env.requirements_txt, env.pip_reads_repo

    def _apt_packages(self) -> list[str]:
        apt = self._file("apt.txt")
        if apt is None:
            return []
        apt_txt = parse_apt_txt(self.root, apt)
        names, problems = apt_txt.packages, apt_txt.problems
        if problems:
            first = problems[0]
            raise EnvironmentFileError(f"{apt}:{first.line}: {first.message}" if first.line else first.message,
                                       hint="one Debian package per line, as name or name=version (a trailing "
                                            "'-' is apt-get's remove suffix and is refused)",
                                       path=apt)
        return names

    def get_build_script_files(self) -> dict[str, str]:
        """paperpack's entrypoint, which runs repo2docker's without its RuntimeWarning (see the file)."""
        return {str(ENTRYPOINT_FILE): ENTRYPOINT}

    def render(self, build_args: dict[str, str] | None = None) -> str:
        """repo2docker's Dockerfile, started through :data:`ENTRYPOINT`."""
        dockerfile = str(super().render(build_args))
        return dockerfile.replace(R2D_ENTRYPOINT_LINE, f'ENTRYPOINT ["/usr/local/bin/python3-login", "{ENTRYPOINT}"]')

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
        """repo2docker runs ``pip install .`` (setup.py, or pyproject.toml with [project] and [build-system])."""
        return self.environment.installs_repo

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


def _quiet(bp: type[Any]) -> type:
    """``bp`` whose Dockerfile starts repo2docker's entrypoint through :data:`QUIET_R2D_ENTRYPOINT_LINE`."""

    def render(self: object, build_args: dict[str, str] | None = None) -> str:
        return str(bp.render(self, build_args)).replace(R2D_ENTRYPOINT_LINE, QUIET_R2D_ENTRYPOINT_LINE)

    return type(bp.__name__, (bp,), {"render": render, "__doc__": bp.__doc__})


def stock_buildpacks() -> list[type]:
    """repo2docker's own buildpacks, in its order, whose images start its entrypoint without the RuntimeWarning.

    Binder mode builds what mybinder.org would: the only difference is the ``-W`` option
    on the ENTRYPOINT line (:data:`QUIET_R2D_ENTRYPOINT_LINE`). A repository's own
    Dockerfile is built as written.
    """
    from ._r2d import BaseImage, Repo2Docker

    stock = Repo2Docker.class_traits()["buildpacks"].default()
    return [_quiet(bp) if issubclass(bp, BaseImage) else bp for bp in stock]
