"""What a run produced: one :class:`NotebookRun` per notebook, gathered in a :class:`RunResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..timemachine.rerun import DatedRun

__all__ = ["RunEvent", "NotebookRun", "RunResult", "FAILING_VERDICTS", "Verdict", "Status"]


class _Word(str, Enum):
    """A closed vocabulary whose members are strings: equal to, printed and written (JSON) as their value."""

    def __str__(self) -> str:
        return str(self.value)


class Verdict(_Word):
    """A notebook's verdict."""

    SAME = "same"
    SAME_WITH_WARNINGS = "same-with-warnings"  # the same results, and the run printed new Python warnings
    DIFFERS = "differs"
    FAILED = "failed"
    REPRODUCES_ERROR = "reproduces-error"  # the failing cell fails as the committed notebook shows
    NO_OUTPUTS = "no-outputs"
    SKIPPED = "skipped"


class Status(_Word):
    """How a notebook's run ended."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    DEAD_KERNEL = "dead-kernel"
    OOM = "oom"
    PIDS_LIMIT = "pids-limit"
    NO_KERNEL = "no-kernel"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"
    NOT_RUN = "not-run"


#: Verdicts that make ``paperpack run`` exit 1. "differs" is one: a journal wants the same results.
FAILING_VERDICTS = frozenset({"failed", "differs"})


@dataclass
class RunEvent:
    """Progress, for a display: ``kind`` is queued, start, cell, done, skipped, or finished."""

    kind: str
    path: str = ""
    cell: int | None = None
    cells: int | None = None
    status: str | None = None
    verdict: str | None = None
    message: str = ""


@dataclass
class NotebookRun:
    path: str
    status: str = "not-run"  # ok, error, timeout, dead-kernel, oom, pids-limit, no-kernel, skipped, interrupted, not-run
    verdict: str = "failed"  # same, same-with-warnings, differs, failed, reproduces-error, no-outputs, skipped
    message: str = ""
    duration: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    kernel: str | None = None
    error: dict[str, Any] | None = None
    cells: list[dict[str, Any]] = field(default_factory=list)
    executed: str | None = None  # path of the executed copy, relative to the output folder
    comparison: dict[str, Any] | None = None
    started: str | None = None  # when the notebook started and ended, ISO 8601 UTC (None: it did not run)
    ended: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "verdict": self.verdict, "message": self.message,
                "duration": self.duration, "parameters": self.parameters, "kernel": self.kernel,
                "error": self.error, "cells": self.cells, "executed": self.executed,
                "comparison": self.comparison, "started": self.started, "ended": self.ended}


@dataclass
class RunResult:
    engine: str
    isolation: str
    image: str | None
    out_dir: Path
    jobs: int
    limits: dict[str, Any]
    notebooks: list[NotebookRun] = field(default_factory=list)
    complete: bool = True
    duration: float = 0.0
    image_source: str | None = None  # engines.GIVEN (passed in) or engines.FOUND (the image of this repo state)
    engine_note: str | None = None  # why the less isolated local engine, when auto chose it
    dated: DatedRun | None = None  # the time machine's rerun with dependencies as of a date (None: not tried)

    @property
    def failed(self) -> bool:
        return (not self.complete) or any(nb.verdict in FAILING_VERDICTS for nb in self.notebooks)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for nb in self.notebooks:
            out[nb.verdict] = out.get(nb.verdict, 0) + 1
        return out

    def summary(self) -> str:
        """E.g. "4/5 notebooks ran to the end: 3 same results, 1 differs, 1 failed"."""
        if not self.notebooks:
            return "no notebooks to run (none listed in paperpack.yml, none found)"
        counts = self.counts()
        considered = len(self.notebooks) - counts.get("skipped", 0)
        ran = considered - counts.get("failed", 0) - counts.get("reproduces-error", 0)
        parts = [f"{counts[v]} {label}" for v, label in (("same", "same results"),
                                                         ("same-with-warnings", "same results with new warnings"),
                                                         ("differs", "differs"),
                                                         ("no-outputs", "no stored outputs"),
                                                         ("reproduces-error", "reproduce the committed error"),
                                                         ("failed", "failed"), ("skipped", "skipped"))
                 if counts.get(v)]
        text = f"{ran}/{considered} notebooks ran to the end" + (": " + ", ".join(parts) if parts else "")
        return text + ("" if self.complete else " (interrupted: incomplete)")

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "isolation": self.isolation,
            "image": self.image,
            "image_source": self.image_source if self.image else None,
            "engine_note": self.engine_note or None,
            "out_dir": str(self.out_dir),
            "jobs": self.jobs,
            "limits": self.limits,
            "complete": self.complete,
            "failed": self.failed,
            "duration": round(self.duration, 3),
            "summary": self.summary(),
            "counts": self.counts(),
            "notebooks": [nb.to_dict() for nb in self.notebooks],
            "dated": self.dated.to_dict() if self.dated is not None else None,
        }
