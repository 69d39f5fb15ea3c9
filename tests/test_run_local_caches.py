"""The local engine keeps paperpack's caches and the Docker daemon out of notebook code's reach.

Each test runs a hostile notebook it writes itself: one that appends to a file of the
cached environment (which other papers reuse) and to a fetched data file, then tries to
remount the caches read-write or unmount them and tries again; one that connects to a
unix socket standing in for the Docker daemon's (a server the test starts, named by
``DOCKER_HOST=unix://…``; the real daemon's socket is never touched). The notebooks print
what each attempt came to as JSON, and the test checks the caches afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from conftest_doi import doi_env, doi_server  # noqa: F401 - fixtures
from doiserver import DoiServer
from paperpack.data import ensure_data
from paperpack.repository.repo import Repo
from paperpack.run import run_notebooks
from paperpack.run.local import venv_dir
from paperpack.run.plan import Limits
from paperpack.run.sandbox import (
    CONFINE,
    DOCKER_SOCKETS,
    USERNS_NET,
    Confinement,
    control_folders,
    hidden_paths,
    probe,
)
from tests.conftest import require

pytestmark = pytest.mark.slow

REFUSED = {"EROFS", "EACCES", "EPERM"}

#: tries an action, says what it came to: "done" (or what it returned) or the errno's name
ATTEMPT = """
import ctypes, errno, json, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]

def attempt(action):
    try:
        return action() or "done"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))

def mount_point(path):
    best = "/"
    for line in open("/proc/self/mountinfo"):
        point = line.split()[4].replace("\\\\040", " ")
        if (path + "/").startswith(point.rstrip("/") + "/") and len(point) > len(best):
            best = point
    return best

def check(result, what):
    if result != 0:
        raise OSError(ctypes.get_errno(), what)

def remount_rw(path):  # MS_REMOUNT | MS_BIND, without MS_RDONLY
    return lambda: check(libc.mount(None, mount_point(path).encode(), None, 0x20 | 0x1000, None), "mount")

def unmount(path):  # MNT_DETACH
    return lambda: check(libc.umount2(mount_point(path).encode(), 2), "umount")

def append(path, text):
    def act():
        with open(path, "a") as fh:
            fh.write(text)
    return act

def through_other_processes(path, make):  # every process's root: /proc/PID/root, its mount namespace's view
    return sorted({attempt(make(f"/proc/{pid}/root{path}")) for pid in os.listdir("/proc") if pid.isdigit()})
"""

CACHES = (
    ATTEMPT
    + """
site = next(p for p in sys.path if p.endswith("site-packages"))
module = os.path.join(site, "nbformat", "__init__.py")
data = os.path.realpath("data/obs.csv")
store = os.path.dirname(data)
seen = {"read": open("data/obs.csv").read().count("\\n"), "venv": attempt(append(module, "\\nHACKED = 1\\n")),
        "venv_new": attempt(append(os.path.join(site, "evil.pth"), "import os\\n")),
        "data": attempt(append("data/obs.csv", "9,9\\n")),
        "store_new": attempt(append(os.path.join(store, "0" * 64), "poison")),
        "remount": [attempt(remount_rw(site)), attempt(remount_rw(data))],
        "unmount": [attempt(unmount(site)), attempt(unmount(data))]}
seen["venv_after"] = attempt(append(module, "\\nHACKED = 2\\n"))
seen["venv_procs"] = through_other_processes(module, lambda path: append(path, "\\nHACKED = 3\\n"))
seen["data_procs"] = through_other_processes(data, lambda path: append(path, "7,7\\n"))
seen["data_after"] = attempt(append("data/obs.csv", "8,8\\n"))
print(json.dumps(seen))
"""
)

SOCKET = (
    ATTEMPT
    + """
def talker(path):
    def talk():
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(path)
            return sock.recv(16).decode()
    return talk
seen = {"connect": attempt(talker(PATH)), "unmount": attempt(unmount(PATH))}
seen["after"] = attempt(talker(PATH))
seen["procs"] = through_other_processes(PATH, talker)
print(json.dumps(seen))
"""
)


def _repo(root: Path, source: str, manifest: str = "") -> Path:
    root.mkdir()
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, root / "hostile.ipynb")
    if manifest:
        (root / "paperpack.yml").write_text(manifest)
    return root


def _printed(out: Path) -> dict[str, object]:
    executed = nbformat.read(out / "executed" / "hostile.ipynb", as_version=4)
    outputs = executed.cells[0].outputs
    assert outputs and outputs[0].get("name") == "stdout", outputs
    return json.loads(outputs[0]["text"])


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_notebook_cannot_change_the_cached_environment_or_data(doi_env: DoiServer, tmp_path: Path) -> None:
    caps = probe()
    require(caps.fs, f"no read-only mounts for the local engine here: {caps.fs_note}")
    payload = b"x,y\n1,2\n3,4\n"
    url = doi_env.add_file("obs.csv", payload)
    sha = hashlib.sha256(payload).hexdigest()
    repo = Repo.open(
        _repo(
            tmp_path / "paper",
            CACHES,
            f"version: 1\ndata:\n  - url: {url}\n    files:\n      - path: data/obs.csv\n        sha256: {sha}\n",
        )
    )
    ensure_data(repo)
    blob = tmp_path / "cache" / "data" / "sha256" / sha
    assert blob.read_bytes() == payload
    result = run_notebooks(repo, engine="local", out_dir=tmp_path / "out", jobs=1)
    [run] = result.notebooks
    assert run.status == "ok", run.message
    seen = _printed(tmp_path / "out")
    assert seen["read"] == 3, "the notebook reads the data"
    for key in ("venv", "venv_new", "data", "store_new", "venv_after", "data_after"):
        assert seen[key] in REFUSED, (key, seen)
    assert all(r in REFUSED | {"EINVAL"} for r in [*seen["remount"], *seen["unmount"]]), seen  # type: ignore[misc]
    for key in ("venv_procs", "data_procs"):
        assert set(seen[key]) <= REFUSED | {"ENOENT"}, (key, seen)  # type: ignore[arg-type]
    venv = venv_dir(repo.root)
    module = next(venv.glob("lib/python*/site-packages/nbformat/__init__.py"))
    assert "HACKED" not in module.read_text() and not list(venv.glob("lib/python*/site-packages/evil.pth"))
    assert blob.read_bytes() == payload and sorted(p.name for p in blob.parent.iterdir()) == [sha]
    assert "paperpack's caches read-only and the Docker socket hidden" in result.isolation


class _Daemon(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _Hello(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(b"daemon here")


@contextlib.contextmanager
def _answering(path: Path) -> Iterator[Path]:
    """A unix socket server at ``path`` answering "daemon here"."""
    server = _Daemon(str(path), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with socket.socket(socket.AF_UNIX) as sock:  # it answers: a notebook's failure is the engine's doing
            sock.connect(str(path))
            assert sock.recv(16) == b"daemon here"
        yield path
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def fake_daemon(tmp_path: Path) -> Iterator[Path]:
    """A unix socket server answering "daemon here", standing in for the Docker daemon's socket."""
    with _answering(tmp_path / "docker.sock") as path:
        yield path


def test_notebook_cannot_reach_the_docker_socket(
    fake_daemon: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    caps = probe()
    require(caps.fs, f"no mount namespace for the local engine here: {caps.fs_note}")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{fake_daemon}")
    _cannot_reach(fake_daemon, tmp_path, "ECONNREFUSED")


def _cannot_reach(path: Path, tmp_path: Path, error: str) -> None:
    """A notebook run by the local engine tries the socket ``path`` (directly, after an unmount, through other
    processes' roots): each try fails, with ``error`` where it looks directly."""
    repo = Repo.open(_repo(tmp_path / "paper", SOCKET.replace("PATH", repr(str(path)))))
    result = run_notebooks(repo, engine="local", out_dir=tmp_path / "out", jobs=1)
    [run] = result.notebooks
    assert run.status == "ok", run.message
    seen = _printed(tmp_path / "out")
    assert seen["connect"] == error and seen["after"] == error, seen
    assert seen["unmount"] in {"EINVAL", "EPERM"}, seen
    assert set(seen["procs"]) <= {"ECONNREFUSED", "EACCES", "ENOENT"}, seen  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("prefix", "name"), [("paperpack-batch-", "zygote"), ("pymp-", "listener-1")], ids=["zygote", "multiprocessing"]
)
def test_notebook_cannot_reach_the_host_sides_control_sockets(tmp_path: Path, prefix: str, name: str) -> None:
    """A batch's zygote and multiprocessing's fork server (Dask's local workers) listen in folders of the
    temporary directory and check only the caller's uid, which the notebook's user namespace maps back to
    this user: connecting would start a pipeline or any code outside the confinement. Stand-ins answer in
    folders named as theirs (their folder is what is covered, whatever serves in it)."""
    caps = probe()
    require(caps.fs, f"no mount namespace for the local engine here: {caps.fs_note}")
    folder = Path(tempfile.mkdtemp(prefix=prefix))  # where the real ones are: the temporary directory, mode 0700
    try:
        with _answering(folder / name) as path:
            _cannot_reach(path, tmp_path, "ENOENT")  # the folder is covered: the socket is not there
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_only_this_users_real_folders_of_control_sockets_are_covered(tmp_path: Path) -> None:
    """Never a link (covering its target would hide something else) nor a file of that name."""
    for name in ("paperpack-batch-abc", "pymp-x1"):
        (tmp_path / name).mkdir()
    (tmp_path / "pymp-file").write_text("")
    (tmp_path / "pymp-link").symlink_to(tmp_path / "pymp-x1")
    (tmp_path / "paperpack-batch-link").symlink_to("/etc")
    (tmp_path / "other-pymp-x").mkdir()
    assert control_folders(tmp_path) == [tmp_path / "paperpack-batch-abc", tmp_path / "pymp-x1"]
    assert [str(p) for p in hidden_paths({})] == [*DOCKER_SOCKETS, *map(str, control_folders())]


REMOUNT = (
    ATTEMPT
    + """
folder = sys.argv[1]
print(json.dumps({"remount": attempt(remount_rw(folder)), "write": attempt(append(folder + "/f", "changed"))}))
"""
)


def test_the_read_only_mounts_are_locked(tmp_path: Path) -> None:
    """Root of the notebook's user namespace cannot remount them: without the lock it could."""
    caps = probe()
    require(caps.fs, f"no read-only mounts for the local engine here: {caps.fs_note}")
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "f").write_text("kept")
    script = [sys.executable, "-c", REMOUNT, str(folder)]
    with Confinement(Limits(memory="1g", pids=64, cpus=1), 60, caps, readonly=[folder], hidden=[]) as confined:
        locked = subprocess.run(
            confined.command(sys.executable, script), capture_output=True, text=True, timeout=60, check=False
        )
    assert json.loads(locked.stdout) == {"remount": "EPERM", "write": "EROFS"}, locked.stderr[-500:]
    assert (folder / "f").read_text() == "kept"
    # the same read-only mount without the nested namespace: the remount works, so the lock is what holds
    unlocked = subprocess.run(
        [*USERNS_NET, sys.executable, str(CONFINE), json.dumps({"readonly": [str(folder)]}), *script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert json.loads(unlocked.stdout) == {"remount": "done", "write": "done"}, unlocked.stderr[-500:]


def test_without_a_user_namespace_the_label_says_the_caches_are_writable(tmp_path: Path) -> None:
    """Where no namespace can be made, the launch still works, and the label says what was not applied."""
    from dataclasses import replace

    from paperpack.run.sandbox import describe

    caps = replace(probe(), net=None, net_note="not allowed here (test)", fs=False, fs_note="not allowed here (test)")
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "f").write_text("kept")
    with Confinement(Limits(memory="1g", pids=64, cpus=1), 60, caps, readonly=[folder]) as confined:
        assert "readonly" not in confined.settings() and "lock" not in confined.settings()
        out = subprocess.run(
            confined.command(sys.executable, [sys.executable, "-c", REMOUNT, str(folder)]),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        label = confined.label()
    assert json.loads(out.stdout)["write"] == "done", out.stderr[-500:]
    assert label == describe(caps, Limits(memory="1g", pids=64, cpus=1), 1)
    assert "network ON (not allowed here (test))" in label
    assert "paperpack's caches WRITABLE and the Docker socket reachable (not allowed here (test))" in label
    assert label.endswith(
        "less isolated than a container: guards against accidents, not a security boundary "
        "(notebook code runs as you, on your files)"
    )
