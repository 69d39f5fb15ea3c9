"""The docker engine: each batch runs in a locked-down container of the built image.

``--network none``, a non-root user, every capability dropped, no new privileges,
memory / process / CPU limits. The repository is mounted read-only; the runner copies it
into a writable working copy (a host folder shared by the run's batches, so a notebook
sees the files the notebooks it depends on wrote). Fetched data is mounted read-only
and linked at its declared path. Results come back through a mounted output folder.

Every container is named ``paperpack-run-…``; Ctrl-C, a timeout or the interpreter
exiting removes each one (``docker rm -f``).
"""

from __future__ import annotations

import atexit
import logging
import re
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any, Callable

from ..build import engine
from ..build.engine import docker_cli
from ..errors import EngineError, UsageError
from .engines import RUNNER, Batch, Engine, Session

__all__ = ["DockerEngine", "DOCKER_LABEL", "CONTAINER_PREFIX", "container_user", "bind_mount"]

log = logging.getLogger(__name__)

DOCKER_LABEL = "container: no network, non-root, read-only sources, memory/process/CPU limits"
CONTAINER_PREFIX = "paperpack-run-"
IN_REPO, IN_WORK, IN_OUT, IN_RUNNER, IN_DATA = ("/paperpack/repo", "/paperpack/work", "/paperpack/out",
                                                 "/paperpack/runner.py", "/paperpack/data")
IN_KERNELFORK = "/paperpack/kernelfork.py"  # beside the runner, which forks kernels with it
DEFAULT_USER = "1000:1000"

_live: set[str] = set()
_live_lock = threading.Lock()


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([docker_cli(), *args], capture_output=True, text=True, timeout=timeout, check=False)


def container_user(configured: str, lookup: Callable[[str], tuple[int, int] | None]) -> str:
    """The numeric ``uid:gid`` to run as, never root, from the image's ``Config.User``.

    ``lookup(user)`` gives a user's (uid, primary gid) inside the image, or ``None``. A
    plain ``uid:gid`` pair is taken as it is; anything else (a name, a uid alone, a named
    group) is looked up. uid 0 — by number or by a name that resolves to it — becomes
    :data:`DEFAULT_USER`; group 0 becomes the uid's own number.
    """
    user, _, group = configured.strip().partition(":")
    if not user:
        return DEFAULT_USER
    if user.isdigit() and group.isdigit():
        uid, gid = int(user), int(group)
    else:
        found = lookup(user)
        if found is None:
            if not user.isdigit():
                return DEFAULT_USER  # a name we cannot resolve: do not guess
            found = (int(user), int(user))
        uid, gid = found
        if group.isdigit():
            gid = int(group)
        elif group == "root":
            gid = 0
    if uid == 0:
        return DEFAULT_USER
    return f"{uid}:{gid or uid}"


def _lookup_user(image: str) -> Callable[[str], tuple[int, int] | None]:
    """``id USER`` inside ``image`` (no network, no capabilities, as nobody): (uid, gid) or ``None``."""

    def lookup(user: str) -> tuple[int, int] | None:
        name = f"{CONTAINER_PREFIX}id-{uuid.uuid4().hex[:12]}"
        with _live_lock:
            _live.add(name)
        try:
            out = _docker("run", "--rm", "--name", name, "--label", "paperpack.run=1", "--network", "none",
                          "--user", "65534:65534", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                          "--entrypoint", "id", image, "--", user, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("could not look up user %r in %s: %s", user, image, exc)
            return None
        finally:
            remove_containers([name])
        match = re.match(r"uid=(\d+)\S*\s+gid=(\d+)", out.stdout.strip())
        if out.returncode != 0 or not match:
            log.warning("user %r of %s not found (%s): running as %s", user, image,
                        (out.stderr or out.stdout).strip()[:200], DEFAULT_USER)
            return None
        return int(match.group(1)), int(match.group(2))

    return lookup


def bind_mount(source: Path | str, target: str, *, readonly: bool) -> list[str]:
    """``--mount type=bind,…`` for ``source`` (any path with ``:``; a ``,`` or ``"`` is refused)."""
    text = str(source)
    bad = [c for c in (",", '"', "\n") if c in text]
    if bad:
        raise UsageError(f"cannot mount {text!r} into the container: Docker's --mount cannot take a path "
                         f"containing {bad[0]!r}",
                         hint="move or rename the folder so its path has no comma, quote or newline "
                              "(or use --out-dir elsewhere)")
    return ["--mount", f"type=bind,src={text},dst={target}" + (",readonly" if readonly else "")]


def remove_containers(names: list[str]) -> None:
    """``docker rm -f`` each container; forgets it once gone."""
    if not names:
        return
    try:
        _docker("rm", "-f", *names, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:  # the finalizer must never raise
        log.warning("could not remove containers %s: %s", ", ".join(names), exc)
        return
    with _live_lock:
        _live.difference_update(names)


@atexit.register
def _finalize() -> None:
    with _live_lock:
        names = sorted(_live)
    remove_containers(names)


class DockerEngine(Engine):
    name = "docker"
    isolation = DOCKER_LABEL

    def __init__(self) -> None:
        super().__init__()
        self.user = DEFAULT_USER
        self.names: set[str] = set()

    def available(self) -> tuple[bool, str]:
        try:  # a missing client or a hung daemon comes back as EngineError, with the client's name
            out = engine.run([docker_cli(), "info", "--format", "{{.ServerVersion}}"],
                             what="ask the Docker daemon its version", check=False, timeout=20)
        except EngineError as exc:
            return False, str(exc)
        except OSError as exc:  # e.g. PAPERPACK_DOCKER names a file that is not executable
            return False, f"cannot run the docker client {docker_cli()!r}: {exc.strerror or exc}"
        if out.returncode != 0:
            return False, f"the Docker daemon does not answer: {out.stderr.strip()[:200]}"
        return True, out.stdout.strip()

    def prepare(self, session: Session) -> None:
        if not session.image:
            raise UsageError("the docker engine needs an image to run the notebooks in",
                              hint="run `paperpack build PATH` (it runs the notebooks after building), "
                                   "pass --image TAG, or use --engine local")
        out = _docker("image", "inspect", "--format", "{{.Config.User}}", session.image)
        if out.returncode != 0:
            raise EngineError(f"image {session.image!r} does not exist in the local Docker daemon",
                              hint="build it first with `paperpack build PATH`, or pass the tag it printed")
        self.user = container_user(out.stdout.strip(), _lookup_user(session.image))
        for folder in (session.work_dir,):
            folder.chmod(0o777)  # the container's user writes the working copy

    def command(self, session: Session, batch: Batch, name: str) -> list[str]:
        limits = session.limits
        cmd = [docker_cli(), "run", "--name", name, "--label", "paperpack.run=1",
               "--network", "none", "--user", self.user, "--cap-drop", "ALL",
               "--security-opt", "no-new-privileges",
               "--memory", str(limits.memory), "--memory-swap", str(limits.memory),
               "--pids-limit", str(limits.pids), "--cpus", str(limits.cpus),
               *bind_mount(session.repo.root, IN_REPO, readonly=True),
               *bind_mount(RUNNER, IN_RUNNER, readonly=True),
               *bind_mount(RUNNER.with_name("kernelfork.py"), IN_KERNELFORK, readonly=True),
               *bind_mount(session.work_dir, IN_WORK, readonly=False),
               *bind_mount(batch.out_dir, IN_OUT, readonly=False),
               "-e", "IPYTHONDIR=/tmp/paperpack-ipython", "-e", "MPLCONFIGDIR=/tmp/paperpack-mpl",
               "-e", "JUPYTER_RUNTIME_DIR=/tmp/paperpack-runtime"]
        for index, (source, _target) in enumerate(session.data):
            cmd += bind_mount(source, f"{IN_DATA}/{index}", readonly=True)
        cmd += [str(session.image), "python3", IN_RUNNER, "--spec", f"{IN_OUT}/spec.json"]
        return cmd

    def run_batch(self, session: Session, batch: Batch) -> dict[str, Any]:
        links = [{"target": target, "source": f"{IN_DATA}/{index}"}
                 for index, (_source, target) in enumerate(session.data)]
        self.write_spec(batch, session, source=IN_REPO, workdir=IN_WORK, outdir=IN_OUT, links=links)
        batch.out_dir.chmod(0o777)
        name = f"{CONTAINER_PREFIX}{uuid.uuid4().hex[:12]}"
        with _live_lock:
            _live.add(name)
        self.names.add(name)
        facts: dict[str, Any] = {"container": name, "oom_killed": False}
        try:
            if session.cancelled.is_set():
                return {**facts, "exit_code": None, "output": "cancelled before start"}
            cmd = self.command(session, batch, name)
            code, tail = self.stream(cmd, session)
            state = _docker("inspect", "--format", "{{.State.OOMKilled}} {{.State.ExitCode}}", name)
            if state.returncode == 0:
                oom, exit_code = state.stdout.split()
                facts.update(oom_killed=oom == "true", exit_code=int(exit_code))
            else:
                facts["exit_code"] = code
            facts["output"] = tail
            return facts
        finally:
            remove_containers([name])
            self.names.discard(name)

    def cancel(self) -> None:
        remove_containers(sorted(self.names))
        super().cancel()

    def close(self) -> None:
        remove_containers(sorted(self.names))
