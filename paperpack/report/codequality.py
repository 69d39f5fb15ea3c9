"""``codequality.json``: the validate findings as a Code Climate report, for GitLab merge requests.

GitLab's ``artifacts:reports:codequality`` reads a JSON array of issues, each with a
``description``, a ``check_name``, a ``fingerprint`` (GitLab compares them between the
merge request and its target to show new and fixed issues, so it must not change from run
to run when the finding does not), a ``severity`` and a ``location`` (``path`` and
``lines.begin``).

The fingerprint is the sha256 of the rule, the file, the cell (or line) and the message:
what identifies a finding, never the time, the output folder or the order of findings.
Two identical findings at one place get ``#2``, ``#3``… added before hashing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..checks.findings import Finding, Severity
from ..util.atomic import write_atomic
from .publish import Publication

__all__ = ["CODEQUALITY_NAME", "render_codequality", "write_codequality", "fingerprint"]

CODEQUALITY_NAME = "codequality.json"
#: Code Climate severities: info, minor, major, critical, blocker
_SEVERITY = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}


def fingerprint(finding: Finding, occurrence: int = 1) -> str:
    """A stable id of the finding: same rule, place and message → same fingerprint, run after run."""
    where = f"cell {finding.cell}" if finding.cell is not None else f"line {finding.line or 0}"
    key = "\0".join((finding.rule, finding.path or "", where, finding.message, str(occurrence)))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def render_codequality(publication: Publication) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for f in publication.result.findings.sorted():
        first = fingerprint(f)
        seen[first] = seen.get(first, 0) + 1
        line = publication.line_of(f)
        issues.append(
            {
                "type": "issue",
                "check_name": f.rule,
                "description": f"{f.rule} {f.name}: {f.message}" + (f" (cell {f.cell})" if f.cell is not None else ""),
                "content": {"body": f"Why: {f.why}\n\nFix: {f.fix}"},
                "categories": ["Bug Risk" if f.severity is Severity.ERROR else "Style"],
                "fingerprint": first if seen[first] == 1 else fingerprint(f, seen[first]),
                "severity": _SEVERITY[f.severity],
                "location": {"path": f.path or ".", "lines": {"begin": line if line and line >= 1 else 1}},
            }
        )
    return issues


def write_codequality(publication: Publication) -> list[Path]:
    path = publication.out_dir / CODEQUALITY_NAME
    write_atomic(path, json.dumps(render_codequality(publication), indent=2, ensure_ascii=False) + "\n")
    return [path]
