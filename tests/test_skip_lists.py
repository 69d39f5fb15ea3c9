"""The runner's copy of the skip list stays equal to the repository walk's (issue 10).

``run/runner.py`` runs inside the image as a script and cannot import paperpack, so it keeps
its own copy of :data:`paperpack.repository.repo.SKIP_DIRS` and ``OUTPUT_MARKER``; this test ties the copies.
The runner also skips ``.ipynb_checkpoints`` when it copies the repository: the walk keeps them,
because validate reports committed checkpoints.
"""

from __future__ import annotations

from pathlib import Path

from paperpack.repository import repo
from paperpack.run import runner


def test_runner_skips_what_the_repository_walk_skips() -> None:
    assert runner.SKIP_NAMES == repo.SKIP_DIRS | {".ipynb_checkpoints"}


def test_runner_knows_the_output_marker() -> None:
    assert runner.OUTPUT_MARKER == repo.OUTPUT_MARKER


def test_skip_entries_skips_those_and_output_folders(tmp_path: Path) -> None:
    names = sorted(repo.SKIP_DIRS | {"data", ".ipynb_checkpoints"})
    for name in names:
        (tmp_path / name).mkdir()
    (tmp_path / "data" / "out").mkdir()
    (tmp_path / "data" / "out" / repo.OUTPUT_MARKER).write_text("")
    assert runner.skip_entries(str(tmp_path), names) == repo.SKIP_DIRS | {".ipynb_checkpoints"}
    assert runner.skip_entries(str(tmp_path / "data"), ["out"]) == {"out"}
