"""A git repository whose commits carry a chosen date (the time machine's tests)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def git(root: Path, *args: str, date: str | None = None) -> None:
    """``git -C root ARGS``, as a fixed author, at noon UTC of ``date`` (YYYY-MM-DD) when given."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "a",
        "GIT_AUTHOR_EMAIL": "a@example.org",
        "GIT_COMMITTER_NAME": "a",
        "GIT_COMMITTER_EMAIL": "a@example.org",
    }
    if date:
        env.update(GIT_AUTHOR_DATE=f"{date}T12:00:00+00:00", GIT_COMMITTER_DATE=f"{date}T12:00:00+00:00")
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)


def commit_all(root: Path, date: str) -> None:
    """Make ``root`` a git repository with every file in one commit dated ``date``."""
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "paper", date=date)
