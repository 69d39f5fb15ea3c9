"""The content-addressed data cache: blobs by sha256, aliases, record listings, locks."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from ..util.atomic import write_atomic, write_json_atomic
from ..util.cache import data_dir

if TYPE_CHECKING:
    from .declared import DeclaredFile

CACHE_HINT = "pass a writable folder with --cache-dir, or set PAPERPACK_CACHE_DIR to one (the same folder either way)"
_HEX = re.compile(r"^[0-9a-f]+$")
LISTING_VERSION = 1


def _name_of(key: str) -> str:
    """The file name standing for a source key in the store (its sha256)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class DataStore:
    """The content-addressed data cache under ``<root>`` (``<paperpack cache>/data``: :meth:`in_cache`).

    Layout: ``sha256/<hex>`` the files; ``md5/<hex>`` and ``keys/<sha256 of key>``
    small text files naming the sha256 of a blob; ``extracted/<hex>/`` unpacked
    archives; ``records/<sha256 of doi>.json`` the file list of a DOI's record, saved
    when it was fetched (so runs know it without network); ``partial/`` downloads in
    progress (resumable); ``locks/`` one lock file per source, held while it is downloaded.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else data_dir()

    @classmethod
    def in_cache(cls, cache: Path | None = None) -> DataStore:
        """The store in paperpack's cache folder ``cache`` (``--cache-dir``, default :func:`~paperpack.util.cache.cache_dir`).

        ``--cache-dir X`` and ``PAPERPACK_CACHE_DIR=X`` both put the store in ``X/data``.
        """
        return cls(data_dir(cache))

    def blob(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256.lower()

    def extracted(self, sha256: str) -> Path:
        return self.root / "extracted" / sha256.lower()

    def partial(self, key: str) -> Path:
        return self.root / "partial" / (_name_of(key) + ".part")

    def prepare(self) -> None:
        """Create the store's folders, or raise :class:`DataError` naming the folder that cannot be made."""
        try:
            for sub in ("partial", "locks"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(
                f"cannot use {self.root} as the data cache: {exc.strerror or exc}", hint=CACHE_HINT, path=self.root
            ) from None

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold the lock of ``key`` across processes (``flock`` on ``locks/<sha256 of key>.lock``).

        Threads of one process also serialise on it: each ``flock`` call opens its own file
        description, and those exclude one another. The lock file stays (deleting it would race).
        """
        path = self.root / "locks" / (_name_of(key) + ".lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataError(
                f"cannot create the lock file {path}: {exc.strerror or exc}", hint=CACHE_HINT, path=path
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _alias(self, kind: str, name: str) -> Path:
        return self.root / kind / name

    def remember(self, sha256: str, *, md5: str | None = None, key: str | None = None) -> None:
        """Record that ``md5`` and the source ``key`` name the blob ``sha256``."""
        if md5:
            write_atomic(self._alias("md5", md5.lower()), sha256.encode("ascii"))
        if key:
            write_atomic(self._alias("keys", _name_of(key)), sha256.encode("ascii"))

    def _read_alias(self, kind: str, name: str) -> str | None:
        try:
            value = self._alias(kind, name).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return value if len(value) == 64 and _HEX.match(value) else None

    def find(self, declared: DeclaredFile) -> str | None:
        """The sha256 of the cached blob for ``declared``, or ``None`` if not fetched."""
        expected = declared.expected
        if expected is None:
            sha = self._read_alias("keys", _name_of(declared.key))
        else:
            sha = expected[1] if expected[0] == "sha256" else self._read_alias("md5", expected[1])
        return sha if sha and self.blob(sha).is_file() else None

    def mount_source(self, declared: DeclaredFile, sha256: str) -> Path:
        return self.extracted(sha256) if declared.extract else self.blob(sha256)

    def _listing_path(self, doi: str) -> Path:
        return self.root / "records" / (_name_of(f"doi:{doi.lower()}") + ".json")

    def save_listing(self, doi: str, files: list[dict[str, Any]]) -> None:
        """Remember the file list of ``doi``'s record: ``[{"name", "sha256"|"md5", "size"}, …]``."""
        write_json_atomic(self._listing_path(doi), {"version": LISTING_VERSION, "doi": doi, "files": files})

    def listing(self, doi: str) -> list[dict[str, Any]] | None:
        """The saved file list of ``doi``'s record, or ``None`` if it was never fetched (or is unreadable)."""
        try:
            body = json.loads(self._listing_path(doi).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        files = body.get("files") if isinstance(body, dict) and body.get("version") == LISTING_VERSION else None
        if not isinstance(files, list) or not all(
            isinstance(f, dict) and isinstance(f.get("name"), str) for f in files
        ):
            return None
        return files
