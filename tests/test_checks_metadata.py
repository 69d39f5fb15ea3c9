"""META rules: ORCID checksums, CITATION.cff, license and paper DOI."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paperpack.checks import CheckContext
from paperpack.checks.findings import Finding
from paperpack.checks.metadata import check, is_valid_orcid, orcid_checksum
from paperpack.repository.repo import Repo


@pytest.mark.parametrize(
    ("orcid", "valid"),
    [
        ("0000-0002-1825-0097", True),  # ORCID's documented example
        ("https://orcid.org/0000-0002-1825-0097", True),
        ("http://orcid.org/0000-0002-1825-0097/", True),
        ("0000-0002-1694-233X", True),  # an iD whose check character is X
        ("0000-0002-1825-0098", False),
        ("0000-0002-1825-009", False),
        ("0000000218250097", False),
        ("0000-0002-1694-2339", False),
        ("", False),
    ],
)
def test_orcid(orcid: str, valid: bool) -> None:
    assert is_valid_orcid(orcid) is valid


def test_checksum_catches_every_single_digit_typo() -> None:
    base = "000000021825009"
    good = orcid_checksum(base)
    for i in range(len(base)):
        for d in "0123456789":
            if d != base[i]:
                typo = base[:i] + d + base[i + 1 :]
                assert orcid_checksum(typo) != good, typo


def _run(root: Path, files: dict[str, str]) -> list[Finding]:
    for rel, text in files.items():
        (root / rel).write_text(text)
    return list(check(Repo.open(root), CheckContext(offline=True)))


def test_license_from_any_source(tmp_path: Path) -> None:
    assert "META004" in {f.rule for f in _run(tmp_path, {})}
    for files in (
        {"COPYING.txt": "GPL"},
        {"LICENSE.md": "MIT"},
        {"paperpack.yml": "version: 1\nlicense: MIT\n"},
        {"CITATION.cff": "license: MIT\n"},
    ):
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
    findings = _run(
        tmp_path, {"paperpack.yml": "version: 1\nauthors:\n  - name: Bob\n    orcid: 0000-0002-1825-0098\n"}
    )
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
    findings = _run(
        tmp_path,
        {
            "CITATION.cff": "cff-version: 1.2.0\nmessage: m\ntitle: t\nauthors:\n"
            "  - name: A\n    orcid: 0000-0002-1825-0097\n"
        },
    )
    assert [(f.rule, f.line, f.fix) for f in findings if f.rule.startswith("META00") and f.path] == [
        ("META003", 6, "write `orcid: https://orcid.org/0000-0002-1825-0097`")
    ]


def test_wrong_types_in_citation_cff_are_findings_with_lines(tmp_path: Path) -> None:
    findings = _run(
        tmp_path,
        {
            "CITATION.cff": "cff-version: 1.2.0\nmessage: m\ntitle: t\nauthors:\n  - name: A\n"
            "identifiers: 3\nreferences:\n  - 5\n  - doi: [1]\n"
        },
    )
    assert [(f.rule, f.line, f.message) for f in findings if f.rule == "META002"] == [
        ("META002", 6, "`identifiers` must be a list, not a number (3)"),
        ("META002", 8, "`references[0]` must be a mapping, not a number (5)"),
        ("META002", 9, "`references[1].doi` must be a string, not a list"),
    ]


def test_wrong_types_in_zenodo_json_are_findings_with_lines(tmp_path: Path) -> None:
    findings = _run(
        tmp_path, {".zenodo.json": '{\n  "title": "t",\n  "creators": 5,\n  "related_identifiers": ["x"]\n}'}
    )
    assert [(f.rule, f.line, f.message) for f in findings if f.rule == "META006"] == [
        ("META006", 3, "`creators` must be a list, not a number (5)"),
        ("META006", 4, "`related_identifiers[0]` must be a mapping, not a string ('x')"),
    ]


# -- fuzz: every field of the three metadata files replaced by a value of every wrong type ----------

_CFF = {
    "cff-version": "1.2.0",
    "message": "cite",
    "title": "T",
    "doi": "10.5281/zenodo.1",
    "license": "MIT",
    "authors": [
        {
            "family-names": "C",
            "given-names": "J",
            "name": "x",
            "affiliation": "a",
            "orcid": "https://orcid.org/0000-0002-1825-0097",
        }
    ],
    "identifiers": [{"type": "doi", "value": "10.5281/zenodo.2"}],
    "preferred-citation": {
        "type": "article",
        "title": "P",
        "doi": "10.1000/x",
        "authors": [{"family-names": "C"}],
        "identifiers": [{"type": "doi", "value": "10.1000/y"}],
    },
    "references": [{"type": "dataset", "doi": "10.5281/zenodo.3", "identifiers": [{"type": "doi", "value": "10.1/z"}]}],
}
_ZENODO = {
    "title": "T",
    "doi": "10.5281/zenodo.1",
    "license": {"id": "MIT"},
    "creators": [{"name": "C, J", "orcid": "0000-0002-1825-0097", "affiliation": "a"}],
    "contributors": [{"name": "D", "orcid": "0000-0002-1825-0097", "type": "Other"}],
    "related_identifiers": [{"identifier": "10.1000/x", "relation": "isSupplementTo", "scheme": "doi"}],
}
_MANIFEST = {
    "version": 1,
    "title": "T",
    "license": "MIT",
    "authors": [{"name": "A", "orcid": "0000-0002-1825-0097"}],
    "paper": {"doi": "10.1000/x"},
    "notebooks": ["a.ipynb"],
    "data": [
        {
            "doi": "10.5281/zenodo.1",
            "url": "http://127.0.0.1:9/x",
            "title": "d",
            "files": [
                {
                    "path": "data/a.csv",
                    "sha256": "0" * 64,
                    "md5": "0" * 32,
                    "size": 3,
                    "name": "a.csv",
                    "extract": False,
                    "url": "http://127.0.0.1:9/a",
                }
            ],
        }
    ],
}
_WRONG: list[object] = [3, "x", [], {}, None]


def _field_paths(doc: object, prefix: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    yield prefix
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for key, value in items:
        yield from _field_paths(value, prefix + (key,))


def _replaced(doc: object, path: tuple[object, ...], value: object) -> object:
    if not path:
        return value
    doc = copy.deepcopy(doc)
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("name", "base"), [("CITATION.cff", _CFF), (".zenodo.json", _ZENODO), ("paperpack.yml", _MANIFEST)]
)
def test_no_field_of_the_wrong_type_crashes_validate_or_init(
    name: str, base: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperpack.cli.main import main

    monkeypatch.setenv("PAPERPACK_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "paper"
    root.mkdir()
    tried = 0
    for path in _field_paths(base):
        for value in _WRONG:
            (root / name).write_text(json.dumps(_replaced(base, path, value)), encoding="utf-8")  # JSON is YAML
            where = f"{name} {'.'.join(map(str, path)) or '<top>'} = {value!r}"
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                assert main(["validate", str(root), "--offline", "-q"]) in (0, 1), where
                if name != "paperpack.yml":  # init refuses to run beside a manifest
                    assert main(["init", str(root), "--stdout"]) == 0, where
            tried += 1
    assert tried == 5 * len(list(_field_paths(base))) > 60
