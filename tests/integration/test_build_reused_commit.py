"""Issue 13: an image reused after a new commit keeps the labels of the build that made it, and the reports
name the commit actually verified and the build the image was reused from.

A real git repository (tests/cases/run-image-found: one notebook, no requirements) is built in offline mode on
the local base image, a commit that changes no file is made, and the repository is built again: the image is
reused (same content, same tag) and its labels still name the first commit. The image is removed at the end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from paperpack.cli.main import main
from paperpack.util.schemas import validator_for
from tests.conftest import CASES

pytestmark = pytest.mark.docker


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()


def test_reused_image_names_the_verified_commit_and_the_build_it_came_from(
    docker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / f"paper-{uuid.uuid4().hex[:10]}"
    shutil.copytree(CASES / "run-image-found", root)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "first")
    first = _git(root, "rev-parse", "HEAD")
    out = tmp_path / "out"
    image = None
    try:
        code = main(["build", str(root), "--no-run", "--mode", "offline", "--force", "--out-dir", str(out), "-q"])
        assert code == 0, capsys.readouterr().err[-3000:]
        built = json.loads((out / "report.json").read_text())
        image = built["build"]["image"]
        assert built["build"]["reused"] is False and built["build"]["reused_from"] is None
        assert built["build"]["commit"] == first == built["repository"]["commit"]

        _git(root, "commit", "-q", "--allow-empty", "-m", "second: no file changes, so the same image")
        second = _git(root, "rev-parse", "HEAD")
        assert main(["build", str(root), "--no-run", "--mode", "offline", "--out-dir", str(out), "-q"]) == 0
        again = json.loads((out / "report.json").read_text())
        assert list(validator_for("report").iter_errors(again)) == []
        build = again["build"]
        assert build["image"] == image and build["reused"] is True
        assert build["labels"]["org.opencontainers.image.revision"] == first  # labels describe the build…
        assert again["repository"]["commit"] == second and build["commit"] == second  # …the report, this commit
        assert build["reused_from"]["commit"] == first and build["reused_from"]["created"]
        summary = (out / "summary.md").read_text(encoding="utf-8")
        assert f"commit `{second[:12]}`" in summary and f"reused from the build of commit `{first[:12]}`" in summary
    finally:
        if image:
            subprocess.run(["docker", "image", "rm", image], capture_output=True, check=False, timeout=120)
