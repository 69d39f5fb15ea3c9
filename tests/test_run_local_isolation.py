"""The local engine keeps repositories apart and secrets away from notebook code.

tests/cases/run-localpkg-a and -b have the same requirements.txt (``-e .``) and each its
own ``paperlib`` module; tests/cases/run-env prints the environment its kernel sees.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from paperpack.repo import Repo
from paperpack.run import run_notebooks
from paperpack.run.local import venv_dir
from tests.runhelp import tree_hashes

pytestmark = pytest.mark.slow


def test_local_packages_are_not_shared_between_repositories(copy_case, tmp_path: Path) -> None:
    repos = {who: copy_case(f"run-localpkg-{who}") for who in ("a", "b")}
    assert (repos["a"] / "requirements.txt").read_text() == (repos["b"] / "requirements.txt").read_text()
    assert venv_dir(repos["a"]) != venv_dir(repos["b"])
    for who, repo in repos.items():
        before = tree_hashes(repo)
        result = run_notebooks(Repo.open(repo), engine="local", out_dir=tmp_path / f"out-{who}")
        [run] = result.notebooks
        assert run.verdict == "same", f"{who}: {run.message} {run.comparison}"
        assert tree_hashes(repo) == before, "pip must not write into the repository (no egg-info, no build/)"
        assert not list(repo.glob("*.egg-info"))


def test_notebook_code_sees_no_secrets(copy_case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_TOKEN", "MY_SECRET", "PAPERPACK_REGISTRY_PASSWORD", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "s3cr3t")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    repo = copy_case("run-env")
    result = run_notebooks(Repo.open(repo), engine="local", out_dir=tmp_path / "out")
    [run] = result.notebooks
    assert run.status == "ok", run.message
    executed = nbformat.read(tmp_path / "out" / "executed" / "environment.ipynb", as_version=4)
    seen = json.loads(executed.cells[0].outputs[0]["text"])
    keys = set(seen["keys"])
    assert not keys & {"GITHUB_TOKEN", "MY_SECRET", "PAPERPACK_REGISTRY_PASSWORD", "AWS_SECRET_ACCESS_KEY"}
    assert {"PATH", "HOME", "LC_ALL", "TMPDIR", "VIRTUAL_ENV"} <= keys
    assert seen["tmp"] == str(tmp_path)
