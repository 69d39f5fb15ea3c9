"""Reports: one :class:`Report` model, several renderings (human, JSON, GitHub).

JSON reports follow ``schemas/paperpack.report.v1.json`` and are written atomically
(:func:`paperpack.util.atomic.write_json_atomic`).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from ..checks.findings import Findings

__all__ = ["Report", "REPORT_VERSION"]

REPORT_VERSION = 1


@dataclass
class Report:
    root: Path
    findings: Findings = field(default_factory=Findings)
    manifest: str | None = None
    commit: str | None = None
    environment: dict[str, Any] | None = None
    checked: dict[str, Any] | None = None  #: what validate looked at (notebooks, files, DOIs), see validate.py
    build: dict[str, Any] | None = None
    run: dict[str, Any] | None = None
    complete: bool = True
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    def failed(self, strict: bool = False) -> bool:
        if self.findings.errors:
            return True
        if strict and self.findings.warnings:
            return True
        if self.run and self.run.get("failed"):
            return True
        return False

    def verdict(self, strict: bool = False) -> str:
        e, w = self.findings.errors, self.findings.warnings
        if e:
            return f"{e} error{'s' * (e != 1)}, {w} warning{'s' * (w != 1)}"
        if w:
            return f"no errors, {w} warning{'s' * (w != 1)}" + (" (--strict: failing)" if strict else "")
        return "clean"

    def to_dict(self, strict: bool = False) -> dict[str, Any]:
        return {
            "report_version": REPORT_VERSION,
            "paperpack_version": __version__,
            "created": self.created,
            "complete": self.complete,
            "repository": {"root": str(self.root), "commit": self.commit, "manifest": self.manifest},
            "summary": {
                "errors": self.findings.errors,
                "warnings": self.findings.warnings,
                "infos": self.findings.infos,
                "verdict": self.verdict(strict),
            },
            "environment": self.environment,
            **({"checked": self.checked} if self.checked is not None else {}),
            "findings": [f.to_dict() for f in self.findings.sorted()],
            "build": self.build,
            "run": self.run,
        }
