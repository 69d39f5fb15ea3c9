"""`paperpack build` of the NumPy 1 pandas case for real: the declared image fails, the dated image reproduces.

Both images install from the real PyPI (through this machine's proxy, as in CI): pandas 2.0.2 (May 2023,
built for NumPy 1) with NumPy unpinned. The dated image is a second offline build whose requirements.txt
holds the pins as of the commit date; it is content-tagged, so a second build reuses it. Both images are
removed at the end.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from paperpack.cli.main import main
from paperpack.schemas import validator_for
from tests.conftest import snapshot
from tests.gitdate import commit_all

pytestmark = pytest.mark.docker


def test_dated_image_reproduces_the_numpy1_case(docker: str, copy_case, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAPERPACK_PIP_INDEX_URL")  # conftest's closed port: here, pip's configured index (PyPI)
    repo = copy_case("timemachine-numpy1")
    commit_all(repo, "2023-06-15")
    before = snapshot(repo)
    report_path = tmp_path / "report.json"
    images: list[str] = []
    try:
        code = main(["build", str(repo), "--engine", "docker", "--mode", "offline", "-o", str(report_path),
                     "--out-dir", str(tmp_path / "out")])
        report = json.loads(report_path.read_text())
        images.append((report.get("build") or {}).get("image") or "")
        dated = report["run"]["dated"] or {}
        images.append(((dated.get("run") or {}).get("image")) or "")
        assert code == 1, "the declared image's verdict stays the primary one"
        assert list(validator_for("report").iter_errors(report)) == []
        assert [nb["verdict"] for nb in report["run"]["notebooks"]] == ["failed"]
        assert dated["outcome"] == "reproduced", dated
        assert dated["run"]["engine"] == "docker" and dated["run"]["image"] != report["build"]["image"]
        assert [nb["verdict"] for nb in dated["run"]["notebooks"]] == ["same"]
        numpy = next(c for c in dated["changes"] if c["name"] == "numpy")
        assert numpy["dated"].startswith("1.") and dated["python"] == "3.11"
        assert snapshot(repo) == before, "the repository must not change"
    finally:
        for image in filter(None, images):
            subprocess.run(["docker", "image", "rm", image], capture_output=True, check=False)
