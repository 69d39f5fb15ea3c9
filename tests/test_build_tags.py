"""Content-addressed tags: stable for the same inputs, different when anything deciding the image changes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from paperpack.image import tags
from paperpack.image.tags import content_hash, image_repository
from paperpack.repository.repo import Repo
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


#: paperpack modules the build imports that do not decide what goes into an image, and why.
NOT_SHAPING = {
    "image/__init__.py": "re-exports names",
    "image/tags.py": "computes this hash",
    "util/docker.py": "runs docker commands and inspects images (the base image id is hashed as a setting)",
    "image/diagnose.py": "reads the log of a failed build",
    "util/sizes.py": "size_bytes reads the build memory limit, which the build guard applies from the host",
    "util/words.py": "Word, the base of BuildMode's names: nothing of it reaches the Dockerfile",
    "image/push.py": "pushes a built image",
    "image/export.py": "saves a built image",
    "_version.py": "hashed as paperpack's version",
    "errors.py": "exception classes and messages",
    "repository/repo.py": "lists the repository's files, each hashed",
    "data/download.py": "hashes files",
    "image/readiness.py": "decides whether this machine can build, before any build",
    "util/cache.py": "the folder of the build log",
}


def _is_module(package: Path, parts: list[str]) -> bool:
    return any((package / rel).is_file() for rel in ("/".join(parts) + ".py", "/".join(parts) + "/__init__.py"))


def _imports(module: Path, package: Path) -> set[str]:
    """paperpack modules ``module`` imports (relative POSIX paths under the package), read with ast."""
    import ast

    found: set[str] = set()
    here = module.parent.relative_to(package).parts
    for node in ast.walk(ast.parse(module.read_text())):
        if not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = list(here[: len(here) - (node.level - 1)] if node.level > 1 else here)
        parts = base + (node.module.split(".") if node.module else [])
        # ``from .x import name``: the module x, or x/name.py when name is a submodule (``from ..util import docker``)
        names = [parts + [alias.name] if _is_module(package, parts + [alias.name]) else parts for alias in node.names]
        for candidate in names:
            for rel in ("/".join(candidate) + ".py", "/".join(candidate) + "/__init__.py"):
                if (package / rel).is_file():
                    found.add(rel)
    return found


def test_every_module_that_shapes_the_image_is_in_the_tag() -> None:
    """Dropping builder.py (or any module the build imports) from the hash inputs must fail here."""
    from paperpack.image.tags import BUILD_SOURCES, PACKAGE

    build = {p.relative_to(PACKAGE).as_posix() for p in (PACKAGE / "image").glob("*.py")}
    imported = set(build)
    for rel in build:
        imported |= _imports(PACKAGE / rel, PACKAGE)
    unclassified = sorted(imported - set(BUILD_SOURCES) - set(NOT_SHAPING))
    assert not unclassified, f"add these to BUILD_SOURCES (or, with the reason, to NOT_SHAPING): {unclassified}"
    assert not set(BUILD_SOURCES) & set(NOT_SHAPING)
    assert all((PACKAGE / rel).is_file() for rel in BUILD_SOURCES)


def test_changing_any_build_source_changes_the_tag(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from paperpack.image import tags

    copy = tmp_path / "package"
    shutil.copytree(tags.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(tags, "PACKAGE", copy)
    root = make(tmp_path)
    first = digest(root)
    for rel in tags.BUILD_SOURCES:
        with (copy / rel).open("a") as fh:
            fh.write("\n# changed\n")
        changed = digest(root)
        assert changed != first, f"{rel} changed but the tag did not"
        first = changed


def test_a_file_name_that_is_not_utf8_gets_a_tag(tmp_path: Path) -> None:
    """Linux file names are bytes: one that is not UTF-8 (a surrogate once decoded) is hashed, not an error."""
    root = make(tmp_path)
    odd = os.fsdecode(b"caf\xe9.txt")  # latin-1 bytes
    for name in (odd, "cafe.txt"):
        (root / name).write_text("x")
    assert content_hash(root, [odd], [], settings=SETTINGS) != content_hash(root, ["cafe.txt"], [], settings=SETTINGS)


def test_paperpack_and_repo2docker_versions_change_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paperpack.image._r2d import repo2docker

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


def test_image_repository_of_a_folder_name_without_safe_characters() -> None:
    assert image_repository(Path("/x/数据")) == "paperpack/paper"
    assert image_repository(Path("/x/.__.")) == "paperpack/paper"
