"""Publishing a verification: every report file, written from one typed :class:`Publication`.

:func:`paperpack.verify.verify` writes ``report.json`` and then calls :func:`publish`, which
runs each writer of :data:`WRITERS` in turn. A writer takes the :class:`Publication` (the typed
result, the paper-level verdict, the repository) and writes its own file(s) atomically into
``publication.out_dir``; it never reads another writer's file. A writer that fails does not stop
the others: its error is recorded in :attr:`Published.failed` and said by the CLI.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checks.findings import Finding
from ..errors import PaperpackError
from ..util.terminal import printable
from .badge import write_status_badges
from .certificate import write_certificate
from .crate import write_crate
from .html import write_html
from .paper import PaperVerdict

if TYPE_CHECKING:
    from ..repository.repo import Repo
    from ..verify import Result

__all__ = ["Publication", "Published", "Writer", "WRITERS", "publish", "cell_lines", "first_line", "one_line"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Publication:
    """What every report is written from."""

    repo: Repo
    result: Result
    verdict: PaperVerdict
    out_dir: Path
    commit: str | None  # the commit actually verified (HEAD), which may differ from a reused image's label
    report: dict[str, Any]  # report.json as written (the merged dict): for writers that render it whole
    failure: str | None = None  # why nothing ran (a build that failed, data that could not be fetched), in words
    #: notebook path -> its text (None: unreadable), its cells' first lines, its parsed JSON: each read once
    _texts: dict[str, str | None] = field(default_factory=dict, repr=False, compare=False)
    _lines: dict[str, list[int]] = field(default_factory=dict, repr=False, compare=False)
    _docs: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def _text(self, path: str) -> str | None:
        if path not in self._texts:
            from ..notebook.parse import MAX_NOTEBOOK_BYTES

            self._texts[path] = self.repo.read_text(path, limit=MAX_NOTEBOOK_BYTES) if path.endswith(".ipynb") else None
        return self._texts[path]

    def line_of(self, finding: Finding) -> int | None:
        """The finding's line (1-based); for a notebook cell, the line of the cell's start in the .ipynb file."""
        if finding.line is not None:
            return finding.line
        if finding.cell is None or not finding.path:
            return None
        if finding.path not in self._lines:
            text = self._text(finding.path)
            self._lines[finding.path] = cell_lines(text) if text is not None else []
        lines = self._lines[finding.path]
        return lines[finding.cell] if 0 <= finding.cell < len(lines) else None

    def committed_source(self, path: str, index: int | None) -> str | None:
        """The source of cell ``index`` of the committed notebook ``path`` (``None``: not there)."""
        if index is None:
            return None
        if path not in self._docs:
            text = self._text(path)
            try:
                self._docs[path] = json.loads(text) if text is not None else None
            except ValueError:  # not JSON: validate says so; here the cell has no source
                self._docs[path] = None
        doc = self._docs[path]
        cells = doc.get("cells") if isinstance(doc, dict) else None
        if not isinstance(cells, list) or not 0 <= index < len(cells) or not isinstance(cells[index], dict):
            return None
        source = cells[index].get("source", "")
        return "".join(str(s) for s in source) if isinstance(source, list) else str(source)


#: a writer writes its file(s) and returns their paths
Writer = Callable[[Publication], "list[Path]"]


@dataclass
class Published:
    """What :func:`publish` wrote, and what it could not write (file name → the error, in words)."""

    written: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _lazy(module: str, name: str) -> Writer:
    """A writer imported when it first writes: ``import paperpack`` does not import junitparser and the rest."""

    def write(publication: Publication) -> list[Path]:
        import importlib

        writer: Writer = getattr(importlib.import_module(module, __package__), name)
        return writer(publication)

    return write


#: (name for messages, writer), in the order they run; report.json is written before them
WRITERS: list[tuple[str, Writer]] = [
    ("report.junit.xml", _lazy(".junit", "write_junit")),
    ("report.sarif", _lazy(".sarif", "write_sarif")),
    ("summary.md", _lazy(".summary", "write_summary")),
    ("codequality.json", _lazy(".codequality", "write_codequality")),
    ("report.html", write_html),
    ("certificate.md", write_certificate),
    ("ro-crate-metadata.json", write_crate),
    ("badge.json and badge.svg", write_status_badges),
]


def publish(publication: Publication, writers: list[tuple[str, Writer]] | None = None) -> Published:
    """Run every writer; one that fails (bad output, a bug) is recorded and the others still run."""
    done = Published()
    for name, writer in WRITERS if writers is None else writers:
        try:
            done.written.extend(writer(publication))
        except (PaperpackError, OSError, ValueError) as exc:
            why = f"{exc} ({exc.hint})" if isinstance(exc, PaperpackError) and exc.hint else str(exc)
            log.warning("could not write %s: %s", name, why)
            done.failed[name] = why
    return done


#: a JSON string (whole, escapes included) or a bracket: the tokens that decide nesting
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]]')
_COLON = re.compile(r"\s*:")


def cell_lines(text: str) -> list[int]:
    """The line (1-based) where each cell of the notebook JSON ``text`` starts (its ``{``), in order.

    Only the top-level ``"cells"`` array counts; strings are skipped whole, so braces in cell
    sources never confuse it. Linear in the text (a regular expression does the scanning).
    """
    lines: list[int] = []
    depth, in_cells, line, counted = 0, False, 1, 0
    expect_cells = False
    for match in _JSON_TOKEN.finditer(text):
        token = match.group(0)
        if token[0] == '"':
            expect_cells = depth == 1 and token == '"cells"' and _COLON.match(text, match.end()) is not None
            continue
        if token in "{[":
            if expect_cells and token == "[":
                in_cells = True
            elif in_cells and depth == 2 and token == "{":
                line += text.count("\n", counted, match.start())
                counted = match.start()
                lines.append(line)
            depth += 1
        else:
            depth -= 1
            if in_cells and depth == 1:
                break
        expect_cells = False
    return lines


def one_line(text: object, limit: int = 200) -> str:
    """``text`` (untrusted) on one line: control characters shown as escapes, cut at ``limit`` characters."""
    line = printable(str(text)[:limit], newlines=False)  # cut first: an output can be 50 MB
    return line if len(line) <= limit and len(str(text)) <= limit else line[: limit - 1] + "…"


def first_line(text: object, limit: int = 200) -> str:
    """The first non-empty line of ``text`` (untrusted), made printable and cut at ``limit`` characters."""
    head = str(text)[: 1 << 16]
    lines = (line for line in head.splitlines() if line.strip())
    return one_line(next(lines, ""), limit)
