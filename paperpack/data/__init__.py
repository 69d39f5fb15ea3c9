"""Declared data: which files the manifest lists, where they are cached, what runs mount.

Every file declared under ``data:`` in ``paperpack.yml`` is fetched once into a
content-addressed store (``<cache>/data/sha256/<hex>``), checked against its hash,
and — for archives with ``extract: true`` — unpacked safely into
``<cache>/data/extracted/<hex>/``. The run step mounts these read-only at the
declared paths (:func:`data_mounts`), so notebooks need no network.

Modules: :mod:`.declared` (what the manifest declares), :mod:`.store` (the cache),
:mod:`.fetch` (downloads and mounts), :mod:`.lock` (``data lock`` and ``data status``).
"""

from .declared import DataMount, DeclaredFile, declared_files
from .download import hash_file
from .fetch import FetchResult, data_mounts, ensure_data, fetch_data
from .lock import data_status, lock_hashes
from .store import DataStore

__all__ = [
    "DataMount",
    "DeclaredFile",
    "DataStore",
    "declared_files",
    "data_mounts",
    "ensure_data",
    "hash_file",
    "FetchResult",
    "fetch_data",
    "lock_hashes",
    "data_status",
]
