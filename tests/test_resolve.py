"""DOI resolution against a real HTTP server on loopback (handle API, DataCite, Crossref, CSL)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest_doi import doi_env, doi_server  # noqa: F401 - fixtures
from doiserver import Action, DoiServer
from paperpack.doi.resolve import FAILED, FOUND, NOT_FOUND, UNCHECKED, UNREACHABLE, DoiResolver
from paperpack.util.httpclient import HttpClient, ServiceConfig, ServiceTimeout, user_agent


def resolver(tmp_path: Path, **overrides: object) -> DoiResolver:
    return DoiResolver(ServiceConfig.from_env(**overrides), cache_folder=tmp_path / "cache")


def test_not_found(doi_env: DoiServer, tmp_path: Path) -> None:
    rec = resolver(tmp_path).resolve("10.5555/does-not-exist")
    assert rec.status == NOT_FOUND
    assert doi_env.paths() == ["/api/handles/10.5555/does-not-exist"]


def test_dataset_doi_from_datacite(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_doi("10.5281/zenodo.42", title="Ocean temperatures 1990-2020", type="Dataset", year=2021)
    rec = resolver(tmp_path).resolve("10.5281/zenodo.42")
    assert (rec.status, rec.title, rec.kind, rec.year, rec.agency) == (
        FOUND,
        "Ocean temperatures 1990-2020",
        "dataset",
        2021,
        "DataCite",
    )
    assert rec.url == f"{doi_env.url}/landing"
    assert rec.summary() == '"Ocean temperatures 1990-2020" (Dataset, 2021, DataCite)'


def test_article_doi_from_crossref(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_doi(
        "10.1038/s41586-020-2649-2",
        agency="crossref",
        title="Array programming with NumPy",
        type="journal-article",
        year=2020,
    )
    rec = resolver(tmp_path).resolve("10.1038/s41586-020-2649-2")
    assert (rec.status, rec.kind, rec.agency, rec.source) == (FOUND, "article", "Crossref", "crossref")
    # DataCite was asked first and said 404
    assert doi_env.paths()[:3] == [
        "/api/handles/10.1038/s41586-020-2649-2",
        "/dois/10.1038/s41586-020-2649-2",
        "/works/10.1038/s41586-020-2649-2",
    ]


def test_other_agency_by_content_negotiation(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_doi("10.3390/x1", agency="other", title="Via CSL", type="article-journal", year=2019)
    rec = resolver(tmp_path).resolve("10.3390/x1")
    assert (rec.status, rec.source, rec.agency, rec.kind) == (FOUND, "content-negotiation", "mEDRA", "article")
    assert not _ra_requests(doi_env), "the CSL `source` named the agency: /ra/ is not asked"


def _ra_requests(server: DoiServer) -> list[str]:
    return [p for p in server.paths() if p.startswith("/ra/")]


def test_agency_from_ra_when_the_metadata_does_not_say(doi_env: DoiServer, tmp_path: Path) -> None:
    doi = "10.1430/8105"
    doi_env.add_doi(doi, agency="other", ra="mEDRA", csl_source=False, title="Via CSL", type="article-journal")
    rec = resolver(tmp_path).resolve(doi)
    assert (rec.status, rec.source, rec.agency, rec.title) == (FOUND, "content-negotiation", "mEDRA", "Via CSL")
    assert doi_env.paths() == [f"/api/handles/{doi}", f"/dois/{doi}", f"/works/{doi}", f"/{doi}", f"/ra/{doi}"]
    sent = doi_env.count
    again = resolver(tmp_path).resolve(doi)
    assert (again.cached, again.agency) == (True, "mEDRA") and doi_env.count == sent, "the agency is cached"


def test_agency_from_ra_when_no_service_gives_metadata(doi_env: DoiServer, tmp_path: Path) -> None:
    doi = "10.11467/isss2003.7.1_11"
    doi_env.add_doi(doi, agency="other", ra="JaLC")
    doi_env.script(f"/{doi}", Action(status=404))
    rec = resolver(tmp_path).resolve(doi)
    assert (rec.status, rec.agency, rec.title, rec.reason) == (
        FOUND,
        "JaLC",
        None,
        "exists, but no service gave its metadata",
    )


def test_datacite_and_crossref_dois_send_no_ra_request(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_doi("10.5281/zenodo.71")
    doi_env.add_doi("10.1038/x71", agency="crossref", type="journal-article")
    records = resolver(tmp_path).resolve_many(["10.5281/zenodo.71", "10.1038/x71"])
    assert [r.agency for r in records.values()] == ["DataCite", "Crossref"]
    assert doi_env.count == 5 and not _ra_requests(doi_env)


@pytest.mark.parametrize(
    "body",
    [
        5,
        {"RA": "mEDRA"},
        [],
        [5],
        [{"DOI": "10.1430/72", "RA": 5}],
        [{"DOI": "10.1430/72", "status": "DOI does not exist"}],
        [{"DOI": "10.1430/72", "status": "Unknown"}],
        [{"DOI": "10.1430/72", "RA": ""}],
    ],
)
def test_ra_answer_of_the_wrong_shape_or_without_agency_is_not_fatal(
    doi_env: DoiServer, tmp_path: Path, body: object
) -> None:
    doi = "10.1430/72"
    doi_env.add_doi(doi, agency="other", csl_source=False, title="Still found")
    doi_env.script(f"/ra/{doi}", Action(body=body))
    rec = resolver(tmp_path).resolve(doi)
    assert (rec.status, rec.title, rec.agency, rec.reason) == (FOUND, "Still found", None, None)
    assert _ra_requests(doi_env) == [f"/ra/{doi}"]


@pytest.mark.parametrize("action", [Action(status=500), Action(status=404), Action(delay=0.6)])
def test_ra_errors_are_not_fatal(doi_env: DoiServer, tmp_path: Path, action: Action) -> None:
    doi = "10.1430/73"
    doi_env.add_doi(doi, agency="other", csl_source=False, title="Still found")
    doi_env.script(f"/ra/{doi}", *[action] * 2)
    first = resolver(tmp_path, retries=1, backoff=0.01, timeout=0.3)
    rec = first.resolve(doi)
    assert (rec.status, rec.title, rec.agency) == (FOUND, "Still found", None)
    # an incomplete record is kept a day, not a month: asked again once the day is over
    key = first._key(doi)
    assert first.cache.get(key, now=time.time() + 3600) is not None
    assert first.cache.get(key, now=time.time() + 2 * 86400) is None


def test_ra_answers_like_doi_org(doi_env: DoiServer) -> None:
    """The stand-in's /ra/ has doi.org's shapes: a list, one object per comma-separated DOI."""
    import requests

    doi_env.add_doi("10.1430/8105", agency="other")
    answer = requests.get(f"{doi_env.url}/ra/10.1430/8105,10.5555/none,not-a-doi", timeout=5).json()
    assert answer == [
        {"DOI": "10.1430/8105", "RA": "mEDRA"},
        {"DOI": "10.5555/none", "status": "DOI does not exist"},
        {"DOI": "not-a-doi", "status": "Invalid DOI"},
    ]


def test_validate_shows_the_agency_from_ra(doi_env: DoiServer, tmp_path: Path) -> None:
    from paperpack.validate import validate

    doi_env.add_doi(
        "10.1430/8105", agency="other", csl_source=False, title="Una rivista", type="article-journal", year=2019
    )
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "paperpack.yml").write_text("version: 1\npaper:\n  doi: 10.1430/8105\n")
    report = validate(repo)
    resolved = [f for f in report.findings if f.rule == "DOI005"]
    assert len(resolved) == 1 and '"Una rivista" (article-journal, 2019, mEDRA)' in resolved[0].message
    assert resolved[0].detail["agency"] == "mEDRA"


def test_429_with_retry_after_is_honoured(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_doi("10.5281/zenodo.7")
    doi_env.script("/api/handles/10.5281/zenodo.7", Action(status=429, retry_after="1"))
    start = time.monotonic()
    rec = resolver(tmp_path, backoff=0.01).resolve("10.5281/zenodo.7")
    elapsed = time.monotonic() - start
    assert rec.status == FOUND
    assert elapsed >= 0.95, "Retry-After: 1 must be waited for, not the 0.01 s backoff"
    assert doi_env.paths().count("/api/handles/10.5281/zenodo.7") == 2


def test_500_then_success(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_doi("10.5281/zenodo.8")
    doi_env.script("/dois/10.5281/zenodo.8", Action(status=500), Action(status=503))
    rec = resolver(tmp_path, backoff=0.01).resolve("10.5281/zenodo.8")
    assert rec.status == FOUND and rec.source == "datacite"
    assert doi_env.paths().count("/dois/10.5281/zenodo.8") == 3


def test_response_slower_than_timeout(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_doi("10.5281/zenodo.9")
    doi_env.script("/api/handles/10.5281/zenodo.9", Action(delay=1.0))
    # one slow answer, then a normal one: the retry succeeds
    rec = resolver(tmp_path, timeout=0.3, backoff=0.01).resolve("10.5281/zenodo.9")
    assert rec.status == FOUND
    # always slow: a clear timeout, not "not found"
    doi_env.script("/api/handles/10.5281/zenodo.10", *[Action(delay=0.6)] * 3)
    client = HttpClient(ServiceConfig.from_env(timeout=0.3, backoff=0.01, retries=2))
    with pytest.raises(ServiceTimeout, match="did not answer within 0.3 s"):
        client.get(f"{doi_env.url}/api/handles/10.5281/zenodo.10")
    rec = resolver(tmp_path, timeout=0.3, backoff=0.01, retries=1).resolve("10.5281/zenodo.11")
    assert rec.status == NOT_FOUND  # a quick 404 is still a real answer


def test_unreachable_is_not_not_found_and_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a loopback port nobody listens on: connection refused
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    base = f"http://127.0.0.1:{port}"
    config = ServiceConfig(doi_resolver=base, datacite_api=base, crossref_api=base, zenodo_api=base)
    res = DoiResolver(config, cache_folder=tmp_path / "cache")
    start = time.monotonic()
    records = res.resolve_many([f"10.5281/zenodo.{i}" for i in range(50)])
    assert time.monotonic() - start < 5
    assert {r.status for r in records.values()} == {UNREACHABLE}
    assert not (tmp_path / "cache" / "doi").exists() or not any((tmp_path / "cache" / "doi").rglob("*.json"))


def test_cache_and_offline(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_doi("10.5281/zenodo.12", title="Cached")
    first = resolver(tmp_path).resolve_many(["10.5281/zenodo.12", "10.5555/missing"])
    assert first["10.5281/zenodo.12"].status == FOUND and not first["10.5281/zenodo.12"].cached
    sent = doi_env.count
    again = resolver(tmp_path).resolve_many(["10.5281/zenodo.12", "10.5555/missing"])
    assert doi_env.count == sent, "a warm cache sends no request"
    assert again["10.5281/zenodo.12"].cached and again["10.5555/missing"].status == NOT_FOUND
    offline = DoiResolver(ServiceConfig.from_env(), cache_folder=tmp_path / "cache", offline=True)
    assert offline.resolve("10.5281/zenodo.12").title == "Cached"
    assert offline.resolve("10.5281/zenodo.13").status == UNCHECKED
    assert doi_env.count == sent


def test_negative_results_expire_sooner(doi_env: DoiServer, tmp_path: Path) -> None:
    res = resolver(tmp_path)
    res.resolve("10.5555/missing")
    key = res._key("10.5555/missing")
    assert res.cache.get(key) is not None
    assert res.cache.get(key, now=time.time() + 2 * 86400) is None  # 1 day for not-found
    doi_env.add_doi("10.5281/zenodo.14")
    res.resolve("10.5281/zenodo.14")
    assert res.cache.get(res._key("10.5281/zenodo.14"), now=time.time() + 2 * 86400) is not None


def test_user_agent_has_contact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERPACK_CONTACT", "editor@example.org")
    ua = HttpClient(ServiceConfig.from_env()).session.headers["User-Agent"]
    assert ua.startswith("paperpack/") and ua.endswith(
        "(+https://github.com/paperpack/paperpack; mailto:editor@example.org)"
    )
    assert "mailto" not in user_agent("")


def test_bad_configuration_is_a_config_error() -> None:
    from paperpack.errors import ConfigError

    with pytest.raises(ConfigError, match="PAPERPACK_DATACITE_API='api.datacite.org' is not an http"):
        ServiceConfig.from_env({"PAPERPACK_DATACITE_API": "api.datacite.org"})
    with pytest.raises(ConfigError, match="PAPERPACK_HTTP_TIMEOUT='soon' is not a number"):
        ServiceConfig.from_env({"PAPERPACK_HTTP_TIMEOUT": "soon"})
    assert ServiceConfig.from_env(
        {"PAPERPACK_DOI_WORKERS": "8", "PAPERPACK_DOI_RESOLVER": "http://127.0.0.1:9/"}
    ) == ServiceConfig(workers=8, doi_resolver="http://127.0.0.1:9")


def test_retry_after_forms() -> None:
    import email.utils

    from paperpack.util.httpclient import _retry_after

    assert _retry_after("2", 0.5, 30) == 2
    assert _retry_after("120", 0.5, 30) == 30  # capped
    assert _retry_after(None, 0.5, 30) == 0.5
    assert _retry_after("soon", 0.5, 30) == 0.5
    later = email.utils.formatdate(time.time() + 5, usegmt=True)
    assert 3 < _retry_after(later, 0.5, 30) <= 5


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("0", "must be greater than 0"),
        ("-2", "must be greater than 0"),
        ("nan", "is not a finite number"),
        ("inf", "is not a finite number"),
        ("soon", "is not a number"),
    ],
)
def test_timeout_must_be_a_positive_number(raw: str, problem: str) -> None:
    from paperpack.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        ServiceConfig.from_env({"PAPERPACK_HTTP_TIMEOUT": raw})
    assert info.value.message.startswith(f"PAPERPACK_HTTP_TIMEOUT={raw!r} ") and problem in info.value.message
    assert "PAPERPACK_HTTP_TIMEOUT" in info.value.hint


@pytest.mark.parametrize(
    ("var", "raw", "problem"),
    [
        ("PAPERPACK_DOI_WORKERS", "0", "must be at least 1"),
        ("PAPERPACK_DOI_WORKERS", "-3", "must be at least 1"),
        ("PAPERPACK_DOI_WORKERS", "2.5", "is not a whole number"),
        ("PAPERPACK_HTTP_RETRIES", "-1", "must be at least 0"),
        ("PAPERPACK_HTTP_RETRIES", "many", "is not a whole number"),
    ],
)
def test_workers_and_retries_ranges(var: str, raw: str, problem: str) -> None:
    from paperpack.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"^{var}={raw!r} .*{problem}"):
        ServiceConfig.from_env({var: raw})
    assert ServiceConfig.from_env({"PAPERPACK_HTTP_RETRIES": "0", "PAPERPACK_HTTP_TIMEOUT": "0.5"}) == ServiceConfig(
        retries=0, timeout=0.5
    )


def test_zero_timeout_in_validate_is_a_usage_error(
    doi_env: DoiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from paperpack.cli.main import main

    (tmp_path / "paperpack.yml").write_text("version: 1\npaper:\n  doi: 10.1000/xyz\n")
    monkeypatch.setenv("PAPERPACK_HTTP_TIMEOUT", "0")
    assert main(["validate", str(tmp_path)]) == 2
    assert "error: PAPERPACK_HTTP_TIMEOUT='0' is out of range" in capsys.readouterr().err
    assert doi_env.count == 0


def test_handle_api_values_of_the_wrong_shape(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_doi("10.5281/zenodo.61")
    path = "/api/handles/10.5281/zenodo.61"
    doi_env.script(path, Action(body={"responseCode": 1, "values": 5}))
    rec = resolver(tmp_path).resolve("10.5281/zenodo.61")
    assert (rec.status, rec.reason) == (FAILED, "the DOI handle API answered a number (5) for `values`, not a list")
    doi_env.script(path, Action(body={"responseCode": 1, "values": [{"type": "URL", "data": {"value": [1]}}]}))
    rec = resolver(tmp_path).resolve("10.5281/zenodo.61")
    assert (rec.status, rec.reason) == (FAILED, "the DOI handle API answered a list for the URL value, not a string")
    doi_env.script(path, Action(body=[1, 2]))
    assert resolver(tmp_path).resolve("10.5281/zenodo.61").status == FAILED
    assert resolver(tmp_path).resolve("10.5281/zenodo.61").status == FOUND, "failures are not cached"


def test_metadata_of_the_wrong_shape_falls_back_then_fails(doi_env: DoiServer, tmp_path: Path) -> None:
    doi = "10.5281/zenodo.62"
    doi_env.add_doi(doi, title="Good")
    doi_env.script(f"/dois/{doi}", Action(body={"data": 5}))
    rec = resolver(tmp_path).resolve(doi)
    assert (rec.status, rec.source, rec.title) == (FOUND, "content-negotiation", "Good")
    for body in ({"data": 5}, {"data": {"attributes": [1]}}):
        doi_env.script(f"/dois/{doi}", Action(body=body))
        doi_env.script(f"/{doi}", Action(body=[1]))
        rec = resolver(tmp_path / "fresh").resolve(doi)
        assert rec.status == FAILED and "datacite answered " in (rec.reason or "")
        assert "content-negotiation answered a list, not a JSON object" in (rec.reason or "")


def test_odd_values_inside_metadata_are_ignored_not_fatal(doi_env: DoiServer, tmp_path: Path) -> None:
    doi = "10.1038/odd"
    doi_env.add_doi(doi, agency="crossref")
    doi_env.script(
        f"/works/{doi}",
        Action(
            body={
                "message": {
                    "title": 5,
                    "issued": 5,
                    "published": {"date-parts": 3},
                    "created": {"date-parts": [[2020]]},
                    "type": [],
                    "URL": {},
                }
            }
        ),
    )
    rec = resolver(tmp_path).resolve(doi)
    assert (rec.status, rec.source, rec.title, rec.year, rec.type) == (FOUND, "crossref", None, 2020, None)
