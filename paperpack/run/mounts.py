"""Fetched data for a run: where each declared file comes from and where notebooks see it."""

from __future__ import annotations

from pathlib import Path

from ..repository.repo import Repo

__all__ = ["data_sources", "data_links"]


def data_sources(repo: Repo, cache_dir: Path | None = None) -> list[tuple[Path, str]]:
    """(fetched file or folder on this machine, repo-relative target) for each declared dataset file.

    ``cache_dir`` is paperpack's cache folder (``--cache-dir``; default :func:`~paperpack.util.cache.cache_dir`).

    Comes from :func:`paperpack.data.data_mounts`, which raises a ``DataError`` saying
    to run ``paperpack data fetch`` when something declared was not fetched.
    """
    from ..data import data_mounts  # imported by the runs that need it (start-up time)

    return [(Path(m.source), str(m.target)) for m in data_mounts(repo, cache_dir=cache_dir)]


def data_links(sources: list[tuple[Path, str]]) -> list[dict[str, str]]:
    """Runner ``links`` for the local engine: the working copy links each target to its source."""
    return [{"target": target, "source": str(source)} for source, target in sources]
