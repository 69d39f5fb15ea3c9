"""``--engine auto`` falls back to the local engine only for reasons of the machine, never of the repository.

The machine's reasons (no Docker daemon, no buildx plugin, no base image at all) give a
local run with a note saying why and the engine's label; the repository's (no image for
this state of it, a tag its files do not allow to work out) stop with exit 2, naming
``paperpack build PATH`` and ``--engine local``, and nothing runs.

Repositories are copies of tests/cases/run-image-found under a fresh name, so no image of
them exists. The docker tests ask the real daemon (nothing is built, nothing to remove).
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from paperpack.cli.main import main
from paperpack.errors import EngineError
from paperpack.image.baseimage import DEFAULT_RELEASE, base_image_tag
from paperpack.util.docker import image_id, preflight
from tests.conftest import CASES, require

BASE = base_image_tag(DEFAULT_RELEASE)


def _paper(tmp_path: Path, **files: str) -> Path:
    """A fresh copy of run-image-found (one notebook printing 42) under a name no image has."""
    root = tmp_path / f"paper-{uuid.uuid4().hex[:10]}"
    shutil.copytree(CASES / "run-image-found", root)
    for name, text in files.items():
        (root / name.replace("_", ".")).write_text(text)
    return root


def _flat(text: str) -> str:
    return " ".join(text.split())


def _builds_here() -> None:
    """The machine can build (buildx, the default base image): so a missing image is the repository's doing."""
    try:
        preflight(buildx=True)
    except EngineError as exc:
        require(False, f"no image can be built here: {exc}")
    require(image_id(BASE) is not None, f"{BASE} is missing: run `paperpack base-image`")


def _ran_locally(run: dict[str, Any]) -> None:
    assert run["engine"] == "local" and [nb["verdict"] for nb in run["notebooks"]] == ["same"], run


def _without_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No Docker daemon (a client that is not there); a fresh paper."""
    monkeypatch.setenv("PAPERPACK_DOCKER", str(tmp_path / "no-such-docker"))
    return _paper(tmp_path)


def _assert_refused(root: Path, out: Path, err: str, reason: str) -> None:
    assert f"error: {reason}" in err and "--engine auto does not fall back" in err, err
    assert f"hint: run `paperpack build {root}`" in err and "pass --engine local" in err, err
    assert not out.exists(), "nothing may run"


@pytest.mark.docker
def test_no_image_for_this_state_stops_auto(docker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _builds_here()
    root = _paper(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(root), "--out-dir", str(out)]) == 2
    err = _flat(capsys.readouterr().err)
    _assert_refused(root, out, err, f"no image for this state of the repository (paperpack/{root.name}:")
    assert "is not in the local image store" in err


@pytest.mark.docker
@pytest.mark.parametrize(
    "files, cause",
    [
        (
            {"paperpack_yml": "version: 1\nenvironment:\n  mode: offline\n  base_image: paperpack/no-such-base:1\n"},
            "the base image paperpack/no-such-base:1 is not present",
        ),
        ({"runtime_txt": "python-3.9\n"}, "the base image paperpack/base:bullseye is not present"),
    ],
    ids=["manifest-base-image", "runtime-txt"],
)
def test_a_tag_the_repository_prevents_stops_auto(
    docker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, str], cause: str
) -> None:
    """A base image the repository asks for, missing here, is no reason to run its code without a container."""
    _builds_here()
    root = _paper(tmp_path, **files)
    if "runtime_txt" in files:
        require(image_id(base_image_tag("bullseye")) is None, "the bullseye base image exists here")
    out = tmp_path / "out"
    assert main(["run", str(root), "--out-dir", str(out)]) == 2
    err = _flat(capsys.readouterr().err)
    _assert_refused(root, out, err, "no image for this state of the repository (its tag cannot be worked out:")
    assert cause in err, err


BUILDX_LESS = """#!/bin/sh
if [ "$1" = buildx ]; then echo "docker: 'buildx' is not a docker command." >&2; exit 1; fi
exec docker "$@"
"""


@pytest.mark.docker
@pytest.mark.slow
def test_without_buildx_auto_runs_locally_and_says_why(
    docker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real daemon, through a client without the buildx plugin: no image can be built here."""
    client = tmp_path / "docker-without-buildx"
    client.write_text(BUILDX_LESS)
    client.chmod(0o755)
    monkeypatch.setenv("PAPERPACK_DOCKER", str(client))
    root = _paper(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(root), "--out-dir", str(out), "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)
    _ran_locally(run)
    assert "none can be built here: the docker buildx plugin is missing" in run["engine_note"], run["engine_note"]
    assert "less isolated than a container" in run["isolation"]


@pytest.mark.slow
def test_without_a_docker_daemon_auto_runs_locally_with_the_label(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["run", str(_without_docker(tmp_path, monkeypatch)), "--out-dir", str(out), "--color", "never"]) == 0
    text = _flat(capsys.readouterr().out)
    run = json.loads((out / "report.json").read_text())["run"]
    _ran_locally(run)
    assert run["engine_note"].startswith("no usable Docker (") and "no-such-docker" in run["engine_note"]
    label = run["isolation"]
    assert "less isolated than a container: guards against accidents, not a security boundary" in label
    assert (
        "paperpack's caches read-only and the Docker socket hidden" in label
        or "paperpack's caches WRITABLE and the Docker socket reachable" in label
    ), label
    # the terminal folds a long path anywhere (a tmp path's length varies): compare without any whitespace
    bare = "".join(text.split())
    assert "".join(label.split()) in bare and "".join(run["engine_note"].split()) in bare


@pytest.mark.slow
def test_build_without_a_docker_daemon_runs_locally_with_the_label(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's quick start (`paperpack build PATH`) on a machine without Docker."""
    report = tmp_path / "report.json"
    main(
        [
            "build",
            str(_without_docker(tmp_path, monkeypatch)),
            "--out-dir",
            str(tmp_path / "out"),
            "-o",
            str(report),
            "--color",
            "never",
        ]
    )
    captured = capsys.readouterr()
    run = json.loads(report.read_text())["run"]
    _ran_locally(run)
    assert "no usable container engine" in _flat(captured.err) and "paperpack's caches" in run["isolation"]


@pytest.mark.docker
def test_build_that_cannot_build_does_not_run_locally(
    docker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`paperpack build` with a daemon: a repository whose image cannot be made gets no local run, and the flag."""
    root = _paper(
        tmp_path, paperpack_yml="version: 1\nenvironment:\n  mode: offline\n  base_image: paperpack/no-such-base:1\n"
    )
    out = tmp_path / "out"
    assert main(["build", str(root), "--out-dir", str(out)]) == 2
    err = _flat(capsys.readouterr().err)
    assert "error: the base image paperpack/no-such-base:1 is not present" in err, err
    assert "The notebooks were not run" in err and "pass --engine local" in err, err
    assert not out.exists()
