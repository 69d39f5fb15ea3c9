"""``report.sarif``: the validate findings as SARIF 2.1.0, for GitHub code scanning.

One run of the tool ``paperpack``: the rule catalogue (:func:`paperpack.checks.all_rules`,
never a second list) as ``tool.driver.rules`` — the name as the short description, why it
matters as the full description, the fix as help, a link to the rule in docs/rules.md — and
one result per finding, its ``level`` from the severity, at its file and line relative to
the repository root (``uriBaseId`` ``%SRCROOT%``). A finding in a notebook cell points at
the line where that cell starts in the ``.ipynb`` file, which is what code scanning shows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._version import __version__
from ..checks.findings import Finding, Rule, Severity
from ..util.atomic import write_atomic
from .publish import Publication

__all__ = ["SARIF_NAME", "SARIF_SCHEMA", "RULES_URL", "render_sarif", "write_sarif"]

SARIF_NAME = "report.sarif"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
PROJECT_URL = "https://github.com/paperpack/paperpack"
RULES_URL = f"{PROJECT_URL}/blob/main/docs/rules.md"
#: where relative paths start: the repository root (GitHub resolves it to the checkout)
SRCROOT = "%SRCROOT%"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _rule(rule: Rule, fix: str | None) -> dict[str, Any]:
    uri = f"{RULES_URL}#{rule.id.lower()}"
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.name.replace("-", " ")},
        "fullDescription": {"text": rule.why},
        "help": {"text": fix or f"See {uri}"},
        "helpUri": uri,
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"family": rule.family or rule.id.rstrip("0123456789")},
    }


def _result(finding: Finding, index: int, line: int | None) -> dict[str, Any]:
    text = f"{finding.message}" + (f" (cell {finding.cell})" if finding.cell is not None else "")
    out: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": index,
        "level": _LEVEL[finding.severity],
        "message": {"text": f"{text}\nFix: {finding.fix}"},
    }
    location: dict[str, Any] = {
        "physicalLocation": {"artifactLocation": {"uri": finding.path or ".", "uriBaseId": SRCROOT}}
    }
    if line is not None and line >= 1:
        location["physicalLocation"]["region"] = {"startLine": line}
    out["locations"] = [location]
    return out


def _one(fixes: set[str] | None) -> str | None:
    return next(iter(fixes)) if fixes and len(fixes) == 1 else None


def render_sarif(publication: Publication) -> dict[str, Any]:
    """The SARIF 2.1.0 log of the findings (a dict, for json.dumps)."""
    from ..checks import all_rules  # here: it imports every check family

    findings = publication.result.findings.sorted()
    fixes: dict[str, set[str]] = {}
    for f in findings:  # a rule's help is its fix when every finding of it gives the same one
        fixes.setdefault(f.rule, set()).add(f.fix)
    catalogue = all_rules()
    known = {rule.id for rule in catalogue}
    for f in findings:  # a finding of a rule outside the catalogue (a plugin): still listed, never dropped
        if f.rule not in known:
            catalogue.append(Rule(f.rule, f.name, f.severity, f.why))
            known.add(f.rule)
    index = {rule.id: i for i, rule in enumerate(catalogue)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "paperpack",
                "version": __version__,
                "informationUri": PROJECT_URL,
                "rules": [_rule(rule, _one(fixes.get(rule.id))) for rule in catalogue],
            }
        },
        "originalUriBaseIds": {SRCROOT: {"description": {"text": "the root of the paper's repository"}}},
        "results": [_result(f, index[f.rule], publication.line_of(f)) for f in findings],
        "columnKind": "unicodeCodePoints",
    }
    if publication.commit:
        run["properties"] = {"commit": publication.commit}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def write_sarif(publication: Publication) -> list[Path]:
    path = publication.out_dir / SARIF_NAME
    write_atomic(path, json.dumps(render_sarif(publication), indent=2, ensure_ascii=False) + "\n")
    return [path]
