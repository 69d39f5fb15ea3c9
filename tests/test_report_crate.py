"""ro-crate-metadata.json: a Process Run Crate checked by roc-validator, offline; start/end times of runs."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
import io
import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from conftest import require
from paperpack.image.builder import BuildResult
from paperpack.report.crate import CRATE_NAME, PROFILE, crate_metadata, write_crate
from publishing import DATA_DOI, DOI, ORCID, make_publication

#: the JSON-LD context the crate names (RO-Crate 1.1, which Process Run Crate 0.5 extends)
CONTEXT_URL = "https://w3id.org/ro/crate/1.1/context"


def _graph(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entity["@id"]: entity for entity in metadata["@graph"]}


def _ids(value: Any) -> list[str]:
    return [v["@id"] for v in (value if isinstance(value, list) else [value])]


def _offline_cache(folder: Path) -> Path:
    """roc-validator's HTTP cache holding the RO-Crate JSON-LD context, so it validates with no network.

    Neither roc-validator nor rocrate ships the RO-Crate 1.1 context; rocrate ships the 1.3 one
    (a superset of 1.1's terms), which is stored under the 1.1 URL. Online, ``rocrate-validator
    cache warm`` stores the real document instead.
    """
    require_validator()
    import requests
    import urllib3
    from requests_cache import CachedSession

    body = importlib.resources.files("rocrate").joinpath("data/ro-crate.jsonld").read_bytes()
    assert "@context" in json.loads(body)
    cache = folder / "http-cache"
    session = CachedSession(cache_name=str(cache), backend="sqlite", expire_after=-1, allowable_codes=(200, 302, 404))
    response = requests.Response()
    response.status_code, response._content, response.url, response.encoding = 200, body, CONTEXT_URL, "utf-8"
    response.headers["Content-Type"] = "application/ld+json"
    response.raw = urllib3.HTTPResponse(
        body=io.BytesIO(body),
        headers={"Content-Type": "application/ld+json"},
        status=200,
        preload_content=False,
        request_url=CONTEXT_URL,
    )
    response.request = requests.Request("GET", CONTEXT_URL).prepare()
    session.cache.save_response(response)
    session.close()
    return cache


def require_validator() -> None:
    try:
        import rocrate_validator  # noqa: F401
    except ImportError:
        require(False, "roc-validator (pip install -e '.[test]')")


def _validate(metadata: dict[str, Any], root: Path, cache: Path, severity: str) -> list[tuple[str, str]]:
    from rocrate_validator import services
    from rocrate_validator.models import ValidationSettings

    settings = ValidationSettings(
        rocrate_uri=str(root),
        metadata_dict=metadata,
        package_root=root,
        profile_identifier="process-run-crate",
        requirement_severity=severity,
        offline=True,
        cache_path=cache,
    )
    with warnings.catch_warnings():  # rdflib and pyshacl's own deprecations, not ours to fix
        warnings.simplefilter("ignore", DeprecationWarning)
        result = services.validate(settings)
    issues = [(str(issue.check.identifier), issue.message or "") for issue in result.get_issues()]
    assert result.passed() == (not issues)
    return issues


@pytest.mark.slow
def test_crate_is_a_valid_process_run_crate(tmp_path: Path) -> None:
    publication = make_publication(tmp_path)
    metadata = json.loads(write_crate(publication)[0].read_text(encoding="utf-8"))
    cache = _offline_cache(tmp_path)
    # the crate describes the repository: its ids are relative to it
    assert _validate(metadata, publication.repo.root, cache, "REQUIRED") == []
    recommended = {check for check, _ in _validate(metadata, publication.repo.root, cache, "RECOMMENDED")}
    # left: who ran it (agent, publisher), authors' affiliations, and no executed copy of the failed notebook
    assert recommended <= {
        "process-run-crate-0.5_8.6",
        "process-run-crate-0.5_11.1",
        "ro-crate-1.1_22.3",
        "ro-crate-1.1_30.2",
        "ro-crate-1.1_30.3",
    }, recommended


@pytest.mark.slow
def test_validator_catches_a_broken_crate(tmp_path: Path) -> None:
    """The validation can fail: without its instrument a CreateAction breaks the profile's MUST."""
    publication = make_publication(tmp_path)
    metadata = crate_metadata(publication)
    for entity in metadata["@graph"]:
        if entity.get("@type") == "CreateAction":
            del entity["instrument"]
    issues = _validate(metadata, publication.repo.root, _offline_cache(tmp_path), "REQUIRED")
    assert any("instrument" in message for _, message in issues), issues


def test_crate_states_the_repository_the_runs_and_the_hashes(tmp_path: Path) -> None:
    publication = make_publication(tmp_path)
    build = BuildResult(
        image="paperpack/paper:1a2b",
        image_id="sha256:" + "cd" * 32,
        reused=False,
        mode="offline",
        python_version="3.11",
        labels={
            "io.paperpack.commit": "f" * 40,
            "io.paperpack.repo2docker-version": "2026.4.0",
            "org.opencontainers.image.base.name": "paperpack/base:bookworm",
        },
    )
    publication.result.build = build
    publication = dataclasses.replace(publication, commit="f" * 40)
    metadata = crate_metadata(publication)
    graph = _graph(metadata)
    root = graph["./"]
    assert root["version"] == "f" * 40 and root["identifier"] == f"https://doi.org/{DOI}"
    assert _ids(root["conformsTo"]) == [PROFILE]
    assert _ids(root["author"]) == [f"https://orcid.org/{ORCID}"]
    assert graph[f"https://orcid.org/{ORCID}"]["name"] == "Josiah Carberry"
    assert _ids(root["license"]) == ["https://spdx.org/licenses/MIT"]

    repo, out = publication.repo.root, publication.out_dir
    actions = [graph[i] for i in _ids(root["mentions"])]
    assert [a["name"] for a in actions] == ["Run of same.ipynb", "Run of differs.ipynb", "Run of failed.ipynb"]
    same, _, failed = actions
    assert _ids(same["instrument"]) == ["https://pypi.org/project/paperpack/"]
    assert same["actionStatus"] == "http://schema.org/CompletedActionStatus" and "error" not in same
    assert failed["actionStatus"] == "http://schema.org/FailedActionStatus"
    assert "ZeroDivisionError" in failed["error"] and "result" not in failed
    assert same["startTime"] == "2026-11-30T20:00:00.000+00:00" and same["endTime"] == "2026-11-30T20:00:01.250+00:00"
    committed, data = _ids(same["object"])
    assert graph[committed]["sha256"] == hashlib.sha256((repo / committed).read_bytes()).hexdigest()
    assert graph[data]["sha256"] == hashlib.sha256((repo / data).read_bytes()).hexdigest()
    assert graph[data]["identifier"] == f"https://doi.org/{DATA_DOI}"
    executed = _ids(same["result"])[0]
    assert executed == "paperpack-out/executed/same.ipynb"
    assert graph[executed]["sha256"] == hashlib.sha256((out / "executed/same.ipynb").read_bytes()).hexdigest()
    image = graph[_ids(same["containerImage"])[0]]
    assert image["@type"] == "ContainerImage" and image["sha256"] == "cd" * 32 and image["tag"] == "1a2b"
    assert "paperpack/base:bookworm" in image["description"]
    r2d = graph["https://pypi.org/project/jupyter-repo2docker/"]
    assert r2d["@type"] == "SoftwareApplication" and r2d["softwareVersion"] == "2026.4.0"
    assert (out / CRATE_NAME).exists() is False  # crate_metadata writes nothing


def test_skipped_notebooks_have_no_action(tmp_path: Path) -> None:
    publication = make_publication(tmp_path)
    run = publication.result.run
    assert run is not None
    run.notebooks[2].status, run.notebooks[2].verdict = "skipped", "skipped"
    names = [e["name"] for e in crate_metadata(publication)["@graph"] if e.get("@type") == "CreateAction"]
    assert names == ["Run of same.ipynb", "Run of differs.ipynb"]


def test_runs_carry_their_start_and_end_times() -> None:
    from paperpack.run.outcome import interpret
    from paperpack.run.plan import Limits, PlannedNotebook

    nb = PlannedNotebook(path="a.ipynb")
    result = {
        "status": "ok",
        "duration": 1.5,
        "started": "2026-11-30T20:00:00.000+00:00",
        "ended": "2026-11-30T21:00:01.500+01:00",
    }
    run = interpret(nb, result, {}, Limits(), False)
    assert (run.started, run.ended) == ("2026-11-30T20:00:00.000+00:00", "2026-11-30T20:00:01.500+00:00")
    assert run.to_dict()["started"] == run.started
    for bad in ("yesterday", "2026-11-30T20:00:00", 12, "9" * 100):  # not a time, no time zone, not text
        assert interpret(nb, {**result, "started": bad}, {}, Limits(), False).started is None


def test_a_doi_with_angle_brackets_is_kept_as_written_and_a_valid_uri(tmp_path: Path) -> None:
    from paperpack.repository.repo import Repo

    publication = make_publication(tmp_path)
    manifest = publication.repo.root / "paperpack.yml"
    lorenz = "10.1175/1520-0469(1963)020<0130:DNF>2.0.CO;2"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(DOI, f"doi:{lorenz}"), encoding="utf-8")
    publication = dataclasses.replace(publication, repo=Repo.open(publication.repo.root))
    root = _graph(crate_metadata(publication))["./"]
    assert root["identifier"] == "https://doi.org/10.1175/1520-0469(1963)020%3C0130:DNF%3E2.0.CO;2"
    from paperpack.report.certificate import certificate
    from paperpack.report.provenance import provenance

    assert ("Paper DOI", lorenz) in certificate(provenance(publication), publication.verdict).facts
