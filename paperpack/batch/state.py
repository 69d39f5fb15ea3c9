"""A submission's state on disk: ``DIR/ID/state.json``, and the append-only log of its transitions.

``state.json`` is written atomically at each step (queued → fetching → verifying → done or
failed, or interrupted: started over by the next run) with the revision fetched and the paperpack version; a final state also carries the
typed :class:`SubmissionResult` that ``index.json``, ``index.html`` and ``batch.junit.xml`` are
written from. Every transition is also appended, one JSON line each, to
``DIR/.batch/log/ID.jsonl``, which survives a submission being started over.
"""

from __future__ import annotations

import enum
import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from ..util.atomic import write_json_atomic

__all__ = [
    "Status",
    "FailureKind",
    "Failure",
    "NotebookLine",
    "bounded",
    "SubmissionResult",
    "State",
    "Layout",
    "read_state",
    "write_state",
    "STATE_NAME",
]

STATE_NAME = "state.json"
STATE_VERSION = 1


class Status(str, enum.Enum):
    QUEUED = "queued"
    FETCHING = "fetching"
    VERIFYING = "verifying"
    #: stopped from outside (the batch's Ctrl-C or SIGTERM, its worker gone) after its runs were stopped: the
    #: next batch run starts it over
    INTERRUPTED = "interrupted"
    DONE = "done"  # verify() finished: the result holds the paper's verdict
    FAILED = "failed"  # the pipeline stopped: the result holds the cause

    def __str__(self) -> str:
        return self.value

    @property
    def final(self) -> bool:
        return self in (Status.DONE, Status.FAILED)


class FailureKind(str, enum.Enum):
    """Why a submission's pipeline stopped before a verdict."""

    FETCH = "fetch"  # unreachable URL, unknown ref, missing file
    UNSAFE_SOURCE = "unsafe-source"  # an archive with a path traversal, a link out, a bomb
    CONFIG = "config"  # an invalid paperpack.yml, an unusable environment file
    ENGINE = "engine"  # no Docker, no base image, the local environment could not be made
    BUILD = "build"  # the image build failed
    TIMEOUT = "timeout"  # the submission ran longer than --timeout
    ERROR = "error"  # another error paperpack raised on purpose
    CRASH = "crash"  # a bug: an unexpected exception, or the pipeline's process died

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    message: str
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "message": self.message, "hint": self.hint}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Failure:
        return cls(FailureKind(data["kind"]), str(data["message"]), str(data.get("hint") or ""))


@dataclass(frozen=True)
class NotebookLine:
    """One notebook of a submission's run, as the batch's index and JUnit show it.

    ``comparison`` and ``error`` are report.json's (what differed, with the diffs; the cell, the
    exception, the cause, the traceback), cut by :func:`bounded` so a state stays small: the batch's
    JUnit shows them as the submission's own report.junit.xml does (the same builders).
    """

    path: str
    verdict: str
    status: str
    duration: float | None = None
    message: str = ""
    comparison: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


#: what :func:`bounded` keeps of a notebook's details: lines of a text, characters of a line, items of a list
KEPT_LINES = 200
KEPT_CHARS = 1000
KEPT_ITEMS = 50


def bounded(value: Any) -> Any:
    """``value`` (JSON data) with each text cut to :data:`KEPT_LINES` lines of :data:`KEPT_CHARS` characters and
    each list to :data:`KEPT_ITEMS` items — more than a JUnit test case shows, so it shows the same — with a line
    saying how much of a text (or a list of texts) was left out (report.json has all of it)."""
    if isinstance(value, str):
        lines = value[: KEPT_LINES * (KEPT_CHARS + 1)].split("\n")
        kept = [line if len(line) <= KEPT_CHARS else line[: KEPT_CHARS - 1] + "…" for line in lines[:KEPT_LINES]]
        total = value.count("\n") + 1
        return "\n".join(kept if total <= KEPT_LINES else [*kept, f"… {total - KEPT_LINES} more lines in report.json"])
    if isinstance(value, list):
        items = [bounded(v) for v in value[:KEPT_ITEMS]]
        if len(value) > KEPT_ITEMS and all(isinstance(v, str) for v in value):  # a traceback's lines
            items.append(f"… {len(value) - KEPT_ITEMS} more in report.json")
        return items
    if isinstance(value, dict):
        return {str(k): bounded(v) for k, v in value.items()}
    return value


@dataclass
class SubmissionResult:
    """What one submission gave: the paper's verdict (``done``) or the cause (``failed``)."""

    id: str
    status: Status
    commit: str | None = None
    verdict: str = "not-run"  # a PaperClass value
    label: str = "not run"
    reasons: list[str] = field(default_factory=list)
    notebooks: list[NotebookLine] = field(default_factory=list)
    failure: Failure | None = None
    duration: float = 0.0
    engine: str | None = None
    image: str | None = None
    image_reused: bool | None = None  # the image existed already (None: no image, the local engine)
    reports: list[str] = field(default_factory=list)  # file names written into DIR/ID/
    validation_errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["failure"] = self.failure.to_dict() if self.failure else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        return cls(
            id=data["id"],
            status=Status(data["status"]),
            commit=data.get("commit"),
            verdict=data.get("verdict", "not-run"),
            label=data.get("label", "not run"),
            reasons=list(data.get("reasons") or []),
            notebooks=[NotebookLine(**nb) for nb in data.get("notebooks") or []],
            failure=Failure.from_dict(data["failure"]) if data.get("failure") else None,
            duration=float(data.get("duration") or 0.0),
            engine=data.get("engine"),
            image=data.get("image"),
            image_reused=data.get("image_reused"),
            reports=list(data.get("reports") or []),
            validation_errors=int(data.get("validation_errors") or 0),
        )


@dataclass
class State:
    """``state.json``: where a submission is, at which revision, by which paperpack version."""

    id: str
    status: Status
    commit: str | None = None
    paperpack: str = __version__
    attempt: int = 0
    updated: float = 0.0
    host: str = ""
    pid: int | None = None  # the process running the pipeline (fetching, verifying)
    worker_pid: int | None = None  # the batch worker that started it
    result: SubmissionResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "id": self.id,
            "status": self.status.value,
            "commit": self.commit,
            "paperpack": self.paperpack,
            "attempt": self.attempt,
            "updated": self.updated,
            "host": self.host,
            "pid": self.pid,
            "worker_pid": self.worker_pid,
            "result": self.result.to_dict() if self.result else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> State:
        return cls(
            id=data["id"],
            status=Status(data["status"]),
            commit=data.get("commit"),
            paperpack=str(data.get("paperpack") or ""),
            attempt=int(data.get("attempt") or 0),
            updated=float(data.get("updated") or 0.0),
            host=str(data.get("host") or ""),
            pid=data.get("pid"),
            worker_pid=data.get("worker_pid"),
            result=SubmissionResult.from_dict(data["result"]) if data.get("result") else None,
        )

    def finished_at(self, commit: str | None) -> bool:
        """Final, by this paperpack version, at ``commit`` (a known revision): nothing to redo."""
        return self.status.final and commit is not None and self.commit == commit and self.paperpack == __version__


@dataclass(frozen=True)
class Layout:
    """Where a batch writes, under its output folder ``out``."""

    out: Path

    def submission(self, ident: str) -> Path:
        return self.out / ident

    def state(self, ident: str) -> Path:
        return self.out / ident / STATE_NAME

    @property
    def private(self) -> Path:
        return self.out / ".batch"

    def workspace(self, ident: str) -> Path:
        return self.private / "work" / ident

    def lock(self, ident: str) -> Path:
        return self.private / "locks" / f"{ident}.lock"

    def log(self, ident: str) -> Path:
        return self.private / "log" / f"{ident}.jsonl"

    def output_log(self, ident: str) -> Path:
        return self.private / "log" / f"{ident}.out"


def read_state(layout: Layout, ident: str) -> State | None:
    """The submission's state, or ``None`` (never started, or a file that is not a state)."""
    path = layout.state(ident)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return State.from_dict(data) if isinstance(data, dict) and data.get("id") == ident else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_state(layout: Layout, state: State, *, event: str | None = None) -> None:
    """Write ``state.json`` atomically, then append the transition to the submission's log.

    ``event`` names the transition in the log (default: the new status); a finished state
    written back unchanged is logged as ``reused``, so the log's ``done`` lines count completions.
    """
    state.updated = time.time()
    state.host = socket.gethostname()
    write_json_atomic(layout.state(state.id), state.to_dict())
    line = (
        json.dumps(
            {
                "time": state.updated,
                "event": event or state.status.value,
                "status": state.status.value,
                "attempt": state.attempt,
                "commit": state.commit,
                "pid": os.getpid(),
                "host": state.host,
            }
        )
        + "\n"
    )
    path = layout.log(state.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, line.encode())  # one write of one short line: appends never interleave
    finally:
        os.close(fd)
