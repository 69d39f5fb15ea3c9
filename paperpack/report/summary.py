"""``summary.md``: the verification in Markdown, for ``$GITHUB_STEP_SUMMARY`` and merge-request comments.

The paper-level verdict (class, label, reasons), the notebooks table (verdict, time, the
first line of the message), the first failing cell of each failed notebook (its code and
the error, fenced) and the top findings.

Everything from the repository is untrusted: text outside code blocks has its HTML
characters turned into entities and its Markdown characters backslash-escaped (so an
output cannot add a link, an image, a table row or a ``<script>``, nor mention someone
with ``@``); code blocks are fenced with more backticks than the text holds in a row, so
it cannot close them. GitHub refuses a step summary over 1 MiB: the document stays under
:data:`LIMIT`, cutting the notebook table, the cells and the findings with
"… N more in report.html".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..checks.findings import Finding, Severity
from ..util.atomic import write_atomic
from ..util.terminal import printable
from .publish import Publication, first_line, one_line

if TYPE_CHECKING:
    from ..run.results import NotebookRun

__all__ = ["SUMMARY_NAME", "LIMIT", "render_summary", "write_summary", "md_text", "code_span", "fenced"]

SUMMARY_NAME = "summary.md"
#: the most bytes summary.md ever has: GitHub's step summary limit is 1 MiB; room is kept for the ending
LIMIT = (1 << 20) - 4096
#: a failing cell's code and error: at most so many lines each, and characters per line
CELL_LINES = 60
LINE_CHARS = 300
TOP_FINDINGS = 20
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "@": "&#64;"}


def md_text(text: object, limit: int = 200) -> str:
    """Untrusted text as inline Markdown: one line, no HTML, no Markdown syntax, no @mentions."""
    line = one_line(text, limit)
    line = _MARKDOWN.sub(r"\\\1", line)
    return "".join(_HTML.get(ch, ch) for ch in line)


def code_span(text: object, limit: int = 200) -> str:
    """Untrusted text as an inline code span: one line, delimited by more backticks than it holds in a row
    (inside a code span nothing is interpreted, so nothing is escaped: a backslash would show)."""
    line = one_line(text, limit)
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", line)), default=0) + 1)
    pad = " " if line.startswith("`") or line.endswith("`") else ""
    return f"{ticks}{pad}{line}{pad}{ticks}"


def fenced(text: str, info: str = "") -> str:
    """``text`` (untrusted) as a fenced code block it cannot close: the fence is longer than any run of
    backticks in it. Control characters are shown as escapes; lines and line length are capped."""
    total = text.count("\n") + (0 if text.endswith("\n") else 1)
    head = text[: (CELL_LINES + 1) * (LINE_CHARS + 1)]  # enough for what is kept: an output can be 50 MB
    lines = printable(head).splitlines()[:CELL_LINES]
    if total > len(lines):
        lines.append(f"… {total - len(lines)} more lines in report.html")
    lines = [line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 1] + "…" for line in lines]
    body = "\n".join(lines)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}\n"


class _Document:
    """Markdown built in parts, never past :data:`LIMIT` bytes (what does not fit is counted, not written)."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.limit = limit

    def add(self, text: str) -> bool:
        size = len(text.encode("utf-8", "surrogatepass"))
        if self.size + size > self.limit:
            return False
        self.parts.append(text)
        self.size += size
        return True

    def text(self) -> str:
        return "".join(self.parts)


def _duration(seconds: float | None) -> str:
    return f"{seconds:.1f} s" if seconds is not None else "–"


def _more(document: _Document, left: int, what: str) -> None:
    if left:
        document.parts.append(f"\n… {left} more {what} in report.html\n")  # always: the reserve is for this


def _verdict(publication: Publication, document: _Document) -> None:
    verdict = publication.verdict
    # the label, the sentence and the reasons are paperpack's own words (closed vocabularies): not escaped
    document.add(f"## paperpack: {verdict.label()}\n\n**{verdict.sentence()}**\n\n")
    if verdict.reasons:
        document.add("Reasons: " + ", ".join(f"`{r.value}`" for r in verdict.reasons) + "\n\n")
    facts = []
    if publication.commit:
        facts.append(f"commit {code_span(publication.commit[:12])}")
    build = publication.result.build
    if build is not None:
        facts.append(f"image {code_span(build.image)}")
        reused = publication.report.get("build") or {}
        source = (reused.get("reused_from") or {}) if isinstance(reused, dict) else {}
        if source.get("commit") and source.get("commit") != publication.commit:
            facts.append(f"reused from the build of commit {code_span(str(source['commit'])[:12])}")
    validation = publication.result.validation
    if validation is not None:
        facts.append(f"validation: {md_text(validation.verdict())}")
    if facts:
        document.add(" · ".join(facts) + "\n\n")
    if publication.failure:
        document.add("### Why nothing ran\n\n" + fenced(publication.failure, "text") + "\n")


def _notebooks(publication: Publication, document: _Document) -> None:
    run = publication.result.run
    if run is None or not run.notebooks:
        return
    document.add("### Notebooks\n\n| notebook | verdict | time | message |\n|---|---|---|---|\n")
    for shown, nb in enumerate(run.notebooks):
        row = (
            f"| {md_text(nb.path)} | {md_text(nb.verdict)} | {_duration(nb.duration)} | "
            f"{md_text(first_line(nb.message or ''), 200)} |\n"
        )
        if not document.add(row):
            _more(document, len(run.notebooks) - shown, "notebooks")
            return
    document.add("\n")


def _failing_cell(publication: Publication, nb: NotebookRun) -> str:
    error = nb.error or {}
    where = str(error.get("where") or (f"cell {error.get('cell')}" if error.get("cell") is not None else "the run"))
    out = [f"#### {md_text(nb.path)}: {md_text(where)}\n\n"]
    source = publication.committed_source(nb.path, error.get("source_cell"))
    if source:
        out.append(fenced(source, "python"))
    cause = error.get("cause") or {}
    if cause.get("message"):
        out.append(f"\n**Cause:** {md_text(cause['message'], 500)}  \n**Fix:** {md_text(cause.get('fix', ''), 500)}\n")
    text = f"{error.get('ename') or nb.status}: {error.get('evalue') or ''}".rstrip(": ")
    traceback = "\n".join(str(line) for line in error.get("traceback") or [])
    if traceback and not traceback.rstrip().endswith(text):  # a traceback's last line is usually the error
        traceback = f"{traceback}\n{text}"
    out.append("\n" + fenced(traceback or text or nb.message, "text") + "\n")
    return "".join(out)


def _failures(publication: Publication, document: _Document) -> None:
    run = publication.result.run
    failed = [nb for nb in (run.notebooks if run else []) if str(nb.verdict) == "failed"]
    if not failed:
        return
    document.add("### First failing cell of each failed notebook\n\n")
    for shown, nb in enumerate(failed):
        if not document.add(_failing_cell(publication, nb)):
            _more(document, len(failed) - shown, "failed notebooks")
            return


def _finding_row(f: Finding) -> str:
    return f"| {f.severity.value} | {f.rule} | {md_text(f.where)} | {md_text(f.message, 300)} |\n"


def _findings(publication: Publication, document: _Document) -> None:
    findings = sorted(
        (f for f in publication.result.findings if f.severity is not Severity.INFO),
        key=lambda f: (f.severity.rank, *f.sort_key()),
    )
    if not findings:
        return
    document.add("### Findings\n\n| severity | rule | where | message |\n|---|---|---|---|\n")
    for shown, f in enumerate(findings[:TOP_FINDINGS]):
        if not document.add(_finding_row(f)):
            _more(document, len(findings) - shown, "findings")
            return
    _more(document, len(findings) - TOP_FINDINGS if len(findings) > TOP_FINDINGS else 0, "findings")


def render_summary(publication: Publication, *, limit: int = LIMIT) -> str:
    """summary.md: at most ``limit`` bytes (and a line for each part cut)."""
    document = _Document(limit)
    for part in (_verdict, _notebooks, _failures, _findings):
        part(publication, document)
    return document.text()


def write_summary(publication: Publication) -> list[Path]:
    path = publication.out_dir / SUMMARY_NAME
    write_atomic(path, render_summary(publication))
    return [path]
