"""An extracted dataset is readable by the run's user, whatever modes its archive gave (paperpack/archive.py).

Issue 16's mutation testing found these unpinned: every file gets 0644 (0755 when its owner could
execute it, never because others could), every folder 0755, and links are left alone.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from paperpack.archive import ArchiveLimits, extract_archive, open_up
from paperpack.errors import UnsafeArchiveError
from tests.test_archive import make_tar, make_zip


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_every_file_and_folder_is_opened_up_links_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "extracted"
    (root / "sub" / "deeper").mkdir(parents=True)
    files = {root / "a.csv": 0o600, root / "sub" / "run.sh": 0o700, root / "sub" / "deeper" / "b.csv": 0o000,
             root / "sub" / "odd": 0o001}
    for path, mode in files.items():
        path.write_text("x\n")
        path.chmod(mode)
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours\n")
    outside.chmod(0o600)
    (root / "link").symlink_to(outside)
    for folder in (root / "sub" / "deeper", root / "sub", root):
        folder.chmod(0o700)
    open_up(root)
    assert {path.relative_to(root).as_posix(): _mode(path) for path in files} == {
        "a.csv": 0o644, "sub/run.sh": 0o755, "sub/deeper/b.csv": 0o644, "sub/odd": 0o644}
    assert [_mode(p) for p in (root, root / "sub", root / "sub" / "deeper")] == [0o755] * 3
    assert _mode(outside) == 0o600, "a link's target outside is never changed"


@pytest.mark.parametrize("maker", [make_tar, make_zip])
@pytest.mark.parametrize("name", ["C:", "C:\\evil.txt", "..\\..\\evil.txt", "a\\..\\..\\evil.txt"])
def test_windows_style_member_names_are_refused(maker, name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    arch = maker(tmp_path / ("a.tar.gz" if maker is make_tar else "a.zip"), [(name, "file", "x")])
    with pytest.raises(UnsafeArchiveError) as exc:
        extract_archive(arch, tmp_path / "deep" / "out")
    assert exc.value.hint, "the refusal says what to do"
    assert not (tmp_path / "deep" / "out").exists() and not (tmp_path / "evil.txt").exists()


def test_the_limits_are_inclusive(tmp_path: Path) -> None:
    """An archive exactly at a limit unpacks; one member or one byte more is refused, with a hint."""
    three = make_zip(tmp_path / "three.zip", [(f"{i}.txt", "file", "abcd") for i in range(3)])
    assert len(list(extract_archive(three, tmp_path / "ok", limits=ArchiveLimits(max_members=3)).iterdir())) == 3
    with pytest.raises(UnsafeArchiveError) as members:
        extract_archive(three, tmp_path / "no", limits=ArchiveLimits(max_members=2))
    assert members.value.hint
    assert extract_archive(three, tmp_path / "ok2", limits=ArchiveLimits(max_total_bytes=12)).is_dir()
    with pytest.raises(UnsafeArchiveError) as size:
        extract_archive(three, tmp_path / "no2", limits=ArchiveLimits(max_total_bytes=11))
    assert size.value.hint and "PAPERPACK" in size.value.hint
