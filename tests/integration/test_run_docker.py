"""Notebooks run in a real container: bad notebooks get precise verdicts and leave nothing behind.

The image is made from tests/integration/run_image/Dockerfile (FROM the local base image
paperpack/base:bookworm, a venv with nbclient + ipykernel, user 1000) and removed at the
end. Every container paperpack starts is named paperpack-run-… and labelled paperpack.run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from paperpack.repository.repo import Repo
from paperpack.run import Limits, run_notebooks
from tests.conftest import require
from tests.runhelp import interrupt_run, read_report, tree_hashes

pytestmark = pytest.mark.docker

IMAGE_DIR = Path(__file__).resolve().parent / "run_image"
BASE = "paperpack/base:bookworm"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _docker(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=900, env=env)


def run_containers() -> set[str]:
    out = _docker("ps", "-a", "--filter", "label=paperpack.run", "--format", "{{.Names}}").stdout
    return set(out.split())


@pytest.fixture(scope="module")
def run_image(docker: str) -> Iterator[str]:
    if _docker("image", "inspect", BASE, check=False).returncode != 0:
        require(
            os.geteuid() == 0 and shutil.which("debootstrap") is not None,
            f"{BASE} is missing and cannot be made here: run `paperpack base-image`",
        )
        from paperpack.image import ensure_base_image

        ensure_base_image("bookworm")
    digest = hashlib.sha256((IMAGE_DIR / "Dockerfile").read_bytes()).hexdigest()[:12]
    tag = f"paperpack-test-run:{digest}"
    secret = ["--secret", f"id=ca,src={CA_BUNDLE}"] if CA_BUNDLE.is_file() else []
    built = _docker(
        "build", "-q", "-t", tag, *secret, str(IMAGE_DIR), check=False, env={**os.environ, "DOCKER_BUILDKIT": "1"}
    )
    assert built.returncode == 0, built.stderr[-3000:]
    yield tag
    _docker("rmi", "-f", tag, check=False)


EXPECTED = {  # notebook: (status, words the message must contain)
    "loop.ipynb": ("timeout", ["code cell 2", "cell timeout"]),
    "exit.ipynb": ("dead-kernel", ["code cell 1", "exit code 7"]),
    "segfault.ipynb": ("dead-kernel", ["code cell 1", "SIGSEGV"]),
    "membomb.ipynb": ("oom", ["out of memory", "256m"]),
    "forkbomb.ipynb": ("pids-limit", ["process limit (64)"]),
    "network.ipynb": ("error", ["code cell 1", "runs have no network", "URLError"]),
    "nokernel.ipynb": ("no-kernel", ["nosuch-kernel-1", "python3"]),
    "writes.ipynb": ("ok", ["no outputs"]),
}


def test_bad_notebooks(run_image: str, copy_case, tmp_path: Path) -> None:
    repo = copy_case("run-bad")
    before, containers = tree_hashes(repo), run_containers()
    result = run_notebooks(
        Repo.open(repo),
        engine="docker",
        image=run_image,
        out_dir=tmp_path / "out",
        jobs=2,
        limits=Limits(cell_timeout=5, timeout=60, memory="256m", pids=64),
        isolate=True,
    )
    got = {nb.path: nb for nb in result.notebooks}
    for path, (status, words) in EXPECTED.items():
        assert got[path].status == status, (path, got[path].message)
        for word in words:
            assert word in got[path].message, (path, got[path].message)
        assert got[path].verdict == ("no-outputs" if status == "ok" else "failed")
    assert result.failed and result.complete and result.engine == "docker"
    written = (tmp_path / "out" / "executed" / "writes.ipynb").read_text()
    assert "hello" in written
    assert tree_hashes(repo) == before, "the sources must stay untouched"
    assert run_containers() <= containers, "containers left behind"


def test_same_results_in_the_container(run_image: str, copy_case, tmp_path: Path) -> None:
    repo = copy_case("run-basic")
    before = tree_hashes(repo)
    result = run_notebooks(
        Repo.open(repo),
        engine="docker",
        image=run_image,
        out_dir=tmp_path / "out",
        limits=Limits(cell_timeout=30, memory="512m"),
    )
    verdicts = {nb.path: nb.verdict for nb in result.notebooks}
    assert verdicts == {
        "analysis/produce.ipynb": "same",
        "analysis/consume.ipynb": "same",
        "independent.ipynb": "same",
        "differs.ipynb": "differs",
        "empty.ipynb": "no-outputs",
    }
    assert tree_hashes(repo) == before


def test_repository_path_with_a_colon(run_image: str, tmp_path: Path) -> None:
    from tests.conftest import CASES

    repo = tmp_path / "paper:v2" / "run-env"
    shutil.copytree(CASES / "run-env", repo)
    before = tree_hashes(repo)
    result = run_notebooks(
        Repo.open(repo),
        engine="docker",
        image=run_image,
        out_dir=tmp_path / "out:1",
        limits=Limits(cell_timeout=30, memory="512m"),
    )
    [run] = result.notebooks
    assert run.status == "ok", run.message
    assert (tmp_path / "out:1" / "executed" / "environment.ipynb").is_file()
    assert tree_hashes(repo) == before


def test_image_user_is_resolved_never_root(run_image: str) -> None:
    from paperpack.run.container import DEFAULT_USER, _lookup_user, container_user

    existing = run_containers()
    lookup = _lookup_user(run_image)
    assert lookup("root") == (0, 0)
    assert lookup("jovyan") == (1000, 1000)
    assert lookup("nobody-here") is None
    assert container_user("root:root", lookup) == DEFAULT_USER
    assert container_user("jovyan", lookup) == "1000:1000"
    assert container_user("1000", lookup) == "1000:1000"
    assert run_containers() <= existing, "look-up containers left behind"


def test_interrupt_removes_every_container(run_image: str, copy_case, tmp_path: Path) -> None:
    repo = copy_case("run-interrupt")
    out = tmp_path / "out"
    existing = run_containers()
    ours: set[str] = set()

    def started(proc) -> bool:
        ours.update(run_containers() - existing)
        if ours:
            time.sleep(3)  # into the long cell
            return True
        return False

    proc, output = interrupt_run(
        ["run", str(repo), "--image", run_image, "-o", str(out), "--isolate", "--jobs", "3"], started
    )
    assert proc.returncode == 130, output
    assert not (ours & run_containers()), "containers left behind after Ctrl-C"
    report = read_report(out)
    assert report["complete"] is False
    assert {nb["status"] for nb in report["run"]["notebooks"]} <= {"interrupted", "not-run"}


def test_fetched_data_is_mounted_read_only(
    run_image: str, copy_case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = copy_case("run-data")
    content = b"x,y\n1,2\n"
    cache = tmp_path / "cache"
    monkeypatch.setenv("PAPERPACK_CACHE_DIR", str(cache))
    blob = cache / "data" / "sha256" / hashlib.sha256(content).hexdigest()
    blob.parent.mkdir(parents=True)
    blob.write_bytes(content)
    blob.chmod(0o666)  # only the read-only mount can stop the notebook from writing it
    result = run_notebooks(
        Repo.open(repo),
        engine="docker",
        image=run_image,
        out_dir=tmp_path / "out",
        limits=Limits(cell_timeout=30, memory="512m"),
    )
    (run,) = result.notebooks
    assert run.status == "ok", run.message
    executed = nbformat.read(tmp_path / "out" / "executed" / "reads.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "x,y\n1,2\n\n"
    assert executed.cells[1].outputs[0]["text"] == "not written: EROFS\n"
    assert blob.read_bytes() == content
    assert not (repo / "data").exists()


def test_in_an_image_built_by_paperpack(docker: str, copy_case, tmp_path: Path) -> None:
    """The whole pipeline: build_image (offline mode) on run-basic, then run it in that image."""
    from paperpack.errors import EngineError
    from paperpack.image import build_image
    from paperpack.util.docker import preflight

    require(_docker("image", "inspect", BASE, check=False).returncode == 0, f"{BASE} is missing")
    try:
        preflight(buildx=True)
    except EngineError as exc:  # buildx missing on a laptop; a failing build below is a failure, never a skip
        require(False, f"cannot build here: {exc}")
    repo = copy_case("run-basic")
    built = build_image(Repo.open(repo), mode="offline", image_name="paperpack-test-run-built")
    try:
        result = run_notebooks(
            Repo.open(repo),
            engine="docker",
            image=built.image,
            out_dir=tmp_path / "out",
            limits=Limits(cell_timeout=60, memory="1g"),
        )
        verdicts = {nb.path: nb.verdict for nb in result.notebooks}
        assert verdicts["analysis/consume.ipynb"] == "same" and verdicts["differs.ipynb"] == "differs"
        assert set(verdicts.values()) == {"same", "differs", "no-outputs"}
    finally:
        _docker("rmi", "-f", built.image, check=False)
