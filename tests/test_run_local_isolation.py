"""The local engine keeps repositories apart and secrets away from notebook code, and confines it.

tests/cases/run-localpkg-a and -b have the same requirements.txt (``-e .``) and each its
own ``paperlib`` module; tests/cases/run-env prints the environment its kernel sees.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from paperpack.cli.main import main
from paperpack.repository.repo import Repo
from paperpack.run import run_notebooks
from paperpack.run.local import venv_dir
from paperpack.run.plan import Limits
from paperpack.run.results import NotebookRun
from paperpack.run.sandbox import Confinement, probe
from paperpack.run.venv import choose_python
from tests.conftest import require
from tests.runhelp import alive, read_report, tree_hashes

pytestmark = pytest.mark.slow


def test_local_packages_are_not_shared_between_repositories(copy_case, tmp_path: Path) -> None:
    repos = {who: copy_case(f"run-localpkg-{who}") for who in ("a", "b")}
    assert (repos["a"] / "requirements.txt").read_text() == (repos["b"] / "requirements.txt").read_text()
    assert venv_dir(repos["a"]) != venv_dir(repos["b"])
    for who, repo in repos.items():
        before = tree_hashes(repo)
        result = run_notebooks(Repo.open(repo), engine="local", out_dir=tmp_path / f"out-{who}")
        [run] = result.notebooks
        assert run.verdict == "same", f"{who}: {run.message} {run.comparison}"
        assert tree_hashes(repo) == before, "pip must not write into the repository (no egg-info, no image/)"
        assert not list(repo.glob("*.egg-info"))


def test_notebook_code_sees_no_secrets(copy_case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_TOKEN", "MY_SECRET", "PAPERPACK_REGISTRY_PASSWORD", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "s3cr3t")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    repo = copy_case("run-env")
    result = run_notebooks(Repo.open(repo), engine="local", out_dir=tmp_path / "out")
    [run] = result.notebooks
    assert run.status == "ok", run.message
    executed = nbformat.read(tmp_path / "out" / "executed" / "environment.ipynb", as_version=4)
    seen = json.loads(executed.cells[0].outputs[0]["text"])
    keys = set(seen["keys"])
    assert not keys & {"GITHUB_TOKEN", "MY_SECRET", "PAPERPACK_REGISTRY_PASSWORD", "AWS_SECRET_ACCESS_KEY"}
    assert {"PATH", "HOME", "LC_ALL", "TMPDIR", "VIRTUAL_ENV"} <= keys
    assert seen["tmp"] == str(tmp_path)


# --- confinement: memory, network, processes; the Python version -----------------------------


def _notebook_repo(root: Path, *cells: str, runtime: str | None = None) -> Path:
    """A repository with one notebook of ``cells`` (no requirements: the runner packages' environment)."""
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "bomb.ipynb")
    if runtime:
        (root / "runtime.txt").write_text(runtime + "\n")
    return root


def _run_one(root: Path, out: Path, **limits: Any) -> NotebookRun:
    result = run_notebooks(
        Repo.open(root), engine="local", out_dir=out, jobs=1, limits=Limits(timeout=60, cell_timeout=60, **limits)
    )
    [run] = result.notebooks
    return run


def test_memory_bomb_is_a_memory_error_in_its_cell(tmp_path: Path) -> None:
    # bounded at 3 GB, in case the limit did not hold: then the notebook succeeds and the test fails
    repo = _notebook_repo(
        tmp_path / "repo", "x = 1", "hoard = []\nfor _ in range(60):\n    hoard.append(bytearray(50 * 2**20))"
    )
    run = _run_one(repo, tmp_path / "out", memory="512m")
    assert (run.status, run.verdict) == ("error", "failed"), run.message
    assert run.message.startswith("code cell 2: MemoryError"), run.message


def test_no_network_inside(tmp_path: Path) -> None:
    caps = probe()
    require(caps.net is not None, f"no network namespace on this machine: {caps.net_note}")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        socket.create_connection(("127.0.0.1", port), timeout=3).close()  # reachable from here
        repo = _notebook_repo(
            tmp_path / "repo", f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3).close()"
        )
        run = _run_one(repo, tmp_path / "out")
    assert run.status == "error", "the notebook reached a server outside its network namespace"
    assert run.message.startswith("code cell 1: ConnectionRefusedError"), run.message


SETNS = """
import ctypes, os
mine = os.stat("/proc/self/ns/net").st_ino
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if os.stat(f"/proc/{pid}/ns/net").st_ino != mine:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            break
    except OSError:
        continue
else:
    fd = None  # not even opened: another namespace is out of reach
print("left" if fd is not None and ctypes.CDLL(None).setns(fd, 0x40000000) == 0 else "stayed")
"""


def test_the_network_namespace_cannot_be_left(tmp_path: Path) -> None:
    """Even as root, the confined process holds no capability outside its user namespace: it cannot setns back."""
    from paperpack.run.sandbox import USERNS_NET, Confinement

    caps = probe()
    require(caps.net == USERNS_NET, f"no user namespace for the network here: {caps.net_note}")
    with Confinement(Limits(memory="1g", pids=64, cpus=1), 60, caps) as confined:
        out = subprocess.run(
            confined.command(sys.executable, [sys.executable, "-c", SETNS]),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert out.stdout.strip() == "stayed", (out.stdout, out.stderr[-500:])
    # the same script under plain `unshare --net` as root does leave: the test can tell the difference
    if caps.root:
        plain = subprocess.run(
            ["unshare", "--net", sys.executable, "-c", SETNS], capture_output=True, text=True, timeout=60, check=False
        )
        assert plain.stdout.strip() == "left", (plain.stdout, plain.stderr[-500:])


def test_batches_running_at_once_get_different_cores() -> None:
    from paperpack.run.sandbox import Confinement

    require(len(os.sched_getaffinity(0)) >= 2, "needs two cores")
    seen = []
    for slot in (0, 1):
        with Confinement(Limits(memory="1g", pids=64, cpus=1), 60, probe(), slot=slot) as confined:
            out = subprocess.run(
                confined.command(
                    sys.executable, [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"]
                ),
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
        seen.append(json.loads(out.stdout))
    assert len(seen[0]) == len(seen[1]) == 1 and seen[0] != seen[1], seen


def test_fork_bomb_is_stopped_by_the_process_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    caps = probe()
    require(
        caps.cgroup is not None or not caps.root,
        f"no process limit for root here (RLIMIT_NPROC does not apply to root; {caps.cgroup_note})",
    )
    used: list[Path] = []  # this run's own cgroup: other runs on the machine make theirs beside it
    enter = Confinement.__enter__

    def spy(self: Confinement) -> Confinement:
        entered = enter(self)
        used.extend([self.cgroup] if self.cgroup is not None else [])
        return entered

    monkeypatch.setattr(Confinement, "__enter__", spy)
    # each child writes its pid and sleeps an hour: a run that waited for them would hang into pytest-timeout;
    # bounded at 1000 children if the limit did not hold
    pids = tmp_path / "children"
    repo = _notebook_repo(
        tmp_path / "repo",
        "import os, time\nfor _ in range(1000):\n    if os.fork() == 0:\n"
        f"        with open({str(pids)!r}, 'a') as fh:\n"
        "            fh.write(f'{os.getpid()}\\n')\n"
        "        time.sleep(3600)\n        os._exit(0)",
    )
    try:
        run = _run_one(repo, tmp_path / "out", pids=40)
        assert run.status == "error" or run.status == "pids-limit", run.message
        assert run.message.startswith("code cell 1: BlockingIOError"), run.message
        if caps.cgroup is not None:
            assert run.status == "pids-limit" and "the process limit (40) was reached" in run.message, run.message
            assert len(used) == 1 and not used[0].exists(), "the batch's cgroup (and its strays) must be gone"
        left = [int(pid) for pid in pids.read_text().split() if alive(int(pid))]
        assert not left, f"the sleeping children must be killed when the run ends: {left} are alive"
    finally:
        for pid in pids.read_text().split() if pids.exists() else ():
            if alive(int(pid)):
                os.kill(int(pid), signal.SIGKILL)


def test_python_version_mismatch_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _notebook_repo(tmp_path / "repo", "print(1)", runtime="python-3.99")
    current = "%d.%d" % sys.version_info[:2]
    warning = f"runtime.txt asks for Python 3.99; the local engine used {current}"
    result = run_notebooks(Repo.open(repo), engine="local", out_dir=tmp_path / "out")
    assert warning in result.isolation and "build the image for the exact version" in result.isolation
    assert main(["run", str(repo), "--engine", "local", "-o", str(tmp_path / "o2"), "--color", "never"]) == 0
    assert warning in " ".join(capsys.readouterr().out.split())
    assert warning in read_report(tmp_path / "o2")["run"]["isolation"]


def test_runtime_txt_python_3_means_any_python_3(tmp_path: Path) -> None:
    """repo2docker reads `python-3` as "a Python 3": the current one, no warning."""
    chosen = choose_python(_notebook_repo(tmp_path / "repo", "print(1)", runtime="python-3"))
    assert (chosen.executable, chosen.asked, chosen.mismatch) == (sys.executable, "3", None)


def _other_python() -> Path | None:
    """A working Python of another minor version than this one (on PATH or under pyenv)."""
    current = "%d.%d" % sys.version_info[:2]
    found = [Path(p) for m in range(8, 15) if f"3.{m}" != current and (p := shutil.which(f"python3.{m}"))]
    found += sorted(Path.home().glob(".pyenv/versions/3.*/bin/python3.*[0-9]"))
    for path in found:
        out = subprocess.run(
            [str(path), "-c", "import venv, ensurepip, sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        version = out.stdout.strip()
        if out.returncode == 0 and version not in (current, "") and tuple(map(int, version.split("."))) >= (3, 8):
            return path
    return None


def test_the_python_runtime_txt_asks_for_is_used_when_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = _other_python()
    require(other is not None, "no second Python version on this machine")
    assert other is not None
    version = subprocess.run(
        [str(other), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    repo = _notebook_repo(tmp_path / "repo", "print(1)", runtime=f"python-{version}")
    before = choose_python(repo)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / f"python{version}").symlink_to(other)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    chosen = choose_python(repo)
    assert (chosen.version, chosen.asked, chosen.mismatch) == (version, version, None)
    assert Path(chosen.executable).resolve() == other.resolve()
    assert venv_dir(repo, chosen) != venv_dir(repo, before), "the cache key must include the interpreter"
