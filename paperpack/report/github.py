"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` a finding."""

from __future__ import annotations

from ..checks.findings import Finding, Severity
from ..util.terminal import printable
from . import Report

__all__ = ["render_github", "annotation", "workflow_command"]

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _escape_data(s: str) -> str:
    """A workflow command's data: escape sequences and control characters from notebooks made visible."""
    return printable(s).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def workflow_command(
    level: str, text: str, *, file: str | None = None, line: int | None = None, title: str | None = None
) -> str:
    """One ``::error file=…,line=…,title=…::text`` line (``level``: error, warning, notice), every part escaped."""
    props = []
    if file:
        props.append(f"file={_escape_prop(file)}")
    if line:
        props.append(f"line={line}")
    if title:
        props.append(f"title={_escape_prop(title)}")
    return f"::{level} {','.join(props)}::{_escape_data(text)}" if props else f"::{level}::{_escape_data(text)}"


def annotation(f: Finding, prefix: str = "") -> str:
    where = f" (cell {f.cell})" if f.cell is not None and not f.line else ""
    body = f"{f.message}{where}\nWhy: {f.why}\nFix: {f.fix}"
    return workflow_command(
        _LEVEL[f.severity], body, file=prefix + f.path if f.path else None, line=f.line, title=f"{f.rule} {f.name}"
    )


def render_github(report: Report, *, prefix: str = "") -> str:
    """Annotations for every finding; ``prefix`` is the repo's path inside the workspace."""
    lines = [annotation(f, prefix) for f in report.findings.sorted()]
    lines.append(f"paperpack: {report.verdict()}")
    return "\n".join(lines) + "\n"
