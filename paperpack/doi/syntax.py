"""DOI syntax: normalising every written form and finding DOIs in text.

Resolution (handle API, DataCite, Crossref) lives in :mod:`paperpack.doi.resolve`.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = [
    "DOI_PATTERN",
    "normalize_doi",
    "find_dois",
    "find_malformed_dois",
    "is_valid_doi",
    "is_placeholder_doi",
    "doi_url",
    "syntax_problem",
]

#: Crossref's recommended pattern for modern DOIs (covers >99.3% of registered DOIs).
DOI_PATTERN = re.compile(r"10\.\d{4,9}/[-._;()/:A-Za-z0-9<>\[\]]+")
_PREFIXES = re.compile(r"^(?:doi:\s*|(?:https?://)?(?:dx\.|www\.)?doi\.org/|info:doi/)", re.IGNORECASE)
_IN_TEXT = re.compile(
    # the suffix stops where Markdown links join (`](`, `)]`, `)(`) or another URL starts
    r"(?:doi:\s*|https?://(?:dx\.|www\.)?doi\.org/|\b)"
    # the first / may be URL-encoded (%2F), as in a link copied from a browser's address bar
    r"(10\.\d{4,9}(?:/|%2F)(?:(?!\]\(|\)\]|\)\(|https?://)[-._;()/:A-Za-z0-9<>\[\]%])+)",
    re.IGNORECASE,
)
_PAIRS = {")": "(", "]": "[", ">": "<"}
_PLACEHOLDERS = re.compile(
    r"^10\.(0000|1234|9999|xxxx)/|/(x+|xxx+|todo|tbd|placeholder|example|0+)$"
    r"|xxxx|\b(todo|tbd|placeholder)\b|[./]0{5,}$",
    re.IGNORECASE,
)
#: Text written as a DOI (after ``doi:`` or ``doi.org/``), well-formed or not.
_CLAIMED = re.compile(r"(?:\bdoi:\s*|doi\.org/)(\d[^\s\"'`{}*|]*)", re.IGNORECASE)


def normalize_doi(text: str) -> str | None:
    """The bare, lower-case DOI in ``text`` (``doi:``, URL or URL-encoded), or ``None``.

    DOIs are case-insensitive, so lower case is the canonical form for comparison.
    """
    s = unquote(text.strip())
    s = _PREFIXES.sub("", s).strip()
    s = s.rstrip(".,;")
    if not DOI_PATTERN.fullmatch(s):
        return None
    return s.lower()


def is_valid_doi(text: str) -> bool:
    return normalize_doi(text) is not None


def is_placeholder_doi(doi: str) -> bool:
    """True for DOIs that are evidently placeholders (10.xxxx/…, 10.1234/abc, …/XXXX), in any written form."""
    return bool(_PLACEHOLDERS.search(_PREFIXES.sub("", unquote(doi.strip())).strip()))


def find_dois(text: str) -> list[tuple[str, int]]:
    """Every DOI-looking string in ``text`` with its 1-based line, in order, not deduplicated.

    The raw form is returned (trailing punctuation removed) so callers can report
    malformed ones; pass each through :func:`normalize_doi`.
    """
    out: list[tuple[str, int]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        for m in _IN_TEXT.finditer(line):
            raw = _trim(m.group(1))
            if line[: m.start(1)].lower().endswith("/badge/doi/"):  # Zenodo's badge image: …/badge/DOI/<doi>.svg
                raw = re.sub(r"\.(svg|png)$", "", raw, flags=re.IGNORECASE)
            out.append((raw, lineno))
    return out


def _trim(candidate: str) -> str:
    """Drop what text puts after a DOI: sentence punctuation and unbalanced closing brackets.

    ``(see 10.1/x)`` and ``[link](https://doi.org/10.1/x)`` end in a ``)`` that is not
    part of the DOI; ``10.1175/1520-0469(1963)020<0130:DNF>2.0.CO;2`` keeps its own.
    """
    s = candidate
    while s:
        last = s[-1]
        if last in ".,;:":
            s = s[:-1]
        elif last in _PAIRS and s.count(last) > s.count(_PAIRS[last]):
            s = s[:-1]
        else:
            break
    return s


def find_malformed_dois(text: str) -> list[tuple[str, int]]:
    """Text written as a DOI (after ``doi:`` or ``doi.org/``) that is not a valid DOI, with its line.

    ``find_dois`` only sees well-formed prefixes; this finds ``doi:10.123/x`` and friends.
    """
    out: list[tuple[str, int]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        for m in _CLAIMED.finditer(line):
            raw = _trim(m.group(1))
            if normalize_doi(raw) is None:
                out.append((raw, lineno))
    return out


def syntax_problem(text: str) -> str:
    """Why ``text`` is not a DOI, in a few words (for messages)."""
    s = _PREFIXES.sub("", unquote(text.strip())).strip()
    if not s:
        return "it is empty"
    if not s.startswith("10."):
        return "a DOI starts with '10.'"
    prefix, _, suffix = s.partition("/")
    if not re.fullmatch(r"10\.\d{4,9}", prefix):
        return f"the prefix {prefix!r} should be '10.' followed by 4 to 9 digits"
    if not suffix:
        return "there is nothing after the '/'"
    bad = sorted({c for c in suffix if not re.match(r"[-._;()/:A-Za-z0-9<>\[\]]", c)})
    if bad:
        return f"the suffix contains {', '.join(repr(c) for c in bad)}"
    return "it does not have the form 10.<registrant>/<suffix>"


def doi_url(doi: str) -> str:
    """The https://doi.org/ link for a normalised DOI."""
    return f"https://doi.org/{doi}"
