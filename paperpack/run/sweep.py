"""What a killed run left behind: its containers, volumes and scratch folders, removed by the next run.

A run that ends normally, on Ctrl-C or SIGTERM removes its own containers and scratch
folder. One killed with SIGKILL (the OOM killer, ``kill -9`` from CI) cannot: its
containers keep running, its scratch copy stays in the temporary folder. So every
container, volume and scratch folder paperpack makes carries its **owner**: this
machine, its boot, the process id and the process's start time. At the start of a run,
:func:`new_scratch` removes what belongs to owners that are gone, and only that: a run
going on at the same time (on this machine or on another one sharing the Docker daemon
or the temporary folder) is never touched.

An owner is gone when it ran on this machine in an earlier boot, or in this boot with a
process id that no longer exists or now belongs to a process started at another time (a
reused pid). Something from another machine, or without an owner (made by an older
paperpack), is left alone: there is no way to tell whether its run is still going.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Owner",
    "Swept",
    "OWNER_LABEL",
    "OWNER_FILE",
    "SCRATCH_PREFIX",
    "current_owner",
    "new_scratch",
    "sweep",
    "sweep_scratch",
    "sweep_docker",
]

log = logging.getLogger(__name__)

#: the Docker label on every container and volume a run makes; its value is :class:`Owner` as text
OWNER_LABEL = "paperpack.owner"
#: the file inside each scratch folder naming its owner
OWNER_FILE = ".paperpack-owner"
SCRATCH_PREFIX = "paperpack-run-"
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class Owner:
    """The process that made something: ``host/boot/pid/start`` as text."""

    host: str
    boot: str  # the kernel's boot id ("" where there is none: not Linux)
    pid: int
    start: str  # the process's start time in clock ticks since boot ("" where unknown)

    def __str__(self) -> str:
        return f"{self.host}/{self.boot}/{self.pid}/{self.start}"

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        """The owner written as ``str(owner)``, or ``None`` for anything else."""
        parts = text.strip().split("/")
        if len(parts) != 4 or not parts[0] or not parts[2].isdigit():
            return None
        return cls(host=parts[0], boot=parts[1], pid=int(parts[2]), start=parts[3])

    def gone(self) -> bool:
        """True only when this owner is sure to be gone (see the module's docstring)."""
        here = current_owner()
        if self.host != here.host:
            return False  # another machine's run: cannot tell
        if self.boot != here.boot:
            return bool(self.boot and here.boot)  # an earlier boot of this machine
        if self.pid == here.pid:
            return self.start != here.start
        if not _exists(self.pid):
            return True
        return bool(self.start) and _start_time(self.pid) not in (self.start, "")


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _start_time(pid: int) -> str:
    """The process's start time (ticks since boot, /proc/PID/stat field 22); "" where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()  # the command name (field 2) may hold spaces and ")"
    return fields[19] if len(fields) > 19 else ""


def _boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def current_owner() -> Owner:
    """This process as an owner (computed each time: a forked child is another owner)."""
    pid = os.getpid()
    return Owner(
        host=socket.gethostname().replace("/", "_") or "localhost", boot=_boot_id(), pid=pid, start=_start_time(pid)
    )


@dataclass
class Swept:
    """What a sweep removed."""

    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)


def new_scratch(*, docker: bool) -> Path:
    """A new scratch folder for a run, owned by this process, after sweeping what killed runs left.

    ``docker``: also sweep containers and volumes (the run uses the docker engine).
    """
    sweep(docker=docker)
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    owner_file = scratch / OWNER_FILE
    partial = scratch / (OWNER_FILE + ".tmp")
    partial.write_text(str(current_owner()) + "\n", encoding="utf-8")
    os.replace(partial, owner_file)  # a sweep never reads half an owner
    return scratch


def sweep(*, docker: bool = True, folder: Path | None = None) -> Swept:
    """Remove the containers, volumes (``docker``) and scratch folders of runs that are gone."""
    swept = Swept(folders=sweep_scratch(folder))
    if docker:
        swept.containers, swept.volumes = sweep_docker()
    if swept.containers or swept.volumes or swept.folders:
        log.info(
            "removed what killed paperpack runs left: %d containers, %d volumes, %d scratch folders",
            len(swept.containers),
            len(swept.volumes),
            len(swept.folders),
        )
    return swept


def sweep_scratch(folder: Path | None = None) -> list[Path]:
    """Remove ``paperpack-run-*`` folders of the temporary folder (or ``folder``) whose owner is gone.

    Only folders of this user with an owner file are considered: a folder without one is
    being made right now, or comes from an older paperpack.
    """
    root = Path(folder) if folder is not None else Path(tempfile.gettempdir())
    removed = []
    try:
        entries = [e for e in os.scandir(root) if e.name.startswith(SCRATCH_PREFIX)]
    except OSError as exc:
        log.debug("cannot list %s for leftovers: %s", root, exc)
        return []
    for entry in entries:
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            with open(os.path.join(entry.path, OWNER_FILE), encoding="utf-8") as fh:
                owner = Owner.parse(fh.read(300))
        except (OSError, ValueError):
            continue
        if owner is not None and owner.gone():
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


def sweep_docker() -> tuple[list[str], list[str]]:
    """Remove paperpack's containers (with their anonymous volumes) and volumes whose owner is gone."""
    containers = _gone(
        "ps", "-a", "--filter", f"label={OWNER_LABEL}", "--format", f'{{{{.Names}}}}\t{{{{.Label "{OWNER_LABEL}"}}}}'
    )
    if containers:
        _docker("rm", "-f", "-v", *containers, timeout=120)
    volumes = _gone(
        "volume", "ls", "--filter", f"label={OWNER_LABEL}", "--format", f'{{{{.Name}}}}\t{{{{.Label "{OWNER_LABEL}"}}}}'
    )
    if volumes:
        _docker("volume", "rm", "-f", *volumes, timeout=120)
    return containers, volumes


def _gone(*listing: str) -> list[str]:
    """Names from a ``docker … --format NAME\\tOWNER`` listing whose owner is gone."""
    out = _docker(*listing, timeout=60)
    if out is None or out.returncode != 0:
        return []
    names = []
    for line in out.stdout.splitlines():
        name, _, owner_text = line.partition("\t")
        owner = Owner.parse(owner_text)
        if name and owner is not None and owner.gone():
            names.append(name)
    return names


def _docker(*args: str, timeout: float) -> subprocess.CompletedProcess[str] | None:
    """A docker command for the sweep; ``None`` when it cannot run (the sweep is best effort)."""
    from ..util.docker import docker_cli

    try:
        return subprocess.run([docker_cli(), *args], capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("could not look for containers left by killed runs (docker %s): %s", args[0], exc)
        return None
