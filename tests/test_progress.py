"""Long steps say how far they are (issue 15): data downloads with bytes, the local environment's pip.

Real parts: a loopback HTTP server (tests/doiserver.py) for the download, a real venv and
pip install for the environment.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest

from conftest_doi import doi_env, doi_server  # noqa: F401 - fixtures
from doiserver import DoiServer
from paperpack.data import ensure_data, fetch
from paperpack.repository.repo import Repo
from paperpack.run import venv


def test_a_large_download_says_how_far_it_is(
    doi_env: DoiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    monkeypatch.setattr(fetch, "PROGRESS_FROM", 100_000)  # "large" for the test: a megabyte is enough
    data = os.urandom(1_000_000)
    url = doi_env.add_file("big.bin", data)
    root = tmp_path / "paper"
    root.mkdir()
    (root / "paperpack.yml").write_text(
        f"version: 1\ndata:\n  - url: {url}\n    files:\n      - path: data/big.bin\n"
        f"        url: {url}\n        sha256: {hashlib.sha256(data).hexdigest()}\n"
    )
    said: list[str] = []
    ensure_data(Repo.open(root), progress=said.append)
    assert said[0] == "fetching data/big.bin (1000000 bytes)", said
    assert said[-1] == "data/big.bin: 1.0 MB of 1.0 MB (100%)", said
    percents = [int(m.group(1)) for line in said[1:] for m in [re.search(r"\((\d+)%\)$", line)] if m]
    assert len(percents) == len(said) - 1 and 3 <= len(percents) <= 5 and percents == sorted(percents), said


@pytest.mark.slow
def test_the_local_environment_says_it_is_alive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """pip's lines come out while it installs (every ALIVE_EVERY seconds; 0 here: at each line)."""
    monkeypatch.setattr(venv, "ALIVE_EVERY", 0.0)
    monkeypatch.setenv("PAPERPACK_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "paper"
    root.mkdir()
    (root / "requirements.txt").write_text("")
    with caplog.at_level(logging.WARNING, logger="paperpack.run.venv"):
        venv.ensure_venv(root)
    alive = [r.getMessage() for r in caplog.records if r.getMessage().startswith("still building the local")]
    assert any(": Successfully installed " in line for line in alive), alive
