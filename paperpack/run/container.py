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
import shutil
import subprocess
import threading
import uuid
from typing import Any

from ..errors import EngineError, UsageError
from .engines import RUNNER, Batch, Engine, Session
from .mounts import data_sources

__all__ = ["DockerEngine", "DOCKER_LABEL", "CONTAINER_PREFIX"]

log = logging.getLogger(__name__)

DOCKER_LABEL = "container: no network, non-root, read-only sources, memory/process/CPU limits"
CONTAINER_PREFIX = "paperpack-run-"
IN_REPO, IN_WORK, IN_OUT, IN_RUNNER, IN_DATA = ("/paperpack/repo", "/paperpack/work", "/paperpack/out",
                                                 "/paperpack/runner.py", "/paperpack/data")
DEFAULT_USER = "1000:1000"

_live: set[str] = set()
_live_lock = threading.Lock()


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    docker = shutil.which("docker") or "docker"
    return subprocess.run([docker, *args], capture_output=True, text=True, timeout=timeout, check=False)


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
        if not shutil.which("docker"):
            return False, "no docker client on PATH"
        try:
            out = _docker("info", "--format", "{{.ServerVersion}}", timeout=20)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"docker info failed: {exc}"
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
        user = out.stdout.strip()
        if user and user not in ("0", "root") and not user.startswith("0:"):
            self.user = user
        for folder in (session.work_dir,):
            folder.chmod(0o777)  # the container's user writes the working copy

    def command(self, session: Session, batch: Batch, name: str) -> list[str]:
        limits = session.limits
        cmd = ["docker", "run", "--name", name, "--label", "paperpack.run=1",
               "--network", "none", "--user", self.user, "--cap-drop", "ALL",
               "--security-opt", "no-new-privileges",
               "--memory", str(limits.memory), "--memory-swap", str(limits.memory),
               "--pids-limit", str(limits.pids), "--cpus", str(limits.cpus),
               "-v", f"{session.repo.root}:{IN_REPO}:ro",
               "-v", f"{RUNNER}:{IN_RUNNER}:ro",
               "-v", f"{session.work_dir}:{IN_WORK}:rw",
               "-v", f"{batch.out_dir}:{IN_OUT}:rw",
               "-e", "IPYTHONDIR=/tmp/paperpack-ipython", "-e", "MPLCONFIGDIR=/tmp/paperpack-mpl",
               "-e", "JUPYTER_RUNTIME_DIR=/tmp/paperpack-runtime", "-e", "MPLBACKEND=agg"]
        for index, (source, _target) in enumerate(data_sources(session.repo)):
            cmd += ["-v", f"{source}:{IN_DATA}/{index}:ro"]
        cmd += [str(session.image), "python3", IN_RUNNER, "--spec", f"{IN_OUT}/spec.json"]
        return cmd

    def run_batch(self, session: Session, batch: Batch) -> dict[str, Any]:
        links = [{"target": target, "source": f"{IN_DATA}/{index}"}
                 for index, (_source, target) in enumerate(data_sources(session.repo))]
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
            cmd[0] = shutil.which("docker") or "docker"
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
