"""The sweep of what killed runs left: owners alive or gone, scratch folders (no Docker needed).

Containers and volumes: tests/integration/test_container_isolation.py (a `paperpack run`
killed with SIGKILL, another one running meanwhile).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from paperpack.run import sweep
from paperpack.run.sweep import OWNER_FILE, SCRATCH_PREFIX, Owner, current_owner, new_scratch, sweep_scratch


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_owner_text_round_trip_and_garbage() -> None:
    here = current_owner()
    assert Owner.parse(str(here)) == here
    assert here.pid == os.getpid() and here.boot and here.start
    for bad in ("", "x", "a/b/c", "host/boot/notanumber/1", "/boot/1/2", "a/b/1/2/3"):
        assert Owner.parse(bad) is None, bad


def test_who_is_gone() -> None:
    here = current_owner()
    assert not here.gone()
    assert replace(here, pid=_dead_pid(), start="1").gone(), "a pid that no longer exists"
    assert replace(here, start=str(int(here.start) + 1)).gone(), "our pid, reused: another process"
    assert replace(here, boot="an-earlier-boot").gone(), "this machine, an earlier boot"
    assert not replace(here, host="another-machine", pid=_dead_pid()).gone(), "another machine: cannot tell"
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE) as proc:
        alive = replace(here, pid=proc.pid, start=sweep._start_time(proc.pid))
        assert not alive.gone(), "a concurrent run"
        assert replace(alive, start=str(int(alive.start) - 1)).gone(), "its pid, reused by another process"
        proc.stdin.close()  # type: ignore[union-attr]


def test_a_forked_child_is_another_owner() -> None:
    here = current_owner()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child writes its own owner and leaves at once
        os.write(write, str(current_owner()).encode())
        os._exit(0)
    os.close(write)
    child = Owner.parse(os.read(read, 400).decode())
    os.close(read)
    os.waitpid(pid, 0)
    assert child is not None and child.pid == pid and child != here
    assert child.gone() and not here.gone()


def _scratch(root: Path, name: str, owner: str | None) -> Path:
    folder = root / f"{SCRATCH_PREFIX}{name}"
    (folder / "work").mkdir(parents=True)
    (folder / "work" / "big.bin").write_bytes(b"x" * 1000)
    if owner is not None:
        (folder / OWNER_FILE).write_text(owner + "\n")
    return folder


def test_scratch_folders_of_gone_owners_are_removed_and_only_those(tmp_path: Path) -> None:
    here = current_owner()
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE) as proc:
        concurrent = replace(here, pid=proc.pid, start=sweep._start_time(proc.pid))
        killed = _scratch(tmp_path, "killed", str(replace(here, pid=_dead_pid(), start="7")))
        rebooted = _scratch(tmp_path, "rebooted", str(replace(here, boot="earlier")))
        kept = {
            "ours": _scratch(tmp_path, "ours", str(here)),
            "concurrent": _scratch(tmp_path, "concurrent", str(concurrent)),
            "elsewhere": _scratch(tmp_path, "elsewhere", str(replace(here, host="other", pid=_dead_pid()))),
            "being made": _scratch(tmp_path, "new", None),
            "garbage owner": _scratch(tmp_path, "garbage", "not an owner"),
            "not ours by name": tmp_path / "someone-else",
        }
        _scratch(tmp_path, "x", str(replace(here, pid=_dead_pid()))).rename(kept["not ours by name"])
        (tmp_path / f"{SCRATCH_PREFIX}file").write_text(str(replace(here, pid=_dead_pid())))
        assert sorted(sweep_scratch(tmp_path)) == sorted([killed, rebooted])
        proc.stdin.close()  # type: ignore[union-attr]
    assert not killed.exists() and not rebooted.exists()
    for why, folder in kept.items():
        assert folder.is_dir(), why
    assert (tmp_path / f"{SCRATCH_PREFIX}file").is_file()


def test_new_scratch_sweeps_then_claims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    killed = _scratch(tmp_path, "killed", str(replace(current_owner(), pid=_dead_pid())))
    scratch = new_scratch(docker=False)
    assert scratch.parent == tmp_path and scratch.name.startswith(SCRATCH_PREFIX)
    assert Owner.parse((scratch / OWNER_FILE).read_text()) == current_owner()
    assert not killed.exists()
    assert sweep_scratch(tmp_path) == [] and scratch.is_dir(), "a run's own folder survives its own sweep"
