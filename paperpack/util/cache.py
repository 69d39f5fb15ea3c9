"""A persistent JSON cache on disk, one small file per key, with a time to live.

The cache lives under ``platformdirs.user_cache_dir("paperpack")`` unless
``PAPERPACK_CACHE_DIR`` names another folder, or a caller passes one (``--cache-dir``
on ``build``, ``run`` and ``data``: the same folder as the variable would name). One
layout below it, whichever way it was set: ``data/`` the data store
(:class:`~paperpack.data.store.DataStore`), ``doi/`` and ``closure/`` JSON caches,
``venvs/`` the local engine's environments.

Each entry is written to a temporary
file beside its final name and moved into place with :func:`os.replace`, so readers
never see half an entry and several processes can share the folder without locks
(the last writer wins; every version written is complete).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from .atomic import write_atomic

__all__ = ["cache_dir", "data_dir", "JsonCache", "CACHE_ENV"]

log = logging.getLogger(__name__)

CACHE_ENV = "PAPERPACK_CACHE_DIR"


def cache_dir(override: Path | None = None) -> Path:
    """paperpack's cache folder: ``override`` (``--cache-dir``), else ``$PAPERPACK_CACHE_DIR``, else the user's.

    ``override`` and the variable mean the same folder: everything below it has the same layout.
    """
    if override is not None:
        return Path(override).expanduser()
    from_env = os.environ.get(CACHE_ENV)
    if from_env:
        return Path(from_env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("paperpack"))


def data_dir(cache: Path | None = None) -> Path:
    """The data store's folder: ``data/`` in paperpack's cache folder (:func:`cache_dir` of ``cache``)."""
    return cache_dir(cache) / "data"


class JsonCache:
    """Key → JSON value, each entry stored with the time it was written and its TTL.

    ``get`` returns ``None`` for a missing, expired or unreadable entry (an unreadable
    entry is treated as missing: the cache is a convenience, never a source of errors).
    """

    def __init__(self, folder: Path, *, ttl: float = 30 * 86400) -> None:
        self.folder = Path(folder)
        self.ttl = ttl

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self.folder / digest[:2] / f"{digest}.json"

    def get(self, key: str, *, now: float | None = None) -> Any:
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        stored = float(entry.get("stored", 0))
        ttl = float(entry.get("ttl", self.ttl))
        if (now if now is not None else time.time()) - stored > ttl:
            log.debug("cache entry for %s expired", key)
            return None
        return entry.get("value")

    def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        entry = {"key": key, "stored": time.time(), "ttl": self.ttl if ttl is None else ttl, "value": value}
        data = json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8")
        try:
            write_atomic(self._path(key), data)
        except OSError as exc:  # a read-only or full cache must not stop validation
            log.warning("could not write the cache entry for %s in %s: %s", key, self.folder, exc)

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass
