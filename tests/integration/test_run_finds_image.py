"""`paperpack run PATH` runs in the image `paperpack build PATH` made for this state of the repository.

The docker tests build tests/cases/run-image-found (one notebook, no requirements: a few
seconds with cached layers) in offline mode on the local base image, under a name no
other run uses, and remove the image at the end. The first tests need no Docker: a
stand-in client (``PAPERPACK_DOCKER``) answers, so they can check that build_image's
reuse decision looks for exactly the tag expected_image gives.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from paperpack.cli.main import main
from paperpack.errors import EngineError
from paperpack.image import build_image
from paperpack.image.builder import expected_image
from paperpack.repository.repo import Repo
from paperpack.run.engines import FOUND, RepoImage, choose_engine, default_registry, repo_image
from paperpack.util.schemas import validator_for
from tests.conftest import CASES, require

CASE = CASES / "run-image-found"
BASE = "paperpack/base:bookworm"


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=600)


def _copy(dest: Path) -> Path:
    shutil.copytree(CASE, dest)
    return dest


def _edit_source(root: Path) -> None:
    nb = nbformat.read(root / "answer.ipynb", as_version=4)
    nb.cells[0].source = "print(7 * 6)"  # same output, other source: another state of the repository
    nbformat.write(nb, root / "answer.ipynb")


def _flat(text: str) -> str:
    """Console text with the line wrapping undone."""
    return " ".join(text.split())


# without Docker: a stand-in client that knows the base image and says every other image exists

FAKE_DOCKER = (
    """#!/bin/sh
echo "$*" >> "$FAKE_DOCKER_LOG"
case "$1 $2" in
  "version "*) echo 99.0 ;;
  "image inspect")
    if [ "$3" = "%s" ]; then echo "[{\\"Id\\": \\"$FAKE_BASE_ID\\"}]"
    else echo '[{"Id": "sha256:built", "Config": {"Labels": {}}}]'; fi ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
"""
    % BASE
)


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "fake-docker"
    script.write_text(FAKE_DOCKER)
    script.chmod(0o755)
    log = tmp_path / "docker-calls"
    monkeypatch.setenv("PAPERPACK_DOCKER", str(script))
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    monkeypatch.setenv("FAKE_BASE_ID", "sha256:base-1")
    return log


def test_build_image_reuses_exactly_the_expected_tag(
    fake_docker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Repo.open(_copy(tmp_path / "paper"))
    tag = expected_image(repo, mode="offline")
    result = build_image(repo, mode="offline")
    assert result.reused and result.image == tag
    assert f"image inspect {tag}" in fake_docker.read_text().splitlines()
    monkeypatch.setenv("FAKE_BASE_ID", "sha256:base-2")  # a new base image: a new tag, for both
    again = build_image(repo, mode="offline")
    assert again.image == expected_image(repo, mode="offline") != tag


def test_without_docker_the_tag_cannot_be_worked_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERPACK_DOCKER", str(tmp_path / "no-such-docker"))
    repo = Repo.open(_copy(tmp_path / "paper"))
    with pytest.raises(EngineError) as from_build:
        build_image(repo, mode="offline")
    with pytest.raises(EngineError) as from_expected:
        expected_image(repo, mode="offline")
    assert str(from_expected.value) == str(from_build.value) and "no-such-docker" in str(from_build.value)
    choice = choose_engine(default_registry(), "auto", repo=repo)
    assert choice.name == "local" and choice.image is None and "no usable Docker" in choice.note
    with pytest.raises(EngineError, match="no usable Docker"):
        choose_engine(default_registry(), "docker", repo=repo)


# with a real Docker daemon


@pytest.fixture(scope="module")
def built(docker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """tests/cases/run-image-found built by `paperpack build --offline --no-run`: (its folder, the tag)."""
    if _docker("image", "inspect", BASE).returncode != 0:
        require(
            os.geteuid() == 0 and shutil.which("debootstrap") is not None,
            f"{BASE} is missing and cannot be made here: run `paperpack base-image`",
        )
        from paperpack.image import ensure_base_image

        ensure_base_image("bookworm")
    root = _copy(tmp_path_factory.mktemp("built") / f"paper-{uuid.uuid4().hex[:10]}")  # a tag no one else has
    report = root.parent / "build.json"
    assert main(["build", str(root), "--offline", "--no-run", "-q", "-o", str(report)]) == 0
    tag = json.loads(report.read_text())["build"]["image"]
    try:
        yield root, tag
    finally:
        _docker("image", "rm", tag)


@pytest.mark.docker
def test_run_finds_the_image_build_made(
    built: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, tag = built
    assert expected_image(Repo.open(root), mode="offline") == tag
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["run", str(root), "--out-dir", str(out)]) == 0
    text = _flat(capsys.readouterr().out)
    report = json.loads((out / "report.json").read_text())
    assert list(validator_for("report").iter_errors(report)) == []
    run = report["run"]
    assert (run["engine"], run["image"], run["image_source"], run["engine_note"]) == ("docker", tag, FOUND, None)
    assert [nb["verdict"] for nb in run["notebooks"]] == ["same"]
    assert f"image {tag}" in text and "found as the image `paperpack build` made for this state" in text


@pytest.mark.docker
def test_a_changed_notebook_has_no_image_so_auto_stops(
    built: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No image for this state is the repository's doing: auto does not run its code without a container."""
    root, tag = built
    copy = tmp_path / root.name  # the same folder name, so the same image repository
    shutil.copytree(root, copy)
    assert repo_image(Repo.open(copy)) == RepoImage(tag, True)  # an unchanged copy elsewhere finds it
    _edit_source(copy)
    changed = expected_image(Repo.open(copy), mode="offline")
    assert changed != tag
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["run", str(copy), "--out-dir", str(out), "--timeout", "300"]) == 2
    err = _flat(capsys.readouterr().err)
    assert f"no image for this state of the repository ({changed} is not in the local image store)" in err
    assert f"run `paperpack build {copy}`" in err and "--engine local" in err
    assert not out.exists()


@pytest.mark.docker
def test_engine_docker_without_the_image_exits_2_naming_the_tag(
    built: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, tag = built
    copy = tmp_path / root.name
    shutil.copytree(root, copy)
    _edit_source(copy)
    changed = expected_image(Repo.open(copy), mode="offline")
    capsys.readouterr()
    assert main(["run", str(copy), "--engine", "docker", "--out-dir", str(tmp_path / "out")]) == 2
    err = _flat(capsys.readouterr().err)
    assert changed in err and f"paperpack build {copy} --no-run" in err
    assert not (tmp_path / "out" / "report.json").exists()
