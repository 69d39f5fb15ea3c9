"""Helpers shared by the run tests (local and docker): repo hashes, interrupting a run."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from paperpack.schemas import validator_for

ROOT = Path(__file__).resolve().parent.parent


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file and the list of folders: proves the repository was not touched."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return out


def read_report(out: Path) -> dict[str, Any]:
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    validator_for("report").validate(report)
    return report


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def interrupt_run(args: list[str], started: Callable[[subprocess.Popen[str]], bool],
                  timeout: float = 120) -> tuple[subprocess.Popen[str], str]:
    """Start ``paperpack ARGS``, wait until ``started(proc)``, send SIGINT; return (proc, output)."""
    proc = subprocess.Popen([sys.executable, "-m", "paperpack", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    deadline = time.monotonic() + timeout
    while not started(proc):
        assert proc.poll() is None, f"paperpack exited early: {proc.communicate()[0]}"
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    return proc, output
