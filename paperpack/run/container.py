"""The docker engine: each batch runs in a locked-down container of the built image.

``--network none``, a non-root user, every capability dropped, no new privileges,
memory / process / CPU limits, a read-only root filesystem. The repository is mounted
read-only, with its version-control metadata (``.git``, ``.hg``, … at any depth) hidden
behind empty mounts: a CI token that ``actions/checkout`` keeps in ``.git/config`` is never
readable by a notebook. The runner copies the repository into the working copy, a
size-limited memory-backed volume shared by the run's batches (a notebook sees the files
the notebooks it depends on wrote); ``/tmp`` and each ``VOLUME`` the image declares are
size-limited memory-backed mounts too. So what a notebook writes is bounded by
``Limits.disk`` and never reaches the host's disk: the storage driver here (overlay2 on
ext4, the common case) cannot limit a container's writable layer (``--storage-opt size``
needs xfs with project quotas), and a watchdog polling sizes lets a notebook writing at
disk speed run gigabytes past the limit between two polls. Fetched data is mounted
read-only and linked at its declared path. Results come back on the runner's stdout
(run/channel.py).

Every container is named ``paperpack-run-…`` and labelled with its owner (see
:mod:`.sweep`); Ctrl-C, a timeout or the interpreter exiting removes each one with its
anonymous volumes (``docker rm -f -v``), and the next run's start removes those of a run
that was killed. (Not ``--rm``: the container must outlive its process for
``docker inspect`` to say whether the kernel's memory limit killed it.)
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import posixpath
import re
import subprocess
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import EngineError, UsageError
from ..util import docker as engine
from ..util.docker import docker_cli
from ..util.sizes import size_bytes
from .engines import RUNNER, Batch, Engine, Session
from .sweep import OWNER_LABEL, current_owner

__all__ = [
    "DockerEngine",
    "DOCKER_LABEL",
    "CONTAINER_PREFIX",
    "VOLUME_PREFIX",
    "VCS_NAMES",
    "container_user",
    "bind_mount",
    "empty_folder",
    "user_tmpfs",
    "vcs_metadata",
]

log = logging.getLogger(__name__)

DOCKER_LABEL = "container: no network, non-root, read-only sources, memory/process/CPU/disk limits"
CONTAINER_PREFIX = "paperpack-run-"
#: the process limit of the container that holds the working copy mounted (an idle python3): it counts runc's
#: init, whose Go runtime starts threads inside the container's cgroup before the python3 starts; at 4 the
#: kernel refused one ("fork rejected by pids controller", the start failing with "cannot start a stopped
#: process") once in a loaded full run
HOLD_PIDS = 32
VOLUME_PREFIX = "paperpack-work-"
#: version-control metadata, hidden from notebooks wherever it is in the repository
VCS_NAMES = frozenset({".git", ".hg", ".svn", ".bzr", "_darcs", ".jj", ".pijul", ".fslckout", "_FOSSIL_"})
#: more version-control folders than this is refused (each one is a mount)
MAX_HIDDEN = 256
IN_REPO, IN_WORK, IN_RUNNER, IN_DATA = ("/paperpack/repo", "/paperpack/work", "/paperpack/runner.py", "/paperpack/data")
IN_KERNELFORK = "/paperpack/kernelfork.py"  # beside the runner, which forks kernels with it
DEFAULT_USER = "1000:1000"

_live: set[str] = set()
_live_volumes: set[str] = set()
_live_lock = threading.Lock()


def _labels() -> list[str]:
    """``docker`` options that mark what a run makes, and whose it is (what sweeps and cleanups look for)."""
    return ["--label", "paperpack.run=1", "--label", f"{OWNER_LABEL}={current_owner()}"]


def _locked_down(name: str, user: str) -> list[str]:
    """``docker run`` options every container of a run has: its name and labels, no network, ``user``,
    no capabilities and no privilege gained (one list, so that no container is started without one)."""
    return [
        "--name",
        name,
        *_labels(),
        "--network",
        "none",
        "--user",
        user,
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
    ]


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
            out = _docker(
                "run",
                "--rm",
                *_locked_down(name, "65534:65534"),
                "--entrypoint",
                "id",
                image,
                "--",
                user,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("could not look up user %r in %s: %s", user, image, exc)
            return None
        finally:
            remove_containers([name])
        match = re.match(r"uid=(\d+)\S*\s+gid=(\d+)", out.stdout.strip())
        if out.returncode != 0 or not match:
            log.warning(
                "user %r of %s not found (%s): running as %s",
                user,
                image,
                (out.stderr or out.stdout).strip()[:200],
                DEFAULT_USER,
            )
            return None
        return int(match.group(1)), int(match.group(2))

    return lookup


def _mount_path(path: Path | str) -> str:
    """``path`` for a ``--mount`` field (any path with ``:``; a ``,``, ``"`` or newline is refused)."""
    text = str(path)
    bad = [c for c in (",", '"', "\n") if c in text]
    if bad:
        raise UsageError(
            f"cannot mount {text!r} into the container: Docker's --mount cannot take a path containing {bad[0]!r}",
            hint="move or rename the folder so its path has no comma, quote or newline (or use --out-dir elsewhere)",
        )
    return text


def bind_mount(source: Path | str, target: str, *, readonly: bool) -> list[str]:
    """``--mount type=bind,…`` for ``source`` (any path with ``:``; a ``,`` or ``"`` is refused)."""
    return [
        "--mount",
        f"type=bind,src={_mount_path(source)},dst={_mount_path(target)}" + (",readonly" if readonly else ""),
    ]


def empty_folder(target: str) -> list[str]:
    """``--mount type=tmpfs,…,readonly``: an empty folder nobody can write, over ``target``."""
    return ["--mount", f"type=tmpfs,dst={_mount_path(target)},tmpfs-size=4096,readonly"]


def user_tmpfs(target: str, size: int, user: str) -> list[str]:
    """``--tmpfs``: a memory-backed folder of at most ``size`` bytes at ``target``, owned by ``user`` (uid:gid).

    (``--mount type=tmpfs`` cannot set the owner, and over a folder of the image Docker
    20.10 ignores its ``tmpfs-mode``: the folder would be root's.)
    """
    if ":" in target:
        raise UsageError(
            f"cannot mount a size-limited folder at {target!r}: Docker's --tmpfs cannot take a path containing ':'",
            hint="rename the VOLUME path in the Dockerfile",
        )
    uid, _, gid = user.partition(":")
    return ["--tmpfs", f"{_mount_path(target)}:rw,exec,nosuid,nodev,size={size},uid={uid},gid={gid},mode=0700"]


def vcs_metadata(root: Path) -> list[tuple[str, bool]]:
    """(path relative to ``root``, is a folder) of each version-control entry, at any depth.

    Symbolic links are neither followed nor listed: one pointing into the repository
    reaches the hidden entry through its mount; one pointing outside reaches nothing.
    """
    found: list[tuple[str, bool]] = []
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        for name in [d for d in dirs if d in VCS_NAMES]:
            dirs.remove(name)
            if not os.path.islink(os.path.join(folder, name)):
                found.append(((rel / name).as_posix(), True))
        found += [
            ((rel / name).as_posix(), False)
            for name in files
            if name in VCS_NAMES and not os.path.islink(os.path.join(folder, name))
        ]
    if len(found) > MAX_HIDDEN:
        raise UsageError(
            f"the repository {root} holds {len(found)} version-control folders or files "
            f"({', '.join(p for p, _ in found[:3])}, …); paperpack hides each from the notebooks "
            f"with a mount, at most {MAX_HIDDEN}",
            hint="run paperpack on an export of the repository without them (`git archive`)",
        )
    return sorted(found)


def _hide(entries: list[tuple[str, bool]], under: str) -> list[str]:
    """Mounts that hide each entry: an empty read-only folder, or the empty file ``/dev/null`` (read-only)."""
    args: list[str] = []
    for rel, is_dir in entries:
        target = posixpath.join(under, rel)
        args += empty_folder(target) if is_dir else bind_mount("/dev/null", target, readonly=True)
    return args


def remove_containers(names: list[str]) -> None:
    """``docker rm -f -v`` each container (with its anonymous volumes); forgets it once gone."""
    if not names:
        return
    try:
        _docker("rm", "-f", "-v", *names, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:  # the finalizer must never raise
        log.warning("could not remove containers %s: %s", ", ".join(names), exc)
        return
    with _live_lock:
        _live.difference_update(names)


def remove_volume(name: str) -> None:
    """``docker volume rm -f``; forgets it once gone."""
    try:
        _docker("volume", "rm", "-f", name, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:  # the finalizer must never raise
        log.warning("could not remove the volume %s: %s", name, exc)
        return
    with _live_lock:
        _live_volumes.discard(name)


@atexit.register
def _finalize() -> None:
    with _live_lock:
        names, volumes = sorted(_live), sorted(_live_volumes)
    remove_containers(names)
    for volume in volumes:
        remove_volume(volume)


class DockerEngine(Engine):
    name = "docker"
    isolation = DOCKER_LABEL

    def __init__(self) -> None:
        super().__init__()
        self.user = DEFAULT_USER
        self.names: set[str] = set()
        self.volume: str | None = None  # the working copy, shared by the run's batches
        self.holder: str | None = None  # the container keeping it mounted
        self.image_volumes: list[str] = []  # the image's VOLUME paths
        self.hidden: dict[Path, list[tuple[str, bool]]] = {}  # repository root: its version-control entries

    def available(self) -> tuple[bool, str]:
        try:  # a missing client or a hung daemon comes back as EngineError, with the client's name
            out = engine.run(
                [docker_cli(), "info", "--format", "{{.ServerVersion}}"],
                what="ask the Docker daemon its version",
                check=False,
                timeout=20,
            )
        except EngineError as exc:
            return False, str(exc)
        except OSError as exc:  # e.g. PAPERPACK_DOCKER names a file that is not executable
            return False, f"cannot run the docker client {docker_cli()!r}: {exc.strerror or exc}"
        if out.returncode != 0:
            return False, f"the Docker daemon does not answer: {out.stderr.strip()[:200]}"
        return True, out.stdout.strip()

    def prepare(self, session: Session) -> None:
        if not session.image:
            raise UsageError(
                "the docker engine needs an image to run the notebooks in",
                hint="run `paperpack build PATH` (it runs the notebooks after building), "
                "pass --image TAG, or use --engine local",
            )
        out = _docker("image", "inspect", "--format", "{{json .Config}}", session.image)
        if out.returncode != 0:
            raise EngineError(
                f"image {session.image!r} does not exist in the local Docker daemon",
                hint="build it first with `paperpack build PATH`, or pass the tag it printed",
            )
        config = json.loads(out.stdout or "null") or {}
        self.user = container_user(str(config.get("User") or ""), _lookup_user(session.image))
        self.image_volumes = sorted({posixpath.normpath(p) for p in config.get("Volumes") or {}})
        self.hidden[session.repo.root] = vcs_metadata(session.repo.root)
        self.volume = self.work_volume(session)
        self.holder = self.hold(session, self.volume)

    def work_volume(self, session: Session) -> str:
        """A memory-backed volume of at most ``Limits.disk`` for the working copy, owned by the run's user."""
        name = f"{VOLUME_PREFIX}{uuid.uuid4().hex[:12]}"
        uid, _, gid = self.user.partition(":")
        with _live_lock:
            _live_volumes.add(name)
        made = _docker(
            "volume",
            "create",
            "--driver",
            "local",
            "--opt",
            "type=tmpfs",
            "--opt",
            "device=tmpfs",
            "--opt",
            f"o=size={size_bytes(str(session.limits.disk))},uid={uid},gid={gid},mode=0700",
            *_labels(),
            name,
        )
        if made.returncode != 0:
            raise EngineError(
                f"cannot make the working-copy volume {name}: {made.stderr.strip()[:300]}",
                hint="check that the Docker daemon runs and can mount a tmpfs volume "
                "(`docker volume create --opt type=tmpfs --opt device=tmpfs x`)",
            )
        return name

    def hold(self, session: Session, volume: str) -> str:
        """A container that keeps ``volume`` mounted for the whole run; returns its name.

        Docker unmounts a tmpfs volume, losing its files, when the last container using it
        stops: without this one, a notebook would not find what the notebook it depends
        on wrote in an earlier batch. It runs the image's Python, idle, as locked down as a batch.
        """
        name = f"{CONTAINER_PREFIX}hold-{uuid.uuid4().hex[:12]}"
        with _live_lock:
            _live.add(name)
        started = _docker(
            "run",
            "-d",
            *_locked_down(name, self.user),
            "--read-only",
            "--memory",
            "64m",
            "--memory-swap",
            "64m",
            "--pids-limit",
            str(HOLD_PIDS),
            "--cpus",
            "0.1",
            "--mount",
            f"type=volume,src={volume},dst={IN_WORK}",
            "--entrypoint",
            "python3",
            str(session.image),
            "-c",
            "import signal; signal.pause()",
        )
        if started.returncode != 0:
            raise EngineError(
                f"cannot start the container that holds the working copy ({name}) in image "
                f"{session.image!r}: {started.stderr.strip()[:300]}",
                hint="the image needs python3 on its PATH (every image `paperpack build` or repo2docker makes has it)",
            )
        return name

    def command(self, session: Session, batch: Batch, name: str) -> list[str]:
        limits = session.limits
        disk = size_bytes(str(limits.disk))
        root = session.repo.root
        if root not in self.hidden:
            self.hidden[root] = vcs_metadata(root)
        if self.volume is None:
            raise EngineError(
                "the docker engine ran a batch before prepare() made its working copy",
                hint="call prepare(session) once before run_batch",
            )
        cmd = [
            docker_cli(),
            "run",
            "-i",
            *_locked_down(name, self.user),
            "--memory",
            str(limits.memory),
            "--memory-swap",
            str(limits.memory),
            "--pids-limit",
            str(limits.pids),
            "--cpus",
            str(limits.cpus),
            "--read-only",
            "--tmpfs",
            f"/tmp:rw,exec,nosuid,nodev,size={disk},mode=1777",
            *bind_mount(root, IN_REPO, readonly=True),
            *bind_mount(RUNNER, IN_RUNNER, readonly=True),
            *bind_mount(RUNNER.with_name("kernelfork.py"), IN_KERNELFORK, readonly=True),
            "--mount",
            f"type=volume,src={self.volume},dst={IN_WORK}",
            "-e",
            "IPYTHONDIR=/tmp/paperpack-ipython",
            "-e",
            "MPLCONFIGDIR=/tmp/paperpack-mpl",
            "-e",
            "JUPYTER_RUNTIME_DIR=/tmp/paperpack-runtime",
        ]
        cmd += ["-e", "XDG_CACHE_HOME=/tmp/paperpack-cache"]  # the image's files, $HOME too, are read-only
        cmd += _hide(self.hidden[root], IN_REPO)
        for path in self.image_volumes:  # instead of an anonymous volume on the host's disk
            cmd += user_tmpfs(path, disk, self.user)
        for index, (source, _target) in enumerate(session.data):
            cmd += bind_mount(source, f"{IN_DATA}/{index}", readonly=True)
        cmd += [str(session.image), "python3", IN_RUNNER, "--spec", "-"]  # the spec on stdin: kernels cannot read it
        return cmd

    def run_batch(self, session: Session, batch: Batch) -> dict[str, Any]:
        links = [
            {"target": target, "source": f"{IN_DATA}/{index}"} for index, (_source, target) in enumerate(session.data)
        ]
        spec = self.write_spec(batch, session, source=IN_REPO, workdir=IN_WORK, links=links)
        name = f"{CONTAINER_PREFIX}{uuid.uuid4().hex[:12]}"
        with _live_lock:
            _live.add(name)
        self.names.add(name)
        facts: dict[str, Any] = {"container": name, "oom_killed": False, "disk_limit": session.limits.disk}
        try:
            if session.cancelled.is_set():
                return {**facts, "exit_code": None, "output": "cancelled before start"}
            cmd = self.command(session, batch, name)
            streamed = self.stream(cmd, session, batch, spec=spec)
            code, tail = streamed.code, streamed.output
            facts["deliveries"] = streamed.deliveries
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
        remove_containers(sorted(self.names) + ([self.holder] if self.holder else []))
        self.holder = None
        if self.volume is not None:
            remove_volume(self.volume)
            self.volume = None
