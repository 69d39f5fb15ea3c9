"""Batch mode: a journal's queue of submissions, each fetched and verified, on a Dask cluster.

queue (:mod:`.queue`) → one task per submission (:mod:`.task`, :mod:`.pipeline`: fetch, then
:func:`paperpack.verify.verify`) on local worker processes, an existing scheduler or Slurm/PBS
(:mod:`.cluster`) → ``state.json`` per submission (:mod:`.state`) → ``index.json``,
``index.html``, ``batch.junit.xml`` (:mod:`.index`). See docs/batch.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .queue import SourceKind, Submission, parse_queue, read_queue
from .state import FailureKind, Status, SubmissionResult

if TYPE_CHECKING:
    from .runner import DEFAULT_OUT, BatchOptions, BatchResult, run_batch

#: the batch's own side (:mod:`.runner`: fetching, the index, Dask's client), imported when first asked for: a
#: worker, which only unpickles and runs tasks (:mod:`.task`), starts ~0.3 s sooner without it
_RUNNER = ("DEFAULT_OUT", "BatchOptions", "BatchResult", "run_batch")


def __getattr__(name: str) -> Any:
    if name in _RUNNER:
        from . import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
