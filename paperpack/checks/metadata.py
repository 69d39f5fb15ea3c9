"""Metadata family (META): who wrote it, under which license, for which paper.

Reads ``paperpack.yml``, ``CITATION.cff`` and ``.zenodo.json``. ORCID iDs are checked
with their ISO 7064 11,2 check digit. DOI syntax and resolution are the DOI family's
job; here only the presence of a paper DOI is checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..doi.resolve import shape_of
from ..repository.manifest import yaml_line, yaml_problem
from ..repository.repo import Repo
from . import CheckContext
from .findings import Finding, Rule, Severity

__all__ = [
    "check",
    "orcid_checksum",
    "is_valid_orcid",
    "read_citation",
    "LICENSE_FILES",
    "Person",
    "as_list",
    "Shape",
    "shape_problems",
]

_F = "metadata"
META001 = Rule(
    "META001",
    "orcid-invalid",
    Severity.ERROR,
    "A mistyped ORCID iD links the work to nobody, or to someone else; the last character is a "
    "checksum that catches most typos.",
    family=_F,
)
META002 = Rule(
    "META002",
    "citation-cff-invalid",
    Severity.ERROR,
    "GitHub, Zenodo and reference managers cannot read a CITATION.cff that is not valid YAML, so the "
    "software cannot be cited as the authors ask.",
    family=_F,
)
META003 = Rule(
    "META003",
    "citation-cff-incomplete",
    Severity.ERROR,
    "CITATION.cff 1.2.0 requires cff-version, message, title and authors; without them the file is "
    "rejected by its validators and by Zenodo.",
    family=_F,
)
META004 = Rule(
    "META004",
    "license-missing",
    Severity.WARNING,
    "Without a license nobody may legally reuse or redistribute the code and notebooks, whatever the paper says.",
    family=_F,
)
META005 = Rule(
    "META005",
    "paper-doi-missing",
    Severity.INFO,
    "Declaring the paper's DOI links the code to the article, so readers of either find the other.",
    family=_F,
)
META006 = Rule(
    "META006",
    "zenodo-json-invalid",
    Severity.ERROR,
    "Zenodo rejects a release whose .zenodo.json is not valid JSON, so no DOI is minted for it.",
    family=_F,
)
META007 = Rule(
    "META007",
    "authors-missing",
    Severity.INFO,
    "Without a list of authors, the archived package credits nobody.",
    family=_F,
)

LICENSE_FILES = re.compile(r"^(LICEN[CS]E|COPYING)([.-][\w.-]+)?$", re.IGNORECASE)
_ORCID = re.compile(r"^(?:https?://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])/?$")
CFF_REQUIRED = ("cff-version", "message", "title", "authors")


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else an empty list (a wrong type is reported by :func:`shape_problems`)."""
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class Shape:
    """What a field must be: one of ``types``; for a list, each item ``items``; for a mapping, its ``fields``."""

    types: tuple[type, ...]
    items: Shape | None = None
    fields: dict[str, Shape] | None = None

    @property
    def label(self) -> str:
        names = {str: "a string", list: "a list", dict: "a mapping", int: "a number"}
        return " or ".join(names.get(t, t.__name__) for t in self.types)


_TEXT = Shape((str,))
_PERSON = Shape((dict,), fields={"name": _TEXT, "orcid": _TEXT, "given-names": _TEXT, "family-names": _TEXT})
_CFF_IDENTIFIER = Shape((dict,), fields={"type": _TEXT, "value": _TEXT})
_CFF_ENTRY = {
    "doi": _TEXT,
    "title": _TEXT,
    "type": _TEXT,
    "authors": Shape((list,), items=_PERSON),
    "identifiers": Shape((list,), items=_CFF_IDENTIFIER),
}
#: The CITATION.cff fields paperpack reads, and the types they must have.
CFF_SHAPE = Shape(
    (dict,),
    fields={
        **_CFF_ENTRY,
        "cff-version": _TEXT,
        "message": _TEXT,
        "license": Shape((str, list)),
        "preferred-citation": Shape((dict,), fields=_CFF_ENTRY),
        "references": Shape((list,), items=Shape((dict,), fields=_CFF_ENTRY)),
    },
)
_ZEN_PERSON = Shape((dict,), fields={"name": _TEXT, "orcid": _TEXT})
#: The .zenodo.json fields paperpack reads, and the types they must have.
ZENODO_SHAPE = Shape(
    (dict,),
    fields={
        "title": _TEXT,
        "doi": _TEXT,
        "license": Shape((str, dict)),
        "creators": Shape((list,), items=_ZEN_PERSON),
        "contributors": Shape((list,), items=_ZEN_PERSON),
        "related_identifiers": Shape(
            (list,), items=Shape((dict,), fields={"identifier": _TEXT, "relation": _TEXT, "scheme": _TEXT})
        ),
    },
)


def shape_problems(
    value: Any, shape: Shape, where: str = "", parent: Any = None, key: Any = None
) -> Iterator[tuple[str, str, Any, Any]]:
    """(where, message, parent, key) for each field of ``value`` whose type differs from ``shape``.

    ``null`` counts as absent (missing required fields are another rule's job). ORCID iDs
    written as numbers are reported here and by META001.
    """
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, shape.types):
        name = where or "the top level"
        yield name, f"`{name}` must be {shape.label}, not {shape_of(value)}", parent, key
        return
    if shape.items is not None and isinstance(value, list):
        for i, item in enumerate(value):
            yield from shape_problems(item, shape.items, f"{where}[{i}]", value, i)
    if shape.fields is not None and isinstance(value, dict):
        for field, sub in shape.fields.items():
            if field in value:
                yield from shape_problems(value[field], sub, f"{where}.{field}" if where else field, value, field)


@dataclass(frozen=True)
class Person:
    name: str
    orcid: str | None
    path: str
    line: int | None


def orcid_checksum(base_digits: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 15 digits of an ORCID iD."""
    total = 0
    for ch in base_digits:
        total = (total + int(ch)) * 2
    result = (12 - total % 11) % 11
    return "X" if result == 10 else str(result)


def is_valid_orcid(value: str) -> bool:
    m = _ORCID.match(value.strip())
    if not m:
        return False
    digits = m.group(1).replace("-", "")
    return orcid_checksum(digits[:15]) == digits[15]


def _orcid_problem(value: str) -> str | None:
    m = _ORCID.match(value.strip())
    if not m:
        return (
            f"{value!r} is not an ORCID iD: expected 16 characters in four groups, "
            "0000-0002-1825-0097 or https://orcid.org/0000-0002-1825-0097"
        )
    digits = m.group(1).replace("-", "")
    expected = orcid_checksum(digits[:15])
    if expected != digits[15]:
        return (
            f"ORCID iD {m.group(1)} fails its checksum: the last character should be {expected!r}, "
            f"not {digits[15]!r} (a typo in one of the digits)"
        )
    return None


def _json_line(text: str, where: str) -> int | None:
    """The line of the last key named in ``where`` (``creators[0].orcid`` → ``"orcid"``) in JSON ``text``."""
    key = re.sub(r"\[\d+\]$", "", where).rsplit(".", 1)[-1]
    pos = text.find(json.dumps(key) + ":") if key else -1
    if pos < 0:
        pos = text.find(json.dumps(key))
    return text.count("\n", 0, pos) + 1 if pos >= 0 else None


def read_citation(repo: Repo) -> tuple[Any | None, tuple[str, int | None] | None]:
    """(CITATION.cff document, None) or (None, (error message, line)); (None, None) without the file."""
    text = repo.read_text("CITATION.cff")
    if text is None:
        return None, None
    from ruamel.yaml import YAML  # here: without YAML files, never imported
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="rt").load(text), None
    except YAMLError as exc:
        problem, line = yaml_problem(exc)
        return None, (f"YAML syntax error: {problem}", line)


def read_zenodo(repo: Repo) -> tuple[dict[str, Any] | None, tuple[str, int | None] | None]:
    text = repo.read_text(".zenodo.json")
    if text is None:
        return None, None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, (f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", exc.lineno)
    if not isinstance(doc, dict):
        return None, ("the top level must be a JSON object", 1)
    return doc, None


def _cff_people(doc: Any, path: str = "CITATION.cff") -> Iterator[Person]:
    lists = [doc.get("authors")]
    pref = doc.get("preferred-citation")
    if isinstance(pref, dict):
        lists.append(pref.get("authors"))
    for people in lists:
        if not isinstance(people, list):
            continue
        for i, person in enumerate(people):
            if not isinstance(person, dict):
                continue
            name = person.get("name") or " ".join(str(person.get(k, "")) for k in ("given-names", "family-names"))
            orcid = person.get("orcid")
            line = yaml_line(person, "orcid") if orcid else yaml_line(people, i)
            yield Person(str(name).strip(), str(orcid) if orcid else None, path, line)


def _zenodo_people(doc: dict[str, Any], text: str) -> Iterator[Person]:
    lines = text.splitlines()
    for key in ("creators", "contributors"):
        for person in as_list(doc.get(key)):
            if not isinstance(person, dict):
                continue
            orcid = person.get("orcid")
            line = None
            if orcid:
                line = next((n for n, t in enumerate(lines, 1) if str(orcid) in t), None)
            yield Person(str(person.get("name", "")), str(orcid) if orcid else None, ".zenodo.json", line)


def _manifest_people(repo: Repo) -> Iterator[Person]:
    m = repo.manifest
    if m is None or m.path is None:
        return
    for i, person in enumerate(as_list(m.get("authors"))):
        if not isinstance(person, dict):
            continue
        orcid = person.get("orcid")
        line = m.line_of("authors", i, "orcid") if orcid else m.line_of("authors", i)
        yield Person(str(person.get("name", "")), str(orcid) if orcid else None, m.path.name, line)


def check(repo: Repo, ctx: CheckContext) -> Iterable[Finding]:
    cff, cff_error = read_citation(repo)
    zen, zen_error = read_zenodo(repo)
    people = list(_manifest_people(repo))
    if cff_error:
        yield META002.at(
            "CITATION.cff",
            cff_error[0],
            "fix the YAML syntax; check it with `cffconvert --validate`",
            line=cff_error[1],
        )
    elif cff is not None:
        yield from _cff_fields(cff)
        if isinstance(cff, dict):
            people += list(_cff_people(cff))
    if zen_error:
        yield META006.at(
            ".zenodo.json", zen_error[0], "fix the JSON syntax (e.g. with `python -m json.tool`)", line=zen_error[1]
        )
    elif zen is not None:
        text = repo.read_text(".zenodo.json") or ""
        for where, message, _, _ in shape_problems(zen, ZENODO_SHAPE):
            yield META006.at(
                ".zenodo.json",
                message,
                f"write `{where}` as Zenodo's metadata reference describes "
                "(https://developers.zenodo.org/#representation)",
                line=_json_line(text, where),
            )
        people += list(_zenodo_people(zen, text))
    for person in people:
        problem = _orcid_problem(person.orcid) if person.orcid else None
        if problem:
            who = f"{person.name}: " if person.name else ""
            yield META001.at(
                person.path, f"{who}{problem}", "copy the iD from the author's orcid.org profile", line=person.line
            )
    if not people and not (isinstance(cff, dict) and cff.get("authors")):
        yield META007.at(
            None,
            "no authors are listed in paperpack.yml, CITATION.cff or .zenodo.json",
            "add `authors:` (name and ORCID) to paperpack.yml or CITATION.cff",
        )
    if not _has_license(repo, cff, zen):
        yield META004.at(
            None,
            "no license: no LICENSE or COPYING file, and none declared in paperpack.yml or CITATION.cff",
            "add a LICENSE file (e.g. MIT or BSD-3-Clause for code, CC-BY-4.0 for text) and "
            "`license:` with its SPDX id in paperpack.yml",
        )
    if not _has_paper_doi(repo, cff):
        yield META005.at(
            None,
            "no paper DOI is declared",
            "add `paper: {doi: …}` to paperpack.yml, or `doi:` / `preferred-citation:` to "
            "CITATION.cff, once the paper has one",
        )


def _cff_fields(cff: Any) -> Iterable[Finding]:
    if not isinstance(cff, dict):
        yield META002.at(
            "CITATION.cff",
            "the top level must be a mapping of keys (cff-version, title, …)",
            "start from https://citation-file-format.github.io/cff-initializer-javascript/",
            line=1,
        )
        return
    for where, message, parent, key in shape_problems(cff, CFF_SHAPE):
        if where == "authors":
            continue  # META003 below, as documented
        yield META002.at(
            "CITATION.cff",
            message,
            f"write `{where}` as the Citation File Format describes "
            "(https://github.com/citation-file-format/citation-file-format)",
            line=yaml_line(parent, key),
        )
    missing = [k for k in CFF_REQUIRED if not cff.get(k)]
    if missing:
        yield META003.at(
            "CITATION.cff",
            f"required field{'s' * (len(missing) > 1)} missing or empty: {', '.join(missing)}",
            "add " + ", ".join(_CFF_EXAMPLE[k] for k in missing),
            line=1,
        )
    authors = cff.get("authors")
    if authors is not None and not isinstance(authors, list):
        yield META003.at(
            "CITATION.cff",
            "'authors' must be a list of people",
            "write each author as a list item: `- family-names: …`",
            line=yaml_line(cff, "authors"),
        )
    for person in _cff_people(cff):
        orcid = person.orcid or ""
        bare = _ORCID.match(orcid.strip())
        if bare and is_valid_orcid(bare.group(1)) and not orcid.startswith("https://orcid.org/"):
            yield META003.at(
                "CITATION.cff",
                f"orcid {orcid!r}: CITATION.cff requires the URL form",
                f"write `orcid: https://orcid.org/{bare.group(1)}`",
                line=person.line,
            )


_CFF_EXAMPLE = {
    "cff-version": "`cff-version: 1.2.0`",
    "message": "`message: If you use this software, please cite it as below.`",
    "title": "`title: <the repository's title>`",
    "authors": "`authors:` with `- family-names: …` / `given-names: …` items",
}


def _has_license(repo: Repo, cff: Any, zen: dict[str, Any] | None) -> bool:
    if any(LICENSE_FILES.match(f) for f in repo.files if "/" not in f):
        return True
    if repo.manifest is not None and repo.manifest.get("license"):
        return True
    if isinstance(cff, dict) and cff.get("license"):
        return True
    return bool(zen and zen.get("license"))


def _has_paper_doi(repo: Repo, cff: Any) -> bool:
    if repo.manifest is not None and (repo.manifest.section("paper").get("doi")):
        return True
    if isinstance(cff, dict):
        if cff.get("doi"):
            return True
        pref = cff.get("preferred-citation")
        if isinstance(pref, dict) and pref.get("doi"):
            return True
    return False
