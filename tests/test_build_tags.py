"""Content-addressed tags: stable for the same inputs, different when anything deciding the image changes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from paperpack.build.tags import content_hash, image_repository
from paperpack.repo import Repo
from tests.conftest import CASES

SETTINGS = {"mode": "offline", "base_id": "sha256:aaa", "python": "3.11"}


def digest(root: Path, **overrides: str) -> str:
    repo = Repo.open(root, manifest=False)
    return content_hash(repo.root, repo.files, repo.symlinks, settings={**SETTINGS, **overrides})


def make(tmp_path: Path) -> Path:
    root = tmp_path / "paper"
    shutil.copytree(CASES / "build-apt-postbuild-package", root)
    return root


def test_same_inputs_same_tag(tmp_path: Path) -> None:
    root = make(tmp_path)
    first = digest(root)
    os.utime(root / "apt.txt", (1, 1))  # times do not decide the image
    assert digest(root) == first
    other = tmp_path / "elsewhere" / "paper"
    shutil.copytree(root, other)
    assert digest(other) == first  # nor does where the folder is


def test_file_content_change_changes_tag(tmp_path: Path) -> None:
    root = make(tmp_path)
    first = digest(root)
    (root / "apt.txt").write_text("jq\ncurl\n")
    assert digest(root) != first


def test_new_renamed_and_executable_files_change_tag(tmp_path: Path) -> None:
    root = make(tmp_path)
    seen = {digest(root)}
    (root / "notes.md").write_text("x")
    seen.add(digest(root))
    (root / "notes.md").rename(root / "notes2.md")
    seen.add(digest(root))
    (root / "notes2.md").chmod(0o755)
    seen.add(digest(root))
    assert len(seen) == 4


def test_symlink_target_changes_tag(tmp_path: Path) -> None:
    root = make(tmp_path)
    (root / "link").symlink_to("apt.txt")
    first = digest(root)
    (root / "link").unlink()
    (root / "link").symlink_to("postBuild")
    assert digest(root) != first


def test_settings_change_tag(tmp_path: Path) -> None:
    root = make(tmp_path)
    base = digest(root)
    assert digest(root, mode="binder") != base
    assert digest(root, base_id="sha256:bbb") != base
    assert digest(root, python="3.13") != base


def test_ignored_folders_do_not_change_tag(tmp_path: Path) -> None:
    root = make(tmp_path)
    first = digest(root)
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "paperpack-out").mkdir()
    (root / "paperpack-out" / "report.json").write_text("{}")
    assert digest(root) == first


def test_image_repository_names() -> None:
    assert image_repository(Path("/x/My Paper (2024)")) == "paperpack/my-paper-2024"
    assert image_repository(Path("/x/p"), "ghcr.io/me/paper") == "ghcr.io/me/paper"
