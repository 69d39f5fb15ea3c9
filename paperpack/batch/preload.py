"""The batch's Dask worker preload: a worker starts its fork server as it starts, not on its first task.

Measured (``paperpack -v batch``, 12 small submissions, ``--jobs 2``, load ~6 on 2 cores): the local
cluster answered after 3.2 s, and the first pipeline was forked 3.0 s later — the worker importing
:mod:`paperpack.batch.task` to unpickle its first task, then starting the fork server, which imports
paperpack's stages (:data:`~paperpack.batch.forkserver.PRELOAD`) before it can fork. Here both start
while the worker starts (Dask runs :func:`dask_setup` before the worker registers with the scheduler),
so they overlap the cluster's own start-up.

The server's lifetime is as before: it dies with its worker, however the worker ends, whether or not
it ever got a task (end-of-file on its control socket, see :mod:`paperpack.batch.forkserver`).

The local cluster of ``--jobs N`` and ``--cluster slurm|pbs`` workers load it; a cluster of your own
can too: ``dask worker ADDRESS --preload paperpack.batch.preload`` (without it, the first task starts
the server).
"""

from __future__ import annotations

import logging
from typing import Any

from . import forkserver
from . import task as task  # noqa: F401 -- what every task unpickles: imported now, not when the first one arrives

__all__ = ["dask_setup"]

log = logging.getLogger(__name__)


def dask_setup(worker: Any) -> None:
    """Called by Dask in the worker process as it starts: start the worker's fork server."""
    if forkserver.warm():
        log.info("fork server started with worker %s", getattr(worker, "name", "?"))
