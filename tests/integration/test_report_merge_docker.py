"""One report per verification, for real: run → build --no-run → run → build --no-run in one output folder.

tests/cases/run-image-found (one notebook, no requirements: a few seconds with cached
layers) is built in offline mode on the local base image under a name no other test
uses; the image is removed at the end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from paperpack.cli.main import main
from paperpack.util.schemas import validator_for
from tests.conftest import CASES

pytestmark = pytest.mark.docker


def _report(out: Path) -> dict[str, Any]:
    report = json.loads((out / "report.json").read_text())
    assert list(validator_for("report").iter_errors(report)) == []
    return report


def test_commands_merge_into_one_report_and_drop_a_stale_run(
    docker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / f"paper-{uuid.uuid4().hex[:10]}"
    shutil.copytree(CASES / "run-image-found", root)
    out = tmp_path / "out"
    try:
        assert main(["run", str(root), "--engine", "local", "--out-dir", str(out), "-q"]) == 0
        assert _report(out)["run"]["engine"] == "local"

        code = main(["build", str(root), "--no-run", "--mode", "offline", "--out-dir", str(out), "-q"])
        assert code == 0, capsys.readouterr().err[-3000:]
        built = _report(out)
        image = built["build"]["image"]
        assert built["run"] is None, "a run with the local engine is no result for the image just built"
        assert "with the local engine" in built["dropped"]["run"] and image in built["dropped"]["run"]

        assert main(["run", str(root), "--out-dir", str(out), "-q"]) == 0  # auto: the image build made
        ran = _report(out)
        assert ran["run"]["engine"] == "docker" and ran["run"]["image"] == image
        assert ran["run"]["image_source"] == "found"
        assert ran["build"] == built["build"], "run keeps the build section"
        assert ran["findings"] == built["findings"] and ran["summary"] == built["summary"]
        assert ran["dropped"] is None

        assert main(["build", str(root), "--no-run", "--mode", "offline", "--out-dir", str(out), "-q"]) == 0
        again = _report(out)
        assert again["build"]["reused"] is True and again["build"]["image"] == image
        assert again["run"] == ran["run"], "a run in the very image this build gives still holds"
        assert again["dropped"] is None
    finally:  # every image of this fresh name, even when a step failed before the report named it
        listed = subprocess.run(
            ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", f"paperpack/{root.name}"],
            capture_output=True,
            text=True,
            check=False,
        )
        for tag in listed.stdout.split():
            subprocess.run(["docker", "image", "rm", tag], capture_output=True, check=False)
