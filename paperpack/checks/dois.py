"""DOI family: every DOI the repository cites is well-formed, real, and what it claims to be.

DOIs are collected from the manifest (``paper.doi``, ``data[*].doi``), CITATION.cff
(``doi``, ``identifiers``, ``preferred-citation``, ``references``), ``.zenodo.json``
(``doi``, ``related_identifiers``) and README files. Syntax and placeholders are
checked offline; resolution (handle API, DataCite, Crossref) runs unless
``ctx.offline``, concurrently and through the persistent cache. Presence of the paper
DOI is the metadata family's job; this family checks what is written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..doi.resolve import FAILED, FOUND, NOT_FOUND, UNREACHABLE, DoiRecord, DoiResolver
from ..doi.syntax import find_dois, find_malformed_dois, is_placeholder_doi, normalize_doi, syntax_problem
from ..repository.manifest import yaml_line
from ..repository.repo import Repo
from . import CheckContext
from .findings import Finding, Rule, Severity
from .metadata import as_list, read_citation

log = logging.getLogger(__name__)

_F = "dois"
DOI001 = Rule(
    "DOI001",
    "doi-syntax",
    Severity.ERROR,
    "A malformed DOI leads nowhere: readers and indexers cannot follow it to the paper or the data.",
    family=_F,
)
DOI002 = Rule(
    "DOI002",
    "doi-placeholder",
    Severity.ERROR,
    "A placeholder DOI (10.xxxx/…, zenodo.XXXXXXX) left in a published repository points at nothing.",
    family=_F,
)
DOI003 = Rule(
    "DOI003",
    "doi-not-found",
    Severity.ERROR,
    "The DOI system does not know this DOI: it is mistyped, not registered yet, or invented.",
    family=_F,
)
DOI004 = Rule(
    "DOI004",
    "doi-kind-mismatch",
    Severity.WARNING,
    "A data DOI that resolves to a journal article (or a paper DOI that resolves to a dataset) is "
    "usually the wrong DOI copied into the wrong place.",
    family=_F,
)
DOI005 = Rule(
    "DOI005",
    "doi-resolved",
    Severity.INFO,
    "Shows the title each DOI resolves to, so the author can see at a glance that it is the right one.",
    family=_F,
)
DOI006 = Rule(
    "DOI006",
    "doi-services-unreachable",
    Severity.WARNING,
    "The DOI services could not be reached, so the DOIs were not checked (this says nothing about whether they exist).",
    family=_F,
)
DOI007 = Rule(
    "DOI007",
    "doi-offline",
    Severity.INFO,
    "With --offline, DOIs are checked for syntax only, plus whatever the cache remembers.",
    family=_F,
)
DOI008 = Rule(
    "DOI008",
    "data-without-doi",
    Severity.WARNING,
    "Data cited only by URL can move or vanish; a DOI (Zenodo, Dryad, Figshare, …) keeps it findable "
    "and lets paperpack check the files against the archived record.",
    family=_F,
)
DOI009 = Rule(
    "DOI009",
    "doi-lookup-failed",
    Severity.WARNING,
    "A DOI service answered with an error or too slowly after retries, so this DOI was not checked.",
    family=_F,
)

_ARTICLE_TYPES = {"article", "conference-paper", "magazine-article", "newspaper-article"}


@dataclass(frozen=True)
class Mention:
    """A DOI as written somewhere: ``doi`` is the normalised form, or ``None`` if malformed."""

    raw: str
    doi: str | None
    path: str
    line: int | None
    role: str  # "paper", "data" or "other"
    field: str  # where in the file, for messages (e.g. "paper.doi")


def check(repo: Repo, ctx: CheckContext) -> Iterable[Finding]:
    mentions = list(collect_mentions(repo))
    ctx.cache["doi_mentions"] = mentions  # what validate's summary counts
    yield from _syntax_findings(mentions)
    yield from _data_without_doi(repo)
    dois = [m.doi for m in mentions if m.doi and not is_placeholder_doi(m.doi)]
    if not dois or not ctx.resolve_dois:
        return
    resolver = DoiResolver(ctx.options.get("services"), cache_folder=ctx.options.get("cache_dir"), offline=ctx.offline)
    records = resolver.resolve_many(dois)
    ctx.cache["doi_records"] = records
    yield from _resolution_findings(mentions, records, ctx.offline)


# -- collecting -------------------------------------------------------------------------------


def collect_mentions(repo: Repo) -> Iterator[Mention]:
    """Every DOI written in the manifest, CITATION.cff, .zenodo.json and README files."""
    yield from _from_manifest(repo)
    if repo.has("CITATION.cff"):
        yield from _from_cff(repo)
    if repo.has(".zenodo.json"):
        yield from _from_zenodo(repo, ".zenodo.json")
    for rel in repo.files:
        if "/" not in rel and rel.upper().startswith("README"):
            yield from _from_text(repo, rel)


def _mention(raw: Any, path: str, line: int | None, role: str, field: str) -> Mention | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    return Mention(raw.strip(), normalize_doi(raw), path, line, role, field)


def _from_manifest(repo: Repo) -> Iterator[Mention]:
    m = repo.manifest
    if m is None or m.path is None:
        return
    path = m.path.name
    paper = m.get("paper")
    paper = paper if isinstance(paper, dict) else {}
    if found := _mention(paper.get("doi"), path, m.line_of("paper", "doi"), "paper", "paper.doi"):
        yield found
    for i, ds in enumerate(m.datasets):
        if found := _mention(ds.get("doi"), path, m.line_of("data", i, "doi"), "data", f"data[{i}].doi"):
            yield found


def _cff_entry(entry: Any, path: str, role: str, where: str) -> Iterator[Mention]:
    from ruamel.yaml.comments import CommentedMap  # here: without YAML files, never imported

    if not isinstance(entry, CommentedMap):
        return
    if found := _mention(entry.get("doi"), path, yaml_line(entry, "doi"), role, f"{where}doi"):
        yield found
    for i, ident in enumerate(as_list(entry.get("identifiers"))):
        if isinstance(ident, CommentedMap) and str(ident.get("type", "")).lower() == "doi":
            if found := _mention(
                ident.get("value"), path, yaml_line(ident, "value"), role, f"{where}identifiers[{i}].value"
            ):
                yield found


def _from_cff(repo: Repo) -> Iterator[Mention]:
    path = "CITATION.cff"
    doc, _ = read_citation(repo)  # the metadata family reports an unreadable CITATION.cff
    if doc is None:
        return
    from ruamel.yaml.comments import CommentedMap

    if not isinstance(doc, CommentedMap):
        return
    yield from _cff_entry(doc, path, "other", "")
    pref = doc.get("preferred-citation")
    if isinstance(pref, CommentedMap):
        role = "paper" if str(pref.get("type", "")).lower() in _ARTICLE_TYPES else "other"
        yield from _cff_entry(pref, path, role, "preferred-citation.")
    for i, ref in enumerate(as_list(doc.get("references"))):
        if isinstance(ref, CommentedMap):
            role = "data" if str(ref.get("type", "")).lower() in ("data", "dataset", "database") else "other"
            yield from _cff_entry(ref, path, role, f"references[{i}].")


def _from_zenodo(repo: Repo, path: str) -> Iterator[Mention]:
    text = repo.read_text(path)
    if text is None:
        return
    try:
        doc = json.loads(text)
    except ValueError:
        return  # the metadata family reports invalid JSON
    if not isinstance(doc, dict):
        return
    values: list[tuple[Any, str]] = [(doc.get("doi"), "doi")]
    for i, rel in enumerate(as_list(doc.get("related_identifiers"))):
        if isinstance(rel, dict) and (
            str(rel.get("scheme", "")).lower() == "doi"
            or str(rel.get("identifier", "")).lower().startswith(("10.", "doi:", "https://doi.org"))
        ):
            values.append((rel.get("identifier"), f"related_identifiers[{i}].identifier"))
    for raw, field in values:
        if isinstance(raw, str) and raw.strip():
            needle = json.dumps(raw)[1:-1]
            pos = text.find(needle)
            line = text.count("\n", 0, pos) + 1 if pos >= 0 else None
            if found := _mention(raw, path, line, "other", field):
                yield found


def _from_text(repo: Repo, path: str) -> Iterator[Mention]:
    text = repo.read_text(path)
    if text is None:
        return
    found = [(raw, line, normalize_doi(raw)) for raw, line in find_dois(text)]
    found += [(raw, line, None) for raw, line in find_malformed_dois(text)]
    for raw, line, doi in sorted(found, key=lambda t: t[1]):
        yield Mention(raw, doi, path, line, "other", "text")


# -- findings ---------------------------------------------------------------------------------


def _syntax_findings(mentions: list[Mention]) -> Iterator[Finding]:
    for m in mentions:
        if is_placeholder_doi(m.doi or m.raw):
            yield DOI002.at(
                m.path,
                f"{_label(m)}{m.raw!r} is a placeholder, not a registered DOI",
                "replace it with the DOI the archive (Zenodo, the journal) gave you; reserve one on "
                "Zenodo before publishing if it does not exist yet",
                line=m.line,
                detail={"value": m.raw},
            )
        elif m.doi is None:
            yield DOI001.at(
                m.path,
                f"{_label(m)}{m.raw!r} is not a valid DOI: {syntax_problem(m.raw)}",
                "write the DOI as 10.<registrant>/<suffix> (e.g. 10.5281/zenodo.1234567), or as "
                "https://doi.org/10.…; copy it from the record's landing page",
                line=m.line,
                detail={"value": m.raw},
            )


def _label(m: Mention) -> str:
    """``paper.doi: `` for structured fields, nothing for running text."""
    return "" if m.field == "text" else f"{m.field}: "


def _data_without_doi(repo: Repo) -> Iterator[Finding]:
    m = repo.manifest
    if m is None or m.path is None:
        return
    for i, ds in enumerate(m.datasets):
        if not ds.get("doi"):
            what = ds.get("title") or ds.get("url") or f"data[{i}]"
            yield DOI008.at(
                m.path.name,
                f"data[{i}] ({what}) has no DOI",
                f"deposit the data in an archive that gives DOIs (Zenodo, Dryad, Figshare) and add `doi:` to data[{i}]",
                line=m.line_of("data", i),
            )


def _record_detail(record: DoiRecord) -> dict[str, object]:
    return {
        k: v
        for k, v in record.to_dict().items()
        if k in ("doi", "status", "url", "title", "type", "kind", "year", "agency", "source", "cached", "reason")
    }


def _first_by_doi(mentions: list[Mention]) -> dict[str, list[Mention]]:
    groups: dict[str, list[Mention]] = {}
    for m in mentions:
        if m.doi and not is_placeholder_doi(m.doi):
            groups.setdefault(m.doi, []).append(m)
    return groups


def _also(group: list[Mention]) -> str:
    others = [f"{m.path}:{m.line}" if m.line else m.path for m in group[1:]]
    return f" (also in {', '.join(others)})" if others else ""


def _resolution_findings(mentions: list[Mention], records: dict[str, DoiRecord], offline: bool) -> Iterator[Finding]:
    unreachable: list[str] = []
    unchecked = 0
    for doi, group in _first_by_doi(mentions).items():
        first = group[0]
        record = records.get(doi) or DoiRecord(doi, "unchecked")
        detail = _record_detail(record)
        cached = " (from the cache)" if record.cached else ""
        if record.status == FOUND:
            yield DOI005.at(
                first.path,
                f"{_label(first)}{doi} → {record.summary()}{cached}{_also(group)}",
                "check that this is the paper or dataset you meant to cite",
                line=first.line,
                detail=detail,
            )
            for m in group:
                yield from _kind_mismatch(m, record)
        elif record.status == NOT_FOUND:
            for m in group:
                yield DOI003.at(
                    m.path,
                    f"{_label(m)}{doi} does not exist: the DOI system does not know it{cached}",
                    "copy the DOI again from the record's landing page (look for a typo), or register it first",
                    line=m.line,
                    detail=detail,
                )
        elif record.status == UNREACHABLE:
            unreachable.append(doi)
        elif record.status == FAILED:
            yield DOI009.at(
                first.path,
                f"{_label(first)}{doi} was not checked: {record.reason}{_also(group)}",
                "run validate again later, or with --offline",
                line=first.line,
                detail=detail,
            )
        else:
            unchecked += 1
    if unreachable:
        yield _unreachable(unreachable, _first_by_doi(mentions))
    if offline:
        total = len(_first_by_doi(mentions))
        yield DOI007.at(
            None,
            f"offline: DOI resolution skipped; syntax checked for {total} DOI"
            f"{'s' if total != 1 else ''}, cached results used for {total - unchecked}",
            "run without --offline to check that every DOI exists and what it points at",
        )


#: DOIs named in DOI006's message; the finding's detail lists every one
_LISTED = 3


def _unreachable(dois: list[str], groups: dict[str, list[Mention]]) -> Finding:
    """DOI006: the DOIs not checked, each with its role and every place it is written."""
    listed = []
    for doi in dois:
        group = groups[doi]
        role = next((m.role for m in group if m.role != "other"), "other")
        listed.append({"doi": doi, "role": role, "where": [f"{m.path}:{m.line}" if m.line else m.path for m in group]})
    shown = "; ".join(f"{d['doi']} ({d['role']}, {', '.join(d['where'])})" for d in listed[:_LISTED])
    more = f"; and {len(listed) - _LISTED} more" if len(listed) > _LISTED else ""
    n = len(dois)
    return DOI006.at(
        None,
        f"DOI services unreachable: {n} DOI{'s' if n != 1 else ''} not checked: {shown}{more}",
        "check that these are the DOIs you meant; check the network (or PAPERPACK_DOI_RESOLVER and "
        "friends if a mirror is configured), or run with --offline to skip",
        detail={"dois": dois, "mentions": listed},
    )


def _kind_mismatch(m: Mention, record: DoiRecord) -> Iterator[Finding]:
    if m.role == "data" and record.kind == "article":
        yield DOI004.at(
            m.path,
            f"{_label(m)}{m.doi} is declared as data but resolves to an article: {record.summary()}",
            "use the DOI of the dataset (its archive record), not of the paper",
            line=m.line,
            detail=_record_detail(record),
        )
    elif m.role == "paper" and record.kind == "dataset":
        yield DOI004.at(
            m.path,
            f"{_label(m)}{m.doi} is declared as the paper but resolves to a dataset: {record.summary()}",
            "use the DOI the journal gave the article; list the dataset under `data:`",
            line=m.line,
            detail=_record_detail(record),
        )
