"""Outputs and odd inputs at the edges of the command line."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from paperpack.cli.main import main
from paperpack.errors import UsageError
from paperpack.repository.repo import OUTPUT_MARKER, Repo, mark_output_dir
from paperpack.util.atomic import write_atomic

NOTEBOOK = json.dumps(
    {
        "cells": [],
        "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
)


def small_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "requirements.txt").write_text("numpy\n")  # unpinned: a warning on line 1
    (root / "a.ipynb").write_text(NOTEBOOK)
    return root


def test_github_annotations_name_files_relative_to_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    small_repo(tmp_path / "papers" / "one")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    main(["validate", str(tmp_path / "papers" / "one"), "--offline", "--format", "github"])
    out = capsys.readouterr().out
    assert "file=papers/one/requirements.txt,line=1" in out


def test_report_to_a_folder_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = small_repo(tmp_path / "r")
    assert main(["validate", str(repo), "--offline", "-o", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    assert main(["validate", str(repo), "--offline", "-o", str(blocker / "report.json")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_write_atomic_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    target = tmp_path / "paperpack.yml"
    target.write_text("old")
    target.chmod(0o644)
    write_atomic(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644 and target.read_text() == "new"
    fresh = tmp_path / "new.json"
    write_atomic(fresh, "{}")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~mask
    with pytest.raises(UsageError):
        write_atomic(tmp_path, "x")


def test_a_pipe_named_ipynb_never_blocks_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = small_repo(tmp_path / "r")
    os.mkfifo(repo / "b.ipynb")
    assert main(["validate", str(repo), "--offline", "--format", "json"]) in (0, 1)
    report = json.loads(capsys.readouterr().out)
    assert all(f["path"] != "b.ipynb" for f in report["findings"])  # not a file of the paper: not read at all
    assert Repo.open(repo).notebooks == ["a.ipynb"]


def test_marked_output_folders_are_not_sources(tmp_path: Path) -> None:
    repo = small_repo(tmp_path / "r")
    out = repo / "results"
    mark_output_dir(out)
    (out / "executed").mkdir()
    (out / "executed" / "a.ipynb").write_text(NOTEBOOK)
    assert (out / OUTPUT_MARKER).is_file()
    assert Repo.open(repo).notebooks == ["a.ipynb"]


def test_common_options_after_nested_actions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = small_repo(tmp_path / "r")
    assert main(["data", "status", str(repo), "--color", "never", "-v"]) == 0
    assert main(["validate", str(repo), "--offline", "-q", "--color", "never"]) == 0


@pytest.mark.parametrize("where", [".", "sub"])
def test_out_dir_never_the_repository_or_its_folders(
    tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = small_repo(tmp_path / "r")
    (repo / "sub").mkdir()
    (repo / "sub" / "keep.txt").write_text("the author's file")
    before = sorted(p.name for p in repo.rglob("*"))
    assert main(["run", str(repo), "--engine", "local", "--out-dir", str(repo / where)]) == 2
    assert "output folder" in capsys.readouterr().err
    assert sorted(p.name for p in repo.rglob("*")) == before
