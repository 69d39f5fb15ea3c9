"""Content-addressed tags: stable for the same inputs, different when anything deciding the image changes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from paperpack.build import tags
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


def test_symlink_target_and_name_change_tag(tmp_path: Path) -> None:
    root = make(tmp_path)
    (root / "link").symlink_to("apt.txt")
    first = digest(root)
    (root / "link").unlink()
    (root / "link").symlink_to("postBuild")
    second = digest(root)
    assert second != first
    (root / "link").rename(root / "other-link")
    assert digest(root) not in (first, second)


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


def test_a_file_name_that_is_not_utf8_gets_a_tag(tmp_path: Path) -> None:
    """Linux file names are bytes: one that is not UTF-8 (a surrogate once decoded) is hashed, not an error."""
    root = make(tmp_path)
    odd = os.fsdecode(b"caf\xe9.txt")  # latin-1 bytes
    for name in (odd, "cafe.txt"):
        (root / name).write_text("x")
    assert content_hash(root, [odd], [], settings=SETTINGS) != content_hash(root, ["cafe.txt"], [], settings=SETTINGS)


def test_paperpack_and_repo2docker_versions_change_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paperpack.build._r2d import repo2docker

    root = make(tmp_path)
    seen = {digest(root)}
    monkeypatch.setattr(tags, "__version__", "0.0.0+other")
    seen.add(digest(root))
    monkeypatch.setattr(repo2docker, "__version__", "0.0.0+other")
    seen.add(digest(root))
    assert len(seen) == 3


def test_a_setting_under_another_name_changes_tag(tmp_path: Path) -> None:
    root = make(tmp_path)
    assert digest(root, base_id="3.11", python="sha256:aaa") != digest(root)  # the same values, swapped
    assert content_hash(root, [], [], settings={"a": "v"}) != content_hash(root, [], [], settings={"b": "v"})


def test_each_of_paperpacks_build_sources_changes_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The text of buildpack.py, environment.py and builder.py decides the image: a change to any changes the tag."""
    root = make(tmp_path)
    sources = tmp_path / "sources"
    sources.mkdir()
    for name in ("buildpack.py", "environment.py", "builder.py"):
        shutil.copy(tags.HERE / name, sources / name)
    monkeypatch.setattr(tags, "HERE", sources)
    seen = {digest(root)}
    for name in ("buildpack.py", "environment.py", "builder.py"):
        with (sources / name).open("a") as fh:
            fh.write("\n# changed\n")
        seen.add(digest(root))
    assert len(seen) == 4


def test_image_repository_of_a_folder_name_without_safe_characters() -> None:
    assert image_repository(Path("/x/数据")) == "paperpack/paper"
    assert image_repository(Path("/x/.__.")) == "paperpack/paper"
