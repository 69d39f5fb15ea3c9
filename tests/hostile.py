"""Hostile repositories for the run tests (local and docker): a notebook that attacks how results come back.

The attack is the one a security probe used against paperpack (issue 8): the kernel runs as
the runner's user, so it finds the runner among its ancestors, reads the batch's spec where
the runner's command line says it is, and in the output folder the spec names it plants its
executed copy as a link (to a host file, to ``/proc/self/environ``), a copy of the committed
notebook (a forged "same") or a huge sparse file, beside a forged result saying "ok". It
also writes forged result frames on every descriptor it can open towards the runner. Then
it kills the runner — with SIGKILL, or, for PID 1 of a container (which ignores signals
from inside), by making the OOM killer choose it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import nbformat

ATTACK_BODY = r"""
import json, os, signal

def parent(pid):
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])

def find_runner():
    pid = os.getpid()
    while pid >= 1:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = [a.decode() for a in fh.read().split(b"\0")]
        except OSError:
            argv = []
        if any(a.endswith("runner.py") for a in argv):
            return pid, argv
        if pid == 1:
            break
        pid = parent(pid)
    return None, []

rpid, argv = find_runner()
spec = {}
if "--spec" in argv:
    try:
        with open(argv[argv.index("--spec") + 1]) as fh:
            spec = json.load(fh)
    except (OSError, ValueError):
        pass
out = spec.get("outdir")
key = next((job["key"] for job in spec.get("notebooks", []) if job["path"] == NB), "nb000")
forged = {"result_version": 1, "key": key, "path": NB, "status": "ok", "error": None, "cells": [],
          "kernel": "python3", "kernel_exit": None, "duration": 0.1, "parameters": {}}
if out:
    planted = os.path.join(out, key + ".ipynb")
    staging = os.path.join(out, "planted.tmp")
    if KIND == "sparse":
        with open(staging, "wb") as fh:
            fh.truncate(SIZE)
    elif KIND == "forge-same":
        with open(TARGET) as src, open(staging, "w") as dst:
            dst.write(src.read())
    else:
        os.symlink(TARGET, staging)
    os.replace(staging, planted)
    with open(os.path.join(out, key + ".result.json"), "w") as fh:
        json.dump(forged, fh)
payload = json.dumps(forged).encode()
frame = b"@@paperpack-frame result %s %d %s\n%s\n" % (key.encode(), len(payload), b"0" * 64, payload)
for path in [f"/proc/{rpid}/fd/1", f"/proc/{rpid}/fd/2", "/proc/1/fd/1", "/proc/self/fd/1", "/proc/self/fd/2"]:
    try:
        fd = os.open(path, os.O_WRONLY)
        os.write(fd, frame)
        os.close(fd)
    except OSError:
        pass
if rpid == 1:
    try:
        with open("/proc/1/oom_score_adj", "w") as fh:
            fh.write("1000")
    except OSError:
        pass
    hog = []
    while True:
        hog.append(bytearray(32 << 20))
elif rpid:
    os.kill(rpid, signal.SIGKILL)
"""

#: what every attack's committed notebook shows (the forged "same" copies it)
PUBLISHED = "published result: 42\n"


@dataclass
class Hostile:
    repo: Path
    secret: str  # must never show up in what paperpack writes or prints
    kind: str


def make_hostile(tmp: Path, kind: str, *, size: int = 300 << 20) -> Hostile:
    """A repository whose ``attack.ipynb`` attacks as ``kind`` says: secret, environ, forge-same, sparse.

    ``secret``: the executed copy links to a file outside the repository, mode 0600
    (standing in for a root-only host file); ``environ``: to ``/proc/self/environ``, read
    as paperpack's own environment on the host (the test puts ``secret`` there).
    """
    repo, outside = tmp / "repo", tmp / "outside"
    repo.mkdir()
    outside.mkdir()
    secret = "PAPERPACK-PROBE-" + os.urandom(8).hex()
    target = str(outside / "secret.txt")
    if kind == "secret":
        Path(target).write_text(secret + "\n")
        os.chmod(target, 0o600)
    elif kind == "environ":
        target = "/proc/self/environ"
    elif kind == "forge-same":
        target = "attack.ipynb"  # the planted copy: the committed notebook itself, from the working copy
    source = f"KIND, TARGET, NB, SIZE = {kind!r}, {target!r}, 'attack.ipynb', {size!r}\n" + ATTACK_BODY
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=PUBLISHED)]
    nb.cells = [cell]
    nbformat.write(nb, repo / "attack.ipynb")
    return Hostile(repo=repo, secret=secret, kind=kind)


def everything_written(out: Path, printed: str) -> str:
    """What paperpack printed plus every file it wrote (as text), to search for a leak."""
    parts = [printed]
    for path in sorted(out.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.stat().st_size < (8 << 20):
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def assert_nothing_came_back(hostile: Hostile, out: Path, printed: str, code: int) -> None:
    """The attack failed: verdict failed, exit 1, nothing of the target copied or echoed, no big or linked file."""
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    (run,) = report["run"]["notebooks"]
    assert run["verdict"] == "failed", run
    # the cause: what the run handed back was refused, nothing of it believed (the planted files are not results)
    assert "the runner stopped without a result" in run["message"] or run["message"].startswith("out of memory"), run
    assert code == 1
    assert hostile.secret not in everything_written(out, printed)
    assert not [p for p in out.rglob("*") if p.is_symlink()], "a link was copied into the output folder"
    big = [p for p in out.rglob("*") if p.is_file() and p.stat().st_size >= (1 << 20)]
    assert not big, f"a planted file was copied: {big}"
