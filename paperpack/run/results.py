"""What a run produced: one :class:`NotebookRun` per notebook, gathered in a :class:`RunResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..notebook.verdicts import Verdict
from ..util.words import Word

if TYPE_CHECKING:
    from ..timemachine.rerun import DatedRun

__all__ = ["EventKind", "RunEvent", "NotebookRun", "RunResult", "FAILING_VERDICTS", "Verdict", "Status"]


class Status(Word):
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
FAILING_VERDICTS = frozenset({Verdict.FAILED, Verdict.DIFFERS})


#: How the summary names each verdict, in the order it lists them.
_SUMMARY_LABELS = (
    (Verdict.SAME, "same results"),
    (Verdict.SAME_WITH_WARNINGS, "same results with new warnings"),
    (Verdict.DIFFERS, "differs"),
    (Verdict.NO_OUTPUTS, "no stored outputs"),
    (Verdict.REPRODUCES_ERROR, "reproduce the committed error"),
    (Verdict.FAILED, "failed"),
    (Verdict.SKIPPED, "skipped"),
)


class EventKind(Word):
    """What a :class:`RunEvent` says happened."""

    QUEUED = "queued"  # a notebook waits for a free slot
    START = "start"  # its kernel is starting
    CELL = "cell"  # a cell started (``cell`` of ``cells``, from 0)
    DONE = "done"  # it ended, with ``status`` and ``verdict`` (also when it was never run)
    FINISHED = "finished"  # every notebook ended; ``message`` is the summary


@dataclass
class RunEvent:
    """Progress, for a display. ``kind`` given as its word ("cell") becomes the :class:`EventKind`;
    a word outside the vocabulary raises ``ValueError``."""

    kind: EventKind
    path: str = ""
    cell: int | None = None
    cells: int | None = None
    status: Status | None = None
    verdict: Verdict | None = None
    message: str = ""

    def __post_init__(self) -> None:
        self.kind = EventKind(self.kind)


@dataclass
class NotebookRun:
    path: str
    status: Status = Status.NOT_RUN
    verdict: Verdict = Verdict.FAILED
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
        return {
            "path": self.path,
            "status": self.status,
            "verdict": self.verdict,
            "message": self.message,
            "duration": self.duration,
            "parameters": self.parameters,
            "kernel": self.kernel,
            "error": self.error,
            "cells": self.cells,
            "executed": self.executed,
            "comparison": self.comparison,
            "started": self.started,
            "ended": self.ended,
        }


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
            word = str(nb.verdict)  # the value, also for a plain string a caller put there
            out[word] = out.get(word, 0) + 1
        return out

    def summary(self) -> str:
        """E.g. "4/5 notebooks ran to the end: 3 same results, 1 differs, 1 failed"."""
        if not self.notebooks:
            return "no notebooks to run (none listed in paperpack.yml, none found)"
        counts = self.counts()
        considered = len(self.notebooks) - counts.get(Verdict.SKIPPED, 0)
        ran = considered - counts.get(Verdict.FAILED, 0) - counts.get(Verdict.REPRODUCES_ERROR, 0)
        parts = [f"{counts[v]} {label}" for v, label in _SUMMARY_LABELS if counts.get(v)]
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
