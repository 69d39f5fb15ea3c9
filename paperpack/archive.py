"""Safe extraction of zip and tar archives (tar, tar.gz, tar.bz2, tar.xz).

Nothing lands outside the target folder: absolute member names, ``..`` components,
symbolic and hard links pointing out, writes through a link, devices and FIFOs are
refused. Sizes are limited by the bytes actually written, not by what the archive
headers claim, so a compression bomb stops at the limit. Extraction goes to a
temporary folder beside the target, which is moved into place only when every
member has been written; on any error nothing is left behind.
"""

from __future__ import annotations

import errno
import gzip
import logging
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .errors import DataError, UnsafeArchiveError

__all__ = ["ArchiveLimits", "extract_archive"]

log = logging.getLogger(__name__)

HINT = ("the archive is unsafe to unpack; ask its authors for a clean archive, or declare the file without "
        "`extract: true` and unpack it yourself after inspecting it")


@dataclass(frozen=True)
class ArchiveLimits:
    max_total_bytes: int = 20 << 30  # 20 GiB unpacked
    max_members: int = 200_000
    max_ratio: float = 1000.0  # unpacked / packed size of one member, above 1 MiB


def _member_path(archive: Path, name: str) -> str:
    """The member's relative POSIX path, or :class:`UnsafeArchiveError` if it would leave the target."""
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":"):
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} has an absolute path", hint=HINT, path=archive)
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} points outside the target folder ('..')",
                                 hint=HINT, path=archive)
    return "/".join(parts)


def _link_inside(archive: Path, member: str, target: str, *, relative_to_member: bool) -> str:
    """The link's target as a path inside the folder, or :class:`UnsafeArchiveError`."""
    if target.startswith("/") or (len(target) > 1 and target[1] == ":"):
        raise UnsafeArchiveError(f"{archive.name}: link {member!r} points to the absolute path {target!r}",
                                 hint=HINT, path=archive)
    base = posixpath.dirname(member) if relative_to_member else ""
    joined = posixpath.normpath(posixpath.join(base, target.replace("\\", "/")))
    if joined == ".." or joined.startswith("../"):
        raise UnsafeArchiveError(f"{archive.name}: link {member!r} points outside the target folder ({target!r})",
                                 hint=HINT, path=archive)
    return joined


class _Writer:
    """Writes members under ``root``, counting bytes and refusing writes through links."""

    def __init__(self, archive: Path, root: Path, limits: ArchiveLimits) -> None:
        self.archive, self.root, self.limits = archive, root, limits
        self.real_root = os.path.realpath(root)
        self.total = 0
        self.members = 0
        self.current = ""  # the member being written, for error messages

    def _target(self, rel: str) -> Path:
        self.current = rel
        self.members += 1
        if self.members > self.limits.max_members:
            raise UnsafeArchiveError(f"{self.archive.name}: more than {self.limits.max_members} members",
                                     hint=HINT, path=self.archive)
        target = self.root / rel
        parent = os.path.realpath(target.parent)
        if parent != self.real_root and not parent.startswith(self.real_root + os.sep):
            raise UnsafeArchiveError(f"{self.archive.name}: member {rel!r} would be written through a link that "
                                     "leads outside the target folder", hint=HINT, path=self.archive)
        if target.is_symlink():
            raise UnsafeArchiveError(f"{self.archive.name}: member {rel!r} would overwrite a link", hint=HINT,
                                     path=self.archive)
        return target

    def directory(self, rel: str) -> None:
        if rel:
            self._target(rel).mkdir(parents=True, exist_ok=True)

    def file(self, rel: str, source: IO[bytes], mode: int, packed: int, unpacked: int) -> None:
        if unpacked > (1 << 20) and unpacked / max(packed, 1) > self.limits.max_ratio:
            raise UnsafeArchiveError(
                f"{self.archive.name}: member {rel!r} unpacks {packed} bytes into {unpacked} (ratio above "
                f"{self.limits.max_ratio:g}): a compression bomb", hint=HINT, path=self.archive)
        self._write(self._target(rel), source, mode)

    def _write(self, target: Path, source: IO[bytes], mode: int) -> None:
        """Copy ``source`` to ``target``, counting every byte against ``max_total_bytes``."""
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            while block := source.read(1 << 20):
                self.total += len(block)
                if self.total > self.limits.max_total_bytes:
                    raise UnsafeArchiveError(
                        f"{self.archive.name}: unpacks to more than {self.limits.max_total_bytes} bytes",
                        hint=HINT + " (or raise the limit)", path=self.archive)
                out.write(block)
        os.chmod(target, 0o755 if mode & 0o111 else 0o644)

    def symlink(self, rel: str, target: str) -> None:
        _link_inside(self.archive, rel, target, relative_to_member=True)
        path = self._target(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
        real = os.path.realpath(path)  # follows links made before this one: chains cannot escape either
        if real != self.real_root and not real.startswith(self.real_root + os.sep):
            raise UnsafeArchiveError(f"{self.archive.name}: link {rel!r} leads outside the target folder through "
                                     f"other links ({target!r})", hint=HINT, path=self.archive)

    def hardlink(self, rel: str, target: str) -> None:
        inside = _link_inside(self.archive, rel, target, relative_to_member=False)
        source = self.root / inside
        if not source.is_file() or source.is_symlink():
            raise UnsafeArchiveError(f"{self.archive.name}: hard link {rel!r} points to {target!r}, which is not a "
                                     "file extracted before it", hint=HINT, path=self.archive)
        if inside == rel:
            return  # a link to itself: the file is already there
        with open(source, "rb") as src:  # a copy, counted like any file: links cannot multiply a bomb past the limit
            self._write(self._target(rel), src, source.stat().st_mode)


def _extract_zip(archive: Path, writer: _Writer) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            rel = _member_path(archive, info.filename)
            mode = info.external_attr >> 16
            if info.is_dir():
                writer.directory(rel)
            elif stat.S_ISLNK(mode):
                writer.symlink(rel, zf.read(info).decode("utf-8", "replace"))
            else:
                with zf.open(info) as src:
                    writer.file(rel, src, mode, info.compress_size, info.file_size)


def _extract_tar(archive: Path, writer: _Writer) -> None:
    with tarfile.open(archive, "r:*") as tf:
        for member in tf:
            rel = _member_path(archive, member.name)
            if member.isdir():
                writer.directory(rel)
            elif member.issym():
                writer.symlink(rel, member.linkname)
            elif member.islnk():
                writer.hardlink(rel, _member_path(archive, member.linkname))
            elif member.isfile():
                src = tf.extractfile(member)
                assert src is not None
                with src:
                    writer.file(rel, src, member.mode, member.size, member.size)
            else:
                raise UnsafeArchiveError(f"{archive.name}: member {member.name!r} is a device or FIFO, which data "
                                         "archives never need", hint=HINT, path=archive)


def extract_archive(archive: Path, dest: Path, *, limits: ArchiveLimits | None = None) -> Path:
    """Unpack ``archive`` into the folder ``dest`` (which must not exist yet) and return it."""
    limits = limits or ArchiveLimits()
    if zipfile.is_zipfile(archive):
        extract = _extract_zip
    elif tarfile.is_tarfile(archive):
        extract = _extract_tar
    else:
        raise DataError(f"{archive}: declared with `extract: true` but is neither a zip nor a tar archive",
                        hint="remove `extract: true`, or point the entry at the archive", path=archive)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        writer = _Writer(archive, tmp, limits)
        try:
            extract(archive, writer)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError) as exc:
            raise DataError(f"{archive.name}: the archive is damaged: {exc}",
                            hint="delete it from the cache and fetch again (`paperpack data fetch`)",
                            path=archive) from None
        except OSError as exc:  # e.g. a file `a` then a member `a/b`, or a folder where a file should go
            if exc.errno in (errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise UnsafeArchiveError(
                    f"{archive.name}: member {writer.current!r} cannot be extracted: {exc.strerror} (the archive "
                    "holds both a file and a folder, or two entries, at the same path)",
                    hint=HINT, path=archive) from None
            raise DataError(f"{archive.name}: cannot extract member {writer.current!r} into {dest.parent}: "
                            f"{exc.strerror or exc}",
                            hint="check that the cache folder is writable and has room, then run "
                                 "`paperpack data fetch` again", path=archive) from None
        log.debug("extracted %s: %d members, %d bytes", archive, writer.members, writer.total)
        try:
            os.rename(tmp, dest)
        except OSError:
            if dest.is_dir():  # another process finished first: theirs is as good as ours
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
