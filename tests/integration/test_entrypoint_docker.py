"""`docker run` of an image paperpack built prints what the command prints, and no RuntimeWarning (issue 15).

repo2docker's entrypoint asks Popen for line buffering on binary pipes, which makes Python
print "RuntimeWarning: line buffering (buffering=1) isn't supported in binary mode" on
every start of the image; paperpack's offline images start it through an entrypoint that
silences that one warning in the entrypoint's own process only, binder mode's images through
``python3-login -W …`` (repo2docker's stock buildpacks, ENTRYPOINT line changed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperpack.image import build_image
from paperpack.repository.repo import Repo
from paperpack.util.docker import docker_cli
from tests.conftest import CASES


@pytest.fixture(scope="module")
def built(docker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("entrypoint") / f"entrypoint-{uuid.uuid4().hex[:8]}"
    shutil.copytree(CASES / "run-image-found", root)
    result = build_image(Repo.open(root), mode="offline", image_name=f"paperpack-test/{root.name}")
    try:
        yield result.image
    finally:
        subprocess.run([docker_cli(), "image", "rm", "-f", result.image], capture_output=True, timeout=120, check=False)


COMMAND = ["python3", "-c", "import warnings; print('hello'); warnings.warn('from the command', RuntimeWarning)"]


def _run(image: str, entrypoint: list[str] | None = None) -> str:
    """``docker run`` of ``image`` with COMMAND, through ``entrypoint`` (exec form) when given; all it printed."""
    args = [docker_cli(), "run", "--rm", "--network", "none"]
    if entrypoint:
        args += ["--entrypoint", entrypoint[0], image, *entrypoint[1:]]
    else:
        args.append(image)
    proc = subprocess.run([*args, *COMMAND], capture_output=True, text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "hello" in proc.stdout, output
    return output


def _binder_entrypoint(root: Path, *, quiet: bool) -> list[str]:
    """The ENTRYPOINT binder mode's Dockerfile for ``root`` declares: paperpack's buildpacks, or repo2docker's own."""
    from paperpack.image._r2d import Repo2Docker
    from paperpack.image.buildpack import stock_buildpacks

    buildpacks = stock_buildpacks() if quiet else Repo2Docker.class_traits()["buildpacks"].default()
    cwd = Path.cwd()
    os.chdir(root)  # repo2docker's buildpacks read the repository from the current folder
    try:
        bp = next(bp for bp in (cls("docker.io/library/buildpack-deps:24.04") for cls in buildpacks) if bp.detect())
        bp.platform = "linux/amd64"
        dockerfile = bp.render()
    finally:
        os.chdir(cwd)
    assert type(bp).__name__ == "PythonBuildPack", type(bp)
    lines = [line for line in dockerfile.splitlines() if line.startswith("ENTRYPOINT ")]
    assert len(lines) == 1, dockerfile
    return list(json.loads(lines[0].removeprefix("ENTRYPOINT ")))


@pytest.mark.docker
@pytest.mark.slow
def test_docker_run_prints_no_runtime_warning(built: str) -> None:
    output = _run(built)
    assert "line buffering" not in output, output
    # the command's own warnings still show: only the entrypoint's is silenced
    assert "RuntimeWarning: from the command" in output, output


@pytest.mark.docker
@pytest.mark.slow
def test_binder_mode_entrypoint_prints_no_runtime_warning(built: str, tmp_path: Path) -> None:
    """Binder mode's images (repo2docker's stock buildpacks) start the entrypoint without the warning.

    A binder-mode image cannot be built on this machine (its stock base image and conda
    packages come from the Internet), so the stand-in is the offline image above: built
    from paperpack/base:bookworm, it carries repo2docker's own ``python3-login`` and
    ``repo2docker-entrypoint``, and ``docker run --entrypoint`` starts them exactly as the
    ENTRYPOINT line binder mode's Dockerfile declares (exec form). repo2docker's own line,
    run the same way, prints the warning: the stand-in has the behaviour being fixed.
    """
    root = tmp_path / "paper"
    shutil.copytree(CASES / "run-image-found", root)

    stock = _run(built, _binder_entrypoint(root, quiet=False))
    assert "RuntimeWarning: line buffering" in stock, stock

    output = _run(built, _binder_entrypoint(root, quiet=True))
    assert "line buffering" not in output, output
    assert "RuntimeWarning: from the command" in output, "the command's own warnings still show: " + output
