"""``paperpack doctor`` on this machine's real state, and with pieces taken away (issue 15).

Pieces are taken away for real: a docker client that is not there (PAPERPACK_DOCKER), a
daemon nobody runs (DOCKER_HOST at a socket nobody listens on), a buildx plugin shadowed
by one that is not a plugin (DOCKER_CONFIG), a base image repository with no image and a
PATH without debootstrap. The DOI services are a real HTTP server on loopback.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paperpack.cli.main import main
from paperpack.image.baseimage import DEFAULT_RELEASE, base_image_tag
from paperpack.run.engines import docker_available
from paperpack.util.docker import image_id
from tests.conftest import require


def _doctor(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["doctor", "--format", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


def _check(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found = [c for c in doc["checks"] if c["name"] == name]
    assert len(found) == 1, [c["name"] for c in doc["checks"]]
    return dict(found[0])


def test_this_machine_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    """What doctor says agrees with the probes the commands use; exit 0 exactly when containers build here."""
    code, doc = _doctor(capsys)
    ok, version = docker_available()
    if shutil.which("docker"):
        daemon = _check(doc, "docker daemon")
        assert daemon["ok"] is ok and (version in daemon["detail"]), daemon
    if ok:
        base = _check(doc, f"base image {DEFAULT_RELEASE}")
        present = image_id(base_image_tag(DEFAULT_RELEASE)) is not None
        assert (f"{base_image_tag(DEFAULT_RELEASE)} present" in base["detail"]) is present, base
    assert doc["default_path_works"] is all(c["ok"] for c in doc["checks"] if c["required"])
    assert code == (0 if doc["default_path_works"] else 1)
    assert doc["engine"] == ("docker" if doc["default_path_works"] else "local")
    assert not [c for c in doc["checks"] if c["group"] == "network"], "the network is looked at only when asked"
    require(ok, "no Docker daemon here")  # in CI: the machine is made to build in containers
    assert code == 0, doc


def test_no_docker_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PAPERPACK_DOCKER", str(tmp_path / "no-docker-here"))
    code, doc = _doctor(capsys)
    client = _check(doc, "docker client")
    assert code == 1 and not client["ok"] and client["fix"] == "sudo apt-get install docker.io", client
    assert "less isolated local engine" in client["disables"]
    assert doc["engine"] == "local"


def test_no_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    require(shutil.which("docker") is not None, "no docker client")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nobody-listens.sock")
    code, doc = _doctor(capsys)
    daemon = _check(doc, "docker daemon")
    assert code == 1 and not daemon["ok"] and "nobody-listens.sock" in daemon["detail"], daemon
    assert daemon["fix"].startswith("sudo systemctl start docker")
    assert not [c for c in doc["checks"] if c["name"] == "docker buildx plugin"], "nothing to ask a missing daemon"
    main(["doctor"])  # the text form says the same, with the fix
    text = capsys.readouterr().out
    assert "MISSING container builds: docker daemon" in text and "fix: sudo systemctl start docker" in text, text


@pytest.mark.docker
def test_no_buildx(
    docker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True)
    (plugins / "docker-buildx").write_text("#!/bin/sh\nexit 1\n")
    (plugins / "docker-buildx").chmod(0o755)
    monkeypatch.setenv("DOCKER_CONFIG", str(plugins.parent))
    code, doc = _doctor(capsys)
    buildx = _check(doc, "docker buildx plugin")
    assert code == 1 and not buildx["ok"] and buildx["fix"] == "sudo apt-get install docker-buildx", buildx
    assert "image builds" in buildx["disables"]
    assert _check(doc, "docker daemon")["ok"]


@pytest.mark.docker
def test_no_base_image_and_no_debootstrap(
    docker: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = f"paperpack-test-{uuid.uuid4().hex[:10]}/base"
    monkeypatch.setenv("PAPERPACK_BASE_REPOSITORY", repository)
    monkeypatch.setenv(
        "PATH",
        os.pathsep.join(
            d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / "debootstrap").exists()
        ),
    )
    code, doc = _doctor(capsys)
    base = _check(doc, f"base image {DEFAULT_RELEASE}")
    assert code == 1 and not base["ok"] and base["required"], base
    assert base["detail"] == f"{repository}:{DEFAULT_RELEASE} missing, and cannot be made here", base
    maker = _check(doc, "debootstrap (makes base images)")
    assert not maker["ok"] and maker["detail"].startswith("debootstrap is not installed"), maker
    assert maker["fix"] == "sudo apt-get install debootstrap && sudo paperpack base-image", maker


class _Service(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    for name in ("PAPERPACK_DOI_RESOLVER", "PAPERPACK_DATACITE_API", "PAPERPACK_CROSSREF_API"):
        monkeypatch.setenv(name, base)
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_network_services_when_asked(services: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Three services answer on loopback; Zenodo stays at the test's closed loopback port: unreachable."""
    _, doc = _doctor(capsys, "--network")
    for name in ("DOI resolver", "DataCite API", "Crossref API"):
        check = _check(doc, name)
        assert check["ok"] and check["detail"] == f"{services} answers (HTTP 200)", check
    zenodo = _check(doc, "Zenodo API")
    assert not zenodo["ok"] and "connection refused" in zenodo["detail"], zenodo
    assert "resolving DOIs" in zenodo["disables"] and zenodo["fix"]


def test_cache_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    (cache / "venvs" / "abc").mkdir(parents=True)
    (cache / "venvs" / "abc" / "lib.bin").write_bytes(b"x" * 12_345)
    (cache / "doi" / "ab").mkdir(parents=True)
    (cache / "doi" / "ab" / "entry.json").write_bytes(b"y" * 500)
    _, doc = _doctor(capsys, "--cache-dir", str(cache))
    assert _check(doc, "cache: local engine environments")["detail"] == f"12.3 kB in {cache / 'venvs'}"
    assert _check(doc, "cache: DOI answers")["detail"] == f"500 B in {cache / 'doi'}"
    assert _check(doc, "cache: fetched data")["detail"] == f"0 B in {cache / 'data'}"
