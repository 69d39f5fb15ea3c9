"""Requirements with dated pins: the author's exact pins kept, every other named requirement pinned.

A line of requirements.txt is *exact* when its specifier is one ``==`` without a wildcard
(``pandas==2.0.3``) or ``===``: the author chose that version and it is kept. Every other
named requirement (``numpy``, ``scipy>=1.7``, ``h5py~=2.10``, ``matplotlib<4``) is *loose*
and gets the version a dated resolution chose. Lines that name no index package (options,
``-r``, paths, URLs, VCS) are left as they are. Distributions the declared ones pull in (NumPy
under pandas) are appended after the file's own lines, under a marker comment, so the
environment is the same on every later install.

Rewriting changes only the loose lines (their text before any ``#`` comment; the comment
and the line ending stay) and the block after the marker; every other byte is unchanged.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

__all__ = [
    "RequirementLine",
    "PinChange",
    "read_lines",
    "named_requirements",
    "pin_text",
    "pin_changes",
    "unified_diff",
    "own_lines",
    "MARKER",
]

#: the comment that starts the appended block (a later lock replaces the block)
MARKER = "# paperpack lock: distributions the requirements above pull in, as of "


@dataclass(frozen=True)
class RequirementLine:
    index: int  #: 0-based line number
    text: str  #: the line without its comment and line ending
    name: str | None  #: canonical name, for a named index requirement
    exact: bool  #: pinned by the author (``==`` without wildcard, or ``===``)


@dataclass(frozen=True)
class PinChange:
    """One distribution whose version differs between today's resolution and the dated one."""

    name: str
    declared: str  #: the author's specifier ("" for unpinned, "(pulled in)" for a dependency of another)
    today: str | None  #: the version a resolution today gives, when known
    dated: str  #: the version as of the date

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "declared": self.declared, "today": self.today, "dated": self.dated}

    def __str__(self) -> str:
        return f"{self.name} {self.today or '?'} → {self.dated}"


_COMMENT = re.compile(r"(^|\s)#")


def _split(line: str) -> tuple[str, str]:
    """(requirement, the rest: whitespace and comment) of one line without its ending."""
    m = _COMMENT.search(line)
    if m is None:
        return line.rstrip(), line[len(line.rstrip()) :]
    body = line[: m.start()].rstrip()
    return body, line[len(body) :]


def _exact(req: Requirement) -> bool:
    specs = list(req.specifier)
    return len(specs) == 1 and (
        specs[0].operator == "===" or (specs[0].operator == "==" and not specs[0].version.endswith(".*"))
    )


def read_lines(text: str) -> list[RequirementLine]:
    """Every line of requirements ``text``, classified (continuation lines ``\\`` are left alone)."""
    out = []
    lines = text.splitlines()
    for i, raw in enumerate(lines):
        body, _ = _split(raw)
        stripped = body.strip()
        continued = i > 0 and lines[i - 1].rstrip().endswith("\\")
        name: str | None = None
        exact = False
        if stripped and not stripped.startswith("-") and not continued and not stripped.endswith("\\"):
            try:
                req = Requirement(stripped)
            except InvalidRequirement:
                req = None
            if req is not None and not req.url:
                name, exact = canonicalize_name(req.name), _exact(req)
        out.append(RequirementLine(i, body, name, exact))
    return out


def own_lines(text: str) -> str:
    """``text`` without a block a previous lock appended."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith(MARKER):
            return "".join(lines[:i])
    return text


def named_requirements(text: str) -> list[str]:
    """The named requirements of ``text`` as pip takes them (own lines only; markers and extras kept)."""
    return [line.text.strip() for line in read_lines(own_lines(text)) if line.name]


def pin_text(text: str, versions: dict[str, str], *, date: str) -> str:
    """``text`` with loose requirements pinned to ``versions`` (canonical name → version) and the rest of
    ``versions`` appended after :data:`MARKER`."""
    own = own_lines(text)
    declared: set[str] = set()
    out = own.splitlines(keepends=True)
    for line in read_lines(own):
        if line.name is None:
            continue
        declared.add(line.name)
        if line.exact or line.name not in versions:
            continue
        raw = out[line.index]
        ending = raw[len(raw.rstrip("\r\n")) :]
        body, rest = _split(raw.rstrip("\r\n"))
        req = Requirement(body.strip())
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        marker = f"; {req.marker}" if req.marker else ""
        indent = body[: len(body) - len(body.lstrip())]
        out[line.index] = f"{indent}{req.name}{extras}=={versions[line.name]}{marker}{rest}{ending}"
    pulled = sorted(name for name in versions if name not in declared)
    if not pulled:
        return "".join(out)
    if out and not out[-1].endswith(("\n", "\r")):
        out[-1] += "\n"
    out.append(f"{MARKER}{date}\n")
    out.extend(f"{name}=={versions[name]}\n" for name in pulled)
    return "".join(out)


def pin_changes(text: str, dated: dict[str, str], today: dict[str, str]) -> list[PinChange]:
    """Distributions whose dated version differs from today's (or that today's resolution lacks)."""
    specs: dict[str, str] = {}
    for line in read_lines(own_lines(text)):
        if line.name:
            req = Requirement(line.text.strip())
            specs[line.name] = str(req.specifier)
    return [
        PinChange(name, specs.get(name, "(pulled in)"), today.get(name), version)
        for name, version in sorted(dated.items())
        if today.get(name) != version
    ]


def unified_diff(old: str, new: str, path: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=f"a/{path}", tofile=f"b/{path}"
        )
    )
