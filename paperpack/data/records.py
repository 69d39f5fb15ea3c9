"""Data records behind a DOI: a Zenodo-style records API gives the file list and checksums.

``10.5281/zenodo.<id>`` names its record directly; any other DOI is resolved through
the handle API and its landing URL is read for ``/record(s)/<id>`` (Zenodo and other
InvenioRDM sites). The API base URL is configuration (``PAPERPACK_ZENODO_API``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from ..doi.resolve import FOUND, HandleApi, shape_of
from ..errors import DataError
from ..util.httpclient import HttpClient, NetworkError, ServiceConfig

__all__ = ["RecordFile", "DataRecord", "record_id_for", "fetch_record"]

NETWORK_HINT = (
    "fetching data needs the network once: check it (and PAPERPACK_DOI_RESOLVER / PAPERPACK_ZENODO_API "
    "for a mirror), then run `paperpack data fetch` again; or commit the files with their sha256"
)
_ZENODO_DOI = re.compile(r"^10\.5281/zenodo\.(\d+)$")
_RECORD_URL = re.compile(r"/records?/(\d+)(?:[/?#]|$)")


@dataclass(frozen=True)
class RecordFile:
    name: str
    url: str
    checksum: tuple[str, str] | None  # (algorithm, hex)
    size: int | None


@dataclass(frozen=True)
class DataRecord:
    doi: str
    record_id: str
    files: dict[str, RecordFile]

    def file(self, name: str) -> RecordFile:
        if name in self.files:
            return self.files[name]
        close = difflib.get_close_matches(name, list(self.files), n=1)
        guess = f"; did you mean {close[0]!r}?" if close else "."
        listing = ", ".join(sorted(self.files)[:10]) or "no files"
        raise DataError(
            f"the record of {self.doi} (record {self.record_id}) has no file named {name!r}{guess} It has: {listing}",
            hint="set `name:` of the file in paperpack.yml to its name in the record",
        )


def record_id_for(doi: str, client: HttpClient, config: ServiceConfig) -> str:
    """The records-API id for ``doi``, from the DOI itself or from its landing URL."""
    if m := _ZENODO_DOI.match(doi.lower()):
        return m.group(1)
    try:
        record = HandleApi(config).lookup(doi, client)
    except NetworkError as exc:
        raise DataError(f"cannot resolve {doi} to find its files: {exc.message}", hint=NETWORK_HINT) from None
    if record.status != FOUND:
        raise DataError(
            f"{doi}: {record.reason or record.status}",
            hint="check the DOI under `data:` in paperpack.yml (`paperpack validate` says more)",
        )
    if record.url and (m := _RECORD_URL.search(record.url)):
        return m.group(1)
    raise DataError(
        f"{doi} lands on {record.url or 'no URL'}, which is not a Zenodo-style record, so paperpack "
        "cannot list its files",
        hint="give each file's download `url:` (and `sha256:`) in paperpack.yml",
    )


def _checksum(value: Any) -> tuple[str, str] | None:
    if isinstance(value, str) and ":" in value:
        algo, _, hexdigest = value.partition(":")
        if algo.lower() in ("md5", "sha256"):
            return algo.lower(), hexdigest.lower()
    return None


def _malformed(url: str, doi: str, what: str) -> DataError:
    return DataError(
        f"{url} answered a record of the wrong shape for {doi}: {what}",
        hint="check PAPERPACK_ZENODO_API (it must be a Zenodo-style records API, e.g. "
        "https://zenodo.org/api), or give each file's `url:` in paperpack.yml",
    )


def _entries(body: Any, url: str, doi: str) -> list[dict[str, Any]]:
    """The file entries of a record; :class:`DataError` if the record or an entry has the wrong shape."""
    if not isinstance(body, dict):
        raise _malformed(url, doi, f"the record is {shape_of(body)}, not an object")
    files = body.get("files")
    if files is None:
        return []
    if isinstance(files, dict):  # InvenioRDM: {"entries": {key: {...}}}
        entries = files.get("entries")
        if entries is None:
            return []
        if not isinstance(entries, dict):
            raise _malformed(url, doi, f"`files.entries` is {shape_of(entries)}, not an object")
        items = [
            (f"files.entries[{k!r}]", dict(v, key=v.get("key", k)) if isinstance(v, dict) else v)
            for k, v in entries.items()
        ]
    elif isinstance(files, list):
        items = [(f"files[{i}]", v) for i, v in enumerate(files)]
    else:
        raise _malformed(url, doi, f"`files` is {shape_of(files)}, not a list")
    out = []
    for where, entry in items:
        if not isinstance(entry, dict):
            raise _malformed(url, doi, f"`{where}` is {shape_of(entry)}, not an object")
        links = entry.get("links")
        if links is not None and not isinstance(links, dict):
            raise _malformed(url, doi, f"`{where}.links` is {shape_of(links)}, not an object")
        out.append(entry)
    return out


def fetch_record(doi: str, client: HttpClient, config: ServiceConfig) -> DataRecord:
    """The record behind ``doi`` with its files, download URLs and checksums."""
    record_id = record_id_for(doi, client, config)
    url = f"{config.zenodo_api}/records/{record_id}"
    try:
        response = client.get(url, headers={"Accept": "application/json"})
    except NetworkError as exc:
        raise DataError(f"cannot read the record of {doi}: {exc.message}", hint=NETWORK_HINT) from None
    if response.status_code != 200:
        raise DataError(
            f"{url} answered HTTP {response.status_code} for the record of {doi}",
            hint="check the DOI, or give each file's `url:` in paperpack.yml",
        )
    try:
        body = response.json()
    except ValueError:
        raise DataError(
            f"{url} did not answer JSON for the record of {doi}",
            hint="check PAPERPACK_ZENODO_API (it must be the records API base, e.g. https://zenodo.org/api)",
        ) from None
    files: dict[str, RecordFile] = {}
    for entry in _entries(body, url, doi):
        name = entry.get("key") or entry.get("filename")
        links = entry.get("links") or {}
        link = links.get("content") or links.get("download") or links.get("self")
        if isinstance(name, (str, int)) and name != "" and isinstance(link, str) and link:
            size = entry.get("size") if isinstance(entry.get("size"), int) else None
            files[str(name)] = RecordFile(str(name), str(link), _checksum(entry.get("checksum")), size)
    return DataRecord(doi, record_id, files)
