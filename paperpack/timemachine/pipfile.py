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

from ..environment.files import PipfileEntry, pipfile_entries, pipfile_table_line
from ..errors import ConfigError
from .pins import MARKER

__all__ = ["PipfileSection", "pipfile_section", "pin_pipfile"]


@dataclass(frozen=True)
class PipfileSection:
    text: str
    entries: list[PipfileEntry]  #: the index entries to resolve, before any block a previous lock added
    last: int  #: 0-based line of [packages]' last entry (or its header): the block goes after it
    block: list[int]  #: lines of a block a previous lock added

    @property
    def requirements(self) -> str:
        return "".join(f"{e.requirement}\n" for e in self.entries)


def pipfile_section(root: Path, rel: str, text: str) -> PipfileSection:
    """The index entries of the Pipfile ``rel`` (read as ``text``), with their lines
    (:func:`~paperpack.environment.files.pipfile_entries`, as the environment model reads them)."""
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
    header = pipfile_table_line(lines, "packages")
    last = -1 if header is None else header
    for entry in pipfile_entries(doc, text):
        if entry.line is None:
            continue
        packages = entry.section == "packages"
        if packages and marker is not None and entry.line > marker:
            block.append(entry.line)
            continue
        if packages:
            last = max(last, entry.line)
        if entry.from_index:
            entries.append(entry)
    return PipfileSection(text, entries, last, sorted(block))


def pin_pipfile(section: PipfileSection, versions: dict[str, str], date: str) -> str:
    """``section``'s Pipfile with loose entries pinned to ``versions`` (canonical name → version) and the
    distributions they pull in added to ``[packages]`` after the marker."""
    lines = section.text.splitlines(keepends=True)
    declared = set()
    for entry in section.entries:
        canonical = canonicalize_name(entry.name)
        declared.add(canonical)
        exact = entry.version.startswith(("==", "===")) and "*" not in entry.version and "," not in entry.version
        if exact or canonical not in versions or entry.line is None:
            continue
        raw = lines[entry.line]
        quoted = re.search(r"([\"'])" + re.escape(entry.version) + r"\1", raw[raw.index("=") + 1 :])
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
