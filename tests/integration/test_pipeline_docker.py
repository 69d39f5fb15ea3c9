"""`paperpack build sample_paper` for real: offline image, notebooks in containers, same results."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from paperpack.util.schemas import validator_for
from tests.conftest import SAMPLE, snapshot
from tests.runhelp import offline_build

pytestmark = pytest.mark.docker


def test_sample_paper_verifies_end_to_end(docker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "sample_paper"
    shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns("paperpack-out"))
    before = snapshot(repo)
    with offline_build(repo, tmp_path) as (code, report):
        out = capsys.readouterr()
        assert code == 0, out.out[-3000:] + out.err[-3000:]
        assert list(validator_for("report").iter_errors(report)) == []
        assert report["summary"]["errors"] == 0
        assert report["build"]["mode"] == "offline" and report["build"]["python_version"] == "3.11"
        assert report["run"]["engine"] == "docker"
        verdicts = [nb["verdict"] for nb in report["run"]["notebooks"]]
        assert verdicts == ["same", "same", "same"], report["run"]["notebooks"]
        for nb in report["run"]["notebooks"]:  # same because each compared its cells
            assert re.match(r"\d+ cells? with the same results", nb["message"]), nb
        assert snapshot(repo) == before
