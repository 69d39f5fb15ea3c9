"""Start a command confined: the local engine's launcher, run by the environment's own Python.

``python confine.py SETTINGS_JSON COMMAND...`` applies the settings to itself, then
``exec``\\ s ``COMMAND``, so the runner and every kernel it starts inherit them:

- ``lo_up``: bring the loopback interface up (a new network namespace starts with it
  down, and the kernels talk to the runner over 127.0.0.1);
- ``cgroup``: join that cgroup folder (a pids limit that also holds for root);
- ``cores``, ``first_core``: CPU affinity to that many cores, from that position in the
  allowed set (wrapping), so batches running at once do not share one core;
- ``rlimits``: ``{"RLIMIT_DATA": [soft, hard], …}``;
- ``readonly``: folders (or files) bind-mounted read-only onto themselves — paperpack's
  caches that other papers reuse (needs the new mount namespace ``unshare --mount`` made);
- ``hide``: sockets (or folders) covered by ``/dev/null`` (an empty read-only tmpfs for a
  folder), so a connect gets ``ECONNREFUSED`` — the Docker socket;
- ``lock``: then enter a further user + mount namespace (mapping the current uid and gid
  to themselves). Mounts a namespace's own root made can be remounted read-write or
  unmounted by it; once copied into a mount namespace owned by a less privileged (nested)
  user namespace they are locked (the kernel's ``MNT_LOCK_READONLY``, ``MNT_LOCKED``), so
  notebook code, root in the nested namespace, gets ``EPERM``/``EINVAL`` when it tries.

Standard library only: it runs in the notebook environment, which has no paperpack.
A step that fails ends the launch with exit code 126 and one line on stderr.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import resource
import socket
import struct
import sys
from typing import Any

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
FAILED = 126
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 0x1, 0x2, 0x4, 0x8, 0x20, 0x1000, 0x4000
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 0x400, 0x800, 0x200000
#: statvfs's ST_* flag -> mount(2)'s MS_* flag, for the flags a remount in a user namespace must keep
KEPT_FLAGS = {
    0x2: MS_NOSUID,
    0x4: MS_NODEV,
    0x8: MS_NOEXEC,
    0x400: MS_NOATIME,
    0x800: MS_NODIRATIME,
    0x1000: MS_RELATIME,
}
CLONE_NEWNS, CLONE_NEWUSER = 0x20000, 0x10000000


def loopback_up() -> None:
    """``ip link set lo up`` without ip(8): needs CAP_NET_ADMIN in the (new) network namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    libc.unshare.argtypes = [ctypes.c_int]
    return libc


def _check(result: int, what: str, path: str = "") -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}", path or None)


def _mount(libc: Any, source: str | None, target: str, fstype: str | None, flags: int) -> None:
    _check(
        libc.mount(
            source.encode() if source else None, target.encode(), fstype.encode() if fstype else None, flags, None
        ),
        "mount",
        target,
    )


def read_only(libc: Any, path: str) -> None:
    """Bind ``path`` onto itself, then remount that bind read-only (keeping the flags it must keep)."""
    _mount(libc, path, path, None, MS_BIND | MS_REC)
    present = os.statvfs(path).f_flag
    kept = 0
    for st_flag, ms_flag in KEPT_FLAGS.items():
        if present & st_flag:
            kept |= ms_flag
    _mount(libc, None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | kept)


def hide(libc: Any, path: str) -> None:
    """Cover ``path``: ``/dev/null`` over a file or socket, an empty read-only tmpfs over a folder."""
    if os.path.isdir(path):
        _mount(libc, "tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    else:
        _mount(libc, "/dev/null", path, None, MS_BIND)


def lock(libc: Any) -> None:
    """Enter a nested user + mount namespace: the mounts made so far can no longer be changed or removed."""
    uid, gid = os.geteuid(), os.getegid()
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare a nested user and mount namespace")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as fh:
            fh.write(text)


def protect(readonly: list[str], hidden: list[str], locked: bool) -> None:
    """The mounts of ``readonly``/``hide``/``lock`` (see the module docstring); missing paths are skipped."""
    libc = _libc()
    for path in readonly:
        if os.path.lexists(path):
            read_only(libc, os.path.realpath(path))
    for path in hidden:
        if os.path.lexists(path):
            hide(libc, os.path.realpath(path))
    if locked:
        lock(libc)


def apply(settings: dict[str, Any]) -> None:
    if settings.get("lo_up"):
        loopback_up()
    if settings.get("cgroup"):
        with open(os.path.join(settings["cgroup"], "cgroup.procs"), "w") as fh:
            fh.write(str(os.getpid()))
    if settings.get("readonly") or settings.get("hide") or settings.get("lock"):
        protect(list(settings.get("readonly") or ()), list(settings.get("hide") or ()), bool(settings.get("lock")))
    cores = settings.get("cores")
    if cores:
        allowed = sorted(os.sched_getaffinity(0))
        first = int(settings.get("first_core") or 0)
        count = min(max(1, int(cores)), len(allowed))
        os.sched_setaffinity(0, [allowed[(first + i) % len(allowed)] for i in range(count)])
    for name, (soft, hard) in (settings.get("rlimits") or {}).items():
        kind = getattr(resource, name)
        _, current_hard = resource.getrlimit(kind)
        if current_hard != resource.RLIM_INFINITY:  # never ask for more than we may have
            hard = min(hard, current_hard)
            soft = min(soft, hard)
        resource.setrlimit(kind, (soft, hard))


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write("usage: confine.py SETTINGS_JSON COMMAND...\n")
        return 2
    try:
        apply(json.loads(argv[0]))
    except (OSError, ValueError, AttributeError) as exc:
        sys.stderr.write(f"paperpack-confine: cannot confine the runner: {exc}\n")
        return FAILED
    try:
        os.execv(argv[1], argv[1:])
    except OSError as exc:
        sys.stderr.write(f"paperpack-confine: cannot start {argv[1]}: {exc}\n")
        return FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
