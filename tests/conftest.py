"""Shared test set-up.

Integration tests that need a real part (Docker, Chromium, …) skip on a laptop without
it, saying why. In CI (``CI=true``) or with ``PAPERPACK_REQUIRE_ALL=1``, such a skip is
a failure: use :func:`require` rather than ``pytest.skip`` for missing parts.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASES = Path(__file__).resolve().parent / "cases"
SAMPLE = ROOT / "sample_paper"


def pytest_configure(config: pytest.Config) -> None:
    """Tests send Ctrl-C (SIGINT) to the paperpack processes they start and expect them to stop. A test run
    started in the background by a shell without job control (``cmd &``, ``nohup``, some CI runners) has
    SIGINT *ignored*, every child inherits that (POSIX), and Python then keeps ignoring it (as a background
    job should): those tests would wait for a Ctrl-C that never arrives. Give the run (and so every process
    it starts: a handled signal is reset to the default at exec) the usual Ctrl-C."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


#: A loopback port nothing listens on: tests that do not start their own DOI server must
#: never reach the real DOI services (or any address but loopback).
CLOSED_LOOPBACK = "http://127.0.0.1:9"


@pytest.fixture(autouse=True, scope="session")
def _hermetic_services(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Point every service at a closed loopback port and the cache at a temporary folder.

    Tests that need a DOI server set the variables (or pass a config) themselves.
    """
    names = (
        "PAPERPACK_DOI_RESOLVER",
        "PAPERPACK_DATACITE_API",
        "PAPERPACK_CROSSREF_API",
        "PAPERPACK_ZENODO_API",
        "PAPERPACK_PIP_INDEX_URL",
    )  # validate's dependency closure asks this index only
    saved = {n: os.environ.get(n) for n in (*names, "PAPERPACK_CACHE_DIR")}
    for name in names:
        os.environ[name] = CLOSED_LOOPBACK
    os.environ["PAPERPACK_CACHE_DIR"] = str(tmp_path_factory.mktemp("paperpack-cache"))
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def strict_environment() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("PAPERPACK_REQUIRE_ALL") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false; fail instead in CI, where every part must be present."""
    if condition:
        return
    if strict_environment():
        pytest.fail(f"required in CI but missing: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker() -> str:
    """The Docker server version; skips (fails in CI) without a daemon."""
    from paperpack.run.engines import docker_available

    ok, detail = docker_available()
    require(ok, detail)
    return detail


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of every file under root: to prove sources were not touched."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            st = p.stat()
            out[p.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture
def copy_case(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Copy tests/cases/<name> to a temporary folder and return its path."""

    def _copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(CASES / name, dest, symlinks=True)
        return dest

    return _copy


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """In CI every test must really run: any skip, whatever raised it, becomes a failure."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and strict_environment() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every test must run: {reason}"
