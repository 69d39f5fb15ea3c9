"""Typed verification results made up for the report writers' tests and benchmarks/bench_reports.py.

:func:`make_publication` writes a small repository (real notebooks, so a cell's line in the
.ipynb file can be found) and returns the :class:`Publication` every writer renders, with
findings and notebook runs as the run would give them (verdicts, errors with causes and
tracebacks, differences with diffs, durations).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

from paperpack.checks.findings import Finding, Findings, Rule, Severity
from paperpack.report import Report
from paperpack.report.paper import paper_verdict
from paperpack.report.publish import Publication
from paperpack.repository.repo import Repo
from paperpack.run.results import NotebookRun, RunResult
from paperpack.verify import Result, VerifyOptions

RULE_E = Rule("NB011", "absolute-path", Severity.ERROR, "An absolute path exists only on the author's machine.")
RULE_W = Rule("ENV007", "unpinned-requirement", Severity.WARNING, "An unpinned package drifts.")

TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "<cell>", line 3, in <module>',
    "    y = 1 / x",
    "ZeroDivisionError: division by zero",
]


def write_notebook(root: Path, rel: str, sources: list[str]) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb), encoding="utf-8")


def same(path: str, duration: float = 1.5) -> NotebookRun:
    return NotebookRun(
        path=path,
        status="ok",
        verdict="same",
        message="",
        duration=duration,
        comparison={"differences": [], "tolerances": {"rtol": 1e-5, "atol": 1e-8}},
    )


def differs(path: str, diff: str = "-0.5\n+0.7", reason: str = "text output differs") -> NotebookRun:
    return NotebookRun(
        path=path,
        status="ok",
        verdict="differs",
        message=f"cell 1: {reason}",
        duration=2.0,
        comparison={
            "differences": [{"cell": 1, "reason": reason, "diff": diff}],
            "tolerances": {"rtol": 1e-5, "atol": 1e-8},
        },
    )


def failed(
    path: str,
    evalue: str = "division by zero",
    ename: str = "ZeroDivisionError",
    traceback: list[str] | None = None,
    cell: int = 1,
) -> NotebookRun:
    error: dict[str, Any] = {
        "kind": "cell-error",
        "cell": cell,
        "source_cell": cell,
        "ename": ename,
        "evalue": evalue,
        "traceback": TRACEBACK if traceback is None else traceback,
        "where": f"code cell {cell} (In [{cell + 1}])",
        "cause": {"id": "code-error", "message": "the cell raised an error", "fix": "fix the division"},
    }
    return NotebookRun(
        path=path,
        status="error",
        verdict="failed",
        message=f"code cell {cell}: {ename}: {evalue}",
        duration=0.7,
        error=error,
    )


def skipped(path: str) -> NotebookRun:
    return NotebookRun(path=path, status="skipped", verdict="skipped", message="skipped: listed under skip")


def make_publication(
    root: Path,
    notebooks: list[NotebookRun] | None = None,
    findings: list[Finding] | None = None,
    *,
    out_dir: Path | None = None,
    failure: str | None = None,
    run: bool = True,
    commit: str | None = "0123456789abcdef" * 2 + "01234567",
    write: bool = True,
) -> Publication:
    """A Publication of ``notebooks`` (written as real notebooks under ``root`` when missing) and ``findings``."""
    root.mkdir(parents=True, exist_ok=True)
    notebooks = notebooks if notebooks is not None else []
    for nb in notebooks if write else ():
        if not (root / nb.path).exists():
            write_notebook(root, nb.path, ["x = 0", "y = 1 / x", "print(y)"])
    out = out_dir or root / "paperpack-out"
    out.mkdir(parents=True, exist_ok=True)
    repo = Repo.open(root)
    validation = Report(root=root, findings=Findings(findings or []), commit=commit)
    result = Result(root=root, options=VerifyOptions(), validation=validation)
    if run:
        result.run = RunResult(
            engine="docker",
            isolation="container",
            image="paperpack/test:1",
            out_dir=out,
            jobs=2,
            limits={},
            notebooks=notebooks,
            duration=sum(nb.duration or 0 for nb in notebooks),
        )
    result.failure = failure
    verdict = paper_verdict(result.run, build_failed=failure is not None)
    report = validation.to_dict()
    report["paper"] = verdict.to_dict() if result.run is not None or failure else None
    return Publication(
        repo=repo, result=result, verdict=verdict, out_dir=out, commit=commit, report=report, failure=failure
    )
