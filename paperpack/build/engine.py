"""The container engine: preflight checks and the one subprocess helper.

Every ``docker`` call paperpack makes goes through :func:`run` (output captured, shown
in the error on failure) or :func:`stream` (lines handed to a callback as they come).
The client binary is ``docker`` on PATH, or ``$PAPERPACK_DOCKER``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections import deque
from typing import Any, Callable, Iterable, Sequence

from ..errors import EngineError

__all__ = ["docker_cli", "run", "stream", "preflight", "image_id", "image_inspect", "tail"]

log = logging.getLogger(__name__)

SETUP_HINT = "on Debian: run .ci/setup-docker.sh as root (installs docker.io, the buildx plugin and debootstrap)"


def docker_cli() -> str:
    """The docker client to call: ``$PAPERPACK_DOCKER`` or ``docker`` on PATH."""
    return os.environ.get("PAPERPACK_DOCKER") or "docker"


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def run(args: Sequence[str], *, what: str, input: bytes | None = None, timeout: float | None = None,
        check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; on failure raise :class:`EngineError` showing it.

    ``what`` says in words what the command was for ("inspect the base image").
    """
    cmd = list(args)
    log.debug("run: %s", " ".join(cmd))
    try:
        proc = subprocess.run(cmd, input=input.decode() if input is not None else None, capture_output=True,
                              text=True, timeout=timeout, check=False, env=env)
    except FileNotFoundError:
        raise EngineError(f"cannot {what}: {cmd[0]!r} is not installed or not on PATH", hint=SETUP_HINT) from None
    except subprocess.TimeoutExpired:
        raise EngineError(f"cannot {what}: `{' '.join(cmd[:3])} …` did not finish in {timeout:.0f} s",
                          hint="is the Docker daemon overloaded or stuck? try `docker info`") from None
    if check and proc.returncode != 0:
        output = tail((proc.stdout or "") + (proc.stderr or ""))
        raise EngineError(f"cannot {what}: `{' '.join(cmd[:4])} …` exited with {proc.returncode}:\n{output}",
                          hint=f"run the command by hand to see more: {' '.join(cmd)}")
    return proc


def stream(args: Sequence[str], *, what: str, on_line: Callable[[str], None] | None = None,
           env: dict[str, str] | None = None, keep: int = 200) -> list[str]:
    """Run a command, handing each output line (stdout and stderr merged) to ``on_line``.

    Returns the last ``keep`` lines; raises :class:`EngineError` with them on failure.
    """
    cmd = list(args)
    log.debug("stream: %s", " ".join(cmd))
    last: deque[str] = deque(maxlen=keep)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace", env=env)
    except FileNotFoundError:
        raise EngineError(f"cannot {what}: {cmd[0]!r} is not installed or not on PATH", hint=SETUP_HINT) from None
    assert proc.stdout is not None
    with proc:
        for line in proc.stdout:
            line = line.rstrip("\n")
            last.append(line)
            if on_line is not None:
                on_line(line)
    if proc.returncode != 0:
        raise EngineError(f"cannot {what}: `{' '.join(cmd[:4])} …` exited with {proc.returncode}:\n"
                          + "\n".join(list(last)[-25:]), hint=f"run the command by hand to see more: {' '.join(cmd)}")
    return list(last)


def image_inspect(ref: str) -> dict[str, Any] | None:
    """``docker image inspect`` of ``ref``, or ``None`` when there is no such image."""
    proc = run([docker_cli(), "image", "inspect", ref], what=f"inspect image {ref}", check=False, timeout=60)
    if proc.returncode != 0:
        if "No such image" in proc.stderr or "No such object" in proc.stderr:
            return None
        raise EngineError(f"cannot inspect image {ref}: {tail(proc.stderr, 5)}",
                          hint="is the Docker daemon running? try `docker info`")
    data = json.loads(proc.stdout)
    return data[0] if data else None


def image_id(ref: str) -> str | None:
    info = image_inspect(ref)
    return str(info["Id"]) if info else None


def preflight(*, buildx: bool = True, images: Iterable[tuple[str, str]] = ()) -> str:
    """Check the docker client, the daemon, the buildx plugin and required images.

    ``images`` are ``(reference, fix)`` pairs. Returns the server version. Each
    problem raises :class:`EngineError` with the fix.
    """
    cli = docker_cli()
    if shutil.which(cli) is None:
        raise EngineError(f"no Docker client: {cli!r} is not installed or not on PATH",
                          hint=f"install Docker ({SETUP_HINT}), or set PAPERPACK_DOCKER to the client's path")
    proc = run([cli, "version", "--format", "{{.Server.Version}}"], what="reach the Docker daemon",
               check=False, timeout=30)
    if proc.returncode != 0 or not proc.stdout.strip():
        detail = tail(proc.stderr, 3) or "no server version"
        raise EngineError(f"the Docker daemon is not reachable: {detail}",
                          hint="start it (`dockerd &` as root, or `systemctl start docker`), check DOCKER_HOST, "
                               "and that your user may use /var/run/docker.sock (the docker group)")
    server = proc.stdout.strip()
    if buildx:
        bx = run([cli, "buildx", "version"], what="find the buildx plugin", check=False, timeout=30)
        if bx.returncode != 0:
            raise EngineError(
                "the docker buildx plugin is missing (repo2docker builds with `docker buildx build`)",
                hint="install the docker-buildx package (on bookworm take Debian trixie's .deb; "
                     ".ci/setup-docker.sh does it) into /usr/libexec/docker/cli-plugins/")
    for ref, fix in images:
        if image_id(ref) is None:
            raise EngineError(f"the base image {ref} is not present in the local Docker image store", hint=fix)
    return server
