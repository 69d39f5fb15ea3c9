"""A repository file the container's user cannot read: the message names it and the fix.

Only a container shows this: the notebooks run as user 1000 there, while the files belong
to whoever checked the repository out (a mode-600 file copied from elsewhere). The image
is the one tests/integration/test_run_docker.py builds (same Dockerfile, same tag); it is
removed at the end only if this module built it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperpack.repository.repo import Repo
from paperpack.run import run_notebooks
from tests.integration.test_run_docker import BASE, CA_BUNDLE, IMAGE_DIR, _docker, run_containers
from tests.runhelp import tree_hashes

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def image(docker: str) -> Iterator[str]:
    if _docker("image", "inspect", BASE, check=False).returncode != 0:
        pytest.skip(f"{BASE} is missing: run `paperpack base-image` (test_run_docker.py makes it in CI)")
    tag = f"paperpack-test-run:{hashlib.sha256((IMAGE_DIR / 'Dockerfile').read_bytes()).hexdigest()[:12]}"
    existed = _docker("image", "inspect", tag, check=False).returncode == 0
    if not existed:
        secret = ["--secret", f"id=ca,src={CA_BUNDLE}"] if CA_BUNDLE.is_file() else []
        built = _docker(
            "build", "-q", "-t", tag, *secret, str(IMAGE_DIR), check=False, env={**os.environ, "DOCKER_BUILDKIT": "1"}
        )
        assert built.returncode == 0, built.stderr[-3000:]
    yield tag
    if not existed:
        _docker("rmi", "-f", tag, check=False)


def test_unreadable_file_is_named(image: str, copy_case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = copy_case("run-cause-unreadable")
    secret = repo / "data" / "secret.csv"
    secret.chmod(0o600)  # readable by its owner (root here), not by the container's user 1000
    before, containers = tree_hashes(repo), run_containers()
    result = run_notebooks(Repo.open(repo), engine="docker", image=image, out_dir=tmp_path / "out", jobs=2)
    assert run_containers() == containers
    assert tree_hashes(repo) == before
    assert {nb.path for nb in result.notebooks} == {"read.ipynb", "other.ipynb"}
    for run in result.notebooks:  # every notebook fails, each naming the file and the fix
        assert run.verdict == "failed"
        assert run.error is not None and run.error["cause"]["id"] == "unreadable-file", run.message
        assert run.error["cause"]["detail"] == {"path": "data/secret.csv"}
        assert run.message.startswith(
            "the repository file 'data/secret.csv' cannot be read by the user the notebooks run as"
        ), run.message
        assert "chmod a+r data/secret.csv" in run.message
