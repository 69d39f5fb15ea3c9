"""The docker engine's guarantees, seen from inside the container, against hostile repositories.

Each test makes its own hostile repository: a `.git/config` holding a token, a notebook
that writes without end, an image with a Dockerfile ``VOLUME``, a `paperpack run` killed
with SIGKILL while another one runs. The image is the run tests' (tests/integration/
run_image, built and removed by the ``run_image`` fixture of test_run_docker.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from paperpack.repository.repo import Repo
from paperpack.run import Limits, run_notebooks
from paperpack.run.sweep import OWNER_FILE, OWNER_LABEL, SCRATCH_PREFIX, Owner
from tests.integration.test_run_docker import run_image  # noqa: F401 - the fixture
from tests.runhelp import ROOT, tree_hashes

pytestmark = pytest.mark.docker

FAKE_TOKEN = "ghs_FAKEtokenPersistedByActionsCheckout42"
MB = 1024**2

LOOK_INSIDE = r"""
import errno, json, os
facts = {"uid": os.getuid(), "net": sorted(os.listdir("/sys/class/net")),
         "netdev": sorted(line.split(":")[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:])}
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
facts.update({key: status[key].strip() for key in ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs")})
def attempt(path):
    try:
        with open(path, "w") as fh:
            fh.write("x")
        return "written"
    except OSError as exc:
        return errno.errorcode[exc.errno]
facts["write_repo"] = attempt("/paperpack/repo/planted.txt")
facts["write_git"] = attempt("/paperpack/repo/.git/hooks")
facts["write_home"] = attempt(os.path.expanduser("~/planted.txt"))
facts["write_root"] = attempt("/planted.txt")
for name in ("pids.max", "pids/pids.max"):
    if os.path.exists("/sys/fs/cgroup/" + name):
        facts["pids_max"] = open("/sys/fs/cgroup/" + name).read().strip()
for name in ("memory.max", "memory/memory.limit_in_bytes"):
    if os.path.exists("/sys/fs/cgroup/" + name):
        facts["memory_max"] = open("/sys/fs/cgroup/" + name).read().strip()
def size(path):
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize
facts["tmp_size"], facts["work_size"] = size("/tmp"), size(".")
facts["git_listing"] = sorted(os.listdir("/paperpack/repo/.git"))
found = []
for top in ("/paperpack", os.getcwd()):
    for folder, dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as fh:
                    if TOKEN.encode() in fh.read():
                        found.append(path)
            except OSError:
                pass
facts["token_found_in"] = sorted(set(found))
print(json.dumps(facts))
"""


def _notebook(path: Path, *sources: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), path)


def _printed(executed: Path, cell: int = 0) -> Any:
    nb = nbformat.read(executed, as_version=4)
    return json.loads("".join(o.get("text", "") for o in nb.cells[cell].outputs if o.get("name") == "stdout"))


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=300)


def _owned_by(pid: int, kind: str = "container") -> set[str]:
    """Containers (or volumes) whose owner label names process ``pid`` of this machine."""
    listing = ["ps", "-a"] if kind == "container" else ["volume", "ls"]
    name = "{{.Names}}" if kind == "container" else "{{.Name}}"
    out = _docker(
        *listing, "--filter", f"label={OWNER_LABEL}", "--format", f'{name}\t{{{{.Label "{OWNER_LABEL}"}}}}'
    ).stdout
    found = set()
    for line in out.splitlines():
        item, _, text = line.partition("\t")
        owner = Owner.parse(text)
        if owner is not None and owner.pid == pid:
            found.add(item)
    return found


def test_isolation_seen_from_inside(run_image: str, tmp_path: Path) -> None:  # noqa: F811
    repo = tmp_path / "hostile"
    _notebook(
        repo / "analysis" / "look.ipynb",  # the token in hex: the notebook itself must not hold it
        f"TOKEN = bytes.fromhex({FAKE_TOKEN.encode().hex()!r}).decode()",
        LOOK_INSIDE,
    )
    (repo / ".git").mkdir()
    (repo / ".git" / "config").write_text(
        f'[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic {FAKE_TOKEN}\n'
    )
    (repo / "vendor" / ".git").mkdir(parents=True)
    (repo / "vendor" / ".git" / "config").write_text(FAKE_TOKEN)
    (repo / "gitlink").symlink_to(".git")
    before = tree_hashes(repo)
    result = run_notebooks(
        Repo.open(repo),
        engine="docker",
        image=run_image,
        out_dir=tmp_path / "out",
        limits=Limits(cell_timeout=60, memory="300m", pids=77, disk="48m"),
    )
    [run] = result.notebooks
    assert run.status == "ok", run.message
    facts = _printed(tmp_path / "out" / "executed" / "analysis" / "look.ipynb", cell=1)
    assert facts["token_found_in"] == [] and facts["git_listing"] == [], "the token must not be readable"
    assert facts["net"] == ["lo"] and facts["netdev"] == ["lo"], "--network none: loopback only"
    assert facts["uid"] == 1000
    assert facts["CapEff"] == facts["CapPrm"] == facts["CapBnd"] == "0000000000000000", "--cap-drop ALL"
    assert facts["NoNewPrivs"] == "1", "--security-opt no-new-privileges"
    assert facts["write_repo"] == facts["write_git"] == "EROFS", "the repository is mounted read-only"
    assert facts["write_home"] == facts["write_root"] == "EROFS", "--read-only: the image's files"
    assert facts["pids_max"] == "77"
    assert facts["memory_max"] == str(300 * MB)
    assert facts["tmp_size"] == facts["work_size"] == 48 * MB, "/tmp and the working copy are size-limited"
    assert tree_hashes(repo) == before


WRITE_UNTIL_FULL = r"""
import os
path = os.path.join({folder!r}, "fill.bin")
block = b"\0" * (4 * 1024 * 1024)
with open(path, "wb") as fh:
    for _ in range(64):  # 256 MiB at most: far more than the limit
        fh.write(block)
        fh.flush()
print("wrote", os.path.getsize(path))
"""


def test_a_notebook_writing_past_the_disk_limit_is_stopped(run_image: str, tmp_path: Path) -> None:  # noqa: F811
    repo = tmp_path / "filler"
    mount_type = (
        "import os\nprint([l.split()[-3] for l in open('/proc/self/mountinfo') "
        "if l.split()[4] == os.path.realpath({folder!r})])"
    )
    _notebook(repo / "work.ipynb", WRITE_UNTIL_FULL.format(folder="."), mount_type.format(folder="."))
    _notebook(repo / "tmp.ipynb", WRITE_UNTIL_FULL.format(folder="/tmp"), mount_type.format(folder="/tmp"))
    result = run_notebooks(
        Repo.open(repo),
        engine="docker",
        image=run_image,
        out_dir=tmp_path / "out",
        limits=Limits(cell_timeout=120, memory="512m", disk="32m"),
        isolate=True,
    )
    for run in result.notebooks:
        assert run.status == "error", (run.path, run.message)
        assert run.message.startswith("code cell 1: OSError: [Errno 28] No space left on device"), run.message
        assert (
            "the notebook wrote more than 32m (the limit on the working folder, shared by the run's notebooks, "
            "and on /tmp): raise run.disk in paperpack.yml or --disk"
        ) in run.message
    executed = tmp_path / "out" / "executed"
    for name in ("work.ipynb", "tmp.ipynb"):  # allow_errors is off: the second cell never ran; ask separately
        assert "No space left" in "".join(str(o) for o in nbformat.read(executed / name, as_version=4).cells[0].outputs)
    ran = run_notebooks(
        Repo.open(repo),
        engine="docker",
        image=run_image,
        out_dir=tmp_path / "out2",
        limits=Limits(cell_timeout=120, memory="512m", disk="512m"),
        isolate=True,
    )
    for run in ran.notebooks:  # under a larger limit the same writes succeed, in memory, not on the host's disk
        assert run.status == "ok", run.message
        nb = nbformat.read(tmp_path / "out2" / "executed" / run.path, as_version=4)
        assert nb.cells[0].outputs[0]["text"] == f"wrote {256 * MB}\n"
        assert nb.cells[1].outputs[0]["text"] == "['tmpfs']\n", "the working copy and /tmp are memory-backed"


@pytest.fixture
def volume_image(run_image: str, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    folder = tmp_path / "image"
    folder.mkdir()
    (folder / "Dockerfile").write_text(f"FROM {run_image}\nRUN mkdir /home/jovyan/vol\nVOLUME /home/jovyan/vol\n")
    tag = f"paperpack-test-volume:{uuid.uuid4().hex[:12]}"
    built = _docker("build", "-q", "-t", tag, str(folder), check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    yield tag
    _docker("rmi", "-f", tag, check=False)


def test_an_image_volume_leaves_no_volume_behind(
    volume_image: str,
    run_image: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    repo = tmp_path / "volumes"
    _notebook(
        repo / "vol.ipynb",
        f"open('/home/jovyan/vol/{marker}', 'w').write('x')\n"
        "import os\nst = os.statvfs('/home/jovyan/vol')\nprint(st.f_blocks * st.f_frsize)",
    )
    before = set(_docker("volume", "ls", "-q").stdout.split())
    result = run_notebooks(
        Repo.open(repo),
        engine="docker",
        image=volume_image,
        out_dir=tmp_path / "out",
        limits=Limits(cell_timeout=60, memory="256m", disk="16m"),
    )
    new = sorted(set(_docker("volume", "ls", "-q").stdout.split()) - before)
    for volume in new:  # other people's volumes may appear meanwhile: look for our marker in each
        look = _docker(
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            f"{volume}:/v:ro",
            run_image,
            "test",
            "-e",
            f"/v/{marker}",
            check=False,
        )
        if look.returncode == 0:
            _docker("volume", "rm", "-f", volume, check=False)
        assert look.returncode != 0, f"the run left the volume {volume} behind"
    [run] = result.notebooks
    assert run.status == "ok", run.message
    executed = nbformat.read(tmp_path / "out" / "executed" / "vol.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == f"{16 * MB}\n", "the VOLUME path is a size-limited tmpfs"


LONG = "import time\ntime.sleep(600)"


def _start_run(repo: Path, image: str, out: Path, tmpdir: Path) -> subprocess.Popen[str]:
    _notebook(repo / "long.ipynb", LONG)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "paperpack",
            "run",
            str(repo),
            "--image",
            image,
            "-o",
            str(out),
            "--engine",
            "docker",
            "--cell-timeout",
            "900",
            "--memory",
            "256m",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmpdir)},
    )


def _wait_for_container(proc: subprocess.Popen[str]) -> set[str]:
    """The run's containers, once one runs notebooks (not only the one that looks the image's user up, or the
    one that holds the working copy)."""
    deadline = time.monotonic() + 180
    while True:
        running = {name for name in _owned_by(proc.pid) if not name.startswith("paperpack-run-id-")}
        if any(not name.startswith("paperpack-run-hold-") for name in running):
            return running
        assert proc.poll() is None, f"paperpack exited early: {proc.communicate()[0]}"
        assert time.monotonic() < deadline, "the run never started a container"
        time.sleep(0.5)


def _owner_of(folder: Path) -> Owner | None:
    return Owner.parse((folder / OWNER_FILE).read_text()) if (folder / OWNER_FILE).is_file() else None


def _scratch_of(pid: int, tmpdir: Path) -> list[Path]:
    return [p for p in tmpdir.glob(f"{SCRATCH_PREFIX}*") if getattr(_owner_of(p), "pid", None) == pid]


def test_a_killed_run_is_swept_by_the_next_but_a_running_one_is_not(
    run_image: str,
    tmp_path: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmpdir))
    running = _start_run(tmp_path / "running", run_image, tmp_path / "out-running", tmpdir)
    killed = _start_run(tmp_path / "killed", run_image, tmp_path / "out-killed", tmpdir)
    try:
        running_containers = _wait_for_container(running)
        killed_containers = _wait_for_container(killed)
        killed_volumes = _owned_by(killed.pid, "volume")
        assert killed_volumes and _scratch_of(killed.pid, tmpdir)
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=60)
        assert killed_containers <= _owned_by(killed.pid), "SIGKILL leaves the containers running"

        next_repo = tmp_path / "next"
        _notebook(next_repo / "quick.ipynb", "print(1)")
        result = run_notebooks(
            Repo.open(next_repo),
            engine="docker",
            image=run_image,
            out_dir=tmp_path / "out-next",
            limits=Limits(cell_timeout=60, memory="256m"),
        )
        assert [nb.status for nb in result.notebooks] == ["ok"]

        assert not _owned_by(killed.pid), "the killed run's containers must be swept"
        assert not _owned_by(killed.pid, "volume"), "the killed run's working-copy volume must be swept"
        assert not _scratch_of(killed.pid, tmpdir), "the killed run's scratch folder must be swept"
        assert running_containers <= _owned_by(running.pid), "a concurrent run's containers must be left alone"
        assert _owned_by(running.pid, "volume") and _scratch_of(running.pid, tmpdir)
        assert running.poll() is None
        assert {getattr(_owner_of(p), "pid", None) for p in tmpdir.glob(f"{SCRATCH_PREFIX}*")} == {running.pid}, (
            "only the running run's scratch folder is left: the next run removed its own"
        )
    finally:
        for proc in (running, killed):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                proc.communicate(timeout=120)
        for proc in (running, killed):  # whatever a failure above left
            leftovers = _owned_by(proc.pid)
            if leftovers:
                _docker("rm", "-f", "-v", *leftovers, check=False)
            for volume in _owned_by(proc.pid, "volume"):
                _docker("volume", "rm", "-f", volume, check=False)
    assert running.returncode == 130
    assert not _owned_by(running.pid) and not _owned_by(running.pid, "volume")
    assert not _scratch_of(running.pid, tmpdir), "an interrupted run removes its own scratch folder"
