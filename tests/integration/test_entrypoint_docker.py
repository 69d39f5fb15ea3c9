"""`docker run` of an image paperpack built prints what the command prints, and no RuntimeWarning (issue 15).

repo2docker's entrypoint asks Popen for line buffering on binary pipes, which makes Python
print "RuntimeWarning: line buffering (buffering=1) isn't supported in binary mode" on
every start of the image; paperpack's offline images start it through an entrypoint that
silences that one warning in the entrypoint's own process only.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperpack.build import build_image
from paperpack.build.engine import docker_cli
from paperpack.repo import Repo
from tests.conftest import CASES


@pytest.fixture
def built(docker: str, tmp_path: Path) -> Iterator[str]:
    root = tmp_path / f"entrypoint-{uuid.uuid4().hex[:8]}"
    shutil.copytree(CASES / "run-image-found", root)
    result = build_image(Repo.open(root), mode="offline", image_name=f"paperpack-test/{root.name}")
    try:
        yield result.image
    finally:
        subprocess.run([docker_cli(), "image", "rm", "-f", result.image], capture_output=True, timeout=120, check=False)


@pytest.mark.docker
@pytest.mark.slow
def test_docker_run_prints_no_runtime_warning(built: str) -> None:
    proc = subprocess.run([docker_cli(), "run", "--rm", "--network", "none", built, "python3", "-c",
                           "import warnings; print('hello'); warnings.warn('from the command', RuntimeWarning)"],
                          capture_output=True, text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "hello" in proc.stdout, output
    assert "line buffering" not in output, output
    # the command's own warnings still show: only the entrypoint's is silenced
    assert "RuntimeWarning: from the command" in output, output
