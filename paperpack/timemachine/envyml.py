"""Dated pins for the ``pip:`` section of a conda ``environment.yml``, written into its own lines.

The environment model (:func:`paperpack.environment.detect`) parses the file and gives each pip
entry with its line. The entries are resolved as one requirements text (the same resolver and pins
as requirements.txt: the author's exact pins kept, loose ones pinned); each changed entry is
rewritten in its own line, where only the entry's text changes (indentation, ``- ``, quotes and
comments stay). Distributions the entries pull in are added, as requirements.txt adds them: after
the last entry, a comment line :data:`~paperpack.timemachine.pins.MARKER` and one ``- name==version``
entry each, at the entries' indentation (a later lock replaces that block). Pulled-in distributions
the conda list declares are left to conda. Conda entries, ``-r`` includes, options and local paths
are not touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ..environment import Environment
from ..environment.conda import pypi_name
from ..environment.files import ProblemCode
from ..errors import ConfigError, DatedResolutionError
from ..repository.files import read_repo_text
from .pins import MARKER, pin_text

__all__ = ["PipSection", "pip_section", "pin_pip_section", "dated_conda_file"]

_ITEM = re.compile(r"^(?P<indent>\s*)-\s")
#: the problems that leave the file unread or its pip section wrong: paperpack lock refuses to pin it
_REFUSED = frozenset(
    {ProblemCode.YAML_INVALID, ProblemCode.FILE_UNREADABLE, ProblemCode.LINK_OUTSIDE, ProblemCode.REQUIREMENT_INVALID}
)


@dataclass(frozen=True)
class PipEntry:
    line: int  #: 0-based line of the file
    raw: str  #: the requirement as YAML gives it (``numcore>=1.20``)


@dataclass(frozen=True)
class PipSection:
    rel: str  #: the environment file, relative POSIX
    text: str  #: the whole file, as read
    entries: list[PipEntry]  #: the author's named pip entries, before any block a previous lock added
    block: list[int]  #: 0-based lines of that block (its marker comment and its entries)
    conda: frozenset[str]  #: canonical PyPI names of the conda entries

    @property
    def requirements(self) -> str:
        """The entries as a requirements.txt text, one a line, in order."""
        return "".join(f"{e.raw}\n" for e in self.entries)


def pip_section(root: Path, env: Environment, rel: str, text: str) -> PipSection:
    """The named pip entries of ``rel`` (read as ``text``), or an error naming the file."""
    conda = env.conda
    problems = [p for p in (conda.problems if conda else []) if p.path == rel]
    for problem in problems:
        if problem.code in _REFUSED:
            where = f"{rel}:{problem.line}" if problem.line else rel
            raise ConfigError(
                f"{where}: {problem.message}",
                hint=f"paperpack lock reads {rel} to pin its pip section; correct the file first "
                "(`paperpack validate` shows every problem)",
                path=root / rel,
            )
    pips = [
        r
        for r in (conda.requirements if conda else [])
        if r.path == rel and r.source.endswith(":pip") and r.line is not None
    ]
    lines = text.splitlines(keepends=True)
    marker = next((i for i, raw in enumerate(lines) if raw.strip().startswith(MARKER)), None)
    own = [PipEntry(r.line - 1, r.raw) for r in pips if r.line is not None and (marker is None or r.line - 1 < marker)]
    block = (
        [] if marker is None else [marker] + [r.line - 1 for r in pips if r.line is not None and r.line - 1 > marker]
    )
    if not own:
        included = (
            f" (it only includes {', '.join(conda.included)} with -r: included files are not pinned yet)"
            if conda and conda.included
            else ""
        )
        raise DatedResolutionError(
            f"{rel} has no pip section with a package to pin{included}: paperpack lock pins the `- pip:` entries "
            "of an environment file; its conda entries are solved by conda and are left as written",
            hint=f"declare the PyPI packages under `- pip:` in {rel}'s dependencies (or pin the conda entries "
            "yourself, `numpy=1.24.3`)",
            path=root / rel,
        )
    names = frozenset(canonicalize_name(pypi_name(r.name)) for r in conda.conda_requirements) if conda else frozenset()
    return PipSection(rel, text, own, block, names | {"python", "pip"})


def pin_pip_section(section: PipSection, pinned: str) -> str:
    """``section``'s file with its entries replaced by the lines of ``pinned`` (what
    :func:`~paperpack.timemachine.pins.pin_text` made of :attr:`PipSection.requirements`)."""
    new = pinned.splitlines()
    lines = section.text.splitlines(keepends=True)
    done: dict[int, int] = {}  # line → where the next search on that line starts (flow lists: several a line)
    for entry, text in zip(section.entries, new):
        if text == entry.raw:
            done[entry.line] = lines[entry.line].find(entry.raw, done.get(entry.line, 0)) + len(entry.raw)
            continue
        raw = lines[entry.line]
        at = raw.find(entry.raw, done.get(entry.line, 0))
        if at < 0:
            raise DatedResolutionError(
                f"{section.rel}:{entry.line + 1}: the pip entry {entry.raw!r} is not written as plain text on its "
                "line (an escaped or folded YAML string), so paperpack lock cannot pin it in place",
                hint=f"write the entry as a plain `- {entry.raw}` line and run paperpack lock again",
            )
        lines[entry.line] = raw[:at] + text + raw[at + len(entry.raw) :]
        done[entry.line] = at + len(text)
    pulled = [
        line
        for line in new[len(section.entries) + 1 :]
        if canonicalize_name(Requirement(line).name) not in section.conda
    ]
    for index in sorted(section.block, reverse=True):
        del lines[index]
    last = max(e.line for e in section.entries)
    item = _ITEM.match(lines[last])
    if not pulled or item is None:  # nothing pulled in, or a flow list `pip: [a, b]` with no line to add to
        return "".join(lines)
    ending = lines[last][len(lines[last].rstrip("\r\n")) :] or "\n"
    if not lines[last].endswith(("\n", "\r")):
        lines[last] += ending
    indent = item.group("indent")
    date = new[len(section.entries)][len(MARKER) :]
    block = [f"{indent}{MARKER}{date}{ending}"] + [f"{indent}- {line}{ending}" for line in pulled]
    lines[last + 1 : last + 1] = block
    return "".join(lines)


def dated_conda_file(
    root: Path, env: Environment, rel: str, versions: dict[str, str], date: str, python: str | None = None
) -> str:
    """``rel`` as stock repo2docker (binder mode) reads it, with the dependencies as of ``date``: each conda
    entry the author did not pin rewritten in its own line as ``name=version`` (a ``channel::`` prefix, quotes
    and comments kept), the ``pip:`` entries pinned as :func:`pin_pip_section` pins them, and, when ``python``
    is given (the Python of the date, for a file that declares none), a ``- python=X.Y`` entry before the
    first dependency. ``versions``: canonical PyPI name → the dated version (conda names are mapped to PyPI
    names as the offline build maps them). Every other byte (``channels:``, ``name:``, the pinned entries,
    comments, the block of pins a previous ``paperpack lock`` wrote) is kept. Distributions the entries pull
    in are left to conda and pip: only declared entries are pinned."""
    text = read_repo_text(root, rel)
    lines = text.splitlines(keepends=True)
    conda = [
        r
        for r in (env.conda.conda_requirements if env.conda else [])
        if r.path == rel and r.line is not None and not r.pinned
    ]
    for req in conda:
        assert req.line is not None
        version = versions.get(canonicalize_name(pypi_name(req.name)))
        raw = lines[req.line - 1]
        at = raw.find(req.raw)
        if version is None or at < 0:
            continue
        channel = req.raw[: req.raw.index("::") + 2] if "::" in req.raw else ""
        lines[req.line - 1] = f"{raw[:at]}{channel}{req.name}={version}{raw[at + len(req.raw) :]}"
    added: int | None = None  # the line a python entry is inserted at
    if python is not None:
        first = min(
            (r.line for r in (env.conda.requirements if env.conda else []) if r.path == rel and r.line is not None),
            default=None,
        )
        item = _ITEM.match(lines[first - 1]) if first is not None else None
        if first is not None and item is not None:
            ending = lines[first - 1][len(lines[first - 1].rstrip("\r\n")) :] or "\n"
            lines.insert(first - 1, f"{item.group('indent')}- python={python}{ending}")
            added = first - 1
    scratch = "".join(lines)
    try:
        section = pip_section(root, env, rel, text)
    except DatedResolutionError:  # no pip entry: the conda entries are all there is
        return scratch
    declared = {canonicalize_name(Requirement(e.raw).name) for e in section.entries}
    pinned = pin_text(section.requirements, {n: v for n, v in versions.items() if n in declared}, date=date)

    def moved(line: int) -> int:
        return line + 1 if added is not None and line >= added else line

    # no block: the pins a previous lock wrote after the marker stay as they are (they are the author's)
    section = PipSection(rel, scratch, [PipEntry(moved(e.line), e.raw) for e in section.entries], [], section.conda)
    return pin_pip_section(section, pinned)
