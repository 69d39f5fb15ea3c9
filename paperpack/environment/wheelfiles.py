"""The top-level modules a wheel on a package index installs, read from the wheel's own file list.

``import fancymod`` may be provided by the distribution ``fancy-dist``: only the wheel knows. A
wheel is a zip file whose central directory (at its end) lists every file it installs, the same
list as its RECORD; ``*.dist-info/top_level.txt``, where the build tool wrote one, names the
top-level packages too. Both are read here without downloading the wheel: HTTP range requests
fetch the zip's tail (the central directory, usually a few KB) and, if present, top_level.txt
— the way pip's "fast-deps" reads metadata. A server that ignores ``Range`` sends the whole
file, which is read only up to :data:`MAX_WHOLE` bytes. A ``file:`` URL (pip's find-links folder, a local
index) is read in place.

The index is the one pip is configured with (the user's choice, as for pip itself), reached
through :class:`~paperpack.util.httpclient.HttpClient`; nothing of the wheel is executed or written.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from ..errors import PaperpackError
from ..notebook.importmap import modules_from_names
from ..util.httpclient import HttpClient

__all__ = ["wheel_modules", "remote_wheels_modules", "MAX_WHOLE"]

log = logging.getLogger(__name__)

#: the tail fetched first: the central directory of a wheel with a few hundred files fits in it
TAIL = 64 << 10
#: a server that ignores Range sends the whole wheel: read it only up to this size (bytes)
MAX_WHOLE = 16 << 20
#: a central directory larger than this (a wheel of >100,000 files) is not read
MAX_DIRECTORY = 16 << 20


class _NoRange(Exception):
    """The server answered a range request with something else than the range."""


def _modules_of_zip(zf: zipfile.ZipFile) -> list[str]:
    names = zf.namelist()
    top = next(
        (
            n
            for n in names
            if n.count("/") == 1 and n.split("/")[0].endswith(".dist-info") and n.endswith("/top_level.txt")
        ),
        None,
    )
    text = ""
    if top is not None and zf.getinfo(top).file_size <= 1 << 20:
        text = zf.read(top).decode("utf-8", "replace")
    return modules_from_names(names, text)


class _RangeFile(io.RawIOBase):
    """A read-only, seekable view of a remote file: each read not yet fetched is one range request."""

    def __init__(self, client: HttpClient, url: str, size: int, tail: bytes) -> None:
        super().__init__()
        self._client, self._url, self._size, self._pos = client, url, size, 0
        self._pieces: list[tuple[int, bytes]] = [(size - len(tail), tail)]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (never allocated before the size is checked: a zip may claim any size)."""
        want = self._size - self._pos if size is None or size < 0 else min(size, self._size - self._pos)
        if want <= 0:
            return b""
        data = self._bytes(self._pos, want)
        self._pos += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def _bytes(self, start: int, length: int) -> bytes:
        for begin, piece in self._pieces:
            if begin <= start and start + length <= begin + len(piece):
                return piece[start - begin : start - begin + length]
        if length > MAX_DIRECTORY:
            raise _NoRange(f"a read of {length} bytes")
        end = min(self._size, start + max(length, 8 << 10)) - 1
        response = self._client.get(self._url, headers={"Range": f"bytes={start}-{end}"})
        if response.status_code != 206 or len(response.content) != end - start + 1:
            raise _NoRange(f"HTTP {response.status_code}")
        self._pieces.append((start, response.content))
        return response.content[:length]


def wheel_modules(url: str, client: HttpClient) -> list[str] | None:
    """The top-level modules the wheel at ``url`` installs, or ``None`` when its file list cannot be read."""
    if not url.split("#")[0].split("?")[0].endswith(".whl"):
        return None
    if url.startswith("file:"):  # a wheel of pip's find-links folder or a local index: read in place
        return _local_wheel_modules(Path(url2pathname(urlsplit(url).path)))
    try:
        response = client.get(url, headers={"Range": f"bytes=-{TAIL}"}, stream=True)
        with response:
            if response.status_code == 206:
                total = response.headers.get("Content-Range", "").rpartition("/")[2]
                tail = response.content
                if not total.isdigit():
                    return None
                source: io.RawIOBase | io.BytesIO = _RangeFile(client, url, int(total), tail)
            elif response.status_code == 200:
                data = response.raw.read(MAX_WHOLE + 1, decode_content=True)
                if len(data) > MAX_WHOLE:
                    log.debug("%s: no range requests, and larger than %d bytes: not read", url, MAX_WHOLE)
                    return None
                source = io.BytesIO(data)
            else:
                return None
        with zipfile.ZipFile(source) as zf:
            return _modules_of_zip(zf)
    except (PaperpackError, _NoRange, zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        log.debug("%s: file list not read (%s)", url, exc)
        return None


def _local_wheel_modules(path: Path) -> list[str] | None:
    try:
        with zipfile.ZipFile(path) as zf:
            return _modules_of_zip(zf)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        log.debug("%s: file list not read (%s)", path, exc)
        return None


def remote_wheels_modules(
    urls: Mapping[str, str], client: HttpClient | None = None, workers: int = 8
) -> dict[str, list[str]]:
    """``{distribution: top-level modules}`` for each ``{distribution: wheel URL}`` whose file list was read."""
    if not urls:
        return {}
    own = client is None
    http = client or HttpClient()
    try:
        with ThreadPoolExecutor(max_workers=min(workers, len(urls))) as pool:
            found = dict(zip(urls, pool.map(lambda url: wheel_modules(url, http), urls.values())))
    finally:
        if own:
            http.close()
    return {dist: modules for dist, modules in found.items() if modules is not None}
