"""Fetching one submission into its own workspace, recording what was fetched.

- git (``file://``, ``https://`` or a local repository): ``git clone --no-checkout`` and a
  detached checkout of the ref, with ``GIT_TERMINAL_PROMPT=0`` (never a password prompt),
  no system or user git configuration (so no filter, hook or credential helper of yours
  runs), an empty template folder and ``core.hooksPath=/dev/null`` (no hook runs), and
  ``protocol.allow=never`` except the one protocol of the source (no submodule, redirect or
  transport helper reaches anything else). The revision is the commit checked out.
- an archive (zip, tar.gz …): extracted with :func:`paperpack.data.archive.extract_archive`
  (no member outside the workspace, no links out, size and ratio limits). The revision is
  ``sha256:`` of the archive file. A single top-level folder is taken as the repository.
- a folder that is not a git repository: copied (links kept as links, never followed).
  The revision is ``sha256:`` of its content.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..data.archive import extract_archive
from ..errors import DataError, FetchError, UnsafeArchiveError
from .queue import SourceKind, Submission

__all__ = ["Fetched", "fetch", "quick_revision", "git_env"]

log = logging.getLogger(__name__)

GIT_TIMEOUT = 600.0
_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Fetched:
    """A submission's sources in its workspace, and the revision they are."""

    root: Path
    commit: str  # the git commit, or sha256:<hex> of an archive or a folder


def git_env() -> dict[str, str]:
    """The environment git runs with: no prompt, no system or user configuration, no askpass."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_ASKPASS": "true",
            "SSH_ASKPASS": "true",
            "GIT_PROTOCOL_FROM_USER": "0",
            "LC_ALL": "C",
        }
    )
    return env


def _protocol_config(source: str) -> list[str]:
    allowed = "https" if source.lower().startswith("https://") else "file"
    return [
        "-c",
        "protocol.allow=never",
        "-c",
        f"protocol.{allowed}.allow=always",
        "-c",
        "core.hooksPath=/dev/null",
        "-c",
        "core.fsmonitor=false",
        "-c",
        "credential.helper=",
    ]


def _git(
    args: list[str], source: str, *, cwd: Path | None = None, what: str, submission: Submission
) -> subprocess.CompletedProcess[str]:
    cmd = ["git", *_protocol_config(source), *args]
    try:
        out = subprocess.run(
            cmd,
            cwd=cwd,
            env=git_env(),
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise FetchError(
            f"{submission.id}: {what} took longer than {GIT_TIMEOUT:.0f} s ({source})",
            hint="check that the git server answers, then run the batch again",
        ) from None
    except OSError as exc:
        raise FetchError(f"{submission.id}: cannot run git: {exc}", hint="install git") from None
    if out.returncode != 0:
        lines = (out.stderr or out.stdout).strip().splitlines()
        detail = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines[-3:]
        raise FetchError(
            f"{submission.id}: {what} failed for {source}: {' / '.join(detail) or 'no message'}",
            hint="check that the URL or folder exists and is a git repository you can read, and "
            "that the ref exists (a branch, a tag or a full commit hash)",
        )
    return out


def _fetch_git(sub: Submission, dest: Path) -> Fetched:
    _git(
        ["clone", "--no-checkout", "--quiet", "--template=", "--", sub.source, str(dest)],
        sub.source,
        what="git clone",
        submission=sub,
    )
    commit = "HEAD"
    if sub.ref is not None:
        for candidate in (f"refs/tags/{sub.ref}", f"refs/remotes/origin/{sub.ref}", sub.ref):
            found = subprocess.run(
                ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{candidate}^{{commit}}"],
                cwd=dest,
                env=git_env(),
                capture_output=True,
                text=True,
                check=False,
            )
            if found.returncode == 0:
                commit = found.stdout.strip()
                break
        else:
            raise FetchError(
                f"{sub.id}: ref {sub.ref!r} is not a branch, tag or commit of {sub.source}",
                hint="fix the ref in the queue (branches and tags by name, commits by their full hash)",
            )
    _git(
        ["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit, "--"],
        sub.source,
        cwd=dest,
        what="git checkout",
        submission=sub,
    )
    head = _git(["rev-parse", "HEAD"], sub.source, cwd=dest, what="git rev-parse", submission=sub).stdout.strip()
    return Fetched(dest, head)


def _single_folder(root: Path) -> Path:
    """The archive's one top-level folder (GitHub's and Zenodo's archives), else its root."""
    entries = [p for p in root.iterdir() if p.name not in ("__MACOSX",)]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return root


def _fetch_archive(sub: Submission, dest: Path) -> Fetched:
    from ..data.download import hash_file

    archive = Path(sub.source)
    if not archive.is_file():
        raise FetchError(f"{sub.id}: the archive {archive} does not exist", hint="fix the path in the queue")
    digest = hash_file(archive)["sha256"]
    try:
        extract_archive(archive, dest, label=f"{sub.id}: {archive.name}")
    except UnsafeArchiveError:
        raise
    except DataError as exc:
        raise FetchError(
            f"{sub.id}: {archive.name} cannot be unpacked: {exc}",
            hint="give a zip or tar archive of the repository (tar.gz, tar.bz2, tar.xz)",
        ) from None
    return Fetched(_single_folder(dest), f"sha256:{digest}")


def _folder_hash(root: Path) -> str:
    from ..image.tags import content_hash
    from ..repository.repo import Repo

    repo = Repo.open(root, manifest=False)
    return f"sha256:{content_hash(repo.root, repo.files, repo.symlinks, settings={})}"


def _fetch_folder(sub: Submission, dest: Path) -> Fetched:
    folder = Path(sub.source)
    if not folder.is_dir():
        raise FetchError(f"{sub.id}: the folder {folder} does not exist", hint="fix the path in the queue")
    shutil.copytree(folder, dest, symlinks=True)
    return Fetched(dest, _folder_hash(dest))


def fetch(sub: Submission, dest: Path) -> Fetched:
    """Fetch ``sub`` into ``dest`` (which must not exist); :class:`FetchError` (or
    :class:`~paperpack.errors.UnsafeArchiveError`) when it cannot be."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    log.info("%s: fetching %s %s%s", sub.id, sub.kind, sub.source, f" at {sub.ref}" if sub.ref else "")
    if sub.kind is SourceKind.GIT:
        return _fetch_git(sub, dest)
    if sub.kind is SourceKind.ARCHIVE:
        return _fetch_archive(sub, dest)
    return _fetch_folder(sub, dest)


def quick_revision(sub: Submission) -> str | None:
    """The revision ``sub`` would be fetched at, without fetching it, or ``None`` when that cannot be told.

    Used to skip submissions already verified at that revision. git: ``git ls-remote`` (a full
    commit hash as the ref is its own revision); an archive: its sha256; a folder: ``None``
    (hashing it costs what copying it does).
    """
    if sub.kind is SourceKind.ARCHIVE:
        from ..data.download import hash_file

        try:
            return f"sha256:{hash_file(Path(sub.source))['sha256']}"
        except OSError:
            return None
    if sub.kind is not SourceKind.GIT:
        return None
    if sub.ref is not None and _SHA.fullmatch(sub.ref):
        return sub.ref
    try:
        out = _git(["ls-remote", "--", sub.source], sub.source, what="git ls-remote", submission=sub)
    except FetchError:
        return None
    refs: dict[str, str] = {}
    for line in out.stdout.splitlines():
        sha, _, name = line.partition("\t")
        refs[name] = sha
    if sub.ref is None:
        return refs.get("HEAD")
    for name in (f"refs/tags/{sub.ref}^{{}}", f"refs/tags/{sub.ref}", f"refs/heads/{sub.ref}"):
        if name in refs:
            return refs[name]
    return None
