"""The GitHub Action with the docker engine, installing paperpack as it does on GitHub (from its own checkout).

Slow: the install step makes a virtual environment and pip-installs this checkout (its dependencies from
the session's wheelhouse, :mod:`wheelhouse`: no index), then the image is built in offline mode and the
notebooks run in it.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from actionharness import run_action
from conftest import ROOT, SAMPLE
from test_action import FILES, runner_env
from wheelhouse import pip_from, wheelhouse

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture
def image_name(docker: str) -> Iterator[str]:
    """A repository name of this test's own; every image tagged with it is removed afterwards."""
    name = f"paperpack-test/action-{secrets.token_hex(4)}"
    yield name
    listed = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    for tag in listed.stdout.split():
        subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True, check=False)


def test_the_action_installs_itself_builds_the_image_and_reproduces(
    tmp_path: Path, image_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(SAMPLE, workspace / "paper", ignore=shutil.ignore_patterns("paperpack-out"))
    run = run_action(
        ROOT,
        inputs={
            "path": "paper",
            "engine": "docker",
            "mode": "offline",
            "image-name": image_name,
            "report-dir": "reports",
        },
        workspace=workspace,
        runner_temp=tmp_path / "runner",
        env=runner_env(**pip_from(wheelhouse(tmp_path_factory))),
    )
    assert run.exit_code == 0, run.log
    install = run.step("install")
    python = Path(install.outputs["python"])
    assert python == tmp_path / "runner" / "paperpack-venv" / "bin" / "python"  # not this test's environment
    assert run.uses("actions/setup-python").with_ == {"python-version": "3.12"}
    out = run.outputs
    assert out["verdict"] == "reproduced" and out["same"] == "3"
    assert out["image"].startswith(f"{image_name}:")
    inspected = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", out["image"]], capture_output=True, text=True, check=True
    )
    assert out["image-digest"] == inspected.stdout.strip()
    report = json.loads(Path(out["report-json"]).read_text())
    assert report["run"]["engine"] == "docker" and report["build"]["mode"] == "offline"
    for key, name in FILES.items():  # the files of issue 13, after the publish writers are merged
        assert out[key] == str((workspace / "reports" / name).resolve()) and Path(out[key]).is_file(), key
