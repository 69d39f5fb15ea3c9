"""Preflight: no Docker client, no daemon, no buildx, no base image each give a clear error with the fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from paperpack.cli.main import main
from paperpack.errors import EXIT_USAGE, EngineError
from paperpack.image import build_image
from paperpack.repository.repo import Repo
from paperpack.util.docker import preflight
from tests.conftest import CASES, require


def test_no_docker_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERPACK_DOCKER", "/nonexistent/docker")
    with pytest.raises(EngineError) as info:
        preflight()
    assert "no Docker client" in info.value.message and "install Docker" in info.value.hint


def test_no_daemon(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    require(shutil.which("docker") is not None, "needs the docker client (not the daemon)")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-daemon.sock")
    with pytest.raises(EngineError) as info:
        preflight()
    assert "daemon is not reachable" in info.value.message
    assert "dockerd" in info.value.hint and "DOCKER_HOST" in info.value.hint


def test_no_buildx(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, docker: str) -> None:
    # the real client, except that `docker buildx` is unknown (as on Debian bookworm's docker.io)
    real = shutil.which("docker")
    shim = tmp_path / "docker"
    shim.write_text(
        f'#!/bin/sh\nif [ "$1" = buildx ]; then echo "docker: \'buildx\' is not a docker command." >&2; '
        f'exit 1; fi\nexec {real} "$@"\n'
    )
    shim.chmod(0o755)
    monkeypatch.setenv("PAPERPACK_DOCKER", str(shim))
    assert preflight(buildx=False) == docker
    with pytest.raises(EngineError) as info:
        preflight()
    assert "buildx plugin is missing" in info.value.message and "docker-buildx" in info.value.hint


def test_missing_base_image(tmp_path: Path, docker: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "paper"
    shutil.copytree(CASES / "build-bad-pin", root)
    (root / "paperpack.yml").write_text("version: 1\nenvironment:\n  base_image: paperpack/base:no-such-release\n")
    with pytest.raises(EngineError) as info:
        build_image(Repo.open(root), mode="offline")
    assert "paperpack/base:no-such-release is not present" in info.value.message
    assert "paperpack base-image --release bookworm" in info.value.hint
    assert main(["build", str(root), "--offline"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "error: the base image" in err and "hint: make it with `paperpack base-image" in err


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["base-image", "--release", "potato"]) == EXIT_USAGE
    assert main(["build", "--mode", "conda"]) == EXIT_USAGE
    assert main(["export", "x"]) == EXIT_USAGE  # -o is required


@pytest.mark.parametrize("command", ["build", "base-image", "export"])
def test_help_teaches(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"paperpack {command}" in out


def test_python_without_base_image_is_a_usage_error(capsys: pytest.CaptureFixture[str], docker: str) -> None:
    assert main(["build", str(CASES / "build-runtime-310"), "--offline"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "runtime.txt asks for Python 3.10" in err and "allow_python_substitution" in err
