"""The `paperpack-validate` hook of .pre-commit-hooks.yaml, run by the real pre-commit on a real git repository.

The paper's .pre-commit-config.yaml names a git repository holding this worktree as it is now (a commit of
every tracked and untracked, not ignored, file) by its commit: pre-commit clones it and pip-installs
paperpack from it into its own virtual environment, as it does for any hook repository (the dependencies
from the session's wheelhouse, :mod:`wheelhouse`: no index).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import nbformat
import pytest

from actionharness import load_yaml
from conftest import ROOT, SAMPLE, require
from wheelhouse import pip_from, wheelhouse

HOOKS = ROOT / ".pre-commit-hooks.yaml"


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


def identity(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', os.defpath)}"
    env.update(
        {
            "GIT_AUTHOR_NAME": "Josiah Carberry",
            "GIT_AUTHOR_EMAIL": "j.carberry@example.org",
            "GIT_COMMITTER_NAME": "Josiah Carberry",
            "GIT_COMMITTER_EMAIL": "j.carberry@example.org",
            "PRE_COMMIT_HOME": str(home / "pre-commit"),
            "HOME": str(home),
        }
    )
    return env


def snapshot_of_worktree(dest: Path, env: Mapping[str, str]) -> str:
    """A git repository at ``dest`` holding this worktree's files as they are now; its commit."""
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    for args in (("init", "-q"), ("add", "-A"), ("commit", "-q", "-m", "paperpack as tested")):
        assert git(dest, *args, env=env).returncode == 0
    return git(dest, "rev-parse", "HEAD", env=env).stdout.strip()


def test_the_hook_runs_paperpack_validate_offline_on_the_files_that_matter() -> None:
    (hook,) = load_yaml(HOOKS)
    assert hook["id"] == "paperpack-validate"
    assert (hook["entry"], hook["language"], hook["pass_filenames"]) == (
        "paperpack validate --offline",
        "python",
        False,
    )
    files = re.compile(hook["files"])
    for name in (
        "analysis.ipynb",
        "notebooks/fig 1.ipynb",
        "requirements.txt",
        "binder/environment.yml",
        ".binder/runtime.txt",
        "apt.txt",
        "postBuild",
        "paperpack.yml",
        "CITATION.cff",
        ".zenodo.json",
    ):
        assert files.search(name), name
    for name in ("README.md", "scripts/analysis.py", "data/observations.csv", "figures/a.png", "restart.txt"):
        assert not files.search(name), name


@pytest.mark.slow
def test_a_commit_with_an_undeclared_import_is_refused_and_a_clean_one_passes(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    require(shutil.which("git") is not None, "git is not installed")
    env = identity(tmp_path) | pip_from(wheelhouse(tmp_path_factory))
    hooks = tmp_path / "paperpack-hooks"
    hooks.mkdir()
    sha = snapshot_of_worktree(hooks, env)

    paper = tmp_path / "paper"
    shutil.copytree(SAMPLE, paper, ignore=shutil.ignore_patterns("paperpack-out"))
    (paper / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {sha}\n    hooks:\n      - id: paperpack-validate\n"
    )
    assert git(paper, "init", "-q", env=env).returncode == 0
    installed = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"], cwd=paper, env=env, capture_output=True, text=True, check=False
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    git(paper, "add", "-A", env=env)
    clean = git(paper, "commit", "-m", "the paper", env=env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert re.search(r"paperpack validate\.+Passed", clean.stdout + clean.stderr), clean.stdout + clean.stderr

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("import seaborn as sns\nsns.set_theme()")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, str(paper / "04-style.ipynb"))
    git(paper, "add", "04-style.ipynb", env=env)
    refused = git(paper, "commit", "-m", "a notebook with a new import", env=env)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0, said
    assert re.search(r"paperpack validate\.+Failed", said), said
    assert "04-style.ipynb" in said and "DEP001" in said and "seaborn" in said
    assert git(paper, "rev-list", "--count", "HEAD", env=env).stdout.strip() == "1"  # not committed

    (paper / "requirements.txt").write_text((paper / "requirements.txt").read_text() + "seaborn==0.13.2\n")
    git(paper, "add", "-A", env=env)
    fixed = git(paper, "commit", "-m", "declare seaborn", env=env)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr

    (paper / "README.md").write_text((paper / "README.md").read_text() + "\nMore words.\n")
    git(paper, "add", "README.md", env=env)
    prose = git(paper, "commit", "-m", "words", env=env)
    assert prose.returncode == 0 and re.search(
        r"paperpack validate\.+\(no files to check\)Skipped", prose.stdout + prose.stderr
    ), prose.stdout + prose.stderr
