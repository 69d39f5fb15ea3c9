"""Safe extraction, the cases the mutation run found untested (benchmarks/mutation_score.py, archive.py).

Links with Windows-style targets, hard links inside sub-folders, members whose parent folders the archive never
lists, zip symlink targets that are not UTF-8, and the zip ratio check counting every member's packed bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from paperpack.data.archive import extract_archive
from paperpack.errors import UnsafeArchiveError
from tests.test_archive import make_tar, make_zip


@pytest.mark.parametrize("maker", [make_tar, make_zip])
@pytest.mark.parametrize(
    "target, why",
    [
        ("C:", "absolute path"),
        ("C:\\Windows\\win.ini", "absolute path"),
        ("..\\..\\outside", "points outside the target folder"),
        ("..", "points outside the target folder"),  # refused by the link check itself, not only by a later one
    ],
)
def test_windows_style_and_parent_link_targets_are_refused(
    maker,
    target: str,
    why: str,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    arch = maker(tmp_path / ("a.tar.gz" if maker is make_tar else "a.zip"), [("link", "sym", target)])
    with pytest.raises(UnsafeArchiveError, match=why):
        extract_archive(arch, tmp_path / "out")


def test_a_hard_link_is_read_from_the_archive_root(tmp_path: Path) -> None:
    """tar hard-link names are paths from the archive's root, not from the link's folder."""
    arch = make_tar(tmp_path / "h.tar.gz", [("sub/a.txt", "file", "same"), ("sub/b.txt", "hard", "sub/a.txt")])
    out = extract_archive(arch, tmp_path / "out")
    assert (out / "sub" / "b.txt").read_text() == "same"
    bad = make_tar(tmp_path / "bad.tar.gz", [("sub/b.txt", "hard", "sub/missing.txt")])
    with pytest.raises(UnsafeArchiveError, match="hard link 'sub/b.txt' points to 'sub/missing.txt'"):
        extract_archive(bad, tmp_path / "out2")


@pytest.mark.parametrize("maker", [make_tar, make_zip])
def test_members_in_folders_the_archive_never_lists(maker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    members: list[tuple[str, str, bytes | str]] = [("a/b/c.txt", "file", "x"), ("d/e/link", "sym", "../../a/b/c.txt")]
    for folder in ("f/g/h", "a/b"):  # a new folder, and one its files already made
        if maker is make_tar:
            members.append((folder, "dir", b""))
        else:
            members.append((folder + "/", "file", b""))  # a zip folder entry: a name ending in "/"
    out = extract_archive(maker(tmp_path / ("a.tar.gz" if maker is make_tar else "a.zip"), members), tmp_path / "out")
    assert (out / "d" / "e" / "link").read_text() == "x"
    assert (out / "f" / "g" / "h").is_dir()


def test_a_zip_symlink_target_that_is_not_utf8_is_not_a_crash(tmp_path: Path) -> None:
    arch = make_zip(tmp_path / "a.zip", [("odd", "sym", b"caf\xe9.txt")])
    out = extract_archive(arch, tmp_path / "out")
    assert os.readlink(out / "odd") == "caf\ufffd.txt"


def test_the_zip_ratio_counts_every_members_packed_bytes(tmp_path: Path) -> None:
    """300 incompressible members (2.3 MiB): unpacked/packed stays near 1, far below the ratio limit of 200."""
    members: list[tuple[str, str, bytes | str]] = [
        (f"part{i:03d}.bin", "file", os.urandom(8 << 10)) for i in range(300)
    ]
    out = extract_archive(make_zip(tmp_path / "a.zip", members), tmp_path / "out")
    assert len(list(out.iterdir())) == 300
