"""One report per verification: what a command adds to the report.json an earlier command wrote.

``paperpack build`` writes validation, build and run; a later ``paperpack run`` writes
only a run, and ``paperpack build --no-run`` only validation and build. Each command
replaces the sections it made and keeps the others of the earlier report — when that
report is of the same repository at the same commit — so that ``run`` after ``build``
keeps the build. A kept section must not claim a result for another state: a run kept
beside a new build is dropped unless it ran in the very image that build gave (the tag
is a hash of the repository's content), and the report's ``dropped`` says what was
dropped and why.
"""

from __future__ import annotations

import enum
import json
import logging
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import REPORT_VERSION

__all__ = ["Section", "merge_reports", "read_previous"]

log = logging.getLogger(__name__)

#: the largest earlier report read back (a bigger file is not one paperpack wrote for a paper)
MAX_PREVIOUS = 64 << 20


class Section(enum.Enum):
    """The parts of a report each stage owns."""

    VALIDATION = "validation"
    BUILD = "build"
    RUN = "run"


#: the report keys each section fills
KEYS = {
    Section.VALIDATION: ("summary", "environment", "checked", "findings"),
    Section.BUILD: ("build",),
    Section.RUN: ("run", "paper"),
}


def read_previous(path: Path, repo_root: Path) -> dict[str, Any] | None:
    """The report at ``path`` if paperpack could have written it for ``repo_root``, else ``None``.

    Not read: a missing, unreadable, oversized or malformed file, another report version,
    a report of another repository folder, and a report the repository itself carries
    (a file git tracks): the repository is untrusted and must not add sections to the
    report of its own verification.
    """
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_PREVIOUS:
            return None
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict) or body.get("report_version") != REPORT_VERSION:
        return None
    repository = body.get("repository")
    if not isinstance(repository, dict) or repository.get("root") != str(repo_root):
        return None
    if _tracked(path, repo_root):
        log.warning("%s is committed in the repository: not merged into the new report", path)
        return None
    return body


def _tracked(path: Path, root: Path) -> bool:
    """Whether git tracks ``path`` in the repository at ``root``."""
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "ls-files", "--error-unmatch", "--", rel.as_posix()],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def merge_reports(previous: dict[str, Any] | None, current: dict[str, Any], made: Iterable[Section]) -> dict[str, Any]:
    """``current`` (this command's report) with the sections it did not ``made`` taken from ``previous``.

    ``previous`` counts only for the same commit (``repository.commit``); otherwise every
    section it had is dropped, with the reason. ``complete`` is false when a kept run was
    incomplete.
    """
    made = set(made)
    merged = dict(current)
    dropped: dict[str, str] = {}
    if previous is None:
        merged["dropped"] = None
        return merged
    old_commit = (previous.get("repository") or {}).get("commit")
    new_commit = (current.get("repository") or {}).get("commit")
    same_state = old_commit == new_commit
    for section in Section:
        if section in made:
            continue
        if not _has(previous, section):
            continue
        if not same_state:
            dropped[section.value] = (
                f"the earlier report was for commit {old_commit or '(none)'}, this one is for {new_commit or '(none)'}"
            )
            continue
        reason = _stale(section, previous, current, made)
        if reason:
            dropped[section.value] = reason
            continue
        for key in KEYS[section]:
            if key in previous:
                merged[key] = previous[key]
    previous_dropped = previous.get("dropped") if same_state else None
    if isinstance(previous_dropped, dict):  # still true of sections nobody made again
        for name, reason in previous_dropped.items():
            if (
                isinstance(name, str)
                and isinstance(reason, str)
                and name not in dropped
                and name in {s.value for s in Section}
                and Section(name) not in made
            ):
                dropped[name] = reason
    run = merged.get("run")
    if Section.RUN not in made and isinstance(run, dict) and run.get("complete") is False:
        merged["complete"] = False
    merged["dropped"] = dropped or None
    return merged


def _has(report: dict[str, Any], section: Section) -> bool:
    """Whether ``report`` holds ``section`` (a report without validation still has an empty summary)."""
    if section is Section.VALIDATION:
        return report.get("checked") is not None or bool(report.get("findings"))
    return bool(report.get(section.value))


def _stale(section: Section, previous: dict[str, Any], current: dict[str, Any], made: set[Section]) -> str:
    """Why a section of the earlier report no longer describes this state ("" if it still does)."""
    if section is not Section.RUN or Section.BUILD not in made:
        return ""
    run = previous.get("run") or {}
    build = current.get("build") or {}
    ran_in = run.get("image") if isinstance(run, dict) else None
    built = build.get("image") if isinstance(build, dict) else None
    if built and ran_in == built:
        return ""
    where = f"in the image {ran_in}" if ran_in else f"with the {run.get('engine', 'local')} engine, without an image"
    return (
        f"the earlier run (created {previous.get('created', '?')}) ran {where}; this build made "
        f"{built or 'no image'}: run `paperpack run` for a result of this state"
    )
