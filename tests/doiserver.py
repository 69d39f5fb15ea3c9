"""A real HTTP server on 127.0.0.1 standing in for the DOI services and data downloads.

It serves, from one port:

- the DOI handle API          ``/api/handles/<doi>``
- DataCite (JSON:API)         ``/dois/<doi>``
- Crossref (works)            ``/works/<doi>``
- content negotiation (CSL)   ``/<doi>`` with ``Accept: application/vnd.citationstyles.csl+json``
- "Which RA?"                 ``/ra/<doi>[,<doi>…]`` (the registration agency, as doi.org answers it)
- a Zenodo-style records API  ``/api/records/<id>`` (files with ``md5:`` checksums)
- file downloads              ``/files/<name>`` (``Range`` and ``If-Range``, with ETag and Last-Modified;
                              :class:`FileOptions` makes a server that misbehaves on ranges)
- ``/_stats`` and ``/_reset``: the request count, for a server run in another process

Behaviour switches: :meth:`DoiServer.script` queues one-off answers for a path
(``429`` with ``Retry-After``, ``500``, a slow answer, a download cut off half-way,
a JSON body of the wrong shape);
``delay`` slows every answer (the benchmark uses 50 ms). Every request is counted.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit


@dataclass
class Action:
    """A one-off answer: ``status`` (with ``retry_after``, or ``location`` for a redirect), ``delay`` seconds
    first, ``cut`` the body, or ``body``: this JSON (of any shape) with ``status`` or 200."""

    status: int | None = None
    retry_after: str | None = None
    location: str | None = None
    delay: float = 0.0
    cut: bool = False
    body: Any = None


@dataclass
class FileOptions:
    """How ``/files/<name>`` answers: validators sent (``etag``, ``last_modified``), whether ``If-Range`` is
    honoured, and ``range_shift``: a Content-Range (and body) starting that many bytes off the asked start."""

    etag: bool = True
    last_modified: bool = True
    honour_if_range: bool = True
    range_shift: int = 0
    version: int = 0


#: The name /ra/ gives each kind of DOI by default.
_RA_NAMES = {"datacite": "DataCite", "crossref": "Crossref", "other": "mEDRA"}


@dataclass
class Doi:
    doi: str
    agency: str  # "datacite", "crossref" or "other" (content negotiation only)
    title: str
    type: str
    year: int
    url: str
    ra: str  # the registration agency /ra/ names (and CSL's ``source``)
    csl_source: bool = True  # whether content negotiation's CSL JSON carries ``source``
    published: str | None = None  # YYYY-MM-DD: the day of publication each service gives in its own form


@dataclass
class ServerState:
    dois: dict[str, Doi] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    file_options: dict[str, FileOptions] = field(default_factory=dict)
    records: dict[str, Any] = field(default_factory=dict)
    scripts: dict[str, list[Action]] = field(default_factory=dict)
    delay: float = 0.0
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (path, Range, If-Range)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stalls

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        return

    def _send(
        self,
        status: int,
        body: bytes,
        ctype: str = "application/json",
        headers: dict[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _json(self, status: int, obj: Any, ctype: str = "application/json") -> None:
        self._send(status, json.dumps(obj).encode(), ctype)

    def do_GET(self) -> None:  # noqa: N802
        state = self.server.state
        path = unquote(urlsplit(self.path).path)
        if path in ("/_stats", "/_reset"):  # control endpoints for a server in another process; not counted
            with state.lock:
                count = len(state.requests)
                if path == "/_reset":
                    state.requests.clear()
            self._json(200, {"requests": count})
            return
        with state.lock:
            state.requests.append((path, self.headers.get("Range", ""), self.headers.get("If-Range", "")))
            queue = state.scripts.get(path)
            action = queue.pop(0) if queue else None
        delay = state.delay + (action.delay if action else 0.0)
        if delay:
            time.sleep(delay)
        if action and action.body is not None:
            self._json(action.status or 200, action.body)
            return
        if action and action.status:
            headers = {"Retry-After": action.retry_after} if action.retry_after else {}
            if action.location:
                headers["Location"] = action.location
            self._send(action.status, b'{"error": "scripted"}', headers=headers)
            return
        try:
            self._route(path, cut=bool(action and action.cut))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _route(self, path: str, *, cut: bool) -> None:
        state = self.server.state
        base = f"{self.server.scheme}://{self.headers.get('Host')}"
        if path.startswith("/ra/"):
            self._ra()
        elif m := re.fullmatch(r"/api/handles/(.+)", path):
            d = state.dois.get(m.group(1).lower())
            if d is None:
                self._json(404, {"responseCode": 100, "handle": m.group(1)})
            else:
                self._json(
                    200,
                    {
                        "responseCode": 1,
                        "handle": d.doi,
                        "values": [
                            {
                                "index": 1,
                                "type": "URL",
                                "data": {"format": "string", "value": d.url.replace("{base}", base)},
                            }
                        ],
                    },
                )
        elif m := re.fullmatch(r"/dois/(.+)", path):
            d = state.dois.get(m.group(1).lower())
            if d is None or d.agency != "datacite":
                self._json(
                    404, {"errors": [{"status": "404", "title": "The resource you are looking for doesn't exist."}]}
                )
            else:
                attributes = {
                    "doi": d.doi,
                    "titles": [{"title": d.title}],
                    "publicationYear": d.year,
                    "types": {"resourceTypeGeneral": d.type},
                    "url": d.url,
                }
                if d.published:
                    attributes["dates"] = [
                        {"date": "2019-01-02", "dateType": "Created"},
                        {"date": d.published, "dateType": "Issued"},
                    ]
                self._json(
                    200, {"data": {"id": d.doi, "type": "dois", "attributes": attributes}}, "application/vnd.api+json"
                )
        elif m := re.fullmatch(r"/works/(.+)", path):
            d = state.dois.get(m.group(1).lower())
            if d is None or d.agency != "crossref":
                self._send(404, b"Resource not found.", "text/plain")
            else:
                message = {
                    "DOI": d.doi,
                    "title": [d.title],
                    "type": d.type,
                    "URL": d.url,
                    "issued": {"date-parts": [[d.year]]},
                }
                if d.published:
                    message["published"] = {"date-parts": [[int(x) for x in d.published.split("-")]]}
                self._json(200, {"status": "ok", "message": message})
        elif m := re.fullmatch(r"/api/records/(\w+)", path):
            rec = state.records.get(m.group(1))
            if rec is None:
                self._json(404, {"status": 404, "message": "PID does not exist."})
            else:
                self._json(200, json.loads(json.dumps(rec).replace("{base}", base)))
        elif m := re.fullmatch(r"/files/(.+)", path):
            self._file(m.group(1), cut=cut)
        elif m := re.fullmatch(r"/(10\..+)", path):
            d = state.dois.get(m.group(1).lower())
            if d is None:
                self._send(404, b"DOI not found", "text/plain")
            else:
                issued = [int(x) for x in d.published.split("-")] if d.published else [d.year]
                csl = {"DOI": d.doi, "title": d.title, "type": d.type, "URL": d.url, "issued": {"date-parts": [issued]}}
                if d.csl_source:
                    csl["source"] = d.ra
                self._json(200, csl, "application/vnd.citationstyles.csl+json")
        else:
            self._send(404, b"no such path", "text/plain")

    def _ra(self) -> None:
        """doi.org's answer: one object per comma-separated DOI (an encoded comma belongs to the DOI)."""
        raw = urlsplit(self.path).path[len("/ra/") :]
        answer = []
        for name in (unquote(part) for part in raw.split(",")):
            d = self.server.state.dois.get(name.lower())
            if not re.fullmatch(r"10\.\d{4,9}/\S+", name):
                answer.append({"DOI": name, "status": "Invalid DOI"})
            elif d is None:
                answer.append({"DOI": name, "status": "DOI does not exist"})
            else:
                answer.append({"DOI": d.doi, "RA": d.ra})
        self._json(200, answer)

    def _file(self, name: str, *, cut: bool) -> None:
        with self.server.state.lock:
            data = self.server.state.files.get(name)
            opts = self.server.state.file_options.get(name, FileOptions())
        if data is None:
            self._send(404, b"no such file", "text/plain")
            return
        headers = {"Accept-Ranges": "bytes"}
        if opts.etag:
            headers["ETag"] = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
        if opts.last_modified:
            headers["Last-Modified"] = email.utils.formatdate(1_700_000_000 + opts.version, usegmt=True)
        start = 0
        rng = self.headers.get("Range", "")
        if_range = self.headers.get("If-Range")
        if m := re.fullmatch(r"bytes=(\d+)-", rng):
            start = int(m.group(1))
        if (
            start
            and if_range is not None
            and opts.honour_if_range
            and if_range not in (headers.get("ETag"), headers.get("Last-Modified"))
        ):
            start = 0  # RFC 9110: the file changed, send all of it
        if start:
            start = max(0, start + opts.range_shift)
        body = data[start:]
        status = 200
        if rng and start:
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        if cut:  # announce everything, send half, close the connection
            self.close_connection = True
            self._send(status, body[: len(body) // 2], "application/octet-stream", headers, length=len(body))
            return
        self._send(status, body, "application/octet-stream", headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    state: ServerState
    scheme = "http"


class DoiServer:
    """Start with :meth:`start` (or as a context manager); ``url`` is its base URL."""

    def __init__(self, *, tls: tuple[str, str] | None = None) -> None:
        """``tls``: (certificate file, key file) to serve https instead of http."""
        self.state = ServerState()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = self._server.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="doiserver", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def start(self) -> DoiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> DoiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def hostport(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def env(self, *, data: bool = False) -> dict[str, str]:
        """The ``PAPERPACK_*`` variables that point paperpack at this server; with ``data``, also the
        user's permission to download data from it (a loopback mirror, over plain http)."""
        env = {
            "PAPERPACK_DOI_RESOLVER": self.url,
            "PAPERPACK_DATACITE_API": self.url,
            "PAPERPACK_CROSSREF_API": self.url,
            "PAPERPACK_ZENODO_API": f"{self.url}/api",
        }
        if data:
            env.update({"PAPERPACK_DATA_ALLOW": self.hostport, "PAPERPACK_DATA_ALLOW_HTTP": "1"})
        return env

    # -- content -----------------------------------------------------------------
    def add_doi(
        self,
        doi: str,
        *,
        agency: str = "datacite",
        title: str = "A dataset",
        type: str = "Dataset",
        year: int = 2021,
        url: str = "{base}/landing",
        ra: str | None = None,
        csl_source: bool = True,
        published: str | None = None,
    ) -> None:
        """``published``: the day of publication (YYYY-MM-DD) the metadata gives (else only the year);
        ``agency``: which API knows it (datacite, crossref, other: content negotiation only);
        ``ra``: the name /ra/ gives (DataCite, Crossref, mEDRA by default); ``csl_source=False``: CSL without
        ``source``."""
        with self.state.lock:
            self.state.dois[doi.lower()] = Doi(
                doi, agency, title, type, year, url, ra or _RA_NAMES[agency], csl_source, published
            )

    def add_file(self, name: str, data: bytes, **options: Any) -> str:
        """Serve ``data`` at ``/files/<name>`` (replacing an earlier version); returns the URL.

        ``options``: :class:`FileOptions` fields (kept from the earlier version unless given)."""
        with self.state.lock:
            old = self.state.file_options.get(name)
            version = old.version + 1 if old is not None else 0
            kept = (
                {k: getattr(old, k) for k in ("etag", "last_modified", "honour_if_range", "range_shift")}
                if old is not None
                else {}
            )
            self.state.files[name] = data
            self.state.file_options[name] = FileOptions(**{**kept, **options, "version": version})
        return f"{self.url}/files/{name}"

    def add_record(
        self,
        record_id: str,
        files: dict[str, bytes],
        *,
        doi: str | None = None,
        wrong_md5: set[str] | None = None,
        title: str = "A Zenodo dataset",
    ) -> None:
        """A Zenodo-style record whose files are served too; ``wrong_md5`` lists files given a wrong checksum."""
        entries = []
        for name, data in files.items():
            self.add_file(f"{record_id}/{name}", data)
            md5 = hashlib.md5(data if name not in (wrong_md5 or set()) else b"not this", usedforsecurity=False)
            entries.append(
                {
                    "key": name,
                    "size": len(data),
                    "checksum": f"md5:{md5.hexdigest()}",
                    "links": {"self": f"{{base}}/files/{record_id}/{name}"},
                }
            )
        with self.state.lock:
            self.state.records[record_id] = {"id": record_id, "files": entries, "metadata": {"title": title}}
        if doi:
            self.add_doi(doi, title=title, url=f"{{base}}/records/{record_id}")

    def add_raw_record(self, record_id: str, body: Any, *, doi: str | None = None) -> None:
        """Serve ``body`` (any JSON, e.g. of the wrong shape) as the record ``record_id``."""
        with self.state.lock:
            self.state.records[record_id] = body
        if doi:
            self.add_doi(doi, url=f"{{base}}/records/{record_id}")

    def script(self, path: str, *actions: Action) -> None:
        with self.state.lock:
            self.state.scripts.setdefault(path, []).extend(actions)

    # -- observation -------------------------------------------------------------
    @property
    def count(self) -> int:
        with self.state.lock:
            return len(self.state.requests)

    def paths(self) -> list[str]:
        with self.state.lock:
            return [p for p, _, _ in self.state.requests]

    def ranges(self) -> list[str]:
        with self.state.lock:
            return [r for _, r, _ in self.state.requests]

    def if_ranges(self) -> list[str]:
        with self.state.lock:
            return [v for _, _, v in self.state.requests]

    def reset_counts(self) -> None:
        with self.state.lock:
            self.state.requests.clear()
