"""Hostile notebooks in a real container: nothing they plant or forge comes back to the host (issue 8, item 1).

The same attacks as tests/test_run_hostile.py (tests/hostile.py), against the docker engine
and its run image: the kernel runs as the runner's user (PID 1 of the container), so on the
old design it planted links and forged results in the mounted output folder and made the
OOM killer take the runner. The secret is a root-only (0600) file of the host.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from paperpack.repository.repo import Repo
from paperpack.run import Limits, run_notebooks
from tests.hostile import assert_nothing_came_back, make_hostile
from tests.integration.test_run_docker import run_image  # noqa: F401  (the image fixture)
from tests.runhelp import ROOT

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("kind", ["secret", "environ", "forge-same"])
def test_a_notebook_cannot_plant_results(run_image: str, tmp_path: Path, kind: str) -> None:  # noqa: F811
    hostile = make_hostile(tmp_path, kind)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "paperpack",
            "run",
            str(hostile.repo),
            "--image",
            run_image,
            "--memory",
            "256m",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PAPERPACK_PROBE": hostile.secret},
        timeout=600,
        check=False,
    )
    assert_nothing_came_back(hostile, out, proc.stdout + proc.stderr, proc.returncode)


PROBE = r"""
import os
def tried(path, flags):
    try:
        os.close(os.open(path, flags))
        return "opened"
    except OSError as exc:
        return type(exc).__name__
print("runner stdout:", tried("/proc/1/fd/1", os.O_WRONLY))
print("runner memory:", tried("/proc/1/mem", os.O_RDONLY))
print("output mount:", os.path.exists("/paperpack/out"))
"""


def test_the_kernel_cannot_reach_the_runner(run_image: str, tmp_path: Path) -> None:  # noqa: F811
    repo = tmp_path / "repo"
    repo.mkdir()
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [nbformat.v4.new_code_cell(PROBE)]
    nbformat.write(nb, repo / "probe.ipynb")
    result = run_notebooks(
        Repo.open(repo), engine="docker", image=run_image, out_dir=tmp_path / "out", limits=Limits(memory="512m")
    )
    (run,) = result.notebooks
    assert run.status == "ok", run.message
    executed = nbformat.read(tmp_path / "out" / "executed" / "probe.ipynb", as_version=4)
    text = "".join(output.get("text", "") for output in executed.cells[0].outputs)
    assert "runner stdout: PermissionError" in text, text  # the runner is not dumpable
    assert "runner memory: PermissionError" in text, text
    assert "output mount: False" in text, text
