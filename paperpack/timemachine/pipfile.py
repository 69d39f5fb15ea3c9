"""Dated pins for a ``Pipfile``, written into its own lines.

repo2docker installs a Pipfile with pipenv (binder mode), including ``[dev-packages]``; with a
``Pipfile.lock`` it installs the lock, which already pins every version (nothing to date). The
entries of both sections are resolved as one requirements text (the author's exact ``==`` kept,
everything else pinned); each loose entry written as a string (``numpy = "*"``, ``scipy = ">=1.7"``)
or as an inline table with a ``version`` key gets ``"==X.Y.Z"`` in place, its line otherwise
unchanged. Entries from git, a path or a URL are left alone. Distributions the entries pull in are
added to ``[packages]`` after its last entry, under the marker comment, as requirements.txt adds them
(a later lock replaces that block).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib
from packaging.utils import canonicalize_name

from ..errors import ConfigError
from .pins import MARKER

__all__ = ["PipfileEntry", "PipfileSection", "pipfile_section", "pin_pipfile"]

_SECTIONS = ("packages", "dev-packages")
_NOT_INDEX = ("git", "path", "file", "editable", "ref")


@dataclass(frozen=True)
class PipfileEntry:
    line: int  #: 0-based
    name: str  #: as written
    requirement: str  #: as pip reads it (``numpy>=1.20``)
    value: str  #: the version text written in the file (``*``, ``>=1.20``)


@dataclass(frozen=True)
class PipfileSection:
    text: str
    entries: list[PipfileEntry]
    last: int  #: 0-based line of [packages]' last entry (or its header): the block goes after it
    block: list[int]  #: lines of a block a previous lock added

    @property
    def requirements(self) -> str:
        return "".join(f"{e.requirement}\n" for e in self.entries)


def _entry_line(lines: list[str], start: int, name: str) -> int | None:
    key = re.compile(rf"^\s*[\"']?{re.escape(name)}[\"']?\s*=")
    for i in range(start, len(lines)):
        if lines[i].lstrip().startswith("["):
            return None
        if key.match(lines[i]):
            return i
    return None


def pipfile_section(root: Path, rel: str, text: str) -> PipfileSection:
    """The index entries of the Pipfile ``rel`` (read as ``text``), with their lines."""
    try:
        doc: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{rel}: not valid TOML: {exc}",
            hint="correct the Pipfile first (`paperpack validate` shows every problem)",
            path=root / rel,
        ) from None
    lines = text.splitlines(keepends=True)
    marker = next((i for i, raw in enumerate(lines) if raw.strip().startswith(MARKER)), None)
    block = [] if marker is None else [marker]
    entries: list[PipfileEntry] = []
    last = -1
    for section in _SECTIONS:
        header = next((i for i, raw in enumerate(lines) if raw.strip() == f"[{section}]"), None)
        if header is None:
            continue
        if section == "packages":
            last = header
        for name, value in (doc.get(section) or {}).items():
            line = _entry_line(lines, header + 1, name)
            if line is None:
                continue
            if marker is not None and line > marker and section == "packages":
                block.append(line)
                continue
            if section == "packages":
                last = max(last, line)
            if isinstance(value, dict) and any(k in value for k in _NOT_INDEX):
                continue
            version = (
                value if isinstance(value, str) else str(value.get("version", "*")) if isinstance(value, dict) else "*"
            )
            extras = value.get("extras") if isinstance(value, dict) else None
            extra = f"[{','.join(extras)}]" if isinstance(extras, list) and extras else ""
            spec = "" if version.strip() in ("", "*") else version.strip()
            entries.append(PipfileEntry(line, name, f"{name}{extra}{spec}", version))
    return PipfileSection(text, entries, last, sorted(block))


def pin_pipfile(section: PipfileSection, versions: dict[str, str], date: str) -> str:
    """``section``'s Pipfile with loose entries pinned to ``versions`` (canonical name → version) and the
    distributions they pull in added to ``[packages]`` after the marker."""
    lines = section.text.splitlines(keepends=True)
    declared = set()
    for entry in section.entries:
        canonical = canonicalize_name(entry.name)
        declared.add(canonical)
        exact = entry.value.startswith(("==", "===")) and "*" not in entry.value and "," not in entry.value
        if exact or canonical not in versions:
            continue
        raw = lines[entry.line]
        quoted = re.search(r"([\"'])" + re.escape(entry.value) + r"\1", raw[raw.index("=") + 1 :])
        if quoted is None:
            continue  # written another way (a multi-line table): left as it is
        at = raw.index("=") + 1 + quoted.start()
        lines[entry.line] = raw[:at] + f'"=={versions[canonical]}"' + raw[at + len(quoted.group(0)) :]
    pulled = sorted(name for name in versions if name not in declared)
    for index in reversed(section.block):
        del lines[index]
    if not pulled or section.last < 0:
        return "".join(lines)
    last = section.last - sum(1 for i in section.block if i < section.last)
    if not lines[last].endswith(("\n", "\r")):
        lines[last] += "\n"
    lines[last + 1 : last + 1] = [f"{MARKER}{date}\n"] + [f'{name} = "=={versions[name]}"\n' for name in pulled]
    return "".join(lines)
