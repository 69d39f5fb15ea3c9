"""Safe extraction of zip and tar archives (tar, tar.gz, tar.bz2, tar.xz).

Nothing lands outside the target folder: absolute member names, ``..`` components,
symbolic and hard links pointing out, writes through a link, devices and FIFOs are
refused. Sizes are limited by the bytes actually written, not by what the archive
headers claim, and so is the compression ratio (written bytes over packed bytes read so
far, for zip and every tar compression), so a compression bomb stops early. Files get
mode 0644 (0755 if executable) and folders 0755, whoever extracts, so the run's user can
read them. Extraction goes to a
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import ConfigError, DataError, UnsafeArchiveError

__all__ = ["ArchiveLimits", "extract_archive", "open_up"]

log = logging.getLogger(__name__)

HINT = (
    "the archive is unsafe to unpack; ask its authors for a clean archive, or declare the file without "
    "`extract: true` and unpack it yourself after inspecting it"
)


MAX_BYTES_VAR = "PAPERPACK_ARCHIVE_MAX_BYTES"
MAX_RATIO_VAR = "PAPERPACK_ARCHIVE_MAX_RATIO"
#: The ratio limit applies once this much is unpacked: small archives of zeros are harmless.
RATIO_FLOOR = 1 << 20


@dataclass(frozen=True)
class ArchiveLimits:
    """Limits on what one archive may unpack to, counted on the bytes actually written.

    ``max_ratio`` compares the bytes written so far with the packed bytes read so far, for
    zip and tar alike (gz, bz2, xz): text data packs 3-20 times, zlib cannot pass ~1030, so
    200 stops a gzip bomb after ~30 MB instead of at ``max_total_bytes``.
    """

    max_total_bytes: int = 20 << 30  # 20 GiB unpacked
    max_members: int = 200_000
    max_ratio: float = 200.0  # unpacked / packed bytes so far, once more than RATIO_FLOOR is unpacked

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ArchiveLimits:
        """Defaults, raised or lowered by ``PAPERPACK_ARCHIVE_MAX_BYTES`` and ``PAPERPACK_ARCHIVE_MAX_RATIO``."""
        env = os.environ if env is None else env
        values: dict[str, float] = {}
        for var, name, kind in ((MAX_BYTES_VAR, "max_total_bytes", int), (MAX_RATIO_VAR, "max_ratio", float)):
            raw = env.get(var, "").strip()
            if not raw:
                continue
            try:
                value = kind(raw)
            except ValueError:
                value = 0
            if not value > 0:
                raise ConfigError(
                    f"{var}={raw!r} is not a positive number",
                    hint=f"set {var} to a positive number, or unset it for the default",
                )
            values[name] = value
        return cls(**values)  # type: ignore[arg-type]


class _Writer:
    """Writes members under ``root``, counting bytes and refusing writes through links.

    ``label`` names the archive in messages (the declared path, not the cache's hash name);
    ``consumed()`` says how many packed bytes the extraction has read so far.
    """

    def __init__(self, archive: Path, label: str, root: Path, limits: ArchiveLimits) -> None:
        self.archive, self.label, self.root, self.limits = archive, label, root, limits
        self.real_root = os.path.realpath(root)
        self.total = 0
        self.members = 0
        self.current = ""  # the member being written, for error messages
        self.consumed: Callable[[], int] = lambda: archive.stat().st_size

    def refuse(self, what: str, hint: str = HINT) -> UnsafeArchiveError:
        return UnsafeArchiveError(f"{self.label}: {what}", hint=hint, path=self.archive)

    def member_path(self, name: str) -> str:
        """The member's relative POSIX path, or :class:`UnsafeArchiveError` if it would leave the target."""
        clean = name.replace("\\", "/")
        if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":"):
            raise self.refuse(f"member {name!r} has an absolute path")
        parts = [p for p in clean.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self.refuse(f"member {name!r} points outside the target folder ('..')")
        return "/".join(parts)

    def link_inside(self, member: str, target: str, *, relative_to_member: bool) -> str:
        """The link's target as a path inside the folder, or :class:`UnsafeArchiveError`."""
        if target.startswith("/") or (len(target) > 1 and target[1] == ":"):
            raise self.refuse(f"link {member!r} points to the absolute path {target!r}")
        base = posixpath.dirname(member) if relative_to_member else ""
        joined = posixpath.normpath(posixpath.join(base, target.replace("\\", "/")))
        if joined == ".." or joined.startswith("../"):
            raise self.refuse(f"link {member!r} points outside the target folder ({target!r})")
        return joined

    def _target(self, rel: str) -> Path:
        self.current = rel
        self.members += 1
        if self.members > self.limits.max_members:
            raise self.refuse(f"more than {self.limits.max_members} members")
        target = self.root / rel
        parent = os.path.realpath(target.parent)
        if parent != self.real_root and not parent.startswith(self.real_root + os.sep):
            raise self.refuse(f"member {rel!r} would be written through a link that leads outside the target folder")
        if target.is_symlink():
            raise self.refuse(f"member {rel!r} would overwrite a link")
        return target

    def directory(self, rel: str) -> None:
        if rel:
            self._target(rel).mkdir(parents=True, exist_ok=True)

    def file(self, rel: str, source: IO[bytes], mode: int) -> None:
        self._write(self._target(rel), source, mode)

    def _write(self, target: Path, source: IO[bytes], mode: int) -> None:
        """Copy ``source`` to ``target``, counting every byte against the size and ratio limits."""
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            while block := source.read(1 << 20):
                self.total += len(block)
                if self.total > self.limits.max_total_bytes:
                    raise self.refuse(
                        f"unpacks to more than {self.limits.max_total_bytes} bytes",
                        hint=f"{HINT} (or raise the limit: {MAX_BYTES_VAR})",
                    )
                if self.total > RATIO_FLOOR and self.total > self.limits.max_ratio * max(self.consumed(), 1):
                    raise self.refuse(
                        f"member {self.current!r} brings the archive to {self.total} bytes unpacked from "
                        f"{self.consumed()} packed (ratio above {self.limits.max_ratio:g}): a compression bomb",
                        hint=f"{HINT} (or raise the limit: {MAX_RATIO_VAR})",
                    )
                out.write(block)
        os.chmod(target, 0o755 if mode & 0o111 else 0o644)  # no setuid/setgid/sticky, readable by the run's user

    def symlink(self, rel: str, target: str) -> None:
        self.link_inside(rel, target, relative_to_member=True)
        path = self._target(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
        real = os.path.realpath(path)  # follows links made before this one: chains cannot escape either
        if real != self.real_root and not real.startswith(self.real_root + os.sep):
            raise self.refuse(f"link {rel!r} leads outside the target folder through other links ({target!r})")

    def hardlink(self, rel: str, target: str) -> None:
        inside = self.link_inside(rel, target, relative_to_member=False)
        source = self.root / inside
        if not source.is_file() or source.is_symlink():
            raise self.refuse(f"hard link {rel!r} points to {target!r}, which is not a file extracted before it")
        if inside == rel:
            return  # a link to itself: the file is already there
        with open(source, "rb") as src:  # a copy, counted like any file: links cannot multiply a bomb past the limit
            self._write(self._target(rel), src, source.stat().st_mode)


def _extract_zip(archive: Path, writer: _Writer) -> None:
    size = archive.stat().st_size
    with zipfile.ZipFile(archive) as zf:
        opened = 0  # packed bytes of the members opened so far (a member never reads past its compress_size)
        writer.consumed = lambda: min(opened, size)
        for info in zf.infolist():
            rel = writer.member_path(info.filename)
            mode = info.external_attr >> 16
            if info.is_dir():
                writer.directory(rel)
            elif stat.S_ISLNK(mode):
                writer.symlink(rel, zf.read(info).decode("utf-8", "replace"))
            else:
                opened += info.compress_size
                with zf.open(info) as src:
                    writer.file(rel, src, mode)


#: tarfile's header errors that mean damage (a bad checksum or field, a cut block), not the end of the archive
#: (its ``EOFHeaderError``, ``EmptyHeaderError``); tarfile does not export them
_HEADER_DAMAGE: tuple[type[Exception], ...] = tuple(
    getattr(tarfile, name) for name in ("InvalidHeaderError", "TruncatedHeaderError")
)


class _HeaderRecorder(tarfile.TarInfo):
    """A TarInfo that notes on its TarFile a member header that could not be read.

    After the first member, tarfile stops at such a header without a word, as if the archive ended there: a damaged
    archive would unpack as a shorter one. :func:`_extract_tar` turns the note into the damage it is.
    """

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> _HeaderRecorder:
        try:
            return super().fromtarfile(tarfile_)
        except _HEADER_DAMAGE as exc:
            tarfile_.paperpack_damage = f"member header at byte {tarfile_.offset}: {exc}"  # type: ignore[attr-defined]
            raise


def _extract_tar(archive: Path, writer: _Writer) -> None:
    with open(archive, "rb") as raw, tarfile.open(fileobj=raw, mode="r:*", tarinfo=_HeaderRecorder) as tf:
        writer.consumed = raw.tell  # packed bytes read so far, whatever the compression (gz, bz2, xz, none)
        for member in tf:
            rel = writer.member_path(member.name)
            if member.isdir():
                writer.directory(rel)
            elif member.issym():
                writer.symlink(rel, member.linkname)
            elif member.islnk():
                writer.hardlink(rel, writer.member_path(member.linkname))
            elif member.isfile():
                src = tf.extractfile(member)
                assert src is not None
                with src:
                    writer.file(rel, src, member.mode)
            else:
                raise writer.refuse(f"member {member.name!r} is a device or FIFO, which data archives never need")
        damage = getattr(tf, "paperpack_damage", None)
        if damage is not None:  # the members after it were never read: the archive stops being readable there
            raise tarfile.ReadError(f"unreadable {damage}; the members after it are lost")


def open_up(root: Path) -> None:
    """Folders 0755, files 0644 (0755 if executable): what the run's user (not the owner) needs to read.

    ``mkdtemp`` makes the root 0700 and ``mkdir`` follows the umask; a run's container user
    is not the user who fetched (often root), so the modes are set here, links left alone.
    """
    os.chmod(root, 0o755)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755 if os.stat(path).st_mode & 0o100 else 0o644)


def _damaged(label: str, archive: Path, exc: BaseException) -> DataError:
    return DataError(
        f"{label}: the archive is damaged: {exc}",
        hint="delete it from the cache and fetch again (`paperpack data fetch`)",
        path=archive,
    )


def extract_archive(
    archive: Path, dest: Path, *, limits: ArchiveLimits | None = None, label: str | None = None
) -> Path:
    """Unpack ``archive`` into the folder ``dest`` (which must not exist yet) and return it.

    ``label`` names the archive in messages (default: its file name); pass the declared path.
    """
    limits = limits or ArchiveLimits.from_env()
    label = label or archive.name
    if zipfile.is_zipfile(archive):
        extract = _extract_zip
    elif tarfile.is_tarfile(archive):
        extract = _extract_tar
    else:
        raise DataError(
            f"{label}: declared with `extract: true` but is neither a zip nor a tar archive",
            hint="remove `extract: true`, or point the entry at the archive",
            path=archive,
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        writer = _Writer(archive, label, tmp, limits)
        try:
            extract(archive, writer)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError) as exc:
            raise _damaged(label, archive, exc) from None
        except OSError as exc:  # e.g. a file `a` then a member `a/b`, or a folder where a file should go
            if exc.errno is None:  # bz2 (in a tar or a zip) says "Invalid data stream" so: the data, not the disk
                raise _damaged(label, archive, exc) from None
            if exc.errno in (errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise writer.refuse(
                    f"member {writer.current!r} cannot be extracted: {exc.strerror} (the archive holds both a file "
                    "and a folder, or two entries, at the same path)"
                ) from None
            raise DataError(
                f"{label}: cannot extract member {writer.current!r} into {dest.parent}: {exc.strerror or exc}",
                hint="check that the cache folder is writable and has room, then run `paperpack data fetch` again",
                path=archive,
            ) from None
        open_up(tmp)
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
