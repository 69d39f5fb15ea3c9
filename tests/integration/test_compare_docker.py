"""In a container too, a notebook plotting without ``%matplotlib inline`` gets its figures back.

The image is the run tests' image (tests/integration/run_image) plus matplotlib, removed at the end.
The local-engine half of this check is tests/test_compare_backend.py.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperpack.repository.repo import Repo
from paperpack.run import run_notebooks
from tests.integration.test_run_docker import CA_BUNDLE, run_image  # noqa: F401 - a fixture
from tests.test_compare_backend import check_figures_came_back

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def mpl_image(run_image: str) -> Iterator[str]:  # noqa: F811 - the imported fixture
    tag = run_image.replace("paperpack-test-run:", "paperpack-test-mpl:")
    dockerfile = (
        f"FROM {run_image}\nUSER root\nRUN --mount=type=secret,id=ca PIP_CERT=/run/secrets/ca "
        "/opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -q matplotlib\nUSER 1000\n"
    )
    secret = ["--secret", f"id=ca,src={CA_BUNDLE}"] if CA_BUNDLE.is_file() else []
    built = subprocess.run(
        ["docker", "build", "-q", "-t", tag, *secret, "-"],
        input=dockerfile,
        text=True,
        capture_output=True,
        timeout=900,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    assert built.returncode == 0, built.stderr[-3000:]
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=300)


def test_figures_without_matplotlib_inline_come_back_docker(mpl_image: str, copy_case, tmp_path: Path) -> None:
    repo = copy_case("run-mpl-inline")
    result = run_notebooks(Repo.open(repo), engine="docker", image=mpl_image, out_dir=tmp_path / "out")
    (run,) = result.notebooks
    check_figures_came_back(run, tmp_path / "out")
