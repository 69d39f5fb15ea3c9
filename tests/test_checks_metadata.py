"""META rules: ORCID checksums, CITATION.cff, license and paper DOI."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperpack.checks import CheckContext
from paperpack.checks.metadata import check, is_valid_orcid, orcid_checksum
from paperpack.findings import Finding
from paperpack.repo import Repo


@pytest.mark.parametrize(("orcid", "valid"), [
    ("0000-0002-1825-0097", True),  # ORCID's documented example
    ("https://orcid.org/0000-0002-1825-0097", True),
    ("http://orcid.org/0000-0002-1825-0097/", True),
    ("0000-0002-1694-233X", True),  # an iD whose check character is X
    ("0000-0002-1825-0098", False),
    ("0000-0002-1825-009", False),
    ("0000000218250097", False),
    ("0000-0002-1694-2339", False),
    ("", False),
])
def test_orcid(orcid: str, valid: bool) -> None:
    assert is_valid_orcid(orcid) is valid


def test_checksum_catches_every_single_digit_typo() -> None:
    base = "000000021825009"
    good = orcid_checksum(base)
    for i in range(len(base)):
        for d in "0123456789":
            if d != base[i]:
                typo = base[:i] + d + base[i + 1:]
                assert orcid_checksum(typo) != good, typo


def _run(root: Path, files: dict[str, str]) -> list[Finding]:
    for rel, text in files.items():
        (root / rel).write_text(text)
    return list(check(Repo.open(root), CheckContext(offline=True)))


def test_license_from_any_source(tmp_path: Path) -> None:
    assert "META004" in {f.rule for f in _run(tmp_path, {})}
    for files in ({"COPYING.txt": "GPL"}, {"LICENSE.md": "MIT"}, {"paperpack.yml": "version: 1\nlicense: MIT\n"},
                  {"CITATION.cff": "license: MIT\n"}):
        root = tmp_path / str(abs(hash(tuple(files))))
        root.mkdir()
        assert "META004" not in {f.rule for f in _run(root, files)}, files


def test_paper_doi_presence(tmp_path: Path) -> None:
    assert "META005" in {f.rule for f in _run(tmp_path, {"paperpack.yml": "version: 1\n"})}
    (tmp_path / "paperpack.yml").write_text("version: 1\npaper:\n  doi: 10.1000/xyz\n")
    assert "META005" not in {f.rule for f in _run(tmp_path, {})}


def test_preferred_citation_doi_counts(tmp_path: Path) -> None:
    rules = {f.rule for f in _run(tmp_path, {"CITATION.cff": "preferred-citation:\n  doi: 10.1000/xyz\n"})}
    assert "META005" not in rules


def test_orcid_finding_names_person_line_and_expected_digit(tmp_path: Path) -> None:
    findings = _run(tmp_path, {"paperpack.yml": "version: 1\nauthors:\n  - name: Bob\n    orcid: 0000-0002-1825-0098\n"})
    (f,) = [f for f in findings if f.rule == "META001"]
    assert f.path == "paperpack.yml" and f.line == 4
    assert f.message.startswith("Bob: ORCID iD 0000-0002-1825-0098 fails its checksum")
    assert "should be '7', not '8'" in f.message


def test_citation_cff_not_a_mapping(tmp_path: Path) -> None:
    findings = _run(tmp_path, {"CITATION.cff": "- just\n- a list\n"})
    assert [(f.rule, f.line) for f in findings if f.rule.startswith("META00") and f.path] == [("META002", 1)]


def test_citation_cff_authors_must_be_a_list(tmp_path: Path) -> None:
    findings = _run(tmp_path, {"CITATION.cff": "cff-version: 1.2.0\nmessage: m\ntitle: t\nauthors: Jane Doe\n"})
    assert [(f.rule, f.line) for f in findings if f.rule == "META003"] == [("META003", 4)]


def test_missing_fields_message_lists_them_with_an_example(tmp_path: Path) -> None:
    findings = _run(tmp_path, {"CITATION.cff": "title: t\n"})
    (f,) = [f for f in findings if f.rule == "META003"]
    assert "cff-version, message, authors" in f.message
    assert "`cff-version: 1.2.0`" in f.fix


def test_citation_cff_wants_orcid_urls(tmp_path: Path) -> None:
    findings = _run(tmp_path, {"CITATION.cff": "cff-version: 1.2.0\nmessage: m\ntitle: t\nauthors:\n"
                                               "  - name: A\n    orcid: 0000-0002-1825-0097\n"})
    assert [(f.rule, f.line, f.fix) for f in findings if f.rule.startswith("META00") and f.path] == [
        ("META003", 6, "write `orcid: https://orcid.org/0000-0002-1825-0097`")]
