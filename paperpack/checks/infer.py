"""Infer a manifest from what the repository already says.

Title from CITATION.cff, .zenodo.json or the README's first heading; authors from
CITATION.cff or .zenodo.json; the paper DOI and dataset DOIs from those files and the
README; the license; the notebooks in path order; files under ``data/`` with their
sha256; and, as a comment, the environment files repo2docker will use.
:func:`render_manifest` returns YAML text that validates against
``schemas/paperpack.manifest.v1.json``.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..doi.syntax import find_dois, normalize_doi
from ..repository.manifest import parse_manifest
from ..repository.repo import Repo
from .metadata import as_list, read_citation, read_zenodo

__all__ = ["Inferred", "infer_manifest", "render_manifest", "DATA_DOI_PREFIXES", "MAX_DATA_FILES"]

#: DOI prefixes of data repositories: a DOI with one of these is a dataset, not the paper.
DATA_DOI_PREFIXES = (
    "10.5281/",
    "10.6084/",
    "10.5061/",
    "10.1594/",
    "10.7910/",
    "10.17632/",
    "10.4121/",
    "10.25740/",
    "10.3886/",
    "10.48550/",
)
MAX_DATA_FILES = 200
_LICENSE_TEXTS = (
    ("MIT", r"Permission is hereby granted, free of charge"),
    ("Apache-2.0", r"Apache License,?\s+Version 2\.0"),
    ("GPL-3.0-or-later", r"GNU GENERAL PUBLIC LICENSE\s+Version 3"),
    ("BSD-3-Clause", r"Neither the name of"),
    ("BSD-2-Clause", r"Redistribution and use in source and binary forms"),
    ("CC-BY-4.0", r"Creative Commons Attribution 4\.0"),
    ("CC0-1.0", r"CC0 1\.0 Universal"),
)


@dataclass
class Inferred:
    """The manifest document and what is said about it in comments."""

    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)  #: lines written as a comment at the top
    sources: dict[str, str] = field(default_factory=dict)  #: key → where it was found


def _readme(repo: Repo) -> tuple[str, str] | None:
    for rel in repo.files:
        if "/" not in rel and rel.upper().startswith("README"):
            text = repo.read_text(rel)
            if text is not None:
                return rel, text
    return None


def _title(cff: Any, zen: Any, readme: tuple[str, str] | None) -> tuple[str, str] | None:
    if isinstance(cff, dict) and isinstance(cff.get("title"), str) and cff["title"].strip():
        return cff["title"].strip(), "CITATION.cff"
    if isinstance(zen, dict) and isinstance(zen.get("title"), str) and zen["title"].strip():
        return zen["title"].strip(), ".zenodo.json"
    if readme:
        for line in readme[1].splitlines():
            m = re.match(r"^#\s+(.+?)\s*#*\s*$", line)
            if m:
                return re.sub(r"[*_`]", "", m.group(1)).strip(), readme[0]
    return None


def _orcid(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    m = re.search(r"(\d{4}-\d{4}-\d{4}-\d{3}[\dXx])", value)
    return m.group(1).upper() if m else None


def _authors(cff: Any, zen: Any) -> tuple[list[dict[str, str]], str | None]:
    out: list[dict[str, str]] = []
    if isinstance(cff, dict) and isinstance(cff.get("authors"), list):
        for person in cff["authors"]:
            if not isinstance(person, dict):
                continue
            name = person.get("name") or " ".join(
                str(person[k]) for k in ("given-names", "name-particle", "family-names") if person.get(k)
            )
            entry = {"name": str(name).strip()} if name else {}
            if entry:
                _add_person_fields(entry, person)
                out.append(entry)
        if out:
            return out, "CITATION.cff"
    if isinstance(zen, dict) and isinstance(zen.get("creators"), list):
        for person in zen["creators"]:
            if isinstance(person, dict) and person.get("name"):
                entry = {"name": str(person["name"]).strip()}
                _add_person_fields(entry, person)
                out.append(entry)
        if out:
            return out, ".zenodo.json"
    return out, None


def _add_person_fields(entry: dict[str, str], person: dict[str, Any]) -> None:
    orcid = _orcid(person.get("orcid"))
    if orcid:
        entry["orcid"] = orcid
    if isinstance(person.get("affiliation"), str) and person["affiliation"].strip():
        entry["affiliation"] = person["affiliation"].strip()
    if isinstance(person.get("email"), str) and person["email"].strip():
        entry["email"] = person["email"].strip()


def _license(repo: Repo, cff: Any, zen: Any) -> tuple[str, str] | None:
    if isinstance(cff, dict) and isinstance(cff.get("license"), str):
        return cff["license"], "CITATION.cff"
    if isinstance(zen, dict):
        lic = zen.get("license")
        lic = lic.get("id") if isinstance(lic, dict) else lic
        if isinstance(lic, str) and lic:
            return lic, ".zenodo.json"
    for rel in repo.files:
        if "/" not in rel and re.match(r"^(LICEN[CS]E|COPYING)", rel, re.IGNORECASE):
            text = repo.read_text(rel) or ""
            for spdx, pattern in _LICENSE_TEXTS:
                if re.search(pattern, text, re.IGNORECASE):
                    return spdx, rel
    return None


def _as_written(raw: str) -> str:
    """The bare DOI of ``raw`` in its own letter case (``doi:`` and resolver URLs removed)."""
    text = unquote(raw.strip())
    text = re.sub(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/|info:doi/)", "", text, flags=re.IGNORECASE)
    return text.rstrip(".,;")


def _structured_dois(cff: Any, zen: Any) -> tuple[str | None, list[tuple[str, str]]]:
    """(paper DOI, [(doi, where)]) from the fields of CITATION.cff and .zenodo.json."""
    paper = None
    found: list[tuple[str, str]] = []
    if isinstance(cff, dict):
        pref = cff.get("preferred-citation")
        if isinstance(pref, dict) and pref.get("doi"):
            paper = _as_written(str(pref["doi"])) if normalize_doi(str(pref["doi"])) else None
        for key in ("doi",):
            if cff.get(key):
                found.append((str(cff[key]), "CITATION.cff"))
        for ident in as_list(cff.get("identifiers")):
            if isinstance(ident, dict) and ident.get("type") == "doi" and ident.get("value"):
                found.append((str(ident["value"]), "CITATION.cff"))
        for ref in as_list(cff.get("references")):
            if isinstance(ref, dict) and ref.get("doi"):
                found.append((str(ref["doi"]), "CITATION.cff"))
    if isinstance(zen, dict):
        for ident in as_list(zen.get("related_identifiers")):
            if not isinstance(ident, dict) or not ident.get("identifier"):
                continue
            doi = normalize_doi(str(ident["identifier"]))
            if doi and paper is None and ident.get("relation") in ("isSupplementTo", "isDocumentedBy"):
                paper = _as_written(str(ident["identifier"]))
            found.append((str(ident["identifier"]), ".zenodo.json"))
    return paper, found


def _dois(cff: Any, zen: Any, readme: tuple[str, str] | None) -> tuple[str | None, list[str], list[str]]:
    """(paper DOI, dataset DOIs, other DOIs), normalised and deduplicated, in the order found."""
    paper, found = _structured_dois(cff, zen)
    if readme:
        found += [(raw, readme[0]) for raw, _ in find_dois(readme[1])]
    seen: set[str] = {normalize_doi(paper) or paper} if paper else set()
    data: list[str] = []
    other: list[str] = []
    for raw, _ in found:
        doi = normalize_doi(raw)
        if doi is None or doi in seen:
            continue
        seen.add(doi)
        (data if doi.startswith(DATA_DOI_PREFIXES) else other).append(_as_written(raw))
    if paper is None and other:
        paper = other.pop(0)
    return paper, data, other


def _sha256(repo: Repo, rel: str) -> str:
    h = hashlib.sha256()
    with (repo.root / rel).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _data_files(repo: Repo) -> list[dict[str, Any]]:
    files = [f for f in repo.files if f.startswith("data/") and not f.rsplit("/", 1)[-1].startswith(".")]
    return [
        {"path": rel, "sha256": _sha256(repo, rel), "size": (repo.root / rel).stat().st_size}
        for rel in files[:MAX_DATA_FILES]
    ]


def infer_manifest(repo: Repo) -> Inferred:
    """The manifest paperpack would use for ``repo``, inferred from its files."""
    cff = read_citation(repo)[0]  # the metadata checks' readers: a file they cannot read gives nothing here
    zen = read_zenodo(repo)[0]
    readme = _readme(repo)
    out = Inferred(data={"version": 1})
    title = _title(cff, zen, readme)
    if title:
        out.data["title"], out.sources["title"] = title
    authors, source = _authors(cff, zen)
    if authors:
        out.data["authors"] = authors
        out.sources["authors"] = source or ""
    paper, data_dois, other = _dois(cff, zen, readme)
    if paper:
        out.data["paper"] = {"doi": paper}
    lic = _license(repo, cff, zen)
    if lic:
        out.data["license"], out.sources["license"] = lic
    if repo.notebooks:
        out.data["notebooks"] = [{"path": nb} for nb in repo.notebooks]
    datasets: list[dict[str, Any]] = [{"doi": d} for d in data_dois]
    files = _data_files(repo)
    if files:
        if datasets:
            datasets[0]["files"] = files
        else:
            datasets.append({"title": "Files under data/", "files": files})
    if datasets:
        out.data["data"] = datasets
    env = repo.environment
    out.notes.append(f"environment (read as repo2docker reads it): {env.summary}")
    for path, reason in env.ignored:
        out.notes.append(f"  ignored: {path}: {reason}")
    if other:
        out.notes.append(f"other DOIs found, not used here: {', '.join(other)}")
    if len([f for f in repo.files if f.startswith("data/")]) > MAX_DATA_FILES:
        out.notes.append(f"only the first {MAX_DATA_FILES} files under data/ are listed")
    if paper is None:
        out.notes.append("no paper DOI found: add `paper: {doi: …}` once the paper has one")
    return out


def render_manifest(inferred: Inferred) -> str:
    """YAML text of the inferred manifest, comments first; checked against the schema."""
    doc = CommentedMap()
    for key, value in inferred.data.items():
        doc[key] = _commented(value)
    header = [
        "paperpack manifest, written by `paperpack init`: review it, then commit it.",
        "Format: docs/manifest.md (schema: schemas/paperpack.manifest.v1.json).",
    ] + inferred.notes
    doc.yaml_set_start_comment("\n".join(header))
    for key, source in inferred.sources.items():
        if source and key in doc:
            doc.yaml_add_eol_comment(f"from {source}", key)
    if "data" in doc:
        doc.yaml_set_comment_before_after_key(
            "data", before="\nsha256 of each file as it is now; fetched by DOI when missing"
        )
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    buf = io.StringIO()
    yaml.dump(doc, buf)
    text = buf.getvalue()
    parse_manifest(text)  # a bug here, not the user's: raises ManifestError naming the problem
    return text


def _commented(value: Any) -> Any:
    if isinstance(value, dict):
        m = CommentedMap()
        for k, v in value.items():
            m[k] = _commented(v)
        return m
    if isinstance(value, list):
        return CommentedSeq(_commented(v) for v in value)
    return value
