"""Start a command confined: the local engine's launcher, run by the environment's own Python.

``python confine.py SETTINGS_JSON COMMAND...`` applies the settings to itself, then
``exec``\\ s ``COMMAND``, so the runner and every kernel it starts inherit them:

- ``lo_up``: bring the loopback interface up (a new network namespace starts with it
  down, and the kernels talk to the runner over 127.0.0.1);
- ``cgroup``: join that cgroup folder (a pids limit that also holds for root);
- ``cores``, ``first_core``: CPU affinity to that many cores, from that position in the
  allowed set (wrapping), so batches running at once do not share one core;
- ``rlimits``: ``{"RLIMIT_DATA": [soft, hard], …}``.

Standard library only: it runs in the notebook environment, which has no paperpack.
A step that fails ends the launch with exit code 126 and one line on stderr.
"""

from __future__ import annotations

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


def loopback_up() -> None:
    """``ip link set lo up`` without ip(8): needs CAP_NET_ADMIN in the (new) network namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


def apply(settings: dict[str, Any]) -> None:
    if settings.get("lo_up"):
        loopback_up()
    if settings.get("cgroup"):
        with open(os.path.join(settings["cgroup"], "cgroup.procs"), "w") as fh:
            fh.write(str(os.getpid()))
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
