"""DOI syntax: every written form normalises to one DOI; malformed ones say why; text extraction."""

from __future__ import annotations

import pytest

from paperpack.doi.syntax import (
    doi_url,
    find_dois,
    find_malformed_dois,
    is_placeholder_doi,
    is_valid_doi,
    normalize_doi,
    syntax_problem,
)

SICI = "10.1175/1520-0469(1963)020<0130:DNF>2.0.CO;2"


@pytest.mark.parametrize(
    "written",
    [
        "10.5281/zenodo.3509134",
        "doi:10.5281/zenodo.3509134",
        "DOI: 10.5281/Zenodo.3509134",
        "https://doi.org/10.5281/zenodo.3509134",
        "http://dx.doi.org/10.5281/zenodo.3509134",
        "https://www.doi.org/10.5281/ZENODO.3509134",
        "doi.org/10.5281/zenodo.3509134",
        "info:doi/10.5281/zenodo.3509134",
        "10.5281%2Fzenodo.3509134",
        "https%3A%2F%2Fdoi.org%2F10.5281%2Fzenodo.3509134",
        "  10.5281/zenodo.3509134.  ",
    ],
)
def test_every_written_form_normalises_to_one(written: str) -> None:
    assert normalize_doi(written) == "10.5281/zenodo.3509134"


def test_sici_doi_with_brackets_survives() -> None:
    assert normalize_doi(SICI) == SICI.lower()
    assert normalize_doi("https://doi.org/10.1175/1520-0469%281963%29020%3C0130%3ADNF%3E2.0.CO%3B2") == SICI.lower()
    assert doi_url("10.5281/zenodo.1") == "https://doi.org/10.5281/zenodo.1"


@pytest.mark.parametrize(
    "written, why",
    [
        ("10.123/abc", "the prefix '10.123' should be '10.' followed by 4 to 9 digits"),
        ("https://doi.org/10.1/x", "the prefix '10.1' should be '10.' followed by 4 to 9 digits"),
        ("10.5281/zenodo 1", "the suffix contains ' '"),
        ("10.5281/", "there is nothing after the '/'"),
        ("zenodo.1234", "a DOI starts with '10.'"),
        ("", "it is empty"),
    ],
)
def test_malformed_dois_say_why(written: str, why: str) -> None:
    assert not is_valid_doi(written)
    assert syntax_problem(written) == why


@pytest.mark.parametrize(
    "doi, placeholder",
    [
        ("10.xxxx/abc", True),
        ("10.5281/zenodo.XXXXXXX", True),
        ("https://doi.org/10.5281/zenodo.xxxxxxx", True),
        ("10.5281/zenodo.0000000", True),
        ("10.1234/abc", True),
        ("10.5555/todo", True),
        ("10.5281/zenodo.3509134", False),
        ("10.1038/s41586-020-2649-2", False),
        (SICI, False),
    ],
)
def test_placeholders(doi: str, placeholder: bool) -> None:
    assert is_placeholder_doi(doi) is placeholder


def test_find_dois_in_markdown_keeps_lines_and_trims_what_follows() -> None:
    text = (
        f"Lorenz (1963), doi:{SICI}. Data (https://doi.org/10.5281/zenodo.1).\n"
        "[badge](https://doi.org/10.5281/zenodo.2) **10.5281/zenodo.3** <https://dx.doi.org/10.5281/zenodo.4>\n"
        "[broken](https://doi.org/10.1/x) doi: see below; DOI: 10.12/bad (typo).\n"
    )
    assert find_dois(text) == [
        (SICI, 1),
        ("10.5281/zenodo.1", 1),
        ("10.5281/zenodo.2", 2),
        ("10.5281/zenodo.3", 2),
        ("10.5281/zenodo.4", 2),
    ]
    assert find_malformed_dois(text) == [("10.1/x", 3), ("10.12/bad", 3)]


def test_zenodo_badge_image_is_not_part_of_the_doi() -> None:
    text = "[![DOI](https://zenodo.org/badge/DOI/10.5281/zenodo.1234567.svg)](https://doi.org/10.5281/zenodo.1234567)"
    assert find_dois(text) == [("10.5281/zenodo.1234567", 1), ("10.5281/zenodo.1234567", 1)]
