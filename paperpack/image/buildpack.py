"""The offline buildpack: Debian's python3, a venv and the Jupyter stack from PyPI.

A repo2docker :class:`~repo2docker.buildpacks.base.BuildPack` that needs neither
Docker Hub nor conda: it starts from a local Debian base image (see
:mod:`paperpack.image.baseimage`) and honours ``requirements.txt``, ``runtime.txt``,
``apt.txt``, ``postBuild``, ``start``, ``setup.py``/``pyproject.toml`` and a
translated ``environment.yml``.

Steps that download from PyPI mount the CA bundle as the BuildKit secret ``cacert`` and,
when the proxy needs credentials, the proxy settings as the secret ``proxy``: both exist
only while that step runs, so neither ends up in an image layer. No download step runs the
repository's own code: its packages (``setup.py``/``pyproject.toml``, local lines of
``requirements.txt`` and of ``environment.yml``'s pip section) are built in steps without
secrets or proxy variables, whose network the build guard takes down
(:class:`~paperpack.util.docker.BuildGuard`), from build backends downloaded before the
repository is copied; their dependencies, read from the built wheels' metadata as data, are
downloaded by a root-owned pip the paper's code cannot have changed, and installed offline
(:meth:`OfflineBuildPack.local_package_scripts`). Every step paperpack generates mounts the
guard's secret and waits for its memory and process limits (:func:`download_step`,
:func:`offline_step`, :func:`limited_step`). No step mounts a pip cache: a cache
shared between builds is writable by every paper's ``setup.py`` and would carry one
paper's files into the next paper's build (BuildKit's layer cache still makes an
unchanged step free). Environment files are read with
:func:`paperpack.repository.files.read_repo_text`, never through a link out of the repository.
Docker 20.10's BuildKit takes no ``# syntax=`` line, no heredocs and no ``RUN --network``,
so none is used.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import tomllib

from ..environment import Environment, detect
from ..environment.files import is_editable, is_local_requirement, logical_lines, parse_apt_txt, parse_requirements_txt
from ..errors import ConfigError, EnvironmentFileError
from ..repository.files import read_repo_bytes, read_repo_text, repo_has
from ..util.docker import GUARD_LIMITS_ID, GUARD_OFFLINE_ID
from ._r2d import BuildPack
from .diagnose import GATE_NETWORK_UP, GATE_TIMEOUT
from .environment import OfflinePlan, binder_dir, plan_offline

__all__ = [
    "OfflineBuildPack",
    "offline_buildpack",
    "stock_buildpacks",
    "CA_SECRET_ID",
    "CA_PATH",
    "PROXY_SECRET_ID",
    "VENV",
    "JUPYTER_STACK",
    "LocalPackage",
    "download_step",
    "offline_step",
    "limited_step",
]

CA_SECRET_ID = "cacert"
CA_PATH = f"/run/secrets/{CA_SECRET_ID}"
PROXY_SECRET_ID = "proxy"
PROXY_PATH = f"/run/secrets/{PROXY_SECRET_ID}"
VENV = "/srv/venv"
#: What every image gets, so it launches like a Binder image and runs notebooks.
JUPYTER_STACK = (
    "notebook>=7,<8",
    "jupyterlab>=4,<5",
    "ipykernel>=6.29,<8",
    "nbclient>=0.10,<1",
    "nbconvert>=7,<8",
    "nbformat>=5.9,<6",
)

#: Mounts for a step that downloads: the CA bundle and the proxy settings, each if given.
DOWNLOAD_MOUNTS = f"--mount=type=secret,id={CA_SECRET_ID},mode=0444 --mount=type=secret,id={PROXY_SECRET_ID},mode=0444"
#: Shell prefix that trusts the CA bundle and uses the proxy's credentials when they were passed,
#: in this step only; pip keeps no cache (it would land in the image's home folder).
TRUST_CA = (
    f"if [ -f {CA_PATH} ]; then export PIP_CERT={CA_PATH} REQUESTS_CA_BUNDLE={CA_PATH} "
    f"SSL_CERT_FILE={CA_PATH}; fi && if [ -f {PROXY_PATH} ]; then . {PROXY_PATH}; fi "
    f"&& export PIP_NO_CACHE_DIR=1 && "
)
PIP = f"{VENV}/bin/pip install --disable-pip-version-check --progress-bar off"
#: A pip owned by root, made before the repository's files are copied: the download step that comes after
#: the paper's package builds uses it (the paper's code runs as the image user, who owns the venv and $HOME).
DOWNLOADER = "/opt/paperpack-pip"
#: Root-owned: the build backends and dependencies downloaded for the repository's own packages.
STORE = "/opt/paperpack-build"
#: The wheels the repository's packages become (written by the paper's code: only read as data).
LOCAL_WHEELS = "/tmp/paperpack-local"
_PIP_DL = (
    f"PIP_CONFIG_FILE=/dev/null PIP_ROOT_USER_ACTION=ignore {DOWNLOADER}/bin/python -I -m pip "
    "--disable-pip-version-check download --progress-bar off"
)
#: root's download steps run from / with root's home: nothing of the repository's folder ($HOME) is read
_AS_ROOT = "cd / && export HOME=/root && "
_PROXY_NAMES = "HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy"
#: setuptools' legacy backend, which pip uses for a package without pyproject.toml's [build-system]
DEFAULT_BACKEND = ("setuptools>=40.8.0", "wheel")
_ARCHIVES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".zip")


#: repo2docker's entrypoint prints a RuntimeWarning on every start: the image starts it through this file
ENTRYPOINT_FILE = Path(__file__).resolve().parent / "paperpack-entrypoint"
ENTRYPOINT = "/usr/local/bin/paperpack-entrypoint"
R2D_ENTRYPOINT_LINE = 'ENTRYPOINT ["/usr/local/bin/repo2docker-entrypoint"]'
#: binder mode's images start the same entrypoint with ``-W``: a filter of that Python process only (unlike
#: PYTHONWARNINGS, no child inherits it), so the notebooks' own warnings still show; no file is added
QUIET_R2D_ENTRYPOINT_LINE = (
    'ENTRYPOINT ["/usr/local/bin/python3-login", "-W", '
    '"ignore:line buffering:RuntimeWarning", "/usr/local/bin/repo2docker-entrypoint"]'
)


def _gate(secret: str, *, offline: bool) -> str:
    """Shell that, when the guard's secret is mounted, waits until the guard has limited this step (it
    writes ``pids.max`` last) and, for an offline step, checks its network is down; else fails the step."""
    network = (
        ' && for i in /sys/class/net/*; do [ "${i##*/}" = lo ] || [ "$(cat "$i/operstate")" = down ] || '
        f'{{ echo "{GATE_NETWORK_UP} ($i)" >&2; exit 1; }}; done'
        if offline
        else ""
    )
    return (
        f'if [ -f /run/secrets/{secret} ]; then n=0; until [ "$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null '
        f'|| echo max)" != max ]; do n=$((n+1)); if [ $n -gt 600 ]; then echo "{GATE_TIMEOUT}" '
        f">&2; exit 1; fi; sleep 0.1; done{network}; fi && "
    )


def download_step(command: str) -> str:
    """A RUN body that may reach PyPI: secret mounts, CA and proxy credentials used only here, and the
    build limits. What it runs must be nothing the repository wrote."""
    return (
        f"{DOWNLOAD_MOUNTS} --mount=type=secret,id={GUARD_LIMITS_ID},mode=0400 "
        f"{_gate(GUARD_LIMITS_ID, offline=False)}{TRUST_CA}{command}"
    )


def offline_step(command: str) -> str:
    """A RUN body that runs the repository's code: no secret, no proxy variables, the build limits and
    (when the guard runs) no network."""
    return (
        f"--mount=type=secret,id={GUARD_OFFLINE_ID},mode=0400 {_gate(GUARD_OFFLINE_ID, offline=True)}"
        f"unset {_PROXY_NAMES} && export PIP_NO_CACHE_DIR=1 && {command}"
    )


def limited_step(command: str) -> str:
    """A RUN body with the build limits only (``postBuild``: the build's network, no secret)."""
    return f"--mount=type=secret,id={GUARD_LIMITS_ID},mode=0400 {_gate(GUARD_LIMITS_ID, offline=False)}{command}"


#: Run by the root-owned pip's Python (``-I``) in a download step: the Requires-Dist of the wheels the
#: repository's packages became, read as data (never imported), minus the repository's own packages and
#: what the venv already has, written as plain requirement strings (no pip option can get through).
_DEPENDENCIES = """\
import email.parser, glob, os, stat, sys, zipfile
from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.utils import canonicalize_name
wheels, venv, out = sys.argv[1:4]
extras = [""] + sys.argv[4:]
def meta(data):
    return email.parser.BytesParser().parsebytes(data, headersonly=True)
def regular(path):
    return stat.S_ISREG(os.lstat(path).st_mode)
local, wanted, installed = set(), [], {}
for name in sorted(os.listdir(wheels)):
    path = os.path.join(wheels, name)
    if name.endswith(".whl") and regular(path):
        with zipfile.ZipFile(path) as z:
            info = [n for n in z.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            m = meta(z.read(info[0]))
        local.add(canonicalize_name(m["Name"]))
        wanted += m.get_all("Requires-Dist") or []
for path in glob.glob(os.path.join(venv, "lib", "python3*", "site-packages", "*.dist-info", "METADATA")):
    if regular(path):
        with open(path, "rb") as fh:
            m = meta(fh.read())
        installed[canonicalize_name(m["Name"] or "")] = m["Version"] or ""
keep = set()
for text in wanted:
    r = Requirement(text)
    name = canonicalize_name(r.name)
    if name in local or (r.marker and not any(r.marker.evaluate({"extra": e}) for e in extras)):
        continue
    have = installed.get(name)
    if have and not r.url and not r.extras and r.specifier.contains(have, prereleases=True):
        continue
    r.marker = None
    keep.add(str(r))
with open(out, "w") as fh:
    fh.write("".join(k + "\\n" for k in sorted(keep)))
"""
_DEPENDENCIES_CMD = (
    f'{DOWNLOADER}/bin/python -I -c "import base64; exec(base64.b64decode('
    f"'{base64.b64encode(_DEPENDENCIES.encode()).decode()}'))\""
)


@dataclass(frozen=True)
class LocalPackage:
    """A package the repository builds from its own files (``.``, ``-e ./sub``, ``./dist/x.whl``)."""

    path: str  #: relative to the repository, POSIX (``.`` for the root)
    editable: bool
    extras: tuple[str, ...]
    source: str  #: the file that asks for it (``requirements.txt``, ``setup.py`` …)

    @property
    def folder(self) -> bool:
        """A source folder (else an archive or a wheel)."""
        return not self.path.endswith(_ARCHIVES)


def _merged(packages: list[LocalPackage]) -> list[LocalPackage]:
    """One entry per path, in first-seen order: ``-e .`` in requirements.txt and repo2docker's own
    ``pip install .`` for setup.py build the package once (editable when any asks, with every extra)."""
    by_path: dict[str, LocalPackage] = {}
    for pkg in packages:
        seen = by_path.get(pkg.path)
        by_path[pkg.path] = (
            pkg
            if seen is None
            else LocalPackage(
                pkg.path, seen.editable or pkg.editable, tuple(dict.fromkeys(seen.extras + pkg.extras)), seen.source
            )
        )
    return list(by_path.values())


def local_package(root: Path, line: str, source: str) -> LocalPackage:
    """The package of the repository one requirement line installs.

    Raises :class:`ConfigError` for what an offline build cannot build without running code with
    network: a URL, a VCS checkout, a path outside the repository.
    """
    text = _unedited(line).split(";")[0].strip()
    text = re.sub(r"^[A-Za-z0-9._-]+(\[[^\]]*\])?\s*@\s*(?=file:)", "", text)
    if text.startswith("file:"):
        text = text[len("file:") :]
    match = re.fullmatch(r"(.+?)(?:\[([A-Za-z0-9._,\s-]*)\])?", text)
    path, extras = (match.group(1).strip(), match.group(2) or "") if match else (text, "")
    fix = (
        "name a folder (or wheel) inside the repository with a relative path such as `.` or `./sub`, pin a "
        "release from PyPI instead, or build with --mode binder"
    )
    if not path or "://" in path or path.startswith(("/", "~")):
        raise ConfigError(
            f"{source}: {line!r} is not a folder or file inside the repository: an offline build "
            "builds the paper's own packages from its files only, with no network",
            hint=fix,
            path=source,
        )
    rel = PurePosixPath(os.path.normpath(path)).as_posix()
    pkg = LocalPackage(
        rel,
        is_editable(line) and not rel.endswith(_ARCHIVES),
        tuple(e.strip() for e in extras.split(",") if e.strip()),
        source,
    )
    prefix = "" if rel == "." else rel + "/"
    if (
        rel.startswith("..")
        or not repo_has(root, rel)
        or (pkg.folder and not (repo_has(root, prefix + "setup.py") or repo_has(root, prefix + "pyproject.toml")))
    ):
        raise ConfigError(
            f"{source}: {line!r}: the repository has no package at {rel} (a folder with setup.py "
            "or pyproject.toml, or a wheel or source archive)",
            hint=fix,
            path=source,
        )
    return pkg


#: pip options that only say where packages come from: given to every step that downloads
_INDEX_OPTIONS = frozenset(
    {
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--trusted-host",
        "--pre",
        "--prefer-binary",
        "--only-binary",
        "--no-binary",
    }
)


def pip_options(root: Path, files: list[str]) -> list[str]:
    """The index options of requirements files that install the repository's packages, as pip arguments.

    Such a file is split between steps (named packages, the local packages' dependencies), so its
    options are given to every step that downloads. What cannot be split is refused with the line:
    a constraints file or a find-links folder of the repository (read by steps that run before the
    repository is copied), and options that change how pip installs rather than where from.
    """
    args: list[str] = []
    for rel in files:
        for number, line in logical_lines(read_repo_text(root, rel)):
            if not line.startswith("-") or re.match(r"^(-r|--requirement|-e|--editable)(\s|=)", line):
                continue
            match = re.match(r"^(-[A-Za-z]|--[A-Za-z-]+)(?:\s*=\s*|\s+|$)(.*)$", line)
            name, value = (match.group(1), match.group(2).strip()) if match else (line.split()[0], "")
            local_links = name in ("-f", "--find-links") and "://" not in value
            if name not in _INDEX_OPTIONS or local_links:
                why = (
                    "a folder of the repository, which the download steps run before the repository is copied "
                    "cannot read"
                    if local_links
                    else "only index options (--index-url, --extra-index-url, --find-links URL, --trusted-host, "
                    "--pre, --prefer-binary, --only-binary, --no-binary) can be given to each of them"
                )
                raise ConfigError(
                    f"{rel}:{number}: pip option {name!r} in a requirements file that installs the "
                    "repository's own packages: an offline build installs them in steps of their "
                    f"own, and {why}",
                    hint="pin the packages from PyPI instead, move the option to a requirements file "
                    "that installs no local package, or build with --mode binder",
                    path=rel,
                )
            args += [name, value] if value else [name]
    return args


def _unedited(line: str) -> str:
    """A requirement line without its ``-e``/``--editable`` (:func:`is_editable` says whether it had one)."""
    return re.sub(r"^\s*(-e|--editable)(\s+|=)\s*", "", line).strip()


def _pip_args(line: str) -> list[str]:
    """One requirement line as pip arguments (``-e URL`` is two)."""
    return ["-e", _unedited(line)] if is_editable(line) else [line]


def backend_requirements(root: Path, pkg: LocalPackage) -> list[str]:
    """What building ``pkg`` needs, read from its ``pyproject.toml`` as data (nothing of it is run)."""
    if pkg.path.endswith(".whl"):
        return []
    rel = "pyproject.toml" if pkg.path == "." else f"{pkg.path}/pyproject.toml"
    if not pkg.folder or not repo_has(root, rel):
        return list(DEFAULT_BACKEND)
    try:
        system = tomllib.loads(read_repo_text(root, rel)).get("build-system")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{rel}: not valid TOML: {exc}", hint="fix the file", path=rel) from None
    requires = system.get("requires") if isinstance(system, dict) else None
    if requires is None:
        return list(DEFAULT_BACKEND)
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise ConfigError(
            f"{rel}: [build-system] requires is not a list of strings",
            hint='write e.g. requires = ["setuptools>=61"]',
            path=rel,
        )
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for text in requires:
        try:
            out.append(str(Requirement(text)))
        except InvalidRequirement as exc:
            raise ConfigError(
                f"{rel}: build requirement {text!r} is not valid: {exc}",
                hint='write e.g. requires = ["setuptools>=61"]',
                path=rel,
            ) from None
    # setuptools' backend asks for wheel when it builds a wheel (setuptools before 70.1)
    return out + (["wheel"] if any(r.startswith("setuptools") for r in out) else [])


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
        refused by :func:`~paperpack.image.environment.check_environment_files` before any of them is read;
        here too: one is refused, never skipped)."""
        if self.environment.linked_out(name):
            read_repo_bytes(self.root, self.environment.path(name))  # raises EnvironmentFileError naming the link
        return self.environment.uses(name)

    @property
    def plan(self) -> OfflinePlan:
        if not hasattr(self, "_plan"):
            self._plan = plan_offline(
                self.root,
                python=self.python_override,
                allow_substitution=self.allow_substitution,
                environment=self.environment,
            )
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
        check = (
            f'python3 -c \'import sys; v="%d.%d" % sys.version_info[:2]; '
            f'sys.exit(0 if v == "{want}" else "base image {self.base_image} has Python " + v + ", expected {want}")\''
        )
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
            raise EnvironmentFileError(
                f"{apt}:{first.line}: {first.message}" if first.line else first.message,
                hint="one Debian package per line, as name or name=version (a trailing "
                "'-' is apt-get's remove suffix and is refused)",
                path=apt,
            )
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
    def local_packages(self) -> tuple[list[LocalPackage], list[str]]:
        """(the repository's own packages, the named requirements installed alongside them).

        From ``setup.py``/``pyproject.toml`` (``.``), the local lines of a ``requirements.txt`` that
        reads the repository (its named lines, includes followed, are the second list), and the local
        items of ``environment.yml``'s pip section.
        """
        packages: list[LocalPackage] = []
        named: list[str] = []
        path, reads_repo = self._requirements()
        if path and reads_repo:
            reqs = parse_requirements_txt(self.root, path)
            # its other "local" lines (``-e git+https://…``, a URL) are third-party packages, downloaded as named ones
            named += [r.raw for r in reqs.requirements] + [ln for ln in reqs.local if not is_local_requirement(ln)]
            packages += [local_package(self.root, ln, path) for ln in reqs.local if is_local_requirement(ln)]
        env_yml = self.plan.environment_yml or "environment.yml"
        packages += [local_package(self.root, r, env_yml) for r in self.plan.requirements if is_local_requirement(r)]
        if self.environment.installs_repo:  # repo2docker would run `pip install .`
            packages.append(
                LocalPackage(".", False, (), "setup.py" if repo_has(self.root, "setup.py") else "pyproject.toml")
            )
        return _merged(packages), named

    @lru_cache
    def pip_options(self) -> list[str]:
        """Index options of the requirements file that installs the repository's packages (else none)."""
        path, reads_repo = self._requirements()
        return pip_options(self.root, parse_requirements_txt(self.root, path).files) if path and reads_repo else []

    @lru_cache
    def get_preassemble_scripts(self) -> list[tuple[str, str]]:
        scripts = []
        packages = self._apt_packages()
        if packages:
            scripts.append(
                (
                    "root",
                    "apt-get -qq update && apt-get install --yes --no-install-recommends "
                    + " ".join(packages)
                    + " && apt-get -qq clean && rm -rf /var/lib/apt/lists/*",
                )
            )
        local, alongside = self.local_packages()
        named = [r for r in self.plan.requirements if not is_local_requirement(r)] + alongside
        if named:
            args = [*self.pip_options(), *(a for r in named for a in _pip_args(r))]
            scripts.append(("${NB_USER}", download_step(f"{PIP} " + " ".join(shlex.quote(a) for a in args))))
        path, reads_repo = self._requirements()
        if path and not reads_repo:
            scripts.append(("${NB_USER}", download_step(f"{PIP} -r {shlex.quote(path)}")))
        if local:  # before the repository's files are copied: no code of the paper has run yet
            backends = sorted({r for p in local for r in backend_requirements(self.root, p)})
            fetch = (
                (f"{_PIP_DL} --only-binary :all: --dest {STORE}/backends " + " ".join(shlex.quote(r) for r in backends))
                if backends
                else "true"
            )
            scripts.append(
                (
                    "root",
                    download_step(f"{_AS_ROOT}python3 -m venv {DOWNLOADER} && mkdir -p {STORE}/backends && {fetch}"),
                )
            )
        return scripts

    def local_package_scripts(self, local: list[LocalPackage]) -> list[tuple[str, str]]:
        """Build the repository's own packages, then download their dependencies, then install them.

        1. offline, as the image user: ``pip wheel --no-deps --no-index`` of each package from the
           backends downloaded before the repository was copied (the paper's code runs here);
        2. download, as root, with the root-owned pip under ``python -I``: the wheels' Requires-Dist,
           read as data, into a folder this step makes (nothing step 1 wrote is run);
        3. offline, as the image user: ``pip install --no-index`` of the wheels and their dependencies,
           then the editable packages again, as editable.
        """
        q = shlex.quote
        options = "".join(f" {q(a)}" for a in self.pip_options())
        extras = "".join(f" {q(e)}" for e in sorted({e for p in local for e in p.extras}))
        build = (
            f"{VENV}/bin/pip --disable-pip-version-check wheel --progress-bar off --no-deps --no-index --use-pep517 "
            f"--find-links {STORE}/backends --wheel-dir {LOCAL_WHEELS} " + " ".join(q(p.path) for p in local)
        )
        fetch = (
            f"{_AS_ROOT}mkdir {STORE}/deps && {_DEPENDENCIES_CMD} {LOCAL_WHEELS} {VENV} {STORE}/deps.txt{extras} && "
            f"if [ -s {STORE}/deps.txt ]; then {_PIP_DL}{options} --dest {STORE}/deps -r {STORE}/deps.txt; fi"
        )
        index = f"--no-index --find-links {STORE}/deps --find-links {STORE}/backends --find-links {LOCAL_WHEELS}"
        install = f"{PIP} {index} -r {STORE}/deps.txt {LOCAL_WHEELS}/*.whl"
        editable = [p for p in local if p.editable]
        if editable:
            install += f" && {PIP} --no-deps --use-pep517 {index} " + " ".join(f"-e {q(p.path)}" for p in editable)
        return [
            ("${NB_USER}", offline_step(build)),
            ("root", download_step(fetch)),
            ("${NB_USER}", offline_step(f"{install} && rm -rf {LOCAL_WHEELS}")),
            ("root", f"rm -rf {STORE} {DOWNLOADER}"),
        ]

    @lru_cache
    def get_assemble_scripts(self) -> list[tuple[str, str]]:
        local, _ = self.local_packages()
        scripts = self.local_package_scripts(local) if local else []
        if self._file("postBuild"):  # here rather than repo2docker's own RUN: with the build limits
            path = shlex.quote(self.binder_path("postBuild"))
            scripts.append(("${NB_USER}", limited_step(f"chmod +x {path} && ./{path}")))
        return scripts

    @lru_cache
    def get_post_build_scripts(self) -> list[str]:
        return []  # postBuild is the last assemble script (get_assemble_scripts)

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
