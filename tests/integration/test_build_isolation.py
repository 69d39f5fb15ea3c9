"""Real builds that must not leak across papers or out of the host (issue 8, items 4 and 5).

Two papers are built one after the other, the first with proxy credentials in its
environment: the first paper's ``setup.py`` drops a marker where the shared pip cache was
mounted, its ``postBuild`` saves the environment it sees into the image, and the
repository links to a host file. The second paper's ``setup.py`` fails its build if it
finds the marker. Then a Dockerfile repository tries to copy the CA secret into its
image, and a build that never ends is stopped by the time limit. Every image is removed
at the end; the base image is kept.
"""

from __future__ import annotations

import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperpack.errors import BuildError
from paperpack.image import build_image
from paperpack.image.builder import BuildResult
from paperpack.repository.repo import Repo
from tests.conftest import require
from tests.integration.test_build_docker import SYSTEM_CA, base_image, docker  # noqa: F401 (fixtures)

pytestmark = pytest.mark.docker

TOKEN = uuid.uuid4().hex[:12]
PROXY_PASSWORD = f"proxy-pw-{TOKEN}"
HOST_SECRET = f"host-secret-{TOKEN}"
CA_MARKER = f"ca-marker-{TOKEN}"
#: where the old builds mounted the pip cache shared by every paper (a paper's code knows it from the docs)
OLD_CACHE = "/tmp/paperpack-pip-cache"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=600)


def saved_image_contains(image: str, needle: str, scratch: Path) -> bool:
    """Whether ``needle`` is anywhere in ``docker save`` of the image (every layer, config and history)."""
    archive = scratch / f"{uuid.uuid4().hex}.tar"
    sh("save", "-o", str(archive), image)
    data, tail = needle.encode(), b""
    try:
        with archive.open("rb") as fh:
            for block in iter(lambda: fh.read(8 << 20), b""):
                if data in tail + block:
                    return True
                tail = block[-len(data) :]
    finally:
        archive.unlink()
    return False


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        if rel == "postBuild":
            path.chmod(0o755)
    return root


@pytest.fixture(scope="module")
def made() -> Iterator[list[str]]:
    images: list[str] = []
    yield images
    for tag in images:
        sh("image", "rm", "--force", tag, check=False)


@pytest.fixture(scope="module")
def where(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("papers")


@pytest.fixture(scope="module")
def paper_a(base_image: str, made: list[str], where: Path) -> BuildResult:  # noqa: F811
    """Built with proxy credentials in the environment; leaves a marker where the shared cache was."""
    (where / "host-file").write_text(HOST_SECRET + "\n")
    first = write(
        where / f"paper-a-{TOKEN}",
        {
            "setup.py": f"""\
            import os
            from setuptools import setup
            for folder in {{os.environ.get("PIP_CACHE_DIR") or "{OLD_CACHE}", "{OLD_CACHE}"}}:
                os.makedirs(folder, exist_ok=True)
                open(os.path.join(folder, "poison-{TOKEN}"), "w").write("left by paper A")
            setup(name="paper-a", version="1.0", py_modules=[])
            """,
            "postBuild": "#!/bin/bash\nenv > /srv/venv/postbuild-env.txt\n",
            "data/readme.txt": "data\n",
        },
    )
    (first / "data" / "host-link").symlink_to(where / "host-file")
    proxy = f"http://reviewer:{PROXY_PASSWORD}@127.0.0.1:9"
    with pytest.MonkeyPatch.context() as mp:  # a proxy nothing uses (NO_PROXY=*), whose password must not land
        mp.setenv("HTTPS_PROXY", proxy)
        mp.setenv("https_proxy", proxy)
        mp.setenv("NO_PROXY", "*")
        mp.setenv("no_proxy", "*")
        a = build_image(Repo.open(first), mode="offline", force=True)
    made.append(a.image)
    return a


@pytest.fixture(scope="module")
def paper_b(paper_a: BuildResult, made: list[str], where: Path) -> BuildResult:
    """Built after paper A; its setup.py fails the build if it finds paper A's marker."""
    second = write(
        where / f"paper-b-{TOKEN}",
        {
            "setup.py": f"""\
            import os, sys
            from setuptools import setup
            for folder in {{os.environ.get("PIP_CACHE_DIR") or "{OLD_CACHE}", "{OLD_CACHE}"}}:
                if os.path.exists(os.path.join(folder, "poison-{TOKEN}")):
                    sys.exit("paper B sees the file paper A left in " + folder)
            setup(name="paper-b", version="1.0", py_modules=[])
            """,
        },
    )
    b = build_image(Repo.open(second), mode="offline", force=True)
    made.append(b.image)
    return b


def test_the_second_paper_does_not_see_the_first_papers_cache(paper_a: BuildResult, paper_b: BuildResult) -> None:
    assert not paper_a.reused and not paper_b.reused and paper_b.image_id  # else paper B's setup.py failed it


def test_proxy_credentials_are_nowhere_in_the_image(paper_a: BuildResult, tmp_path: Path) -> None:
    a = paper_a
    seen = sh("run", "--rm", "--network", "none", "--entrypoint", "cat", a.image, "/srv/venv/postbuild-env.txt").stdout
    assert PROXY_PASSWORD not in seen
    assert "https_proxy=http://127.0.0.1:9" in seen  # postBuild saw the proxy, without its password
    assert PROXY_PASSWORD not in sh("history", "--no-trunc", a.image).stdout
    assert PROXY_PASSWORD not in sh("image", "inspect", a.image).stdout
    assert not saved_image_contains(a.image, PROXY_PASSWORD, tmp_path)


def test_a_link_to_a_host_file_stays_a_link(paper_a: BuildResult, tmp_path: Path) -> None:
    a = paper_a
    link = sh(
        "run", "--rm", "--network", "none", "--entrypoint", "readlink", a.image, "/home/jovyan/data/host-link"
    ).stdout.strip()
    assert link.endswith("/host-file")  # Docker's build context sends the link, not the host file
    assert not saved_image_contains(a.image, HOST_SECRET, tmp_path)


def test_a_dockerfile_repository_gets_no_secret(base_image: str, made: list[str], tmp_path: Path) -> None:  # noqa: F811
    require(SYSTEM_CA.is_file(), f"{SYSTEM_CA} is missing")
    ca = tmp_path / "ca.pem"
    ca.write_text(f"# {CA_MARKER}\n" + SYSTEM_CA.read_text())
    repo = write(
        tmp_path / f"dockerfile-{TOKEN}",
        {
            "Dockerfile": f"""\
        FROM {base_image}
        RUN --mount=type=secret,id=cacert --mount=type=secret,id=proxy \\
            sh -c 'cat /run/secrets/cacert /run/secrets/proxy > /copied-{TOKEN} 2>/dev/null; true'
        """
        },
    )  # the token keeps BuildKit from reusing a cached layer of another run
    result = build_image(Repo.open(repo), mode="offline", force=True, ca_bundle=ca)
    made.append(result.image)
    assert not saved_image_contains(result.image, CA_MARKER, tmp_path)


def test_a_build_that_runs_too_long_is_stopped(base_image: str, made: list[str], tmp_path: Path) -> None:  # noqa: F811
    repo = write(tmp_path / f"slow-{TOKEN}", {"Dockerfile": f"FROM {base_image}\nRUN sleep 3600 # {TOKEN}\n"})
    with pytest.raises(BuildError) as info:
        build_image(Repo.open(repo), mode="offline", force=True, timeout=20)
    err = info.value
    assert "build time limit of 20 s" in err.message and err.step == "time limit"
    assert "PAPERPACK_BUILD_TIMEOUT" in err.hint
