"""An extracted dataset is readable by the run's user, whatever modes its archive gave (paperpack/archive.py).

Issue 16's mutation testing found these unpinned: every file gets 0644 (0755 when its owner could
execute it, never because others could), every folder 0755, and links are left alone.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from paperpack.archive import open_up


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
