"""Batch mode: a journal's queue of submissions, each fetched and verified, on a Dask cluster.

queue (:mod:`.queue`) → one task per submission (:mod:`.task`, :mod:`.pipeline`: fetch, then
:func:`paperpack.verify.verify`) on local worker processes, an existing scheduler or Slurm/PBS
(:mod:`.cluster`) → ``state.json`` per submission (:mod:`.state`) → ``index.json``,
``index.html``, ``batch.junit.xml`` (:mod:`.index`). See docs/batch.md.
"""

from __future__ import annotations

from .queue import SourceKind, Submission, parse_queue, read_queue
from .runner import DEFAULT_OUT, BatchOptions, BatchResult, run_batch
from .state import FailureKind, Status, SubmissionResult

__all__ = [
    "Submission",
    "SourceKind",
    "read_queue",
    "parse_queue",
    "BatchOptions",
    "BatchResult",
    "run_batch",
    "DEFAULT_OUT",
    "Status",
    "FailureKind",
    "SubmissionResult",
]
