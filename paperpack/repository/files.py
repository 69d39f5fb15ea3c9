"""Read a file of an untrusted repository without ever leaving the repository.

Every environment file (``requirements.txt``, ``runtime.txt``, ``apt.txt``,
``environment.yml``, ``Dockerfile``, …) is read through :func:`read_repo_text`, in
validate, in the image build and in the local engine alike, so a link in a paper
repository can never make paperpack read, quote or copy a file of the host.

The path is walked one component at a time with :func:`os.lstat`, never following a
link on the way: a link is replaced by its target *as text*, and the walk goes on
only while that target stays below the repository root (as repo2docker and Docker's
``COPY`` see an in-repository link). An absolute target, a ``..`` that climbs out,
a dangling link or a loop is an :class:`~paperpack.errors.EnvironmentFileError` that
names the file and the link's target path, never the content of anything outside.
The final file is opened with ``O_NOFOLLOW`` (a link swapped in after the walk fails
to open) and must be a regular file no larger than ``limit``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import EnvironmentFileError

__all__ = ["MAX_ENV_BYTES", "RepoPath", "resolve_repo_path", "read_repo_bytes", "read_repo_text", "repo_has"]

#: Largest environment file read (2 MiB): a real requirements.txt is a few kB.
MAX_ENV_BYTES = 2 << 20
_MAX_LINKS = 40  # as the kernel's own limit on links in one lookup (ELOOP)
_FIX = "replace the link with the file itself, committed in the repository"


@dataclass(frozen=True)
class RepoPath:
    """Where ``rel`` really is inside the repository, links resolved."""

    rel: str  #: as asked, relative POSIX
    real: str  #: the same file with every link inside the repository resolved
    via_link: bool  #: a link was followed on the way
    kind: int  #: ``stat.S_IFMT`` of what it is (``stat.S_IFREG`` for a regular file)


def _refuse(rel: str, why: str, link: str | None = None) -> EnvironmentFileError:
    return EnvironmentFileError(
        f"{rel}: {why}; paperpack reads environment files only from inside the repository",
        hint=_FIX,
        path=rel,
        link=link,
    )


def _not_regular(rel: str, kind: int) -> EnvironmentFileError:
    what = "a folder" if kind == stat.S_IFDIR else "not a regular file (a pipe, socket or device)"
    return EnvironmentFileError(
        f"{rel} is {what}; an environment file must be a regular file",
        hint=f"make {rel} a plain text file committed in the repository",
        path=rel,
    )


def resolve_repo_path(root: Path, rel: str) -> RepoPath:
    """Resolve ``rel`` below ``root`` component by component, following only links that stay inside.

    Raises :class:`FileNotFoundError` when the path does not exist (and no link is
    involved), :class:`~paperpack.errors.EnvironmentFileError` when a link leads out
    of the repository, nowhere, or round in a loop.
    """
    if PurePosixPath(rel).is_absolute():
        raise _refuse(rel, "is an absolute path")
    pending = list(PurePosixPath(rel).parts)
    done: list[str] = []
    links = 0
    last_target = ""
    while pending:
        name = pending.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            if not done:
                raise _refuse(
                    rel,
                    f"is a symbolic link to {last_target}, outside the repository"
                    if links
                    else "leads above the repository root",
                    last_target or None,
                )
            done.pop()
            continue
        here = root.joinpath(*done, name)
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            if links:
                raise _refuse(
                    rel, f"follows a symbolic link to {'/'.join(done + [name])}, which does not exist", last_target
                ) from None
            raise
        except NotADirectoryError:
            raise FileNotFoundError(rel) from None
        if stat.S_ISLNK(st.st_mode):
            links += 1
            target = os.readlink(here)
            if links > _MAX_LINKS:
                raise _refuse(rel, "is a loop of symbolic links", target)
            if os.path.isabs(target):
                raise _refuse(rel, f"is a symbolic link to {target}, outside the repository", target)
            pending = list(PurePosixPath(target).parts) + pending
            last_target = target
            continue
        if pending and not stat.S_ISDIR(st.st_mode):
            raise FileNotFoundError(rel)
        done.append(name)
    if not done:
        raise _refuse(rel, "names the repository root, not a file")
    st = os.lstat(root.joinpath(*done))  # every component is checked: none is a link
    return RepoPath(rel, "/".join(done), links > 0, stat.S_IFMT(st.st_mode))


def repo_has(root: Path, rel: str) -> bool:
    """True when ``rel`` is something in the repository (a file, a folder, or a link of any kind)."""
    return os.path.lexists(root / rel)


def read_repo_bytes(root: Path, rel: str, *, limit: int = MAX_ENV_BYTES) -> bytes:
    """The bytes of the regular file ``rel`` inside the repository at ``root``.

    Raises :class:`FileNotFoundError` when it does not exist and
    :class:`~paperpack.errors.EnvironmentFileError` when it is a link leading out of
    the repository, a folder, pipe or device, unreadable, or larger than ``limit``.
    """
    where = resolve_repo_path(root, rel)
    if where.kind != stat.S_IFREG:  # never open a pipe or a device: opening one can block or act
        raise _not_regular(rel, where.kind)
    try:
        fd = os.open(root / where.real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _refuse(rel, f"cannot be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):  # replaced since the walk
            raise _not_regular(rel, stat.S_IFMT(st.st_mode))
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise EnvironmentFileError(
            f"{rel} is larger than {limit // 1024} KiB; that is not an environment file",
            hint=f"keep {rel} to the declarations repo2docker reads",
            path=rel,
        )
    return data


def read_repo_text(root: Path, rel: str, *, limit: int = MAX_ENV_BYTES) -> str:
    """The text (UTF-8, undecodable bytes replaced) of ``rel``; see :func:`read_repo_bytes`."""
    return read_repo_bytes(root, rel, limit=limit).decode("utf-8", errors="replace")
