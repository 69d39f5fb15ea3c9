"""The container engine: preflight checks and the one subprocess helper.

Every ``docker`` call paperpack makes goes through :func:`run` (output captured, shown
in the error on failure) or :func:`stream` (lines handed to a callback as they come).
The client binary is ``docker`` on PATH, or ``$PAPERPACK_DOCKER``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EngineError

__all__ = [
    "docker_cli",
    "run",
    "stream",
    "preflight",
    "image_id",
    "image_inspect",
    "tail",
    "BuildGuard",
    "BuildLimits",
    "LimitHit",
    "guard_unavailable",
    "GUARD_LIMITS_ID",
    "GUARD_OFFLINE_ID",
    "BackgroundWatch",
]

log = logging.getLogger(__name__)

SETUP_HINT = "on Debian: run .ci/setup-docker.sh as root (installs docker.io, the buildx plugin and debootstrap)"


def docker_cli() -> str:
    """The docker client to call: ``$PAPERPACK_DOCKER`` or ``docker`` on PATH."""
    return os.environ.get("PAPERPACK_DOCKER") or "docker"


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def run(
    args: Sequence[str],
    *,
    what: str,
    input: bytes | None = None,
    timeout: float | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; on failure raise :class:`EngineError` showing it.

    ``what`` says in words what the command was for ("inspect the base image").
    """
    cmd = list(args)
    log.debug("run: %s", " ".join(cmd))
    try:
        proc = subprocess.run(
            cmd,
            input=input.decode() if input is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
    except FileNotFoundError:
        raise EngineError(f"cannot {what}: {cmd[0]!r} is not installed or not on PATH", hint=SETUP_HINT) from None
    except subprocess.TimeoutExpired:
        raise EngineError(
            f"cannot {what}: `{' '.join(cmd[:3])} …` did not finish in {timeout:.0f} s",
            hint="is the Docker daemon overloaded or stuck? try `docker info`",
        ) from None
    if check and proc.returncode != 0:
        output = tail((proc.stdout or "") + (proc.stderr or ""))
        raise EngineError(
            f"cannot {what}: `{' '.join(cmd[:4])} …` exited with {proc.returncode}:\n{output}",
            hint=f"run the command by hand to see more: {' '.join(cmd)}",
        )
    return proc


def stream(
    args: Sequence[str],
    *,
    what: str,
    on_line: Callable[[str], None] | None = None,
    env: dict[str, str] | None = None,
    keep: int = 200,
) -> list[str]:
    """Run a command, handing each output line (stdout and stderr merged) to ``on_line``.

    Returns the last ``keep`` lines; raises :class:`EngineError` with them on failure.
    """
    cmd = list(args)
    log.debug("stream: %s", " ".join(cmd))
    last: deque[str] = deque(maxlen=keep)
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", env=env
        )
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
        raise EngineError(
            f"cannot {what}: `{' '.join(cmd[:4])} …` exited with {proc.returncode}:\n" + "\n".join(list(last)[-25:]),
            hint=f"run the command by hand to see more: {' '.join(cmd)}",
        )
    return list(last)


def image_inspect(ref: str) -> dict[str, Any] | None:
    """``docker image inspect`` of ``ref``, or ``None`` when there is no such image."""
    proc = run([docker_cli(), "image", "inspect", ref], what=f"inspect image {ref}", check=False, timeout=60)
    if proc.returncode != 0:
        if "No such image" in proc.stderr or "No such object" in proc.stderr:
            return None
        raise EngineError(
            f"cannot inspect image {ref}: {tail(proc.stderr, 5)}",
            hint="is the Docker daemon running? try `docker info`",
        )
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
        raise EngineError(
            f"no Docker client: {cli!r} is not installed or not on PATH",
            hint=f"install Docker ({SETUP_HINT}), or set PAPERPACK_DOCKER to the client's path",
        )
    proc = run(
        [cli, "version", "--format", "{{.Server.Version}}"], what="reach the Docker daemon", check=False, timeout=30
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        detail = tail(proc.stderr, 3) or "no server version"
        raise EngineError(
            f"the Docker daemon is not reachable: {detail}",
            hint="start it (`dockerd &` as root, or `systemctl start docker`), check DOCKER_HOST, "
            "and that your user may use /var/run/docker.sock (the docker group)",
        )
    server = proc.stdout.strip()
    if buildx:
        bx = run([cli, "buildx", "version"], what="find the buildx plugin", check=False, timeout=30)
        if bx.returncode != 0:
            raise EngineError(
                "the docker buildx plugin is missing (repo2docker builds with `docker buildx build`)",
                hint="install the docker-buildx package (on bookworm take Debian trixie's .deb; "
                ".ci/setup-docker.sh does it) into /usr/libexec/docker/cli-plugins/",
            )
    for ref, fix in images:
        if image_id(ref) is None:
            raise EngineError(f"the base image {ref} is not present in the local Docker image store", hint=fix)
    return server


# --- the build guard: limits and network cut for the build steps paperpack generates ------------------

#: BuildKit secret ids a build step mounts to be found by the guard (see :class:`BuildGuard`)
GUARD_LIMITS_ID = "paperpack-limits"  #: memory and process limits
GUARD_OFFLINE_ID = "paperpack-offline"  #: the same limits, and no network
_CGROUP_V1 = Path("/sys/fs/cgroup")
#: run in a child process: bring down every interface but ``lo`` in the network namespace of pid argv[1]
_NETWORK_DOWN = """\
import ctypes, fcntl, os, socket, struct, sys
fd = os.open("/proc/%s/ns/net" % sys.argv[1], os.O_RDONLY)
if ctypes.CDLL(None, use_errno=True).setns(fd, 0x40000000) != 0:
    sys.exit("setns: " + os.strerror(ctypes.get_errno()))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _, name in socket.if_nameindex():
    if name != "lo":
        flags = struct.unpack("16sh", fcntl.ioctl(s, 0x8913, struct.pack("16sh22x", name.encode(), 0))[:18])[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sh22x", name.encode(), flags & ~1))
"""


@dataclass(frozen=True)
class BuildLimits:
    """Memory (bytes) and process limits of each build step paperpack generates."""

    memory: int
    pids: int
    memory_text: str  #: as the user wrote it (``4g``), for messages


@dataclass(frozen=True)
class LimitHit:
    """A build step that went over a limit and was stopped."""

    kind: str  #: "memory" or "pids"
    command: str  #: the step's command line, as the guard saw it


def guard_unavailable() -> str | None:
    """Why :class:`BuildGuard` cannot work on this machine, or ``None`` when it can.

    It needs root (it writes BuildKit's cgroups and enters a step's network namespace) and
    cgroup v1 with the memory, pids and freezer controllers (Docker 20.10's ``cgroupfs`` driver
    puts each build step in ``<controller>/docker/buildkit/<id>``: measured on Debian's docker.io).
    """
    if os.geteuid() != 0:
        return "paperpack is not running as root (the guard writes the build steps' cgroups)"
    missing = [c for c in ("memory", "pids", "freezer") if not (_CGROUP_V1 / c / "cgroup.procs").is_file()]
    if missing:
        return f"no cgroup v1 {', '.join(missing)} controller under {_CGROUP_V1} (cgroup v2 is not supported yet)"
    return None


def _read_small(path: Path, limit: int = 256) -> bytes | None:
    """Up to ``limit`` bytes of a regular file, never following a final link or blocking on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit)
    except OSError:
        return None
    finally:
        os.close(fd)


class BackgroundWatch:
    """A daemon thread running :meth:`_watch` for the duration of a ``with`` block (``_done`` set at its end)."""

    def __init__(self, name: str):
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=name, daemon=True)

    def __enter__(self) -> BackgroundWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        raise NotImplementedError


class BuildGuard(BackgroundWatch):
    """Limits and isolates the build steps paperpack generates, from the host (root, cgroup v1).

    Docker 20.10's built-in BuildKit ignores ``--ulimit`` and ``--cgroup-parent`` and its
    Dockerfile frontend has no ``RUN --network``; but it runs each ``RUN`` in a cgroup of its
    own (``docker/buildkit/<id>``) and a network namespace of its own. The guard watches
    those cgroups; a step that mounts the secret :data:`GUARD_LIMITS_ID` or
    :data:`GUARD_OFFLINE_ID` holding this build's nonce is this build's. It gets a memory
    limit (with the OOM killer disabled, so that hitting it is seen, not raced), a process
    limit, and for the offline secret every network interface but ``lo`` brought down; the
    process limit is written last. The step's own shell (:mod:`paperpack.image.buildpack`'s
    gate) waits until it sees that limit before it runs anything of the paper. A step that
    reaches either limit is frozen and killed, and the hit is recorded for the error message.
    """

    def __init__(self, limits: BuildLimits, nonce: str, *, interval: float = 0.05):
        self.limits = limits
        self.nonce = nonce.encode()
        self.interval = interval
        self.hits: list[LimitHit] = []
        self.problems: list[str] = []
        self.guarded = 0
        self._ours: set[str] = set()  # cgroups (paths under the controller) of this build's steps, limited
        self._stopped: set[str] = set()  # cgroups of steps already stopped (they linger while dying)
        super().__init__("paperpack-build-guard")

    def _watch(self) -> None:
        while not self._done.wait(self.interval):
            try:
                self._look()
            except OSError as exc:  # a cgroup or process that went away mid-way: look again
                log.debug("build guard: %s", exc)

    def _step_cgroups(self) -> list[str]:
        """Every BuildKit step cgroup, as a path relative to the pids controller's root."""
        root = _CGROUP_V1 / "pids"
        found = []
        for parent in [root / "buildkit", *root.glob("*/buildkit")]:
            try:
                found += [str(p.relative_to(root)) for p in parent.iterdir() if p.is_dir()]
            except OSError:
                continue
        return found

    def _look(self) -> None:
        present = set(self._step_cgroups())
        self._ours &= present
        for rel in list(self._ours):
            self._check(rel)
        self._stopped &= present
        for rel in present - self._ours - self._stopped:
            kind, pid = self._whose(rel)
            if kind is not None and pid is not None:
                self._limit(rel, pid, offline=kind == GUARD_OFFLINE_ID)

    def _whose(self, rel: str) -> tuple[str | None, int | None]:
        """(secret id, its pid) when the cgroup's first process mounts this build's nonce.

        The first process is enough: until the guard limits one of this build's steps, only its gate
        runs (a shell, and the ``cat`` and ``sleep`` it starts, all in one mount namespace). So another
        build's step costs one look at one process each time, however many processes it runs.
        """
        pid = self._first(rel)
        if pid is None:
            return None, None
        for kind in (GUARD_OFFLINE_ID, GUARD_LIMITS_ID):
            if _read_small(Path(f"/proc/{pid}/root/run/secrets/{kind}")) == self.nonce:
                return kind, pid
        return None, None

    @staticmethod
    def _first(rel: str) -> int | None:
        """The first process of the step's cgroup, if any is left."""
        try:
            return int((_CGROUP_V1 / "pids" / rel / "cgroup.procs").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    @staticmethod
    def _cmdline(pid: int | None) -> str:
        """A process's command line (``runc init`` while a step starts), ``?`` when it is gone."""
        raw = _read_small(Path(f"/proc/{pid}/cmdline"), 4096) if pid is not None else None
        return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip() if raw else "?"

    def _limit(self, rel: str, pid: int, *, offline: bool) -> None:
        command = self._cmdline(pid)
        self._ours.add(rel)
        try:
            if offline:
                self._network_down(pid)
            memory = _CGROUP_V1 / "memory" / rel
            (memory / "memory.limit_in_bytes").write_text(str(self.limits.memory))
            if (memory / "memory.memsw.limit_in_bytes").exists():
                (memory / "memory.memsw.limit_in_bytes").write_text(str(self.limits.memory))
            (memory / "memory.oom_control").write_text("1")  # wait at the limit: seen here, then killed
            (_CGROUP_V1 / "pids" / rel / "pids.max").write_text(str(self.limits.pids))  # last: the step's gate
        except (OSError, EngineError) as exc:
            # the step's gate never sees its limit and fails the step after its wait
            self.problems.append(f"could not limit the build step {command[:120]!r}: {exc}")
            return
        self.guarded += 1
        log.debug("build guard: limited %s (%s)%s", rel, command[:80], ", network down" if offline else "")

    def _network_down(self, pid: int) -> None:
        net = os.stat(f"/proc/{pid}/ns/net").st_ino
        hosts = {os.stat("/proc/self/ns/net").st_ino}
        with contextlib.suppress(OSError):  # pid 1 may be out of reach (a VM's init); this process's suffices
            hosts.add(os.stat("/proc/1/ns/net").st_ino)
        if net in hosts:
            raise EngineError("the build step shares the host's network namespace; refusing to touch it")
        proc = subprocess.run(
            [sys.executable, "-I", "-c", _NETWORK_DOWN, str(pid)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if proc.returncode != 0:
            raise EngineError(f"bringing the step's network down failed: {tail(proc.stderr, 3)}")

    def _check(self, rel: str) -> None:
        oom = (_CGROUP_V1 / "memory" / rel / "memory.oom_control").read_text()
        events = (_CGROUP_V1 / "pids" / rel / "pids.events").read_text()
        kind = (
            "memory"
            if "under_oom 1" in oom
            else "pids"
            if any(ln.split()[1:] != ["0"] for ln in events.splitlines() if ln.startswith("max "))
            else None
        )
        if kind is None:
            return
        command = self._cmdline(self._first(rel))
        self._ours.discard(rel)
        log.warning("build step %r went over the build's %s limit: stopping it", command[-120:], kind)
        self.hits.append(LimitHit(kind, command))
        self._stopped.add(rel)
        self._kill(rel)

    @staticmethod
    def _kill(rel: str) -> None:
        """Freeze the step's cgroup, SIGKILL every process in it, thaw: a fork bomb cannot outrun it."""
        freezer = _CGROUP_V1 / "freezer" / rel / "freezer.state"
        try:
            freezer.write_text("FROZEN")
            frozen = True
        except OSError:
            frozen = False
        for _ in range(200):
            try:
                pids = (_CGROUP_V1 / "pids" / rel / "cgroup.procs").read_text().split()
            except OSError:
                pids = []
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            if frozen:  # every process of the step is signalled: let them die
                try:
                    freezer.write_text("THAWED")
                except OSError:
                    pass
                frozen = False
            if not pids:
                return
            time.sleep(0.01)
