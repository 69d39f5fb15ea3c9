"""Atomic writes: a file appears whole or not at all, and never through a link.

Every output paperpack writes (reports, caches, locks, executed notebooks) goes through
:func:`write_atomic`; :func:`sweep_temp_files` removes what a killed write left behind.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from ..errors import UsageError

__all__ = ["write_atomic", "write_json_atomic", "sweep_temp_files", "TEMP_NAME"]


#: the name of write_atomic's temporary files: ``.<name>.<12 hex digits>.tmp`` beside the target
TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _temp_beside(name: str, folder: int) -> tuple[int, str]:
    """A new empty file beside ``name`` in the open folder ``folder``: (descriptor, its name).

    Created without following a link (``O_EXCL``, ``O_NOFOLLOW``) with mode ``0o666``, so
    the kernel applies the umask; the umask is never read (``os.umask`` can only be read
    by setting it, which races with other threads).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = f".{name}.{os.urandom(6).hex()}.tmp"
        try:
            return os.open(tmp, flags, 0o666, dir_fd=folder), tmp
        except FileExistsError:
            continue


def _open_folder(path: Path, within: Path | None, hint: str | None) -> int:
    """An open descriptor on ``path``'s folder, created if needed.

    With ``within``, every folder from ``within`` down is created or opened without
    following a link: a link (or a file) there raises :class:`UsageError` naming it.
    """
    if within is None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # a file where a folder should be: say that, not "File exists"
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path.parent)) from None
        return os.open(path.parent, _DIR_FLAGS)
    fd = os.open(within, _DIR_FLAGS | _NOFOLLOW)
    current = within
    try:
        for part in path.parent.relative_to(within).parts:
            current = current / part
            try:
                os.mkdir(part, 0o777, dir_fd=fd)
            except FileExistsError:
                pass
            try:
                inner = os.open(part, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if os.path.islink(current) or not os.path.isdir(current):
                    raise UsageError(
                        f"cannot write {path}: {current} is "
                        f"{'a symbolic link' if os.path.islink(current) else 'not a folder'}; paperpack "
                        "never writes through a link",
                        hint=hint or f"remove {current}",
                        path=current,
                    ) from None
                raise _unwritable(path, exc, hint) from None
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_atomic(
    path: Path,
    data: str | bytes,
    *,
    overwrite: bool = True,
    hint: str | None = None,
    within: Path | None = None,
    mode: int | None = None,
) -> None:
    """Write to a temporary file beside ``path`` and move it into place, through no link.

    The temporary file is created with ``O_EXCL|O_NOFOLLOW`` and moved with a rename, so
    the bytes never go through a link; a ``path`` that is a link is refused. ``within``
    (a folder the caller checked, holding ``path``): the folders from there down are
    created or opened without following links, and a link among them is refused.
    A file that is replaced keeps its permissions unless ``mode`` is given; a new one
    gets ``mode``, else the usual ``0o666 & ~umask``.
    With ``overwrite=False`` an existing ``path`` is never replaced, even one that appears
    while writing (the file is linked into place, which fails where a rename would not).
    Problems with the target (a folder, a link, a file where a folder should be, no
    permission) raise :class:`~paperpack.errors.UsageError` naming the path, with ``hint``
    if given; nothing half-written is left.
    """
    try:
        folder = _open_folder(path, within, hint)
    except OSError as exc:
        raise _unwritable(path, exc, hint) from None
    try:
        _write_in(folder, path, data, overwrite=overwrite, hint=hint, mode=mode)
    finally:
        os.close(folder)


def _write_in(
    folder: int, path: Path, data: str | bytes, *, overwrite: bool, hint: str | None, mode: int | None
) -> None:
    name = path.name
    try:
        found = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        found = None
    except OSError as exc:
        raise _unwritable(path, exc, hint) from None
    if found is not None and stat.S_ISLNK(found.st_mode):
        raise UsageError(
            f"cannot write {path}: it is a symbolic link; paperpack never writes through a link",
            hint=hint or f"remove the link {path}, or write elsewhere",
            path=path,
        )
    if found is not None and stat.S_ISDIR(found.st_mode):
        raise UsageError(
            f"cannot write {path}: it is a folder", hint=hint or "give a file name, e.g. report.json", path=path
        )
    if mode is None and found is not None:
        mode = stat.S_IMODE(found.st_mode)
    try:
        fd, tmp = _temp_beside(name, folder)
    except OSError as exc:
        raise _unwritable(path, exc, hint) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
        else:
            os.link(tmp, name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
            os.unlink(tmp, dir_fd=folder)
    except BaseException as exc:
        try:
            os.unlink(tmp, dir_fd=folder)
        except FileNotFoundError:
            pass
        if isinstance(exc, FileExistsError) and not overwrite:
            raise UsageError(
                f"{path} exists; not overwritten", hint=hint or "remove it first, or write elsewhere", path=path
            ) from None
        if isinstance(exc, OSError):
            raise _unwritable(path, exc, hint) from None
        raise


def sweep_temp_files(folder: Path, *, below: bool = True) -> list[Path]:
    """Remove the temporary files :func:`write_atomic` left in ``folder`` (and below it) after a SIGKILL.

    Only names of its own pattern (:data:`TEMP_NAME`), never a folder; links are not
    followed (a link with such a name is removed, not what it points to). Returns what went.
    """
    removed = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            if TEMP_NAME.match(name):
                try:
                    os.unlink(os.path.join(dirpath, name))
                    removed.append(Path(dirpath) / name)
                except OSError:
                    continue
        if not below:
            break
    return removed


def _unwritable(path: Path, exc: OSError, hint: str | None = None) -> UsageError:
    return UsageError(
        f"cannot write {path}: {exc.strerror or exc}",
        hint=hint or "choose a writable location (its parent must be a folder you can write to)",
        path=path,
    )


def write_json_atomic(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=False) + "\n")
