"""DOI family: one case folder per situation under tests/cases/doi-*/, expected findings beside it."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from conftest import CASES
from conftest_doi import doi_env, doi_server  # noqa: F401 - fixtures
from doiserver import DoiServer
from paperpack.cli.main import main
from paperpack.util.schemas import validator_for
from paperpack.validate import validate

DOI_CASES = sorted(p.name for p in CASES.glob("doi-*") if (p / "expected.json").is_file())


def _closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def _point_at(monkeypatch: pytest.MonkeyPatch, base: str, cache: Path) -> None:
    for var in ("PAPERPACK_DOI_RESOLVER", "PAPERPACK_DATACITE_API", "PAPERPACK_CROSSREF_API"):
        monkeypatch.setenv(var, base)
    monkeypatch.setenv("PAPERPACK_ZENODO_API", base + "/api")
    monkeypatch.setenv("PAPERPACK_CACHE_DIR", str(cache))


def _doi_findings(report) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    out = [{"rule": f.rule, "path": f.path, "line": f.line} for f in report.findings if f.rule.startswith("DOI")]
    return sorted(out, key=lambda d: (str(d["rule"]), str(d["path"]), d["line"] or 0))


@pytest.mark.parametrize("case", DOI_CASES)
def test_case(
    case: str,
    copy_case,
    doi_server: DoiServer,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = json.loads((CASES / case / "expected.json").read_text(encoding="utf-8"))
    repo = copy_case(case)
    if expected["offline"]:
        _point_at(monkeypatch, _closed_port_url(), tmp_path / "cache")  # any request would fail loudly
    else:
        _point_at(monkeypatch, doi_server.url, tmp_path / "cache")
        for entry in expected.get("server", []):
            doi_server.add_doi(entry.pop("doi"), **entry)
    report = validate(repo, offline=expected["offline"])
    assert _doi_findings(report) == expected["findings"]
    if expected["offline"]:
        assert doi_server.count == 0


def test_resolved_title_is_in_the_message(doi_env: DoiServer, copy_case, capsys) -> None:  # type: ignore[no-untyped-def]
    doi_env.add_doi(
        "10.1038/s41586-020-2649-2",
        agency="crossref",
        title="Array programming with NumPy",
        type="journal-article",
        year=2020,
    )
    doi_env.add_doi("10.5281/zenodo.3509134", title="Ocean temperatures", year=2019)
    repo = copy_case("doi-clean")
    assert main(["validate", str(repo), "--format", "json"]) in (0, 1)
    report = json.loads(capsys.readouterr().out)
    validator_for("report").validate(report)
    resolved = {f["detail"]["doi"]: f for f in report["findings"] if f["rule"] == "DOI005"}
    assert set(resolved) == {"10.1038/s41586-020-2649-2", "10.5281/zenodo.3509134"}
    paper = resolved["10.1038/s41586-020-2649-2"]
    assert '"Array programming with NumPy" (journal-article, 2020, Crossref)' in paper["message"]
    assert "README.md:3" in paper["message"]  # the other place it is written
    assert paper["detail"]["title"] == "Array programming with NumPy" and paper["detail"]["agency"] == "Crossref"
    # the second run is answered from the cache
    sent = doi_env.count
    validate(repo)
    assert doi_env.count == sent


def test_unreachable_services_are_one_warning_not_errors(
    copy_case,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _point_at(monkeypatch, _closed_port_url(), tmp_path / "cache")
    repo = copy_case("doi-resolve")
    start = time.monotonic()
    report = validate(repo)
    assert time.monotonic() - start < 10
    doi = [f for f in report.findings if f.rule.startswith("DOI") and f.rule != "DOI008"]
    assert [(f.rule, f.severity.value) for f in doi] == [("DOI006", "warning")]
    assert doi[0].message == (
        "DOI services unreachable: 4 DOIs not checked: 10.5281/zenodo.100 (paper, "
        "paperpack.yml:4, README.md:3); 10.1038/s41586-020-2649-2 (data, paperpack.yml:6); "
        "10.5281/zenodo.404 (data, paperpack.yml:9); and 1 more"
    )
    assert doi[0].detail["mentions"][3] == {
        "doi": "10.5061/dryad.abc123",
        "role": "data",
        "where": ["paperpack.yml:12", "CITATION.cff:7"],
    }


def test_offline_uses_the_cache(doi_env: DoiServer, copy_case) -> None:  # type: ignore[no-untyped-def]
    doi_env.add_doi(
        "10.1038/s41586-020-2649-2",
        agency="crossref",
        title="Array programming with NumPy",
        type="journal-article",
        year=2020,
    )
    repo = copy_case("doi-clean")
    validate(repo)  # fills the cache: one found, one not found
    sent = doi_env.count
    report = validate(repo, offline=True)
    assert doi_env.count == sent
    rules = sorted((f.rule, f.path) for f in report.findings if f.rule.startswith("DOI"))
    # zenodo.3509134 does not exist: said where the manifest and the README (URL-encoded, %2F) write it
    assert rules == [
        ("DOI003", "README.md"),
        ("DOI003", "paperpack.yml"),
        ("DOI005", "paperpack.yml"),
        ("DOI007", None),
    ]
    offline = next(f for f in report.findings if f.rule == "DOI007")
    assert "cached results used for 2" in offline.message


def test_offline_is_said_in_the_text_output(
    copy_case,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    _point_at(monkeypatch, _closed_port_url(), tmp_path / "cache")
    repo = copy_case("doi-clean")
    main(["validate", str(repo), "--offline", "--color", "never"])
    out = capsys.readouterr().out
    assert out.startswith("offline: DOIs checked for syntax and against the cache only; none was resolved")


def test_service_errors_are_a_warning_per_doi_not_not_found(
    doi_env: DoiServer,
    copy_case,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from doiserver import Action

    monkeypatch.setenv("PAPERPACK_HTTP_RETRIES", "1")
    doi_env.add_doi(
        "10.1038/s41586-020-2649-2",
        agency="crossref",
        title="Array programming with NumPy",
        type="journal-article",
        year=2020,
    )
    doi_env.script(
        "/api/handles/10.5281/zenodo.3509134", Action(status=503, retry_after="0"), Action(status=503, retry_after="0")
    )
    report = validate(copy_case("doi-clean"))
    doi = sorted((f.rule, f.severity.value, f.line) for f in report.findings if f.rule.startswith("DOI"))
    assert doi == [("DOI005", "info", 4), ("DOI009", "warning", 6)]
    failed = next(f for f in report.findings if f.rule == "DOI009")
    assert "10.5281/zenodo.3509134 was not checked: the DOI handle API answered HTTP 503" in failed.message
    # nothing was cached for it: the next run asks again
    validate(report.root)
    assert doi_env.paths().count("/api/handles/10.5281/zenodo.3509134") == 3
