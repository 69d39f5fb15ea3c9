"""`paperpack build sample_paper` for real: offline image, notebooks in containers, same results."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from paperpack.cli.main import main
from paperpack.util.schemas import validator_for
from tests.conftest import SAMPLE, snapshot

pytestmark = pytest.mark.docker


def test_sample_paper_verifies_end_to_end(docker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "sample_paper"
    shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns("paperpack-out"))
    before = snapshot(repo)
    report_path = tmp_path / "report.json"
    image = None
    try:
        code = main(
            [
                "build",
                str(repo),
                "--engine",
                "docker",
                "--mode",
                "offline",
                "-o",
                str(report_path),
                "--out-dir",
                str(tmp_path / "out"),
            ]
        )
        out = capsys.readouterr()
        report = json.loads(report_path.read_text())
        image = (report.get("build") or {}).get("image")
        assert code == 0, out.out[-3000:] + out.err[-3000:]
        assert list(validator_for("report").iter_errors(report)) == []
        assert report["summary"]["errors"] == 0
        assert report["build"]["mode"] == "offline" and report["build"]["python_version"] == "3.11"
        assert report["run"]["engine"] == "docker"
        verdicts = [nb["verdict"] for nb in report["run"]["notebooks"]]
        assert verdicts == ["same", "same", "same"], report["run"]["notebooks"]
        assert snapshot(repo) == before
    finally:
        if image:
            subprocess.run(["docker", "image", "rm", image], capture_output=True, check=False)
