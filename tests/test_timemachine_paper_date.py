"""The date from the paper's DOI: its publication day in the DOI's metadata, when paperpack.yml declares it.

The DOI services are the loopback server of tests/doiserver.py (DataCite's *Issued* date, Crossref's
*published*, content negotiation's CSL *issued*); the repository is a real git repository whose last
commit is later than the paper.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest

from conftest_doi import doi_env, doi_server  # noqa: F401 - fixtures
from doiserver import DoiServer
from paperpack.doi.resolve import DoiResolver
from paperpack.timemachine import repository_date
from paperpack.timemachine.asof import DateSource


def _repo(root: Path) -> Path:
    env = dict(
        os.environ,
        GIT_AUTHOR_DATE="2025-01-02T12:00:00Z",
        GIT_COMMITTER_DATE="2025-01-02T12:00:00Z",
        GIT_AUTHOR_NAME="a",
        GIT_AUTHOR_EMAIL="a@example.org",
        GIT_COMMITTER_NAME="a",
        GIT_COMMITTER_EMAIL="a@example.org",
    )
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    (root / "analysis.ipynb").write_text("{}")
    subprocess.run(["git", "-C", str(root), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-q", "-m", "a fix after the paper"], check=True, env=env)
    return root


@pytest.mark.parametrize("agency", ["datacite", "crossref", "other"])
def test_the_papers_publication_day_dates_the_repository(agency: str, doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_doi(
        "10.1234/paper.5", agency=agency, title="A paper", type="journal-article", year=2023, published="2023-06-15"
    )
    root = _repo(tmp_path / "repo")
    manifest = {"paper": {"doi": "https://doi.org/10.1234/PAPER.5"}}
    as_of = repository_date(
        root, notebooks=["analysis.ipynb"], manifest=manifest, resolver=DoiResolver(cache_folder=tmp_path / "cache")
    )
    assert as_of is not None
    assert (as_of.date, as_of.source) == (dt.date(2023, 6, 15), DateSource.PAPER_DOI)
    assert "publication date of the paper 10.1234/paper.5 in its DOI metadata" in as_of.detail
    assert as_of.to_dict()["source"] == "paper-doi"


def test_a_doi_with_only_a_year_leaves_the_date_to_git(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_doi("10.1234/paper.6", agency="crossref", title="A paper", type="journal-article", year=2023)
    root = _repo(tmp_path / "repo")
    as_of = repository_date(
        root,
        notebooks=["analysis.ipynb"],
        manifest={"paper": {"doi": "10.1234/paper.6"}},
        resolver=DoiResolver(cache_folder=tmp_path / "cache"),
    )
    assert as_of is not None and (as_of.date, as_of.source) == (dt.date(2025, 1, 2), DateSource.GIT)


def test_the_manifests_as_of_wins_over_the_doi(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_doi("10.1234/paper.7", published="2023-06-15")
    manifest = {"paper": {"doi": "10.1234/paper.7"}, "environment": {"as_of": "2022-01-31"}}
    as_of = repository_date(
        _repo(tmp_path / "repo"),
        notebooks=["analysis.ipynb"],
        manifest=manifest,
        resolver=DoiResolver(cache_folder=tmp_path / "cache"),
    )
    assert as_of is not None and (as_of.date, as_of.source) == (dt.date(2022, 1, 31), DateSource.MANIFEST)
    assert doi_env.paths() == []  # not even looked up
