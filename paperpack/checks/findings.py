"""Findings: what ``validate`` says about a repository.

A :class:`Rule` is a stable id with a default severity and the reason it matters;
a :class:`Finding` is one occurrence of a rule at a place (file and line or cell)
with a message and a fix. Check modules declare their rules as module constants
and return findings made with :meth:`Rule.at`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["Severity", "Rule", "Finding", "Findings"]


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class Rule:
    """A kind of finding. ``id`` never changes once released (e.g. ``NB003``)."""

    id: str
    name: str
    severity: Severity
    why: str
    family: str = ""

    def at(
        self,
        path: str | None,
        message: str,
        fix: str,
        *,
        line: int | None = None,
        cell: int | None = None,
        severity: Severity | None = None,
        detail: dict[str, object] | None = None,
    ) -> Finding:
        """A finding of this rule at ``path`` (relative, POSIX), line or cell."""
        return Finding(
            rule=self.id,
            name=self.name,
            severity=severity or self.severity,
            path=path,
            line=line,
            cell=cell,
            message=message,
            why=self.why,
            fix=fix,
            detail=dict(detail or {}),
        )


@dataclass(frozen=True)
class Finding:
    rule: str
    name: str
    severity: Severity
    path: str | None
    message: str
    why: str
    fix: str
    line: int | None = None
    cell: int | None = None
    detail: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def where(self) -> str:
        """``path:line``, ``path [cell N]`` or ``path`` (or ``<repository>``)."""
        if self.path is None:
            return "<repository>"
        if self.line is not None:
            return f"{self.path}:{self.line}"
        if self.cell is not None:
            return f"{self.path} [cell {self.cell}]"
        return self.path

    def sort_key(self) -> tuple[str, int, int, int, str]:
        return (self.path or "", self.line or 0, self.cell or 0, self.severity.rank, self.rule)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity.value,
            "path": self.path,
            "line": self.line,
            "cell": self.cell,
            "message": self.message,
            "why": self.why,
            "fix": self.fix,
        }
        if self.detail:
            out["detail"] = self.detail
        return out


class Findings(list[Finding]):
    """A list of findings; the numbers per severity are derived from it, never stored beside it.

    ``count`` is :meth:`list.count` (how many findings equal one finding); the number of a severity is
    :meth:`of_severity`, or the ``errors``, ``warnings`` and ``infos`` properties.
    """

    def of_severity(self, severity: Severity) -> int:
        """How many findings have ``severity``."""
        return sum(1 for f in self if f.severity is severity)

    @property
    def errors(self) -> int:
        return self.of_severity(Severity.ERROR)

    @property
    def warnings(self) -> int:
        return self.of_severity(Severity.WARNING)

    @property
    def infos(self) -> int:
        return self.of_severity(Severity.INFO)

    def sorted(self) -> Findings:
        return Findings(sorted(self, key=Finding.sort_key))

    def by_path(self) -> dict[str, list[Finding]]:
        groups: dict[str, list[Finding]] = {}
        for f in self.sorted():
            groups.setdefault(f.path or "<repository>", []).append(f)
        return groups
