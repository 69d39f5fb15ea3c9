"""Resumable, hash-checked downloads into a partial file (pooch's ``stream_download`` habit).

The bytes go to a ``.part`` file named after the source; an interrupted download
keeps it and the next attempt asks for the rest with ``Range``. When the file is
complete its hashes are checked against the expected one; on a mismatch the partial
file is deleted and the error names both hashes. The caller moves the verified file
into place.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Callable

import requests
import urllib3

from .errors import ChecksumError, DataError
from .httpclient import HttpClient, NetworkError

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


def _total(response: requests.Response, start: int) -> int | None:
    if response.status_code == 206:
        rng = response.headers.get("Content-Range", "")
        if "/" in rng and rng.rsplit("/", 1)[1].isdigit():
            return int(rng.rsplit("/", 1)[1])
    length = response.headers.get("Content-Length")
    if length and length.isdigit():
        return int(length) + (start if response.status_code == 206 else 0)
    return None


def download(client: HttpClient, url: str, partial: Path, *, expected: tuple[str, str] | None = None,
             size: int | None = None, label: str = "", progress: Progress | None = None) -> dict[str, str]:
    """Download ``url`` into ``partial`` (resuming it), check it, and return its hashes.

    Raises :class:`DataError` for an HTTP error or a cut-off transfer (the partial
    file is kept for resuming) and :class:`ChecksumError` for a wrong hash or size
    (the partial file is deleted).
    """
    label = label or url
    partial.parent.mkdir(parents=True, exist_ok=True)
    start = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={start}-"} if start else {}
    try:
        response = client.get(url, headers=headers, stream=True)
    except NetworkError as exc:
        raise DataError(f"{label}: cannot download {url}: {exc.message}", hint=RESUME_HINT) from None
    with response:
        if response.status_code == 416 and start:  # nothing left to send: the partial file is complete
            pass
        elif response.status_code not in (200, 206):
            raise DataError(f"{label}: {url} answered HTTP {response.status_code}",
                            hint="check the URL (or the DOI record); if the server is down, try again later")
        else:
            if response.status_code == 200 and start:
                log.debug("%s: server ignored Range; starting again", url)
                start = 0
            total = _total(response, start)
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
                raise DataError(f"{label}: download of {url} was cut off after {done} of "
                                f"{total if total is not None else '?'} bytes; the partial file is kept",
                                hint=RESUME_HINT) from None
            if total is not None and done < total:
                raise DataError(f"{label}: download of {url} was cut off after {done} of {total} bytes; "
                                "the partial file is kept", hint=RESUME_HINT)
    hashes = hash_file(partial)
    actual_size = partial.stat().st_size
    if expected is not None and hashes[expected[0]] != expected[1]:
        partial.unlink()
        raise ChecksumError(
            f"{label}: {expected[0]} of the download from {url} is {hashes[expected[0]]}, expected {expected[1]}; "
            "the download was deleted",
            hint="the file changed on the server, or the hash in paperpack.yml (or the DOI record) is wrong; "
                 "if the new file is right, correct the hash")
    if size is not None and actual_size != size:
        partial.unlink()
        raise ChecksumError(f"{label}: the download from {url} has {actual_size} bytes, expected {size}; "
                            "the download was deleted",
                            hint="correct `size:` in paperpack.yml, or check that the URL is the published file")
    return hashes
