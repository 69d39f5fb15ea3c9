"""Fixtures for the DOI and data tests: the loopback DOI server and an isolated cache.

Import them into a test module with ``from conftest_doi import doi_server, doi_env``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from doiserver import DoiServer


@pytest.fixture
def doi_server() -> Iterator[DoiServer]:
    with DoiServer() as server:
        yield server


@pytest.fixture
def doi_env(doi_server: DoiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DoiServer:
    """Point every paperpack service at the loopback server, with a fresh cache and short timeouts.

    The server's data downloads are allowed the way a user allows a mirror: its host:port in
    PAPERPACK_DATA_ALLOW, and plain http (``doi_server.env(data=True)``).
    """
    for key, value in doi_server.env(data=True).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PAPERPACK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PAPERPACK_HTTP_TIMEOUT", "1")
    return doi_server
