"""Run batches of independent notebooks in parallel, in the order the plan's DAG allows.

The scheduler talks to a small :class:`Executor` interface — ``submit`` and
``wait_first`` — implemented here on :mod:`concurrent.futures`. A Dask
``distributed.Client`` fits the same interface (``submit`` plus ``distributed.wait``
with ``return_when="FIRST_COMPLETED"``): :class:`DaskExecutor` wraps one, so runs move
to a cluster (dask-jobqueue on Slurm, dask-kubernetes) without a scheduler of our own.
Batches sent to Dask workers run without live progress, and need the repository,
the working copy and the image (or the local engine's cache) reachable from the
workers, as on an HPC cluster's shared file system.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable
from typing import Any, Protocol

__all__ = ["Executor", "ThreadExecutor", "DaskExecutor"]


class Executor(Protocol):
    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Start ``fn(*args)``; return a future with ``result()``."""

    def wait_first(self, futures: Iterable[Any]) -> set[Any]:
        """Block until at least one of ``futures`` is done; return those that are."""

    def shutdown(self, wait: bool = True) -> None:
        """Release workers (``wait=False``: do not wait for running tasks)."""


class ThreadExecutor:
    """Batches run in threads: each batch is one runner process or container."""

    def __init__(self, workers: int):
        self._pool = cf.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="paperpack-run")

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        return self._pool.submit(fn, *args)

    def wait_first(self, futures: Iterable[Any]) -> set[Any]:
        done, _pending = cf.wait(list(futures), return_when=cf.FIRST_COMPLETED)
        return set(done)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)


class DaskExecutor:
    """Batches run as tasks of a Dask ``distributed.Client`` (the caller owns the client)."""

    def __init__(self, client: Any):
        self.client = client

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def wait_first(self, futures: Iterable[Any]) -> set[Any]:
        from distributed import wait

        done, _pending = wait(list(futures), return_when="FIRST_COMPLETED")
        return set(done)

    def shutdown(self, wait: bool = True) -> None:
        """Nothing to release: the client and its cluster belong to the caller."""
