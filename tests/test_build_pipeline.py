"""`paperpack build` as a whole: validate → fetch data → build → run → compare → report.

The docker variant is in tests/integration/test_pipeline_docker.py; here the local
engine (a real virtual environment and real kernels) stands in for the container.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import CASES, snapshot
from conftest_doi import doi_env, doi_server  # noqa: F401  (fixtures)
from datapaper import data_paper
from doiserver import DoiServer
from paperpack.cli.main import main
from paperpack.util.schemas import validator_for


def test_local_engine_pipeline_reports_validation_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "paper"
    shutil.copytree(CASES / "run-basic", repo)
    before = snapshot(repo)
    out = tmp_path / "out"
    report_path = tmp_path / "report.json"
    code = main(
        ["build", str(repo), "--engine", "local", "--out-dir", str(out), "-o", str(report_path), "--timeout", "120"]
    )
    captured = capsys.readouterr()
    assert code == 1, captured.out + captured.err  # differs.ipynb differs on purpose
    assert "less isolated" in captured.out + captured.err
    report = json.loads(report_path.read_text())
    assert list(validator_for("report").iter_errors(report)) == []
    assert report["build"] is None
    verdicts = {nb["path"]: nb["verdict"] for nb in report["run"]["notebooks"]}
    assert verdicts["independent.ipynb"] == "same"
    assert verdicts["differs.ipynb"] == "differs"
    assert report["summary"]["verdict"]  # validation findings are part of the same report
    assert json.loads((out / "report.json").read_text())["run"] == report["run"]
    assert snapshot(repo) == before, "paperpack build modified the repository"


def test_allow_differs_makes_a_differing_run_pass(tmp_path: Path) -> None:
    repo = tmp_path / "paper"
    shutil.copytree(CASES / "run-basic", repo)
    code = main(["build", str(repo), "--engine", "local", "--out-dir", str(tmp_path / "o"), "--allow-differs", "-q"])
    assert code == 0


def test_local_engine_with_no_run_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "paper"
    shutil.copytree(CASES / "run-basic", repo)
    assert main(["build", str(repo), "--engine", "local", "--no-run"]) == 2
    assert "nothing to do" in capsys.readouterr().err


def test_parsing_the_command_line_does_not_import_repo2docker() -> None:
    """repo2docker is imported only when an image is built, not at every start-up."""
    code = (
        "import sys; from paperpack.cli.main import build_parser; build_parser(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'repo2docker'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_build_fetches_declared_data_before_running(
    tmp_path: Path, doi_env: DoiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Data declared by URL (served on loopback) reaches the notebook read-only; nothing lands in the repo."""
    repo = data_paper(tmp_path, doi_env).root
    before = snapshot(repo)
    out = tmp_path / "out"
    code = main(["build", str(repo), "--engine", "local", "--out-dir", str(out), "--allow-differs"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "fetching data/obs.csv" in err
    executed = nbformat.read(out / "executed" / "read.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "3"
    assert snapshot(repo) == before and not (repo / "data").exists()
