"""What the local engine can confine on this machine, and the confinement of one batch.

The container engine's limits (the plan's resolved :class:`~paperpack.run.plan.Limits`)
become, for the runner and every kernel it starts (inherited):

- memory: ``RLIMIT_DATA`` per process (``RLIMIT_AS`` counts reserved address space: an
  idle ipykernel already holds ~800 MB of it, ~940 MB with numpy, against ~140/225 MB
  of data — measured — so ``RLIMIT_AS`` would stop notebooks far below the limit);
  an allocation past it raises ``MemoryError`` in the cell;
- CPU: affinity to ``ceil(cpus)`` cores, and ``RLIMIT_CPU`` as a backstop (the longest
  notebook timeout times the cores: the wall-clock timeouts come first);
- open files: ``RLIMIT_NOFILE``;
- processes: a pids cgroup of its own when one can be made (root on cgroup v1, or a
  delegated cgroup v2 subtree); else, for a non-root user, ``RLIMIT_NPROC`` (counted per
  user: the user's current tasks plus the limit); else (root without a writable cgroup —
  ``RLIMIT_NPROC`` does not apply to root) none, and the label says so;
- network: a new, empty network namespace with only the loopback interface up, inside a
  new user namespace where that is allowed (``unshare --user --map-root-user --net
  --mount``: even for root, the notebook then holds no capability outside it, so it cannot
  re-enter the host's network namespace, raise its limits or reach other processes'
  mounts through ``/proc/PID/root``), else ``unshare --net`` (root only); else the network
  stays on, and the label says so;
- paperpack's caches and the Docker socket: in that user namespace's own mount namespace,
  the caches other papers reuse (the local environments, the data cache) are bind-mounted
  read-only and the Docker daemon's sockets (:func:`docker_sockets`) are covered, and so
  are the folders of paperpack's own control sockets (:func:`control_folders`: a batch's
  zygote, multiprocessing's fork server — either runs code outside the confinement for
  whoever connects), then a nested user + mount namespace locks those mounts
  (:mod:`paperpack.run.confine`), so notebook code cannot write into a cached environment
  or data file, nor start containers through the daemon (which would be root on the
  host), nor have a pipeline or process started outside. Without a user namespace they
  stay writable and reachable, and the label says so.

These are guards against accidents (a notebook that downloads, forks or allocates too
much), not a security boundary: notebook code runs as you and can read your files, and
as root it can still move itself out of the pids cgroup. Untrusted code belongs in the
container engine; the label says so.

:func:`probe` tries each mechanism once per process, for real (a probe that starts the
launcher :mod:`paperpack.run.confine` the same way a batch will).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from .plan import Limits

__all__ = [
    "Capabilities",
    "Confinement",
    "probe",
    "memory_bytes",
    "docker_sockets",
    "control_folders",
    "hidden_paths",
    "CONFINE",
    "NOFILE",
]

log = logging.getLogger(__name__)

CONFINE = Path(__file__).resolve().parent / "confine.py"
NOFILE = 4096
CPU_SLACK = 60  # seconds of CPU time beyond the budget before SIGXCPU
USERNS_NET = ("unshare", "--user", "--map-root-user", "--net", "--mount")
NET_PREFIXES = (USERNS_NET, ("unshare", "--net"))  # the user namespace first: it drops host capabilities
#: where Docker daemons listen (rootful, containerd); $DOCKER_HOST's and a rootless daemon's are added
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock")
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def memory_bytes(size: str) -> int:
    """Docker's memory size (``512m``, ``2g``, ``1.5G``, ``1048576``) in bytes."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([bkmgBKMG]?)\s*", str(size))
    if not match:
        raise ValueError(f"not a memory size: {size!r} (expected e.g. 512m or 2g)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def docker_sockets(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The Docker daemon's sockets a notebook must not reach: the usual ones, ``$DOCKER_HOST``'s, a rootless one."""
    env = os.environ if environ is None else environ
    found = [Path(p) for p in DOCKER_SOCKETS]
    host = env.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        found.append(Path(host[len("unix://") :]))
    if env.get("XDG_RUNTIME_DIR"):
        found.append(Path(env["XDG_RUNTIME_DIR"]) / "docker.sock")
    return found


#: folders of the temporary directory that hold host-side control sockets: a batch's zygote
#: (:mod:`paperpack.batch.forkserver`) and multiprocessing's fork server (Dask's local workers); both
#: check only the caller's uid, which a notebook's user namespace maps back to this user's
CONTROL_FOLDERS = ("paperpack-batch-*", "pymp-*")


def control_folders(tmp: str | Path | None = None) -> list[Path]:
    """This user's folders of control sockets in the temporary directory: real folders only, never a link."""
    base = Path(tmp if tmp is not None else tempfile.gettempdir())
    found = []
    for pattern in CONTROL_FOLDERS:
        for path in sorted(base.glob(pattern)):
            try:
                info = path.lstat()
            except OSError:  # gone meanwhile
                continue
            if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
                found.append(path)
    return found


def hidden_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """What a notebook must not reach: the Docker daemon's sockets and paperpack's own control sockets."""
    return docker_sockets(environ) + control_folders()


def _launch_ok(cmd: list[str]) -> tuple[bool, str]:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    last = (out.stderr or out.stdout).strip().splitlines()[-1:]
    return out.returncode == 0, last[0] if last else f"exit code {out.returncode}"


@dataclass(frozen=True)
class Capabilities:
    """What this machine lets the local engine do (see the module docstring)."""

    net: tuple[str, ...] | None  # command prefix that starts a process in an empty network namespace
    net_note: str  # how, or why not
    fs: bool  # whether read-only caches and hidden sockets can be mounted, and locked (see confine.py)
    fs_note: str  # why not
    cgroup: Path | None  # a folder where a pids cgroup per batch can be made
    cgroup_note: str
    root: bool


def _probe_mounts() -> tuple[bool, str]:
    """Whether the launcher can make a folder read-only, cover a file and lock both, in the user namespace."""
    with tempfile.TemporaryDirectory(prefix="paperpack-probe-") as scratch:
        (Path(scratch) / "socket").touch()
        check = json.dumps({"lo_up": True, "readonly": [scratch], "hide": [f"{scratch}/socket"], "lock": True})
        ok, why = _launch_ok([*USERNS_NET, sys.executable, str(CONFINE), check, "/bin/true"])
    return ok, "" if ok else f"no read-only mounts in a user namespace here ({why})"


def _probe_net() -> tuple[tuple[str, ...] | None, str]:
    if shutil.which("unshare") is None:
        return None, "no unshare command (util-linux) on PATH"
    check = json.dumps({"lo_up": True})
    why = ""
    for prefix in NET_PREFIXES:
        ok, why = _launch_ok([*prefix, sys.executable, str(CONFINE), check, "/bin/true"])
        if ok:
            return prefix, " ".join(prefix)
    return None, f"`{' '.join(USERNS_NET)}` is not allowed here ({why})"


def _own_pids_cgroup() -> Path | None:
    """This process's cgroup folder for the pids controller (v1 first, then v2), if mounted."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            base = Path("/sys/fs/cgroup/pids")
            return base / path.lstrip("/") if base.is_dir() else None
    base = Path("/sys/fs/cgroup")
    for line in lines:
        if line.startswith("0::") and (base / "cgroup.controllers").is_file():
            if "pids" in (base / "cgroup.controllers").read_text().split():
                return base / line[3:].lstrip("/")
    return None


def _probe_cgroup() -> tuple[Path | None, str]:
    parent = _own_pids_cgroup()
    if parent is None:
        return None, "no pids cgroup controller mounted"
    trial = parent / f"paperpack-probe-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        trial.mkdir()
    except OSError as exc:
        return None, f"cannot make a cgroup in {parent}: {exc.strerror or exc}"
    try:
        (trial / "pids.max").write_text("16")
        ok, why = _launch_ok([sys.executable, str(CONFINE), json.dumps({"cgroup": str(trial)}), "/bin/true"])
        return (parent, f"pids cgroup under {parent}") if ok else (None, f"cannot join a cgroup in {parent}: {why}")
    except OSError as exc:
        return None, f"cannot set pids.max in {trial}: {exc.strerror or exc}"
    finally:
        _remove_cgroup(trial)


@functools.lru_cache(maxsize=1)
def probe() -> Capabilities:
    """What works here, tried once per process."""
    fs, fs_note = _probe_mounts() if shutil.which("unshare") else (False, "no unshare command (util-linux) on PATH")
    net, net_note = (USERNS_NET, " ".join(USERNS_NET)) if fs else _probe_net()
    cgroup, cgroup_note = _probe_cgroup()
    caps = Capabilities(
        net=net,
        net_note=net_note,
        fs=fs,
        fs_note=fs_note,
        cgroup=cgroup,
        cgroup_note=cgroup_note,
        root=os.geteuid() == 0,
    )
    log.info(
        "local engine confinement: network %s; caches %s; processes %s",
        net_note,
        "read-only" if fs else fs_note,
        cgroup_note,
    )
    return caps


def _kernel_at_least(major: int, minor: int) -> bool:
    found = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return bool(found) and (int(found.group(1)), int(found.group(2))) >= (major, minor)  # type: ignore[union-attr]


def _user_tasks(uid: int) -> int:
    """Tasks (threads count: RLIMIT_NPROC counts them) whose real uid is ``uid``."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        real = re.search(r"^Uid:\s+(\d+)", status, re.M)
        threads = re.search(r"^Threads:\s+(\d+)", status, re.M)
        if real and int(real.group(1)) == uid:
            total += int(threads.group(1)) if threads else 1
    return total


def _remove_cgroup(folder: Path) -> None:
    """Kill whatever is left in ``folder`` (a notebook's strays), then remove it."""
    for _ in range(50):
        try:
            pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
        except OSError:
            pids = []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    log.warning("could not remove the cgroup %s (processes still in it)", folder)


class Confinement:
    """The confinement of one batch: the launch command, and its pids cgroup while it runs.

    ``readonly``: paths notebook code must not change (paperpack's caches); ``hidden``:
    sockets it must not reach (default :func:`hidden_paths`). Both only where
    ``caps.fs``; the label says so otherwise.
    """

    def __init__(
        self,
        limits: Limits,
        longest_timeout: float,
        caps: Capabilities | None = None,
        *,
        slot: int = 0,
        readonly: Sequence[Path] = (),
        hidden: Sequence[Path] | None = None,
    ) -> None:
        self.caps = caps or probe()
        self.readonly = [str(p) for p in readonly]
        self.hidden = [str(p) for p in (hidden_paths() if hidden is None else hidden)]
        self.limits = limits
        available = len(os.sched_getaffinity(0))
        self.cores = max(1, min(math.ceil(float(limits.cpus or 1)), available))
        self.first_core = (slot * self.cores) % available  # batches running at once get different cores
        self.memory = memory_bytes(str(limits.memory or "2g"))
        self.cpu_seconds = int(math.ceil(longest_timeout * self.cores)) + CPU_SLACK
        self.cgroup: Path | None = None

    def settings(self) -> dict[str, object]:
        rlimits: dict[str, list[int]] = {
            "RLIMIT_DATA": [self.memory, self.memory],
            "RLIMIT_CPU": [self.cpu_seconds, self.cpu_seconds + 10],  # SIGXCPU, then SIGKILL
            "RLIMIT_NOFILE": [NOFILE, NOFILE],
        }
        if self.cgroup is None and not self.caps.root and self.limits.pids:
            # Linux >= 5.14 counts RLIMIT_NPROC per user namespace: in a new one only its own tasks count.
            own_namespace = self.caps.net == USERNS_NET and _kernel_at_least(5, 14)
            budget = int(self.limits.pids) + (1 if own_namespace else _user_tasks(os.getuid()))
            rlimits["RLIMIT_NPROC"] = [budget, budget]
        mounts: dict[str, object] = (
            {"readonly": self.readonly, "hide": self.hidden, "lock": True} if self.caps.fs else {}
        )
        return {
            "lo_up": self.caps.net is not None,
            "cgroup": str(self.cgroup) if self.cgroup else None,
            "cores": self.cores,
            "first_core": self.first_core,
            "rlimits": rlimits,
            **mounts,
        }

    def command(self, python: str, cmd: list[str]) -> list[str]:
        """``cmd`` started through the launcher (run by ``python``), in the network namespace if any."""
        return [*(self.caps.net or ()), python, str(CONFINE), json.dumps(self.settings()), *cmd]

    def __enter__(self) -> Confinement:
        if self.caps.cgroup is not None and self.limits.pids:
            folder = self.caps.cgroup / f"paperpack-run-{uuid.uuid4().hex[:12]}"
            try:
                folder.mkdir()
                (folder / "pids.max").write_text(str(int(self.limits.pids)))
                self.cgroup = folder
            except OSError as exc:
                log.warning("no process limit for this batch: cannot make the cgroup %s: %s", folder, exc)
                _remove_cgroup(folder)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        if self.cgroup is not None:
            _remove_cgroup(self.cgroup)

    def pids_hits(self) -> int | None:
        """How often a fork was refused by the process limit (the cgroup's ``pids.events max``)."""
        if self.cgroup is None:
            return None
        try:
            for line in (self.cgroup / "pids.events").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "max":
                    return int(value)
        except (OSError, ValueError):
            return None
        return 0

    def label(self) -> str:
        """What was applied, e.g. "local engine: no network, memory ≤ 2g per process, …"."""
        return describe(self.caps, self.limits, self.cores)


def describe(caps: Capabilities, limits: Limits, cores: int) -> str:
    """The label of the local engine's isolation: what is confined and what is not."""
    net = "no network" if caps.net else f"network ON ({caps.net_note})"
    if not limits.pids:
        procs = "no process limit"
    elif caps.cgroup is not None:
        procs = f"≤ {limits.pids} processes (pids cgroup)"
    elif not caps.root:
        procs = f"≤ {limits.pids} more processes for your user (RLIMIT_NPROC)"
    else:
        procs = f"no process limit (root: RLIMIT_NPROC does not apply, and {caps.cgroup_note})"
    cpu = f"{cores} core{'s' * (cores != 1)} (CPU time ≤ timeout × {cores} per process)"
    caches = (
        "paperpack's caches read-only and the Docker socket hidden"
        if caps.fs
        else f"paperpack's caches WRITABLE and the Docker socket reachable ({caps.fs_note})"
    )
    return (
        f"local engine: {net}, {caches}, memory ≤ {limits.memory} per process, {procs}, {cpu}, "
        f"≤ {NOFILE} open files — "
        "less isolated than a container: guards against accidents, not a security boundary (notebook code "
        "runs as you, on your files)"
    )
