"""The batch's own outputs, written from the typed per-submission results: ``index.json``,
``index.html`` and ``batch.junit.xml`` in the output folder, each atomically.

Submissions are hostile: every text in ``index.html`` is escaped, the page has no external
asset and a Content-Security-Policy that lets only its own inline style and sorting script
(by their sha256) run; links go only to ``ID/report.html`` files that exist.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import __version__
from ..report.junit import NotebookCase, PaperRun, Stopped, render_runs
from ..report.paper import PaperClass
from ..util.atomic import write_atomic, write_json_atomic
from .queue import Submission
from .state import Layout, Status, SubmissionResult, read_state

__all__ = ["BatchEntry", "collect", "write_index", "INDEX_JSON", "INDEX_HTML", "JUNIT"]

INDEX_JSON, INDEX_HTML, JUNIT = "index.json", "index.html", "batch.junit.xml"
INDEX_VERSION = 1


@dataclass(frozen=True)
class BatchEntry:
    """A queue entry and where it stands: its result when it finished."""

    submission: Submission
    status: Status
    result: SubmissionResult | None
    reused: bool = False  # finished by an earlier batch run at the same revision and paperpack version

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.submission.id,
            "source": self.submission.source,
            "ref": self.submission.ref,
            "status": self.status.value,
            "reused": self.reused,
            "result": self.result.to_dict() if self.result else None,
        }


def collect(layout: Layout, submissions: list[Submission], reused: Collection[str] = ()) -> list[BatchEntry]:
    """Every submission's entry, read from its ``state.json`` (queued when it has none)."""
    entries = []
    for sub in submissions:
        state = read_state(layout, sub.id)
        status = state.status if state else Status.QUEUED
        result = state.result if state is not None and status.final else None
        entries.append(BatchEntry(sub, status, result, sub.id in reused))
    return entries


def _paper_run(entry: BatchEntry) -> PaperRun:
    """The submission as report/junit.py's paper-run suite: its verdict, its notebooks, or why it stopped."""
    sub, result = entry.submission, entry.result
    extra = {"source": sub.source, "ref": sub.ref or "", "status": entry.status.value}
    if result is None:
        return PaperRun(
            sub.id,
            PaperClass.NOT_RUN.value,
            "not run",
            classname=sub.id,
            verdict_case=True,
            properties=extra,
            stopped=Stopped(
                "interrupted",
                f"not finished ({entry.status.value})",
                "the batch stopped before this submission finished",
            ),
        )
    failure = result.failure
    stopped = (
        None
        if failure is None
        else Stopped(
            failure.kind.value,
            f"{failure.kind.value}: {failure.message}",
            f"{failure.message}\nhint: {failure.hint}" if failure.hint else failure.message,
        )
    )
    notebooks = tuple(
        NotebookCase(nb.path, nb.verdict, nb.status, nb.duration, nb.message, nb.comparison, nb.error)
        for nb in result.notebooks
    )
    return PaperRun(
        sub.id,
        result.verdict,
        result.label,
        tuple(result.reasons),
        result.commit,
        notebooks,
        result.duration,
        stopped,
        classname=sub.id,
        verdict_case=True,
        properties=extra,
    )


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3;cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.reasons{white-space:pre-wrap;font-size:.9em}
.v-reproduced{background:#d8f5d8}.v-reproduced-with-minor-differences{background:#eef8d0}
.v-partially-reproduced{background:#fdf0c8}.v-not-reproduced{background:#f9d6d6}.v-not-run{background:#eee}
code{font-size:.9em}
"""

_SCRIPT = """
document.querySelectorAll("th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var down = th.getAttribute("aria-sort") === "ascending";
    th.parentNode.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", down ? "descending" : "ascending");
    var rows = Array.prototype.slice.call(body.rows);
    var num = th.dataset.type === "number";
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.sort, y = b.cells[col].dataset.sort;
      var c = num ? (parseFloat(x) - parseFloat(y)) : x.localeCompare(y);
      return down ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""

_ORDER = {cls.value: i for i, cls in enumerate(PaperClass)}


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _cell(text: str, sort: str | None = None, css: str = "") -> str:
    cls = f' class="{html.escape(css, quote=True)}"' if css else ""
    return (
        f'<td{cls} data-sort="{html.escape(sort if sort is not None else text, quote=True)}">{html.escape(text)}</td>'
    )


def _row(entry: BatchEntry, layout: Layout) -> str:
    sub, result = entry.submission, entry.result
    verdict = result.verdict if result else "not-run"
    if result is None:
        why = f"not finished ({entry.status.value})"
    elif result.failure is not None:
        why = f"{result.failure.kind.value}: {result.failure.message}"
        if result.failure.hint:
            why += f"\nhint: {result.failure.hint}"
    else:
        why = ", ".join(result.reasons)
    report = layout.submission(sub.id) / "report.html"
    name = html.escape(sub.id)
    link = (
        f'<a href="{html.escape(sub.id, quote=True)}/report.html" rel="noopener noreferrer">{name}</a>'
        if report.is_file() and not report.is_symlink()
        else name
    )
    commit = (result.commit if result else None) or ""
    duration = result.duration if result else 0.0
    if result is None:
        label = entry.status.value
    else:
        label = result.label if result.failure is None else f"failed ({result.failure.kind.value})"
    return (
        "<tr>"
        + f'<td data-sort="{html.escape(sub.id, quote=True)}">{link}</td>'
        + f'<td data-sort="{html.escape(commit, quote=True)}"><code>{html.escape(commit[:19])}</code></td>'
        + _cell(label, f"{_ORDER.get(verdict, 99)} {label}", f"v-{verdict}")
        + _cell(why, css="reasons")
        + _cell(f"{duration:.1f} s", f"{duration:.3f}")
        + _cell("earlier run" if entry.reused else "this run")
        + "</tr>"
    )


def _html(entries: list[BatchEntry], layout: Layout) -> str:
    csp = (
        f"default-src 'none'; style-src {_csp_hash(_STYLE)}; script-src {_csp_hash(_SCRIPT)}; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )
    counts: dict[str, int] = {}
    for e in entries:
        key = e.result.verdict if e.result and e.result.failure is None else ("failed" if e.result else e.status.value)
        counts[key] = counts.get(key, 0) + 1
    summary = ", ".join(f"{html.escape(k)}: {v}" for k, v in sorted(counts.items()))
    rows = "\n".join(_row(e, layout) for e in entries)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{html.escape(csp, quote=True)}">
<meta name="referrer" content="no-referrer">
<title>paperpack batch: {len(entries)} submissions</title>
<style>{_STYLE}</style></head>
<body><h1>paperpack batch</h1>
<p>{len(entries)} submissions ({summary}); paperpack {html.escape(__version__)}. Click a column to sort.</p>
<table><thead><tr><th>submission</th><th>commit</th><th>verdict</th><th>reasons</th>
<th data-type="number">time</th><th>verified by</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<script>{_SCRIPT}</script></body></html>
"""


def write_index(layout: Layout, entries: list[BatchEntry]) -> list[Path]:
    """Write ``index.json``, ``index.html`` and ``batch.junit.xml``; return their paths."""
    out = layout.out
    write_json_atomic(
        out / INDEX_JSON,
        {"version": INDEX_VERSION, "paperpack": __version__, "submissions": [e.to_dict() for e in entries]},
    )
    write_atomic(out / INDEX_HTML, _html(entries, layout))
    write_atomic(out / JUNIT, render_runs("paperpack batch", (_paper_run(e) for e in entries)))
    return [out / INDEX_JSON, out / INDEX_HTML, out / JUNIT]
