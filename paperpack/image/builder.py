"""Build a paper repository into a container image with repo2docker, driven as a library.

:func:`build_image` works out the mode and the base image, computes the
content-addressed tag (:func:`expected_image` gives it without building; ``paperpack
run`` uses it to find the image), returns at once when that image exists, else stages
the repository's files into a temporary build context and runs
:class:`repo2docker.app.Repo2Docker` with uid 1000/jovyan, content providers
restricted to local folders and git, the buildpacks of the mode, provenance labels
and the CA bundle as a BuildKit secret. Not thread-safe: repo2docker changes the
current directory while it builds (a lock serialises builds in one process).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import BuildError, ConfigError, EngineError, UsageError
from ..repository.repo import Repo
from ..util import docker as engine
from ..util.words import Word
from .baseimage import RELEASES, base_image_tag, ensure_base_image, make_command, maker_problem
from .diagnose import diagnose
from .environment import OfflinePlan, check_environment_files, plan_offline
from .tags import TAG_LENGTH, content_hash, image_repository

__all__ = [
    "BuildResult",
    "build_image",
    "expected_image",
    "resolve_mode",
    "BaseNeed",
    "missing_base",
    "ca_bundle_from_env",
    "STOCK_BASE_IMAGE",
    "MODES",
    "BuildMode",
    "LABEL_PREFIX",
    "ProxySettings",
    "without_credentials",
    "build_timeout",
    "DEFAULT_BUILD_TIMEOUT",
    "build_limits",
    "DEFAULT_BUILD_MEMORY",
    "DEFAULT_BUILD_PIDS",
]

log = logging.getLogger(__name__)


class BuildMode(Word):
    """``--mode``: how the image is built (``auto`` picks one of the other two)."""

    AUTO = "auto"
    BINDER = "binder"  #: stock repo2docker: its base image and conda come from the Internet
    OFFLINE = "offline"  #: paperpack's own buildpack on a local base image


MODES = tuple(m.value for m in BuildMode)
STOCK_BASE_IMAGE = "docker.io/library/buildpack-deps:24.04"
NB_USER, NB_UID = "jovyan", 1000
LABEL_PREFIX = "io.paperpack"
CA_ENV_VARS = ("PAPERPACK_CA_BUNDLE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
#: Wall-clock limit of one build, seconds (``PAPERPACK_BUILD_TIMEOUT`` or ``timeout=`` change it).
DEFAULT_BUILD_TIMEOUT = 3600.0
#: Memory and process limits of each step of an offline build (``PAPERPACK_BUILD_MEMORY``, ``PAPERPACK_BUILD_PIDS``)
DEFAULT_BUILD_MEMORY = "4g"
DEFAULT_BUILD_PIDS = 1024
MIN_BUILD_PIDS = 64  # pip and a compiler need a few dozen
_CREDENTIALS = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)?[^/\s]*@")  # to the last @ of the authority
_LOCK = threading.Lock()


@dataclass
class BuildResult:
    image: str  # the content-addressed tag, e.g. paperpack/my-paper:1a2b…
    image_id: str
    reused: bool
    mode: str  # "binder" or "offline"
    python_version: str | None
    labels: dict[str, str] = field(default_factory=dict)
    duration: float = 0.0  # seconds
    log_path: Path | None = None
    substitution: str | None = None
    pushed: bool = False
    #: the commit verified (HEAD when the build ran), which a reused image's labels may not name
    commit: str | None = None
    #: a reused image: the build it came from (commit, created, as its labels say); None when built now
    reused_from: dict[str, str | None] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["log_path"] = str(self.log_path) if self.log_path else None
        d["duration"] = round(self.duration, 3)
        return d


def _env_settings(repo: Repo) -> dict[str, Any]:
    env = repo.manifest.get("environment", {}) if repo.manifest else {}
    return dict(env or {})


def resolve_mode(mode: str, repo: Repo) -> str:
    """``binder`` or ``offline``. ``auto``: the manifest's ``environment.mode`` if set, else
    binder only when repo2docker's stock base image is already in the local image store
    (no network probe), else offline."""
    if mode not in MODES:
        raise UsageError(f"unknown build mode {mode!r}", hint=f"use one of {', '.join(MODES)}")
    if mode != "auto":
        return mode
    configured = _env_settings(repo).get("mode")
    if configured:
        return str(configured)
    return "binder" if engine.image_id(STOCK_BASE_IMAGE) else "offline"


def ca_bundle_from_env() -> Path | None:
    """The CA bundle named by the usual environment variables, if that file exists."""
    for var in CA_ENV_VARS:
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    return None


def without_credentials(url: str) -> str:
    """A proxy URL with its ``user:password@`` removed (``http://u:p@proxy:3128`` → ``http://proxy:3128``)."""
    return _CREDENTIALS.sub(lambda m: m.group("scheme") or "", url, count=1)


@dataclass(frozen=True)
class ProxySettings:
    """The machine's proxy variables, split into what a build step may see and what only downloads get."""

    build_args: dict[str, str]  #: every proxy variable, credentials removed: any step may see (and save) these
    secret: str | None  #: shell ``export`` lines with the credentials, or ``None`` when there are none

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ProxySettings:
        args = {k: without_credentials(v) for k, v in environ.items() if k in PROXY_VARS}
        lines = [f"export {k}={shlex.quote(environ[k])}" for k in sorted(args) if args[k] != environ[k]]
        return cls(args, "\n".join(lines) + "\n" if lines else None)


def build_timeout(value: float | None = None) -> float:
    """``value``, else ``PAPERPACK_BUILD_TIMEOUT`` (seconds), else :data:`DEFAULT_BUILD_TIMEOUT`."""
    if value is not None:
        return value
    raw = os.environ.get("PAPERPACK_BUILD_TIMEOUT")
    if raw is None:
        return DEFAULT_BUILD_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise ConfigError(
            f"PAPERPACK_BUILD_TIMEOUT={raw!r} is not a positive number of seconds",
            hint="set it to e.g. 3600, or unset it for the default of one hour",
        )
    return seconds


def build_limits(memory: str | None = None, pids: int | None = None) -> engine.BuildLimits:
    """The limits of each build step: the arguments, else ``PAPERPACK_BUILD_MEMORY`` / ``PAPERPACK_BUILD_PIDS``,
    else 4g and 1024. Only the machine's user sets them: ``paperpack.yml`` is the repository's, which they limit."""
    from ..util.sizes import size_bytes

    text = memory or os.environ.get("PAPERPACK_BUILD_MEMORY") or DEFAULT_BUILD_MEMORY
    try:
        size = size_bytes(text)
    except ConfigError:
        raise ConfigError(
            f"build memory limit {text!r} (PAPERPACK_BUILD_MEMORY) is not a size",
            hint=f"write a size such as 4g or 512m, or unset it for the default of {DEFAULT_BUILD_MEMORY}",
        ) from None
    raw = str(pids) if pids is not None else os.environ.get("PAPERPACK_BUILD_PIDS")
    try:
        count = int(raw) if raw is not None else DEFAULT_BUILD_PIDS
    except ValueError:
        count = 0
    if count < MIN_BUILD_PIDS or size < 64 * 1024**2:
        raise ConfigError(
            f"build limits memory={text!r}, processes={raw!r} (PAPERPACK_BUILD_MEMORY, "
            f"PAPERPACK_BUILD_PIDS) are too small or not numbers",
            hint=f"at least 64m and {MIN_BUILD_PIDS} processes; defaults {DEFAULT_BUILD_MEMORY} and "
            f"{DEFAULT_BUILD_PIDS}",
        )
    return engine.BuildLimits(memory=size, pids=count, memory_text=text)


def _guard(plan: _Plan, limits: engine.BuildLimits, scratch: Path) -> tuple[engine.BuildGuard | None, list[str]]:
    """The build guard and its ``--secret`` arguments, when this build's steps are paperpack's and the machine
    allows it; else ``(None, [])`` and a warning saying what is not applied."""
    if not plan.secrets_allowed:  # a repository's Dockerfile or binder mode: none of the steps is paperpack's
        return None, []
    why = engine.guard_unavailable()
    if why is not None:
        log.warning(
            "the build's memory and process limits and the network cut of the paper's package builds "
            "are not applied: %s (see docs/build.md, 'Build limits')",
            why,
        )
        return None, []
    nonce = secrets.token_hex(16)
    path = scratch / "guard-nonce"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(nonce)
    args = [
        a for kind in (engine.GUARD_LIMITS_ID, engine.GUARD_OFFLINE_ID) for a in ("--secret", f"id={kind},src={path}")
    ]
    return engine.BuildGuard(limits, nonce), args


def _limit_error(tag: str, hit: engine.LimitHit, limits: engine.BuildLimits, step: str) -> str:
    if hit.kind == "memory":
        return f"building {tag} was stopped at {step}: it went over the build memory limit of {limits.memory_text}"
    return f"building {tag} was stopped at {step}: it went over the build process limit of {limits.pids} processes"


_LIMIT_HINTS = {
    "memory": "a build step (postBuild, a setup.py, or pip compiling a large package from source) used more memory "
    "than a build step may; if the build really needs more, raise PAPERPACK_BUILD_MEMORY (e.g. 8g)",
    "pids": "a build step (postBuild or a setup.py) started more processes than a build step may, as a runaway loop "
    "does; if the build really needs more, raise PAPERPACK_BUILD_PIDS (e.g. 4096)",
}


class _Watchdog(engine.BackgroundWatch):
    """Stops this process's ``docker buildx build`` child when the build's time is up.

    repo2docker starts the buildx client itself and gives no handle on it; the client is
    found among this process's own children (``/proc/<pid>/stat``'s parent id) and sent
    SIGTERM, which cancels the build in BuildKit. Only children whose command line is a
    ``buildx build`` are touched; until one is found (repo2docker may not have started it
    yet) the watchdog looks again every second.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.fired = False
        super().__init__("paperpack-build-timeout")

    def _watch(self) -> None:
        if self._done.wait(self.seconds):
            return
        self.fired = True
        while not self._stop_buildx() and not self._done.wait(1.0):
            pass

    def _stop_buildx(self) -> bool:
        me, stopped = os.getpid(), False
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            if parent == me and b"buildx" in argv and b"build" in argv:
                log.warning(
                    "build time limit of %.0f s reached: stopping docker buildx (pid %s)", self.seconds, entry.name
                )
                try:
                    os.kill(int(entry.name), signal.SIGTERM)
                    stopped = True
                except ProcessLookupError:
                    pass
        return stopped


def _log_path(tag: str) -> Path:
    from ..util.cache import cache_dir

    folder = cache_dir() / "build-logs"  # with the other caches (PAPERPACK_CACHE_DIR), where `paperpack clean` looks
    folder.mkdir(parents=True, exist_ok=True)
    return folder / (tag.replace("/", "_").replace(":", "_") + ".log")


def _stage(repo: Repo, dest: Path) -> None:
    """Copy the files that make the build context (hard links where possible)."""
    for rel in repo.files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(repo.root / rel, target)
        except OSError:
            shutil.copy2(repo.root / rel, target)
    for rel in repo.symlinks:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.readlink(repo.root / rel), target)


class _LineHandler(logging.Handler):
    """Collects repo2docker's log lines into the log file, a list and the progress callback."""

    def __init__(self, sink: Any, progress: Callable[[str], None] | None):
        super().__init__(logging.INFO)
        self.sink = sink
        self.progress = progress
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        for line in record.getMessage().splitlines():
            self.lines.append(line)
            self.sink.write(line + "\n")
            if self.progress is not None:
                self.progress(line)


@dataclass
class _Plan:
    mode: str
    base_image: str
    base_id: str
    python: str | None
    release: str | None
    substitution: str | None
    buildpacks: list[type] | None  # None: repo2docker's stock list
    dockerfile: bool = False  # the repository's own Dockerfile is built
    python_source: str | None = None  # the file that set the Python ("runtime.txt"…), "default" when none

    @property
    def secrets_allowed(self) -> bool:
        """Only paperpack's own buildpack gets the CA bundle and proxy credentials, in its download steps."""
        return self.mode == "offline" and not self.dockerfile


@dataclass(frozen=True)
class BaseNeed:
    """The offline base image a build needs and the local image store lacks."""

    tag: str  # e.g. paperpack/base:bookworm
    release: str  # its Debian release
    own: bool  # paperpack's base image of that release (paperpack can make it), not one paperpack.yml names


def _offline_base(repo: Repo, allow_substitution: bool | None) -> tuple[OfflinePlan, str, bool]:
    """(offline plan, base image, whether it is paperpack's own) of a repository built by the offline buildpack."""
    settings = _env_settings(repo)
    allow = bool(settings.get("allow_python_substitution")) if allow_substitution is None else allow_substitution
    plan = plan_offline(
        repo.root,
        python=settings.get("python"),
        allow_substitution=allow,
        environment=repo.environment,
        present=lambda release: engine.image_id(base_image_tag(release)) is not None,
    )
    named = settings.get("base_image")
    return plan, str(named or base_image_tag(plan.release)), not named


def missing_base(repo: Repo, mode: str = "auto", allow_substitution: bool | None = None) -> BaseNeed | None:
    """The base image the build of ``repo`` in ``mode`` needs and this machine lacks, or ``None``.

    Only the offline buildpack starts from a base image paperpack makes; binder mode and
    a repository's own Dockerfile need none (``None``). Raises what :func:`expected_image`
    raises for environment files the mode cannot build.
    """
    if resolve_mode(mode, repo) != "offline" or repo.environment.buildpack == "DockerBuildPack":
        return None
    plan, base, own = _offline_base(repo, allow_substitution)
    return None if engine.image_id(base) else BaseNeed(base, plan.release, own)


def _plan(
    repo: Repo,
    mode: str,
    allow_substitution: bool | None,
    *,
    make_base: bool = False,
    progress: Callable[[str], None] | None = None,
) -> _Plan:
    """``make_base``: make paperpack's base image the plan needs when it is missing and this machine can."""
    from ._r2d import DockerBuildPack

    settings = _env_settings(repo)
    env = repo.environment
    check_environment_files(repo.root, env)  # repo2docker and buildx open them on the host: no link may leave
    if mode == "binder":
        base = str(settings.get("base_image") or STOCK_BASE_IMAGE)
        from .buildpack import stock_buildpacks  # imports repo2docker: only when building

        return _Plan(mode, base, engine.image_id(base) or "not-present-locally", None, None, None, stock_buildpacks())
    allow = bool(settings.get("allow_python_substitution")) if allow_substitution is None else allow_substitution
    python = settings.get("python")
    dockerfile = env.buildpack == "DockerBuildPack"
    if dockerfile:
        plan = None
        base = str(settings.get("base_image") or base_image_tag("bookworm"))
        base_id = engine.image_id(base) or "not-present-locally"
    else:
        plan, base, own = _offline_base(repo, allow_substitution)
        found = engine.image_id(base)
        if found is None:
            found = _make_base(base, plan.release, own=own, make_base=make_base, progress=progress)
        base_id = found
    from .buildpack import offline_buildpack  # imports repo2docker: only when building

    bp = offline_buildpack(python=python, allow_substitution=allow)
    return _Plan(
        "offline",
        base,
        base_id,
        plan.python if plan else None,
        plan.release if plan else None,
        plan.substitution if plan else None,
        [DockerBuildPack, bp],
        dockerfile=dockerfile,
        python_source=plan.source if plan else None,
    )


def _built_from(labels: dict[str, str]) -> dict[str, str | None]:
    """The build a reused image came from, as its labels say (labels describe the build, not this run)."""
    return {
        "commit": labels.get(f"{LABEL_PREFIX}.commit") or labels.get("org.opencontainers.image.revision") or None,
        "created": labels.get("org.opencontainers.image.created") or None,
    }


def _make_base(base: str, release: str, *, own: bool, make_base: bool, progress: Callable[[str], None] | None) -> str:
    """Make paperpack's missing base image ``base`` (``own``) when asked and this machine can; its id. Else say why."""
    problem, fix = maker_problem(release) if own else ("", f"paperpack base-image --release {release}")
    if not own or problem or not make_base:
        cannot = f" and cannot be made here: {problem}" if problem else ""
        raise EngineError(
            f"the base image {base} is not present in the local Docker image store{cannot}",
            hint=f"make it with `{fix or make_command(release)}` "
            "(debootstrap + docker import, about a minute; needs root)",
        )
    engine.preflight(buildx=True)  # no use making a base image that no build can use
    log.info("making the base image %s (Debian %s) before the first build", base, release)
    return ensure_base_image(release, progress=progress).image_id


def _labels(repo: Repo, plan: _Plan, digest: str) -> dict[str, str]:
    from ._r2d import repo2docker

    commit = repo.commit()
    labels = {
        "org.opencontainers.image.created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "org.opencontainers.image.title": repo.root.name,
        "org.opencontainers.image.base.name": plan.base_image,
        f"{LABEL_PREFIX}.version": __version__,
        f"{LABEL_PREFIX}.repo2docker-version": repo2docker.__version__,
        f"{LABEL_PREFIX}.mode": plan.mode,
        f"{LABEL_PREFIX}.base-image-id": plan.base_id,
        f"{LABEL_PREFIX}.content-hash": digest,
        f"{LABEL_PREFIX}.python": plan.python or "",
        f"{LABEL_PREFIX}.commit": commit or "",
    }
    if commit:
        labels["org.opencontainers.image.revision"] = commit
    if plan.substitution:
        labels[f"{LABEL_PREFIX}.python-substitution"] = plan.substitution
    if repo.manifest and (repo.manifest.get("paper") or {}).get("doi"):
        labels[f"{LABEL_PREFIX}.paper-doi"] = str(repo.manifest.get("paper")["doi"])
    return labels


def _secret_args(plan: _Plan, ca_bundle: Path | None, proxy: ProxySettings, scratch: Path) -> list[str]:
    """``--secret`` arguments: the CA bundle and the proxy's credentials, for paperpack's own buildpack only.

    A repository's own Dockerfile (or a stock buildpack) gets neither: its RUN steps are
    the paper's code, which could copy a mounted secret into the image.
    """
    from .buildpack import CA_SECRET_ID, PROXY_SECRET_ID

    if not plan.secrets_allowed:
        return []
    args = ["--secret", f"id={CA_SECRET_ID},src={ca_bundle}"] if ca_bundle else []
    if proxy.secret is not None:
        path = scratch / "proxy-secret"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(proxy.secret)
        args += ["--secret", f"id={PROXY_SECRET_ID},src={path}"]
    return args


def _run_repo2docker(
    context: Path,
    tag: str,
    plan: _Plan,
    labels: dict[str, str],
    secrets: list[str],
    proxy: ProxySettings,
    handler: _LineHandler,
) -> None:
    from traitlets.config import Config

    from ._r2d import Repo2Docker, contentproviders

    class _Builder(Repo2Docker):
        def find_image(self) -> bool:  # paperpack decided to build; never reuse by name
            return False

    extra = list(secrets)
    config = Config()
    config.DockerEngine.extra_buildx_build_args = extra
    r2d = _Builder(config=config)
    r2d.repo = str(context)
    r2d.output_image_spec = tag
    r2d.user_id, r2d.user_name = NB_UID, NB_USER
    r2d.content_providers = [contentproviders.Local, contentproviders.Git]
    if plan.buildpacks is not None:
        r2d.buildpacks = plan.buildpacks
    r2d.base_image = plan.base_image
    r2d.labels = labels
    r2d.extra_build_args = dict(proxy.build_args)  # no credentials: every step sees these
    r2d.run = False
    r2d.push = False
    r2d.initialize()
    r2d_log = logging.getLogger("repo2docker")
    r2d_log.handlers = [handler]  # after initialize(), which installs its own stderr handler
    r2d_log.propagate = False
    failed: int | None = None
    with warnings.catch_warnings():
        # repo2docker leaves the build process's pipe to the garbage collector: let it go here,
        # not later (the exception's traceback would keep it alive past this block)
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            r2d.build()
        except subprocess.CalledProcessError as exc:
            failed = exc.returncode
        finally:
            r2d_log.handlers = []  # the handler's log file closes after this build
            gc.collect()
    if failed is not None:
        raise subprocess.CalledProcessError(failed, "docker buildx build")


def _push(tag: str, progress: Callable[[str], None] | None) -> None:
    from .push import push_image

    push_image(tag, progress=progress)


def _target(
    repo: Repo,
    mode: str,
    image_name: str | None,
    allow_substitution: bool | None,
    *,
    make_base: bool = False,
    progress: Callable[[str], None] | None = None,
) -> tuple[_Plan, str, str]:
    """(plan, content hash, tag): everything :func:`build_image` decides before it looks for the image."""
    engine.preflight(buildx=False)  # buildx is checked only when a build is needed
    plan = _plan(repo, resolve_mode(mode, repo), allow_substitution, make_base=make_base, progress=progress)
    digest = content_hash(
        repo.root,
        repo.files,
        repo.symlinks,
        settings={
            "mode": plan.mode,
            "base_image": plan.base_image,
            "base_id": plan.base_id,
            "python": plan.python,
            "substitution": plan.substitution,
            "user": f"{NB_USER}:{NB_UID}",
        },
    )
    repository = image_repository(repo.root, image_name)
    if ":" in repository.rsplit("/", 1)[-1] or "@" in repository:
        raise UsageError(
            f"image name {repository!r} has a tag; paperpack sets the tag from the content",
            hint="give the repository part only, e.g. ghcr.io/me/paper",
        )
    return plan, digest, f"{repository}:{digest[:TAG_LENGTH]}"


def expected_image(
    repo: Repo, *, mode: str = "auto", image_name: str | None = None, allow_substitution: bool | None = None
) -> str:
    """The content-addressed tag :func:`build_image` gives (or reuses) for this state of ``repo``.

    Nothing is built, and the image need not exist: ``paperpack run`` looks for it. It
    asks Docker for the base image's id (part of the tag), so it raises the
    :class:`~paperpack.errors.EngineError` build_image would when Docker or the base
    image is missing, and :class:`~paperpack.errors.ConfigError` when the environment
    files cannot be built in the mode.
    """
    return _target(repo, mode, image_name, allow_substitution)[2]


def build_image(
    repo: Repo,
    *,
    mode: str = "auto",
    force: bool = False,
    ca_bundle: Path | None = None,
    push: bool = False,
    progress: Callable[[str], None] | None = None,
    image_name: str | None = None,
    allow_substitution: bool | None = None,
    timeout: float | None = None,
    make_base: bool = False,
    memory: str | None = None,
    pids: int | None = None,
) -> BuildResult:
    """Build (or reuse) the image of ``repo``; see the module docstring.

    ``make_base``: when paperpack's base image the build starts from is missing, make it
    first (:func:`~paperpack.image.baseimage.ensure_base_image`, its lines to
    ``progress``) if this machine can; else (or without ``make_base``) raise.

    ``timeout`` (seconds, default :func:`build_timeout`) stops a build that runs longer,
    with a :class:`~paperpack.errors.BuildError` naming the limit. ``memory`` and ``pids``
    (default :func:`build_limits`) limit each step paperpack generates in an offline build
    (:class:`~paperpack.util.docker.BuildGuard`, when this machine allows it); a step that
    goes over one is stopped, with a :class:`~paperpack.errors.BuildError` naming it.

    Raises :class:`~paperpack.errors.EngineError` when Docker, buildx or the base image
    is missing, :class:`~paperpack.errors.ConfigError` for environment files an offline
    build cannot honour, and :class:`~paperpack.errors.BuildError` (with ``step``,
    ``log_tail`` and a hint) when the build fails.
    """
    start = time.monotonic()
    limit = build_timeout(timeout)
    limits = build_limits(memory, pids)
    if ca_bundle is not None and not Path(ca_bundle).is_file():
        raise ConfigError(
            f"CA bundle {ca_bundle}: no such file", hint="give the PEM file your proxy's CA is in", path=ca_bundle
        )
    ca = Path(ca_bundle).resolve() if ca_bundle else ca_bundle_from_env()
    plan, digest, tag = _target(repo, mode, image_name, allow_substitution, make_base=make_base, progress=progress)
    info = engine.image_inspect(tag)
    replaced = str(info["Id"]) if info is not None and force else None
    if info is not None and not force:
        labels = dict(info.get("Config", {}).get("Labels") or {})
        if push:
            _push(tag, progress)
        return BuildResult(
            image=tag,
            image_id=str(info["Id"]),
            reused=True,
            mode=plan.mode,
            python_version=labels.get(f"{LABEL_PREFIX}.python") or plan.python,
            labels=labels,
            duration=time.monotonic() - start,
            log_path=None,
            substitution=labels.get(f"{LABEL_PREFIX}.python-substitution"),
            pushed=push,
            commit=repo.commit(),
            reused_from=_built_from(labels),
        )
    engine.preflight(buildx=True)
    labels = _labels(repo, plan, digest)
    log_path = _log_path(tag)
    log.info("building %s (%s mode, base %s)", tag, plan.mode, plan.base_image)
    proxy = ProxySettings.from_environ(os.environ)
    with (
        _LOCK,
        tempfile.TemporaryDirectory(prefix="paperpack-context-") as tmp,
        log_path.open("w", encoding="utf-8") as sink,
    ):
        context = Path(tmp) / repo.root.name
        context.mkdir()
        _stage(repo, context)
        handler = _LineHandler(sink, progress)
        watchdog = _Watchdog(limit)
        guard, guard_args = _guard(plan, limits, Path(tmp))
        try:
            with watchdog, guard or contextlib.nullcontext():
                _run_repo2docker(
                    context, tag, plan, labels, _secret_args(plan, ca, proxy, Path(tmp)) + guard_args, proxy, handler
                )
        except subprocess.CalledProcessError:
            if guard is not None and (guard.hits or guard.problems):
                d = diagnose(handler.lines, python=plan.python, release=plan.release, source=plan.python_source)
                if guard.hits:
                    hit = guard.hits[0]
                    raise BuildError(
                        _limit_error(tag, hit, limits, d.step),
                        step=d.step,
                        hint=_LIMIT_HINTS[hit.kind],
                        log_tail=d.tail,
                        path=log_path,
                    ) from None
                raise BuildError(
                    f"building {tag} failed at {d.step}: paperpack could not limit the step: {guard.problems[0]}",
                    step=d.step,
                    log_tail=d.tail,
                    path=log_path,
                    hint="the guard limits each step before it runs and could not limit this one, for the "
                    "reason above (the step did not run): rerun, and if it fails again report it with that "
                    "reason and the output of `docker info` (docs/build.md, 'Build limits')",
                ) from None
            if watchdog.fired:
                raise BuildError(
                    f"building {tag} was stopped: it ran longer than the build time limit of {limit:.0f} s",
                    step="time limit",
                    hint="find the slow step in the build log (a postBuild or setup.py that waits, "
                    "or compiles a large package from source); if the build really needs "
                    "longer, raise PAPERPACK_BUILD_TIMEOUT (seconds)",
                    log_tail=engine.tail("\n".join(handler.lines)),
                    path=log_path,
                ) from None
            d = diagnose(
                handler.lines,
                python=plan.python,
                release=plan.release,
                source=plan.python_source,
                available=tuple(RELEASES.values()) if plan.mode == "offline" and not plan.dockerfile else (),
            )
            raise BuildError(
                f"building {tag} failed at {d.step}: {d.cause}",
                hint=d.hint,
                log_tail=d.tail,
                step=d.step,
                path=log_path,
            ) from None
        except (ValueError, RuntimeError, FileNotFoundError) as exc:
            raise BuildError(
                f"repo2docker could not build {repo.root}: {exc}", hint="see the build log for details", path=log_path
            ) from None
    image = engine.image_inspect(tag)
    if image is None:
        raise EngineError(
            f"the build reported success but {tag} is not in the local image store",
            hint="is buildx using a builder other than the docker driver? try `docker buildx use default`",
        )
    if replaced and replaced != image["Id"]:
        # --force left paperpack's previous image under this tag untagged: remove it
        # (refused, harmlessly, while a container still uses it)
        engine.run([engine.docker_cli(), "image", "rm", replaced], what="remove the replaced image", check=False)
    if push:
        _push(tag, progress)
    return BuildResult(
        image=tag,
        image_id=str(image["Id"]),
        reused=False,
        mode=plan.mode,
        python_version=plan.python,
        labels=dict(image.get("Config", {}).get("Labels") or {}),
        duration=time.monotonic() - start,
        log_path=log_path,
        substitution=plan.substitution,
        pushed=push,
        commit=labels[f"{LABEL_PREFIX}.commit"] or None,
    )
