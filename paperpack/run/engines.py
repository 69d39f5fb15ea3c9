"""Engines run the in-image runner on a batch of notebooks: in a container, or locally.

An :class:`EngineRegistry` is a plain class with ``register``/``get`` (papermill's
pattern), so tests can build their own. :func:`default_registry` knows ``docker`` and
``local``; :func:`choose_engine` picks one (and the image) for ``--engine auto`` and
``--engine docker``: without ``--image``, the image ``paperpack build`` made for this exact
state of the repository, when it exists. ``auto`` falls back to the less isolated local
engine only for reasons of the machine (no Docker daemon, no base image), never for
reasons the repository decides (no image for this state, a tag that cannot be worked
out): a repository must not be able to get its code run as the user without a container.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EngineError, PaperpackError, UsageError
from ..repository.repo import Repo
from ..util.words import Word
from .channel import EVENT_PREFIX as EVENT_BYTES
from .channel import Delivery, new_key, read_channel
from .plan import Limits, PlannedNotebook

__all__ = [
    "EngineName",
    "Batch",
    "Session",
    "Streamed",
    "Engine",
    "EngineRegistry",
    "EngineChoice",
    "default_registry",
    "detect_engine",
    "choose_engine",
    "repo_image",
    "RepoImage",
    "docker_available",
    "RUNNER",
    "EVENT_PREFIX",
    "GIVEN",
    "FOUND",
]

log = logging.getLogger(__name__)


class EngineName(Word):
    """The engines :func:`default_registry` knows (``RunResult.engine`` holds one)."""

    DOCKER = "docker"  #: in a container of the image
    LOCAL = "local"  #: in a virtualenv, as the user (no container isolation)


RUNNER = Path(__file__).resolve().parent / "runner.py"
#: paperpack's own settings the runner reads from its environment (runner.py, kernelfork.py)
RUNNER_SWITCHES = ("PAPERPACK_KERNEL_TEMPLATE",)
EVENT_PREFIX = EVENT_BYTES.decode()
TAIL_LINES = 40
NO_DOCKER_HINT = (
    "start the Docker daemon (or set PAPERPACK_DOCKER to a docker client), or pass --engine local "
    "to run without container isolation, knowingly"
)


@dataclass
class Batch:
    """Independent notebooks run by one runner process (one container)."""

    number: int
    notebooks: list[PlannedNotebook]
    keys: dict[str, str]  # path -> key
    key: bytes = field(default_factory=new_key)  # signs the runner's messages (run/channel.py)


def _no_event(event: dict[str, Any]) -> None:
    """Progress events go nowhere (the default, and on a remote worker)."""


@dataclass
class Session:
    """Everything a run shares across batches."""

    repo: Repo
    work_dir: Path  # host folder: the writable working copy
    limits: Limits  # resolved
    jobs: int
    image: str | None = None
    on_event: Callable[[dict[str, Any]], None] = _no_event
    data: list[tuple[Path, str]] = field(default_factory=list)  # (fetched file, repo-relative target)
    cache_dir: Path | None = None  # paperpack's cache folder (--cache-dir); None: cache.cache_dir()
    cancelled: threading.Event = field(default_factory=threading.Event)

    def __getstate__(self) -> dict[str, Any]:
        """Sent to another process (a Dask worker): no progress callback, a fresh cancel flag."""
        state = dict(self.__dict__)
        state["on_event"] = _no_event
        state["cancelled"] = self.cancelled.is_set()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        cancelled = threading.Event()
        if state.pop("cancelled"):
            cancelled.set()
        self.__dict__.update(state, cancelled=cancelled)


class Engine:
    """Base: run a batch through the runner and stream its progress lines."""

    name = "engine"
    isolation = ""

    def __init__(self) -> None:
        self._procs: dict[int, subprocess.Popen[Any]] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """An engine can be sent to a Dask worker: without its processes and lock."""
        state = dict(self.__dict__)
        state.pop("_procs")
        state.pop("_lock")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        Engine.__init__(self)

    # what subclasses provide
    def available(self) -> tuple[bool, str]:
        raise NotImplementedError

    def prepare(self, session: Session) -> None:
        """Once per run, before any batch (build the venv, check the image)."""

    def run_batch(self, session: Session, batch: Batch) -> dict[str, Any]:
        """Run one batch; returns facts about it (exit code, OOM, output tail)."""
        raise NotImplementedError

    def cancel(self) -> None:
        """Stop everything running now (called on Ctrl-C, from the main thread)."""
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            _kill_group(proc)

    def close(self) -> None:
        """Remove whatever is left (containers); safe to call twice."""

    # shared helpers
    def write_spec(
        self,
        batch: Batch,
        session: Session,
        *,
        source: str,
        workdir: str,
        links: list[dict[str, str]],
        env: dict[str, str] | None = None,
    ) -> bytes:
        """The batch's spec for the runner, to pass on its stdin (it holds the batch's channel key)."""
        spec = {
            "source": source,
            "workdir": workdir,
            "jobs": session.jobs,
            "links": links,
            "channel_key": batch.key.hex(),
            "shared_umask": True,
            "env": {**(env or {}), **{name: os.environ[name] for name in RUNNER_SWITCHES if name in os.environ}},
            "notebooks": [
                {
                    "key": batch.keys[nb.path],
                    "path": nb.path,
                    "timeout": nb.timeout,
                    "cell_timeout": nb.cell_timeout,
                    "parameters": nb.parameters,
                    "kernel": nb.kernel,
                    "allow_errors": nb.allow_errors,
                }
                for nb in batch.notebooks
            ],
        }
        return json.dumps(spec, default=repr).encode("utf-8")

    def stream(
        self, cmd: list[str], session: Session, batch: Batch, *, spec: bytes, env: dict[str, str] | None = None
    ) -> Streamed:
        """Run ``cmd`` in its own process group, ``spec`` on its stdin; read what the runner sends back.

        Progress events go to ``session.on_event``; each notebook's result and executed copy
        come back as signed frames, checked by :func:`~paperpack.run.channel.read_channel`.
        """
        log.debug("running %s", " ".join(cmd))
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        with self._lock:
            self._procs[proc.pid] = proc
        tail: list[str] = []

        def keep(line: str) -> None:
            tail.append(line)
            del tail[:-TAIL_LINES]

        feeder = threading.Thread(target=_feed, args=(proc, spec), daemon=True, name="paperpack-spec")
        feeder.start()
        try:
            assert proc.stdout is not None
            deliveries = read_channel(proc.stdout, set(batch.keys.values()), batch.key, session.on_event, keep)
            code = proc.wait()
        finally:
            if proc.poll() is None:
                _kill_group(proc)
            if proc.stdout is not None:
                proc.stdout.close()
            feeder.join(timeout=5)
            with self._lock:
                self._procs.pop(proc.pid, None)
        return Streamed(code=code, output="\n".join(tail), deliveries=deliveries)


@dataclass
class Streamed:
    """What a runner process gave back: its exit code, its last lines of output, and each notebook's delivery."""

    code: int
    output: str
    deliveries: dict[str, Delivery]


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    """Write the spec to the runner's stdin and close it (a runner that died early just does not read it)."""
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except OSError:  # BrokenPipeError: it has gone; its exit code tells why
        pass


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM the runner's process group, SIGKILL it if it does not go within 5 s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    except ProcessLookupError:
        pass


class EngineRegistry:
    """Engine factories by name."""

    def __init__(self) -> None:
        self._factories: dict[str, Callable[[], Engine]] = {}

    def register(self, name: str, factory: Callable[[], Engine]) -> None:
        self._factories[name] = factory

    def names(self) -> list[str]:
        return list(self._factories)

    def get(self, name: str) -> Engine:
        try:
            factory = self._factories[name]
        except KeyError:
            raise UsageError(
                f"no engine named {name!r}", hint=f"use one of: auto, {', '.join(self._factories)}"
            ) from None
        return factory()


def default_registry() -> EngineRegistry:
    from .container import DockerEngine
    from .local import LocalEngine

    registry = EngineRegistry()
    registry.register(EngineName.DOCKER, DockerEngine)
    registry.register(EngineName.LOCAL, LocalEngine)
    return registry


def docker_available() -> tuple[bool, str]:
    """(whether a Docker daemon answers, its version or why not), through ``$PAPERPACK_DOCKER`` or ``docker``."""
    from .container import DockerEngine

    return DockerEngine().available()


@dataclass
class EngineChoice:
    """What ``--engine`` and ``--image`` came to, and why (for the report and for people)."""

    name: str  # the engine: docker, local, …
    image: str | None = None
    source: str | None = None  # GIVEN (--image, paperpack build) or FOUND (the image of this repo state)
    note: str = ""  # why the less isolated local engine, when auto chose it


#: ``EngineChoice.source``: the image was passed in, or found as the image `paperpack build` made for this state.
GIVEN, FOUND = "given", "found"


def detect_engine(registry: EngineRegistry, image: str | None) -> str:
    """``docker`` when an image is given (its daemon must answer), else ``local``.

    An image asks for the container's isolation, so a missing daemon is an error, never a
    silent fall back to the less isolated local engine. :func:`choose_engine` with a
    repository also looks for the image `paperpack build` made.
    """
    return choose_engine(registry, "auto", image).name


def choose_engine(
    registry: EngineRegistry,
    engine: str = "auto",
    image: str | None = None,
    *,
    repo: Repo | None = None,
    path: str | None = None,
) -> EngineChoice:
    """The engine and image for a run.

    With an image, ``auto`` means docker (an error if Docker does not answer). Without
    one, and given ``repo``, the image is the one `paperpack build` made for this exact
    state of the repository (:func:`~paperpack.image.builder.expected_image`), when it
    is in the local image store: ``auto`` and ``docker`` run in it. When it is not:

    - for a reason of the machine (no usable Docker, a base image the user has not made:
      no buildx plugin: :attr:`RepoImage.machine`), ``auto`` falls back to the local
      engine with a note saying why;
    - for a reason the repository decides (no image for this state of it, a tag that
      cannot be worked out from its files), ``auto`` raises :class:`UsageError` (exit 2)
      naming the reason, ``paperpack build PATH`` and ``--engine local``: a repository
      cannot make paperpack run its code without a container.

    ``docker`` raises in both cases (:class:`EngineError` without Docker, else
    :class:`UsageError` naming the tag it looked for).

    ``path`` is the repository as the user wrote it, for the hints (default: its root).
    """
    if engine not in ("auto", "docker"):
        return EngineChoice(engine, image, GIVEN if image else None)
    if image:
        if engine == "auto" and "docker" in registry.names():
            ok, why = registry.get("docker").available()
            if not ok:
                raise EngineError(f"cannot run in the image {image!r}: no usable Docker ({why})", hint=NO_DOCKER_HINT)
        return EngineChoice("docker" if "docker" in registry.names() else "local", image, GIVEN)
    if repo is None or "docker" not in registry.names():
        return EngineChoice("local" if engine == "auto" else engine)
    shown = path or str(repo.root)
    ok, why = registry.get("docker").available()
    if not ok:
        if engine == "docker":
            raise EngineError(f"cannot run in a container: no usable Docker ({why})", hint=NO_DOCKER_HINT)
        return EngineChoice("local", note=f"no usable Docker ({why}): the notebooks run with the local engine")
    found = repo_image(repo)
    if found.found:
        return EngineChoice("docker", found.tag, FOUND)
    build = f"paperpack build {shlex.quote(shown)}"
    missing = (
        f"no image for this state of the repository ({found.tag} is not in the local image store"
        + (f", and none can be built here: {found.problem})" if found.problem else ")")
        if found.tag
        else f"no image for this state of the repository (its tag cannot be worked out: {found.problem})"
    )
    if engine == "docker":
        raise UsageError(
            f"--engine docker: {missing}",
            hint=f"build it first with `{build} --no-run`, or pass --image TAG, or use --engine local",
        )
    if found.machine:
        return EngineChoice(
            "local",
            note=f"{missing}: the notebooks run with the local engine — fix that and "
            f"run `{build}` for the isolated run",
        )
    raise UsageError(
        f"{missing}; --engine auto does not fall back to the less isolated local engine for a "
        "reason the repository decides",
        hint=f"run `{build}` (it builds the image and runs the notebooks in it), or pass --engine "
        "local to run the notebooks without a container, as you, knowingly",
    )


@dataclass(frozen=True)
class RepoImage:
    """The image `paperpack build` gives a state of a repository, and whether it exists."""

    tag: str | None  # None: it cannot be worked out
    found: bool  # in the local image store
    problem: str = ""  # why there is no tag, or (machine) why none can be built here
    machine: bool = False  # whether that is the machine's doing (a base image the user has not made)


def repo_image(repo: Repo) -> RepoImage:
    """The tag `paperpack build` gives this state of ``repo``, whether that image exists, and why no tag.

    The build's own mode (``auto``: the manifest, else whether the stock base image is
    present) decides the tag and the reason; the other mode is looked at too, since
    ``paperpack build --mode`` may have chosen it. A Python substitution is allowed: the
    tag records it, so only an image built with it matches. A mode whose tag cannot be
    worked out (a base image missing, environment files it cannot build) has no image.
    A missing base image is the machine's doing only when the default one is missing
    too (:func:`_machine_lacks_base_images`); so is a missing image when no image can be
    built here (no buildx plugin).
    """
    from ..image.builder import expected_image, resolve_mode
    from ..util.docker import image_inspect, preflight

    try:
        own = resolve_mode("auto", repo)
    except PaperpackError as exc:
        return RepoImage(None, False, str(exc), machine=False)
    expected: str | None = None
    problem = ""
    machine = False
    for mode in (own, *(m for m in ("offline", "binder") if m != own)):
        try:
            tag = expected_image(repo, mode=mode, allow_substitution=True)
            exists = image_inspect(tag) is not None
        except PaperpackError as exc:
            log.debug("no image tag in %s mode: %s", mode, exc)
            if mode == own:
                problem = str(exc)
                machine = isinstance(exc, EngineError) and _machine_lacks_base_images(repo)
            continue
        if exists:
            return RepoImage(tag, True)
        if mode == own:
            expected = tag
    if expected is not None:  # no image: can one be built here at all?
        try:
            preflight(buildx=True)
        except EngineError as exc:
            return RepoImage(expected, False, str(exc), machine=True)
    return RepoImage(expected, False, problem, machine=machine)


def _machine_lacks_base_images(repo: Repo) -> bool:
    """Whether a missing base image is the machine's doing: the default one is missing too.

    A base image the repository asks for — named in its paperpack.yml
    (``environment.base_image``), or another Debian release for the Python its
    runtime.txt asks for — is the repository's doing when the default one is here.
    """
    from ..image.baseimage import DEFAULT_RELEASE, base_image_tag
    from ..util.docker import image_id

    settings = repo.manifest.get("environment", {}) if repo.manifest else {}
    if isinstance(settings, dict) and settings.get("base_image"):
        return False
    return image_id(base_image_tag(DEFAULT_RELEASE)) is None
