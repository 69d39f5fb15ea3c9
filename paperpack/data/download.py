"""Resumable, hash-checked downloads into a partial file (pooch's ``stream_download`` habit).

The bytes go to a ``.part`` file named after the source; an interrupted download
keeps it, with the server's ETag or Last-Modified beside it, and the next attempt asks
for the rest with ``Range`` and ``If-Range``; an answer that does not continue that very
version (a new file, a range starting elsewhere) restarts from zero. When the file is
complete its hashes are checked against the expected one; on a mismatch the partial
file is deleted and the error names both hashes. The caller moves the verified file
into place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3

from ..errors import ChecksumError, DataError, UnsafeUrlError
from ..util.atomic import write_json_atomic
from ..util.httpclient import HttpClient, NetworkError

__all__ = ["download", "Progress"]

log = logging.getLogger(__name__)

#: ``progress(bytes_done, bytes_total_or_None)`` after every block.
Progress = Callable[[int, "int | None"], None]

RESUME_HINT = "run `paperpack data fetch` again: it resumes where this one stopped"


#: (device, inode, size, mtime, ctime) of a file -> its hashes; a build reads each committed data file once
#: (the image tag, `ensure_data` and the run's mounts all ask for them).
_HASHES: dict[tuple[int, ...], dict[str, str]] = {}
_HASHES_LOCK = threading.Lock()
_HASHES_MAX = 4096


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def hash_file(path: Path, chunk: int = 1 << 20) -> dict[str, str]:
    """sha256 and md5 of a file, read once (and not again in this process while it is unchanged)."""
    with path.open("rb") as fh:
        before = _identity(os.fstat(fh.fileno()))
        with _HASHES_LOCK:
            known = _HASHES.get(before)
        if known is not None:
            return dict(known)
        sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        for block in iter(lambda: fh.read(chunk), b""):
            sha.update(block)
            md5.update(block)
        after = _identity(os.fstat(fh.fileno()))
    hashes = {"sha256": sha.hexdigest(), "md5": md5.hexdigest()}
    if after == before:  # not written to while it was read
        with _HASHES_LOCK:
            if len(_HASHES) >= _HASHES_MAX:
                _HASHES.clear()
            _HASHES[before] = hashes
    return dict(hashes)


@dataclass(frozen=True)
class _Validator:
    """What identifies the version of a partial file: the URL and the server's ETag or Last-Modified.

    Kept beside the partial file (``<partial>.json``); a download resumes only with it, sending
    ``If-Range`` so that a server whose file changed sends the whole new file instead of the rest.
    """

    url: str
    if_range: str  # a strong ETag, else Last-Modified
    total: int | None

    @staticmethod
    def path(partial: Path) -> Path:
        return partial.with_name(partial.name + ".json")

    @classmethod
    def of(cls, url: str, response: requests.Response, total: int | None) -> _Validator | None:
        etag = response.headers.get("ETag", "").strip()
        value = etag if etag.startswith('"') else response.headers.get("Last-Modified", "").strip()  # no weak ETag
        return cls(url, value, total) if value else None

    @classmethod
    def load(cls, partial: Path, url: str) -> _Validator | None:
        try:
            body = json.loads(cls.path(partial).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (
            not isinstance(body, dict)
            or body.get("url") != url
            or not isinstance(body.get("if_range"), str)
            or not body["if_range"]
            or not isinstance(body.get("total"), (int, type(None)))
        ):
            return None
        return cls(url, body["if_range"], body["total"])

    def save(self, partial: Path) -> None:
        write_json_atomic(self.path(partial), {"url": self.url, "if_range": self.if_range, "total": self.total})


def _discard(partial: Path) -> None:
    """Delete a partial download and its validator."""
    for path in (partial, _Validator.path(partial)):
        path.unlink(missing_ok=True)


_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")


def _range_problem(
    response: requests.Response, start: int, known: int | None, validator: _Validator | None = None
) -> str | None:
    """Why a 206 answer cannot continue a partial file of ``start`` bytes (of ``known`` in all), or ``None``."""
    if validator is not None:
        now = response.headers.get("ETag" if validator.if_range.startswith('"') else "Last-Modified", "").strip()
        if now and now != validator.if_range:
            return f"the file changed on the server ({validator.if_range} when the download began, now {now})"
    rng = response.headers.get("Content-Range", "")
    m = _CONTENT_RANGE.match(rng)
    if m is None:
        return f"the server answered a range without a valid Content-Range ({rng!r})"
    first, last, total = int(m.group(1)), int(m.group(2)), m.group(3)
    if first != start:
        return f"the server sent bytes from {first}, not from {start} where the partial file ends"
    if total != "*":
        if last != int(total) - 1:
            return f"the server sent bytes {first}-{last} of {total}, not the rest of the file"
        if known is not None and int(total) != known:
            return f"the file is now {total} bytes, it was {known} when the download began"
    return None


def _total(response: requests.Response, start: int) -> int | None:
    if response.status_code == 206:
        rng = response.headers.get("Content-Range", "")
        if "/" in rng and rng.rsplit("/", 1)[1].isdigit():
            return int(rng.rsplit("/", 1)[1])
    length = response.headers.get("Content-Length")
    if length and length.isdigit():
        return int(length) + (start if response.status_code == 206 else 0)
    return None


def _request(client: HttpClient, url: str, headers: dict[str, str], label: str) -> requests.Response:
    try:
        return client.get_untrusted(url, headers=headers, stream=True)
    except NetworkError as exc:
        raise DataError(f"{label}: cannot download {url}: {exc.message}", hint=RESUME_HINT) from None
    except UnsafeUrlError as exc:
        raise UnsafeUrlError(f"{label}: refused to download {url}: {exc.message}", hint=exc.hint) from None


def _open(
    client: HttpClient,
    url: str,
    partial: Path,
    label: str,
    size: int | None,
) -> tuple[requests.Response, int]:
    """The response to continue (or restart) ``partial`` with, and the offset its body starts at.

    A partial file is continued only with its validator (``If-Range``) and a 206 answer whose
    ``Content-Range`` starts where the file ends and agrees on the total; anything else
    restarts from zero, so two versions of a file are never spliced together.
    """
    start = partial.stat().st_size if partial.exists() else 0
    validator = _Validator.load(partial, url) if start else None
    if start and validator is None:
        log.debug("%s: the partial download has no validator (ETag or Last-Modified); starting again", label)
        _discard(partial)
        start = 0
    headers = {"Range": f"bytes={start}-", "If-Range": validator.if_range} if validator else {}
    response = _request(client, url, headers, label)
    if not start or response.status_code == 200:
        return response, 0  # a 200 is the whole (maybe new) file
    problem = (
        _range_problem(response, start, validator.total if validator else size, validator)
        if response.status_code == 206
        else f"the server answered HTTP {response.status_code} to the range request"
    )
    if problem is None:
        return response, start
    response.close()
    log.info("%s: %s; downloading it again from the start", label, problem)
    _discard(partial)
    return _request(client, url, {}, label), 0


def download(
    client: HttpClient,
    url: str,
    partial: Path,
    *,
    expected: tuple[str, str] | None = None,
    size: int | None = None,
    label: str = "",
    progress: Progress | None = None,
) -> dict[str, str]:
    """Download ``url`` into ``partial`` (resuming it when that is safe), check it, and return its hashes.

    The URL is untrusted: :meth:`HttpClient.get_untrusted` applies the data policy to it
    and to every redirect (:class:`UnsafeUrlError`). Raises :class:`DataError` for an HTTP
    error or a cut-off transfer (the partial file is kept for resuming) and
    :class:`ChecksumError` for a wrong hash or size (the partial file is deleted).
    """
    label = label or url
    partial.parent.mkdir(parents=True, exist_ok=True)
    response, start = _open(client, url, partial, label, size)
    with response:
        if response.status_code not in (200, 206) or (
            response.status_code == 206 and not start and _range_problem(response, 0, size) is not None
        ):
            raise DataError(
                f"{label}: {url} answered HTTP {response.status_code}",
                hint="check the URL (or the DOI record); if the server is down, try again later",
            )
        total = _total(response, start)
        if not start:
            _discard(partial)
            validator = _Validator.of(url, response, total)
            if validator is not None:  # written before the bytes: a partial file never lacks its version
                validator.save(partial)
        done = start
        try:
            with partial.open("ab" if start else "wb") as out:
                for block in response.iter_content(1 << 16):
                    out.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            log.debug("download of %s interrupted: %s", url, exc)
            raise DataError(
                f"{label}: download of {url} was cut off after {done} of "
                f"{total if total is not None else '?'} bytes; the partial file is kept",
                hint=RESUME_HINT,
            ) from None
        if total is not None and done < total:
            raise DataError(
                f"{label}: download of {url} was cut off after {done} of {total} bytes; the partial file is kept",
                hint=RESUME_HINT,
            )
    _Validator.path(partial).unlink(missing_ok=True)  # complete: nothing left to resume
    hashes = hash_file(partial)
    actual_size = partial.stat().st_size
    if expected is not None and hashes[expected[0]] != expected[1]:
        partial.unlink()
        raise ChecksumError(
            f"{label}: {expected[0]} of the download from {url} is {hashes[expected[0]]}, expected {expected[1]}; "
            "the download was deleted",
            hint="the file changed on the server, or the hash in paperpack.yml (or the DOI record) is wrong; "
            "if the new file is right, correct the hash",
        )
    if size is not None and actual_size != size:
        partial.unlink()
        raise ChecksumError(
            f"{label}: the download from {url} has {actual_size} bytes, expected {size}; the download was deleted",
            hint="correct `size:` in paperpack.yml, or check that the URL is the published file",
        )
    return hashes
