"""A real PEP 503 package index on 127.0.0.1, serving tiny wheels built in the test.

``PackageIndex().add("ubertool", "1.0", requires=["subpkg>=1"])`` builds a pure-Python wheel
(``ubertool/__init__.py`` plus its ``.dist-info``) and serves ``/simple/ubertool/`` and the
file, so pip's real resolver can be pointed at it with ``--index-url``. ``requests`` counts
what pip fetched. ``add(..., module="othername")`` gives the wheel an import name other than its
distribution name. Files are served with single HTTP ranges (``Range: bytes=a-b`` or ``bytes=-n``,
answered 206) as PyPI serves them, unless ``ranges`` is false; ``ranges_seen`` records each range asked. ``add(..., uploaded="2023-06-01T00:00:00Z")`` gives a file an upload time, served as
PEP 700's ``upload-time`` in the JSON form of the index (PEP 691), which pip asks for first.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name


def _wheel(
    name: str,
    version: str,
    requires: list[str],
    requires_python: str | None,
    code: str = "VALUE = 1\n",
    module: str | None = None,
    top_level: bool = True,
) -> tuple[str, bytes]:
    project = name.replace("-", "_")
    module = module or project
    dist_info = f"{project}-{version}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    if requires_python:
        meta.append(f"Requires-Python: {requires_python}")
    files = {
        f"{module}/__init__.py": code.encode(),
        f"{dist_info}/METADATA": ("\n".join(meta) + "\n").encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: paperpack-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    if top_level:  # setuptools writes it; hatchling and flit do not (the file list then says)
        files[f"{dist_info}/top_level.txt"] = f"{module}\n".encode()
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return f"{project}-{version}-py3-none-any.whl", buf.getvalue()


class PackageIndex:
    def __init__(self) -> None:
        self.projects: dict[str, dict[str, bytes]] = {}
        self.requires_python: dict[str, str] = {}  #: file name → Requires-Python, served as PyPI does
        self.requests: list[str] = []
        self.uploaded: dict[str, str] = {}  #: file name → upload time (ISO 8601)
        self.ranges = True
        self.ranges_seen: list[str] = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                index.requests.append(self.path)
                parts = PurePosixPath(self.path.split("?")[0]).parts
                body, kind = None, "text/html"
                if len(parts) == 3 and parts[1] == "simple":
                    files = index.projects.get(canonicalize_name(parts[2]))
                    if (
                        files is not None
                        and index.uploaded
                        and "vnd.pypi.simple.v1+json" in (self.headers.get("Accept") or "")
                    ):
                        body, kind = index._json(parts[2], files), "application/vnd.pypi.simple.v1+json"
                    elif files is not None:
                        links = "".join(
                            f'<a href="/files/{f}#sha256={hashlib.sha256(d).hexdigest()}"'
                            f"{index._requires_python_attr(f)}>{f}</a>\n"
                            for f, d in files.items()
                        )
                        body = f"<!DOCTYPE html><html><body>{links}</body></html>".encode()
                elif len(parts) == 3 and parts[1] == "files":
                    body = next(
                        (d for files in index.projects.values() for f, d in files.items() if f == parts[2]), None
                    )
                    kind = "application/octet-stream"
                if body is None:
                    self.send_error(404)
                    return
                asked = self.headers.get("Range")
                if asked and kind == "application/octet-stream" and index.ranges:
                    index.ranges_seen.append(asked)
                    first, _, last = asked.removeprefix("bytes=").partition("-")
                    start = len(body) - int(last) if not first else int(first)
                    end = len(body) - 1 if not first or not last else min(int(last), len(body) - 1)
                    start = max(0, start)
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
                    body = body[start : end + 1]
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _json(self, name: str, files: dict[str, bytes]) -> bytes:
        entries = []
        for filename, data in files.items():
            entry: dict[str, object] = {
                "filename": filename,
                "url": f"/files/{filename}",
                "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
            }
            if filename in self.requires_python:
                entry["requires-python"] = self.requires_python[filename]
            if filename in self.uploaded:
                entry["upload-time"] = self.uploaded[filename]
            entries.append(entry)
        return json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": entries}).encode()

    def _requires_python_attr(self, filename: str) -> str:
        spec = self.requires_python.get(filename)
        return f' data-requires-python="{html.escape(spec)}"' if spec else ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/simple"

    def add(
        self,
        name: str,
        version: str,
        requires: list[str] | None = None,
        requires_python: str | None = None,
        uploaded: str | None = None,
        code: str | None = None,
        module: str | None = None,
        top_level: bool = True,
    ) -> None:
        """A wheel whose module (default: the name with ``_``) has an ``__init__.py`` holding ``code``
        (default ``VALUE = 1``); ``top_level=False`` leaves out top_level.txt."""
        filename, data = _wheel(
            name, version, requires or [], requires_python, code or "VALUE = 1\n", module, top_level
        )
        if uploaded:
            self.uploaded[filename] = uploaded
        if requires_python:
            self.requires_python[filename] = requires_python
        self.projects.setdefault(canonicalize_name(name), {})[filename] = data

    def write_wheels(self, folder: Path) -> Path:
        """Every wheel into ``folder`` (a pip ``--find-links`` folder)."""
        folder.mkdir(parents=True, exist_ok=True)
        for files in self.projects.values():
            for filename, data in files.items():
                if filename.endswith(".whl"):
                    (folder / filename).write_bytes(data)
        return folder

    def add_sdist(self, name: str, version: str, setup_py: str) -> None:
        """A source distribution only: pip would have to run its ``setup.py`` to learn its metadata."""
        base = f"{name}-{version}"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tf:
            for member, text in (
                (f"{base}/setup.py", setup_py),
                (f"{base}/PKG-INFO", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"),
            ):
                data = text.encode()
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
        self.projects.setdefault(canonicalize_name(name), {})[f"{base}.tar.gz"] = buf.getvalue()

    def __enter__(self) -> PackageIndex:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
