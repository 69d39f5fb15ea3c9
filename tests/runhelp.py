"""Helpers shared by the run tests (local and docker): repo hashes, interrupting a run, an offline build."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paperpack.cli.main import main
from paperpack.run.channel import Delivery, new_key, read_channel
from paperpack.run.engines import RUNNER
from paperpack.util.schemas import validator_for

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


@contextmanager
def offline_build(repo: Path, tmp_path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``paperpack build REPO --engine docker --mode offline`` (report.json and outputs in ``tmp_path``): the
    exit code and the report; the image it built and a dated image (``run.dated.run.image``) removed at the end."""
    report_path = tmp_path / "report.json"
    report: dict[str, Any] = {}
    try:
        args = ["build", str(repo), "--engine", "docker", "--mode", "offline"]
        code = main([*args, "-o", str(report_path), "--out-dir", str(tmp_path / "out")])
        report = json.loads(report_path.read_text(encoding="utf-8"))
        yield code, report
    finally:
        dated = ((report.get("run") or {}).get("dated") or {}).get("run") or {}
        for image in filter(None, [(report.get("build") or {}).get("image"), dated.get("image")]):
            subprocess.run(["docker", "image", "rm", image], capture_output=True, check=False)


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


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``: its children, theirs, and so on (Linux /proc)."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        below = children(frontier.pop())
        found += below
        frontier += below
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


def sleeping(pid: int) -> bool | None:
    """Whether ``pid``'s main thread is in a sleep (``time.sleep``); None when the kernel does not say."""
    try:
        wchan = Path(f"/proc/{pid}/wchan").read_text().strip()
    except OSError:
        return None
    if wchan in ("", "0"):  # hidden (no ptrace access to a non-dumpable process)
        return None
    return "nanosleep" in wchan


def interrupt_run(
    args: list[str], started: Callable[[subprocess.Popen[str]], bool], timeout: float = 600
) -> tuple[subprocess.Popen[str], str]:
    """Start ``paperpack ARGS``, wait until ``started(proc)``, send SIGINT; return (proc, output).

    ``timeout`` bounds the wait, not a timing: the first local run of a test session creates the
    local engine's environment (pip installs) before any notebook starts. A failed wait stops the
    process and closes its pipe, so nothing of it is left for a later test to find.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperpack", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + timeout
        while not started(proc):
            assert proc.poll() is None, f"paperpack exited early: {proc.communicate()[0]}"
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    except BaseException:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()  # already closed when the early-exit message read it
        raise
    return proc, output


@dataclass
class RunnerOutput:
    """What runner.py sent back on its stdout, read by paperpack's own channel reader."""

    code: int | None
    stderr: bytes
    events: list[dict[str, Any]] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    deliveries: dict[str, Delivery] = field(default_factory=dict)

    def read(self, stdout: bytes, keys: set[str], key: bytes) -> RunnerOutput:
        self.deliveries = read_channel(io.BytesIO(stdout), keys, key, self.events.append, self.output.append)
        for name, delivery in self.deliveries.items():
            assert not delivery.problems, (name, delivery.problems)
        return self


def start_runner(spec: dict[str, Any], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], bytes]:
    """Start runner.py with ``spec`` (and a fresh channel key) on its stdin; (process, key)."""
    key = new_key()
    proc = subprocess.Popen(
        [sys.executable, str(RUNNER), "--spec", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({**spec, "channel_key": key.hex()}).encode())
    proc.stdin.close()
    proc.stdin = None  # written and closed: communicate() must not flush it again
    return proc, key


def run_runner(spec: dict[str, Any], env: dict[str, str] | None = None, timeout: float = 120) -> RunnerOutput:
    """Run runner.py on ``spec`` to its end; what it sent back."""
    proc, key = start_runner(spec, env)
    stdout, stderr = proc.communicate(timeout=timeout)
    return RunnerOutput(proc.returncode, stderr).read(stdout, {job["key"] for job in spec["notebooks"]}, key)
