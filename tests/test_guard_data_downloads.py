"""Downloads, checksums and the cache of declared data, pinned on a real loopback HTTP server (paperpack/data/).

Issue 16's mutation testing left these unpinned: a partial download is continued only with a validator of
that very source and version (ETag or Last-Modified, and the total size), and only from a 206 answer whose
``Content-Range`` continues it; anything else restarts from zero, so two versions are never spliced. Also
the progress lines of a large download, the cache folder ``ensure_data`` is given, and ``data lock`` of a
whole record's files. :class:`ScriptedServer` answers exactly what a test queues, for servers that
misbehave in ways the DOI test server does not.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Lock, Thread
from typing import Any

import pytest

from conftest_doi import doi_env, doi_server  # noqa: F401 - fixtures
from doiserver import Action, DoiServer
from paperpack.data import DataStore, data_status, ensure_data, fetch_data, lock_hashes
from paperpack.data.download import RESUME_HINT, _Validator, download
from paperpack.data.records import NETWORK_HINT, DataRecord, RecordFile, fetch_record, record_id_for
from paperpack.errors import ChecksumError, DataError
from paperpack.repository.repo import Repo
from paperpack.util.httpclient import HttpClient, ServiceConfig
from paperpack.util.sizes import human_size
from test_data import _tar, paper

OLD = bytes(range(256)) * 64  # 16 KiB
NEW = bytes(reversed(range(256))) * 64  # another version of the same length


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- a server that answers what the test queues ---------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    length: bool = True  # send Content-Length (else the body ends when the connection closes)
    announce: int | None = None  # the Content-Length to send, if not the body's (a connection cut short)


class _Scripted(BaseHTTPRequestHandler):
    server: _ScriptedHttp

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        with self.server.lock:
            self.server.asked.append(dict(self.headers.items()))
            answer = self.server.answers.pop(0)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.length:
            self.send_header("Content-Length", str(answer.announce or len(answer.body)))
        else:
            self.close_connection = True
        self.end_headers()
        self.wfile.write(answer.body)


class _ScriptedHttp(ThreadingHTTPServer):
    daemon_threads = True
    answers: list[Answer]
    asked: list[dict[str, str]]
    lock: Lock


class ScriptedServer:
    """A loopback HTTP server answering each GET with the next queued :class:`Answer`."""

    def __init__(self) -> None:
        self._http = _ScriptedHttp(("127.0.0.1", 0), _Scripted)
        self._http.answers, self._http.asked, self._http.lock = [], [], Lock()
        self._thread = Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        host, port = self._http.server_address[:2]
        self.hostport = f"{host}:{port}"
        self.url = f"http://{self.hostport}/f.bin"

    def queue(self, *answers: Answer) -> None:
        with self._http.lock:
            self._http.answers.extend(answers)

    def ranges(self) -> list[str | None]:
        """The Range header of each request so far (None: a whole-file request)."""
        with self._http.lock:
            return [asked.get("Range") for asked in self._http.asked]

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    monkeypatch.setenv("PAPERPACK_DATA_ALLOW", server.hostport)
    monkeypatch.setenv("PAPERPACK_DATA_ALLOW_HTTP", "1")
    monkeypatch.setenv("PAPERPACK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PAPERPACK_HTTP_TIMEOUT", "5")
    monkeypatch.setenv("PAPERPACK_HTTP_RETRIES", "0")
    yield server
    server.close()


def _partial(tmp_path: Path, url: str, kept: bytes, *, if_range: str = '"v1"', total: int | None = len(OLD)) -> Path:
    """A partial download of ``kept`` bytes, with its validator, as an interrupted download leaves it."""
    partial = tmp_path / "partial" / "f.part"
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(kept)
    _Validator(url, if_range, total).save(partial)
    return partial


def _get(url: str, partial: Path, **options: Any) -> dict[str, str]:
    """``download`` with a client of its own (``options``: download's keyword arguments)."""
    with HttpClient() as client:
        return download(client, url, partial, **options)


# -- a partial download continues only that very file ------------------------------------------------------


def test_a_range_answer_without_content_range_restarts_the_download(
    scripted: ScriptedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    partial = _partial(tmp_path, scripted.url, NEW[:1000])
    scripted.queue(Answer(206, NEW[1000:], {"ETag": '"v1"'}), Answer(200, NEW, {"ETag": '"v1"'}))
    seen: list[tuple[int, int | None]] = []
    with caplog.at_level(logging.INFO, logger="paperpack.data.download"):
        assert _get(scripted.url, partial, progress=lambda *p: seen.append(p))["sha256"] == sha(NEW)
    assert scripted.ranges() == ["bytes=1000-", None]
    assert seen[-1] == (len(NEW), len(NEW)), "the whole file again, counted from 0"
    assert caplog.messages == [
        f"{scripted.url}: the server answered a range without a valid Content-Range (''); "
        "downloading it again from the start"
    ]


def test_a_range_request_answered_with_an_error_restarts_the_download(
    scripted: ScriptedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    partial = _partial(tmp_path, scripted.url, NEW[:1000])
    scripted.queue(Answer(416, b"", {"Content-Range": f"bytes */{len(NEW)}"}), Answer(200, NEW))
    with caplog.at_level(logging.INFO, logger="paperpack.data.download"):
        assert _get(scripted.url, partial)["sha256"] == sha(NEW)
    assert caplog.messages == [
        f"{scripted.url}: the server answered HTTP 416 to the range request; downloading it again from the start"
    ]


def test_a_restart_that_cannot_connect_names_the_download(scripted: ScriptedServer, tmp_path: Path) -> None:
    partial = _partial(tmp_path, scripted.url, NEW[:1000])
    scripted.queue(Answer(206, NEW[1000:], {"ETag": '"v1"'}))  # and nothing for the restart: the server hangs up
    with pytest.raises(DataError) as info:
        _get(scripted.url, partial, label="d/f.bin")
    assert info.value.message.startswith(f"d/f.bin: cannot download {scripted.url}: ")


def test_a_partial_file_without_a_validator_is_not_continued_from_a_range_answer(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    partial = tmp_path / "partial" / "n.part"
    partial.parent.mkdir()
    partial.write_bytes(OLD[:1000])  # no validator beside it
    scripted.queue(Answer(206, NEW, {"Content-Range": f"bytes 0-{len(NEW) - 1}/{len(NEW)}"}))
    assert _get(scripted.url, partial)["sha256"] == sha(NEW)
    assert scripted.ranges() == [None]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (Answer(404, b"not here"), "answered HTTP 404"),
        (Answer(206, NEW, {"ETag": '"v1"'}), "answered HTTP 206"),  # a range nobody asked for, of unknown extent
        (Answer(206, NEW[5:], {"Content-Range": f"bytes 5-{len(NEW) - 1}/{len(NEW)}"}), "answered HTTP 206"),
    ],
)
def test_an_answer_that_is_not_the_file_is_a_data_error(
    scripted: ScriptedServer, tmp_path: Path, answer: Answer, message: str
) -> None:
    partial = tmp_path / "a" / "b" / "f.part"
    scripted.queue(answer)
    with pytest.raises(DataError) as info:
        _get(scripted.url, partial)
    assert info.value.message == f"{scripted.url}: {scripted.url} {message}"
    assert info.value.hint == "check the URL (or the DOI record); if the server is down, try again later"
    assert not partial.exists()


def test_a_download_cut_in_a_chunk_of_unknown_total_is_kept_for_resuming(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    scripted.queue(Answer(200, b"4000\r\n" + NEW[:100], {"Transfer-Encoding": "chunked"}, length=False))
    with pytest.raises(DataError) as info:
        _get(scripted.url, tmp_path / "c.part")
    assert info.value.message == (
        f"{scripted.url}: download of {scripted.url} was cut off after 0 of ? bytes; the partial file is kept"
    )
    assert info.value.hint == RESUME_HINT


def test_a_wrong_hash_deletes_the_download_and_says_what_to_correct(scripted: ScriptedServer, tmp_path: Path) -> None:
    partial = tmp_path / "h.part"
    scripted.queue(Answer(200, NEW))
    with pytest.raises(ChecksumError) as info:
        _get(scripted.url, partial, expected=("sha256", "0" * 64), label="d/h.bin")
    assert info.value.message == (
        f"d/h.bin: sha256 of the download from {scripted.url} is {sha(NEW)}, expected {'0' * 64}; "
        "the download was deleted"
    )
    assert info.value.hint == (
        "the file changed on the server, or the hash in paperpack.yml (or the DOI record) is wrong; "
        "if the new file is right, correct the hash"
    )
    assert not partial.exists()


def test_a_range_answer_of_unknown_total_continues_the_download(scripted: ScriptedServer, tmp_path: Path) -> None:
    partial = _partial(tmp_path, scripted.url, NEW[:1000])
    scripted.queue(Answer(206, NEW[1000:], {"ETag": '"v1"', "Content-Range": f"bytes 1000-{len(NEW) - 1}/*"}))
    assert _get(scripted.url, partial)["sha256"] == sha(NEW)
    assert scripted.ranges() == ["bytes=1000-"]


@pytest.mark.parametrize(
    ("content_range", "total"),
    [
        (f"bytes 1000-{len(NEW) - 2}/{len(NEW)}", len(NEW)),  # not the rest of the file
        (f"bytes 1000-{len(NEW) + 99}/{len(NEW) + 100}", len(NEW)),  # the file grew, its ETag the same
    ],
)
def test_a_range_answer_that_does_not_end_the_known_file_restarts_the_download(
    scripted: ScriptedServer, tmp_path: Path, content_range: str, total: int
) -> None:
    partial = _partial(tmp_path, scripted.url, OLD[:1000], total=total)
    scripted.queue(
        Answer(206, NEW[1000:], {"ETag": '"v1"', "Content-Range": content_range}), Answer(200, NEW, {"ETag": '"v1"'})
    )
    assert _get(scripted.url, partial)["sha256"] == sha(NEW)
    assert scripted.ranges() == ["bytes=1000-", None]


@pytest.mark.parametrize(
    "validator",
    [
        "[1]",
        '{"url": "http://127.0.0.1:1/another.bin", "if_range": "\\"v1\\"", "total": 16384}',
        '{"url": "%s", "if_range": 5, "total": 16384}',
        '{"url": "%s", "if_range": "", "total": 16384}',
        '{"url": "%s", "if_range": "\\"v1\\"", "total": "16384"}',
    ],
)
def test_a_partial_download_without_a_valid_validator_of_its_url_starts_again(
    scripted: ScriptedServer, tmp_path: Path, validator: str
) -> None:
    partial = _partial(tmp_path, scripted.url, OLD[:1000])
    _Validator.path(partial).write_text(validator.replace("%s", scripted.url), encoding="utf-8")
    scripted.queue(Answer(200, NEW, {"ETag": '"v2"'}))
    assert _get(scripted.url, partial)["sha256"] == sha(NEW)
    assert scripted.ranges() == [None], "no range asked of a partial file whose version is unknown"


def test_a_file_changed_behind_the_same_last_modified_check_is_downloaded_again(
    doi_env: DoiServer, tmp_path: Path
) -> None:
    """No ETag, and a server that ignores If-Range: the new Last-Modified of its 206 says the file changed."""
    url = doi_env.add_file("lm.bin", OLD * 8, etag=False, honour_if_range=False)
    doi_env.script("/files/lm.bin", Action(cut=True))
    partial = tmp_path / "partial" / "lm.part"
    with pytest.raises(DataError, match="cut off"):
        _get(url, partial)
    assert 0 < partial.stat().st_size < len(OLD) * 8
    kept = partial.stat().st_size
    doi_env.add_file("lm.bin", NEW * 8)  # same length, a later Last-Modified
    doi_env.reset_counts()
    assert _get(url, partial)["sha256"] == sha(NEW * 8)
    assert doi_env.ranges()[-1] == "", "restarted from zero"
    assert doi_env.ranges() == [f"bytes={kept}-", ""], "asked for the rest, then restarted from zero"


def test_a_validator_left_without_its_partial_file_asks_for_the_whole_file(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    """A fetch killed after writing the version of its download and before its first byte leaves the validator
    alone: the next download asks for the whole file, not for a range after a byte it does not have."""
    partial = tmp_path / "partial" / "v.part"
    partial.parent.mkdir()
    _Validator(scripted.url, '"v1"', len(NEW)).save(partial)
    scripted.queue(Answer(200, NEW, {"ETag": '"v1"'}))
    assert _get(scripted.url, partial, expected=("sha256", sha(NEW)))["sha256"] == sha(NEW)
    assert scripted.ranges() == [None]
    assert partial.read_bytes() == NEW


def test_a_range_answer_without_a_validator_continues_the_download(doi_env: DoiServer, tmp_path: Path) -> None:
    """The 206 carries no ETag (the server stopped sending it): nothing says the file changed, so it continues."""
    url = doi_env.add_file("nv.bin", OLD * 8)
    doi_env.script("/files/nv.bin", Action(cut=True))
    partial = tmp_path / "partial" / "nv.part"
    with pytest.raises(DataError, match="cut off"):
        _get(url, partial)
    kept = partial.stat().st_size
    doi_env.add_file("nv.bin", OLD * 8, etag=False, honour_if_range=False)
    doi_env.reset_counts()
    assert _get(url, partial)["sha256"] == sha(OLD * 8)
    assert doi_env.ranges() == [f"bytes={kept}-"], "one request, for the rest"


@pytest.mark.parametrize(
    ("sent", "total", "announce", "done"),
    [
        (5000, str(len(NEW)), None, 6000),  # less than its Content-Range announced: the total from Content-Range
        (2000, "*", len(NEW) - 1000, 1000),  # unknown total: from the length; the cut first block not written
    ],
    ids=["shorter-than-its-content-range", "unknown-total"],
)
def test_a_range_cut_short_is_a_cut_off_download_kept_for_resuming(
    scripted: ScriptedServer, tmp_path: Path, sent: int, total: str, announce: int | None, done: int
) -> None:
    partial = _partial(tmp_path, scripted.url, NEW[:1000])
    headers = {"ETag": '"v1"', "Content-Range": f"bytes 1000-{len(NEW) - 1}/{total}"}
    scripted.queue(Answer(206, NEW[1000 : 1000 + sent], headers, announce=announce))
    with pytest.raises(DataError) as info:
        _get(scripted.url, partial)
    assert info.value.message == (
        f"{scripted.url}: download of {scripted.url} was cut off after {done} of {len(NEW)} bytes; "
        "the partial file is kept"
    )
    assert info.value.hint == RESUME_HINT
    assert partial.read_bytes() == NEW[:done]


def test_a_cut_off_download_keeps_its_version_beside_it_and_only_when_it_has_one(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    import json

    versioned, unversioned = tmp_path / "v.part", tmp_path / "u.part"
    scripted.queue(
        Answer(200, NEW[:2000], {"ETag": '"v1"'}, announce=len(NEW)),
        Answer(200, NEW[:2000], {"ETag": 'W/"weak"'}, announce=len(NEW)),
    )
    for partial in (versioned, unversioned):
        with pytest.raises(DataError, match=f"cut off after 0 of {len(NEW)} bytes"):
            _get(scripted.url, partial)  # the first block is cut: none of it is written
        assert partial.exists()
    saved = json.loads((tmp_path / "v.part.json").read_text(encoding="utf-8"))  # docs/dois-and-data.md: …part.json
    assert saved == {"url": scripted.url, "if_range": '"v1"', "total": len(NEW)}
    assert not _Validator.path(unversioned).exists(), "a weak ETag and no Last-Modified: no version to resume"
    scripted.queue(Answer(200, NEW, {"ETag": '"v1"'}))
    assert _get(scripted.url, versioned)["sha256"] == sha(NEW)
    assert scripted.ranges()[-1] is None, "an empty partial file is not continued"


def test_a_download_that_cannot_connect_is_a_data_error_with_the_resume_hint(
    scripted: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERPACK_DATA_ALLOW", "127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(DataError) as info:
        _get("http://127.0.0.1:9/x.bin", tmp_path / "x.part", label="d/x.bin")
    assert info.value.message.startswith("d/x.bin: cannot download http://127.0.0.1:9/x.bin: ")
    assert info.value.hint == RESUME_HINT


# -- ensure_data: the cache folder it is given, and the progress of a large download -----------------------


def test_ensure_data_uses_the_cache_folder_it_is_given(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_record("5", {"obs.csv": OLD}, doi="10.5281/zenodo.5")
    repo = paper(tmp_path, "version: 1\ndata:\n  - doi: 10.5281/zenodo.5\n    path: inputs\n")
    mine = tmp_path / "mine"
    [fetched] = ensure_data(repo, cache_dir=mine)
    assert fetched.source == DataStore(mine / "data").blob(sha(OLD)) and fetched.source.read_bytes() == OLD
    assert not (tmp_path / "cache" / "data" / "sha256").exists(), "nothing in the default cache"
    doi_env.reset_counts()
    assert ensure_data(repo, cache_dir=mine) == []
    assert doi_env.count == 0, "the record's listing and its file are found in that cache: no network"


QUARTER = 39 * 65536  # a quarter of the file is a whole number of 64 KiB blocks


@pytest.mark.parametrize("length", [True, False])
def test_a_large_download_says_how_far_it_is(scripted: ScriptedServer, tmp_path: Path, length: bool) -> None:
    body = bytes(4 * QUARTER + 3)  # a total that 4 does not divide
    scripted.queue(Answer(200, body, length=length))
    repo = paper(
        tmp_path,
        f"version: 1\ndata:\n  - url: {scripted.url}\n    files:\n      - path: big.bin\n        sha256: {sha(body)}\n",
    )
    said: list[str] = []
    [fetched] = ensure_data(repo, progress=said.append)
    assert fetched.state == "fetched"
    total = len(body)
    if length:  # a line at each quarter, and at the end
        assert said == [f"fetching big.bin ({total} bytes)"] + [
            f"big.bin: {human_size(done)} of {human_size(total)} ({percent}%)"
            for done, percent in zip((QUARTER, 2 * QUARTER, 3 * QUARTER, 4 * QUARTER, total), (24, 49, 74, 99, 100))
        ]
    else:  # no size announced: a line at each 10 MB
        assert said == ["fetching big.bin", f"big.bin: {human_size(153 * 65536)}"]


# -- data status and lock ---------------------------------------------------------------------------------


def test_status_names_the_committed_file_whose_hash_differs(doi_env: DoiServer, tmp_path: Path) -> None:
    repo = paper(
        tmp_path,
        f"version: 1\ndata:\n  - url: {doi_env.url}/files/x\n    files:\n      - path: d/obs.bin\n"
        f"        sha256: {sha(OLD)}\n",
        {"d/obs.bin": NEW},
    )
    [status] = data_status(repo)
    assert (status.state, status.declared.path, status.source) == ("mismatch", "d/obs.bin", repo.root / "d/obs.bin")


def test_lock_names_a_whole_records_file_only_when_its_name_is_not_its_file_name(
    doi_env: DoiServer, tmp_path: Path
) -> None:
    doi_env.add_record("8", {"a.csv": OLD, "sub/c.csv": NEW}, doi="10.5281/zenodo.8")
    repo = paper(tmp_path, "version: 1\ndata:\n  - doi: 10.5281/zenodo.8\n    path: ./\n")
    assert [r.declared.path for r in fetch_data(repo)] == ["a.csv", "sub/c.csv"]
    assert lock_hashes(Repo.open(repo.root)) == [("a.csv", sha(OLD)), ("sub/c.csv", sha(NEW))]
    text = (repo.root / "paperpack.yml").read_text(encoding="utf-8")
    assert text == (
        "version: 1\ndata:\n  - doi: 10.5281/zenodo.8\n    files:\n"
        f"      - path: a.csv\n        sha256: {sha(OLD)}\n"
        f"      - path: sub/c.csv\n        name: sub/c.csv\n        sha256: {sha(NEW)}\n"
    )


def test_a_wrong_size_deletes_the_download(scripted: ScriptedServer, tmp_path: Path) -> None:
    partial = tmp_path / "partial" / "s.part"
    scripted.queue(Answer(200, NEW))
    with pytest.raises(ChecksumError) as info:
        _get(scripted.url, partial, size=len(NEW) + 1)
    assert info.value.message == (
        f"{scripted.url}: the download from {scripted.url} has {len(NEW)} bytes, expected {len(NEW) + 1}; "
        "the download was deleted"
    )
    assert info.value.hint == "correct `size:` in paperpack.yml, or check that the URL is the published file"
    assert not partial.exists()


# -- a DOI's record: what is read of it, and what is said when it cannot be ---------------------------------


def _record(scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch, body: object, status: int = 200) -> DataRecord:
    import json

    monkeypatch.setenv("PAPERPACK_ZENODO_API", f"http://{scripted.hostport}/api")
    scripted.queue(Answer(status, json.dumps(body).encode() if not isinstance(body, bytes) else body))
    with HttpClient() as client:
        return fetch_record("10.5281/zenodo.4", client, ServiceConfig.from_env())


def test_a_records_files_are_read_with_their_names_links_checksums_and_sizes(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = "http://127.0.0.1:1/"
    files = [
        {"key": "a.csv", "links": {"content": link + "a", "download": link + "x", "self": link + "y"}, "size": 3},
        {"key": "b.csv", "links": {"content": link + "b", "self": link + "y"}, "size": "3", "checksum": "sha256:AB:CD"},
        {"filename": "c.csv", "links": {"download": link + "c", "self": link + "y"}, "checksum": "MD5:EF"},
        {"key": 7, "links": {"self": link + "7"}, "checksum": 5},
        {"key": "", "filename": "", "links": {"self": link + "e"}},  # no name
        {"links": {"self": link + "n"}},  # no name
        {"key": "nolink.csv"},
        {"key": "badlink.csv", "links": {"content": 5}},
    ]
    record = _record(scripted, monkeypatch, {"id": "4", "files": files})
    assert (record.doi, record.record_id) == ("10.5281/zenodo.4", "4")
    assert record.files == {
        "a.csv": RecordFile("a.csv", link + "a", None, 3),
        "b.csv": RecordFile("b.csv", link + "b", ("sha256", "ab:cd"), None),
        "c.csv": RecordFile("c.csv", link + "c", ("md5", "ef"), None),
        "7": RecordFile("7", link + "7", None, None),
    }
    [asked] = scripted._http.asked
    assert asked["Accept"] == "application/json"


def test_an_invenio_records_files_are_named_by_their_key_or_their_entry(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = "http://127.0.0.1:1/"
    entries = {"a.csv": {"links": {"content": link + "a"}}, "b": {"key": "b.csv", "links": {"content": link + "b"}}}
    record = _record(scripted, monkeypatch, {"files": {"entries": entries}})
    assert sorted(record.files) == ["a.csv", "b.csv"]


@pytest.mark.parametrize(
    ("status", "body", "message", "hint"),
    [
        (
            404,
            {},
            "{api}/records/4 answered HTTP 404 for the record of 10.5281/zenodo.4",
            "check the DOI, or give each file's `url:` in paperpack.yml",
        ),
        (
            200,
            b"<html>",
            "{api}/records/4 did not answer JSON for the record of 10.5281/zenodo.4",
            "check PAPERPACK_ZENODO_API (it must be the records API base, e.g. https://zenodo.org/api)",
        ),
        (
            200,
            [],
            "{api}/records/4 answered a record of the wrong shape for 10.5281/zenodo.4: the record is a list, "
            "not an object",
            "check PAPERPACK_ZENODO_API (it must be a Zenodo-style records API, e.g. https://zenodo.org/api), "
            "or give each file's `url:` in paperpack.yml",
        ),
    ],
)
def test_a_record_that_cannot_be_read_is_a_data_error_saying_why(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch, status: int, body: object, message: str, hint: str
) -> None:
    with pytest.raises(DataError) as info:
        _record(scripted, monkeypatch, body, status)
    api = f"http://{scripted.hostport}/api"
    assert (info.value.message, info.value.hint) == (message.format(api=api), hint)


def test_a_doi_that_does_not_lead_to_a_record_is_a_data_error_saying_why(doi_env: DoiServer) -> None:
    doi_env.add_doi("10.5061/dryad.land", url="{base}/landing/page")
    doi_env.add_doi("10.5061/dryad.nourl", url="")
    client = HttpClient()
    config = ServiceConfig.from_env()
    try:
        with pytest.raises(DataError) as landing:
            record_id_for("10.5061/dryad.land", client, config)
        with pytest.raises(DataError) as nourl:
            record_id_for("10.5061/dryad.nourl", client, config)
        with pytest.raises(DataError) as unknown:
            record_id_for("10.5061/dryad.none", client, config)
    finally:
        client.close()
    not_a_record = "which is not a Zenodo-style record, so paperpack cannot list its files"
    hint = "give each file's download `url:` (and `sha256:`) in paperpack.yml"
    assert (landing.value.message, landing.value.hint) == (
        f"10.5061/dryad.land lands on {doi_env.url}/landing/page, {not_a_record}",
        hint,
    )
    assert (nourl.value.message, nourl.value.hint) == (f"10.5061/dryad.nourl lands on no URL, {not_a_record}", hint)
    assert unknown.value.message == "10.5061/dryad.none: the DOI handle API does not know this DOI"
    assert unknown.value.hint == "check the DOI under `data:` in paperpack.yml (`paperpack validate` says more)"


def test_a_doi_that_cannot_be_resolved_is_a_data_error_with_the_network_hint(
    monkeypatch: pytest.MonkeyPatch, scripted: ScriptedServer
) -> None:
    monkeypatch.setenv("PAPERPACK_DOI_RESOLVER", "http://127.0.0.1:9")  # the discard port: nothing listens
    client = HttpClient()
    try:
        with pytest.raises(DataError) as info:
            record_id_for("10.5061/dryad.any", client, ServiceConfig.from_env())
    finally:
        client.close()
    assert info.value.message.startswith("cannot resolve 10.5061/dryad.any to find its files: ")
    assert info.value.hint == NETWORK_HINT


def test_a_file_missing_from_a_record_is_named_with_the_first_ten_it_has() -> None:
    record = DataRecord(
        "10.5281/zenodo.4", "4", {f"f{i:02}.csv": RecordFile(f"f{i:02}.csv", "u", None, None) for i in range(11)}
    )
    with pytest.raises(DataError) as info:
        record.file("zzz")
    listed = ", ".join(f"f{i:02}.csv" for i in range(10))
    assert info.value.message == (
        f"the record of 10.5281/zenodo.4 (record 4) has no file named 'zzz'. It has: {listed}"
    )
    assert info.value.hint == "set `name:` of the file in paperpack.yml to its name in the record"
    with pytest.raises(DataError, match=r"has no file named 'a'\. It has: no files$"):
        DataRecord("10.5281/zenodo.4", "4", {}).file("a")


# -- a file of a DOI's record: its declared hash and size against the record's -------------------------------


def test_a_declared_hash_that_the_record_contradicts_is_refused_before_any_download(
    doi_env: DoiServer, tmp_path: Path
) -> None:
    doi_env.add_record("6", {"obs.csv": OLD}, doi="10.5281/zenodo.6")
    wrong = hashlib.md5(NEW).hexdigest()
    repo = paper(
        tmp_path,
        f"version: 1\ndata:\n  - doi: 10.5281/zenodo.6\n    files:\n      - path: obs.csv\n        md5: {wrong}\n",
    )
    with pytest.raises(ChecksumError) as info:
        fetch_data(repo)
    assert info.value.message == (
        f"obs.csv: paperpack.yml declares md5 {wrong}, but the record of 10.5281/zenodo.6 says "
        f"{hashlib.md5(OLD).hexdigest()} for obs.csv"
    )
    assert info.value.hint == "one of them is out of date: check the record and correct paperpack.yml"
    assert "/files/6/obs.csv" not in doi_env.paths()


def test_a_declared_sha256_beside_the_records_md5_is_no_contradiction(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_record("7", {"obs.csv": OLD}, doi="10.5281/zenodo.7")
    repo = paper(
        tmp_path,
        f"version: 1\ndata:\n  - doi: 10.5281/zenodo.7\n    files:\n      - path: obs.csv\n        sha256: {sha(OLD)}\n",
    )
    assert [r.state for r in fetch_data(repo)] == ["fetched"]


def test_a_declared_size_overrules_the_records_and_the_records_is_checked(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_record("11", {"obs.csv": OLD}, doi="10.5281/zenodo.11")
    declared = paper(
        tmp_path / "d",
        "version: 1\ndata:\n  - doi: 10.5281/zenodo.11\n    files:\n      - path: obs.csv\n        size: 10\n",
    )
    with pytest.raises(ChecksumError, match=f"has {len(OLD)} bytes, expected 10;"):
        fetch_data(declared)
    link = f"{doi_env.url}/files/11/obs.csv"
    entry = {"key": "obs.csv", "size": 5, "links": {"self": link}}
    doi_env.add_raw_record("12", {"files": [entry]}, doi="10.5281/zenodo.12")
    listed = paper(tmp_path / "l", "version: 1\ndata:\n  - doi: 10.5281/zenodo.12\n    files:\n      - path: obs.csv\n")
    with pytest.raises(ChecksumError, match=f"has {len(OLD)} bytes, expected 5;"):
        fetch_data(listed)


def test_a_file_with_neither_url_nor_doi_says_what_to_add(scripted: ScriptedServer, tmp_path: Path) -> None:
    repo = paper(tmp_path, "version: 1\ndata:\n  - title: somewhere\n    files:\n      - path: x.csv\n")
    with pytest.raises(DataError) as info:
        fetch_data(repo)
    assert info.value.message == "x.csv: paperpack.yml gives neither a `url:` nor a dataset `doi:` for it"
    assert info.value.hint == "add the file's download `url:` or the dataset's `doi:`"


def test_a_symbolic_link_at_a_declared_path_is_not_the_data_and_the_fetched_copy_is_read_only(
    doi_env: DoiServer, tmp_path: Path
) -> None:
    import stat

    url = doi_env.add_file("l.csv", OLD)
    repo = paper(
        tmp_path, f"version: 1\ndata:\n  - url: {url}\n    files:\n      - path: l.csv\n        sha256: {sha(OLD)}\n"
    )
    (tmp_path / "outside.csv").write_bytes(OLD)
    (repo.root / "l.csv").symlink_to(tmp_path / "outside.csv")  # the right bytes, but not the repository's
    [result] = fetch_data(repo)
    assert result.state == "fetched" and result.source == DataStore(tmp_path / "cache" / "data").blob(sha(OLD))
    assert stat.S_IMODE(result.source.stat().st_mode) == 0o444


def test_a_download_that_cannot_be_moved_into_the_cache_says_so(doi_env: DoiServer, tmp_path: Path) -> None:
    url = doi_env.add_file("m.csv", OLD)
    repo = paper(
        tmp_path, f"version: 1\ndata:\n  - url: {url}\n    files:\n      - path: m.csv\n        sha256: {sha(OLD)}\n"
    )
    store = DataStore(tmp_path / "cache" / "data")
    store.root.mkdir(parents=True)
    (store.root / "sha256").write_text("a file where the blobs' folder goes")
    with pytest.raises(DataError) as info:
        fetch_data(repo)
    blob = store.blob(sha(OLD))
    assert info.value.message == f"m.csv: cannot move the download into the cache at {blob}: File exists"
    assert info.value.hint == (
        "check that the cache folder is writable and not full, then run `paperpack data fetch` again"
    )
    assert info.value.path == blob


# -- fetch_data: what it is given reaches the downloads ----------------------------------------------------


def test_fetch_data_passes_its_archive_limits_progress_and_client_on(
    scripted: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperpack.data.archive import ArchiveLimits
    from paperpack.errors import UnsafeArchiveError

    archive = _tar({"a.txt": b"a", "b.txt": b"b"})
    repo = paper(
        tmp_path,
        f"version: 1\ndata:\n  - url: {scripted.url}\n    files:\n      - path: raw\n        extract: true\n"
        f"        sha256: {sha(archive)}\n",
    )
    client = HttpClient()  # allowed to reach the scripted server; the environment no longer says so
    monkeypatch.delenv("PAPERPACK_DATA_ALLOW")
    scripted.queue(Answer(200, archive))
    seen: list[tuple[str, int, int | None]] = []
    try:
        with pytest.raises(UnsafeArchiveError, match="member"):
            fetch_data(repo, client=client, limits=ArchiveLimits(max_members=1), progress=lambda *p: seen.append(p))
    finally:
        client.close()
    assert seen == [("raw", len(archive), len(archive))]


def test_fetch_data_reads_the_listing_in_the_cache_folder_it_is_given(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_record("13", {"obs.csv": OLD}, doi="10.5281/zenodo.13")
    repo = paper(tmp_path, "version: 1\ndata:\n  - doi: 10.5281/zenodo.13\n")
    mine = tmp_path / "mine"
    [first] = fetch_data(repo, cache_dir=mine)
    doi_env.reset_counts()
    [again] = fetch_data(repo, cache_dir=mine)
    assert (again.state, again.sha256, again.source) == ("cached", sha(OLD), first.source)
    assert doi_env.count == 0
    assert stat_mode(first.source) == 0o444, "a cached file's mode is left as it is"


def stat_mode(path: Path | None) -> int:
    import stat

    assert path is not None
    return stat.S_IMODE(path.stat().st_mode)


def test_a_committed_file_is_mounted_from_the_repository(doi_env: DoiServer, tmp_path: Path) -> None:
    repo = paper(
        tmp_path,
        f"version: 1\ndata:\n  - url: {doi_env.url}/files/x\n    files:\n      - path: c.csv\n",
        {"c.csv": b"c"},
    )
    [result] = fetch_data(repo)
    assert (result.state, result.source) == ("in-repo", repo.root / "c.csv")


@pytest.mark.parametrize(
    ("files", "message", "hint", "at_manifest"),
    [
        (
            [],
            "the record of 10.5281/zenodo.14 (record 14) lists no files",
            "check the DOI, or declare the files under `files:` with their `url:`",
            True,
        ),
        (
            [{"key": "../x.csv", "links": {"self": "http://127.0.0.1:1/x"}}],
            "the record of 10.5281/zenodo.14 has a file named '../x.csv', which is not a plain relative name",
            "declare the files you need under `files:` with a `path:` and `name:` each",
            False,
        ),
    ],
)
def test_a_whole_record_that_cannot_be_listed_says_why(
    doi_env: DoiServer, tmp_path: Path, files: list[object], message: str, hint: str, at_manifest: bool
) -> None:
    doi_env.add_raw_record("14", {"files": files}, doi="10.5281/zenodo.14")
    repo = paper(tmp_path, "version: 1\ndata:\n  - doi: 10.5281/zenodo.14\n")
    with pytest.raises(DataError) as info:
        fetch_data(repo)
    assert (info.value.message, info.value.hint) == (message, hint)
    assert (info.value.path == repo.root / "paperpack.yml") is at_manifest, info.value.path


def test_an_unasked_range_answer_of_another_size_than_declared_is_not_the_file(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    scripted.queue(Answer(206, NEW, {"Content-Range": f"bytes 0-{len(NEW) - 1}/{len(NEW)}"}))
    client = HttpClient()
    try:
        with pytest.raises(DataError, match="answered HTTP 206$"):
            download(client, scripted.url, tmp_path / "s.part", size=len(NEW) + 5)
    finally:
        client.close()


def test_a_download_of_exactly_the_progress_size_says_how_far_it_is(scripted: ScriptedServer, tmp_path: Path) -> None:
    from paperpack.data.fetch import PROGRESS_FROM

    body = bytes(PROGRESS_FROM)
    scripted.queue(Answer(200, body))
    repo = paper(
        tmp_path,
        f"version: 1\ndata:\n  - url: {scripted.url}\n    files:\n      - path: big.bin\n        sha256: {sha(body)}\n",
    )
    said: list[str] = []
    ensure_data(repo, progress=said.append)
    assert len(said) == 5 and said[-1].endswith("(100%)"), said  # the first line, then each quarter
