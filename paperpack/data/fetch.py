"""Fetching declared data into the store, and what a run mounts from it."""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import ChecksumError, DataError
from ..repository.repo import Repo
from ..util.httpclient import HttpClient, ServiceConfig
from ..util.sizes import human_size
from .archive import ArchiveLimits, extract_archive, open_up
from .declared import DataMount, DeclaredFile, declared_files, listing_of, safe_record_name, whole_record
from .download import download, hash_file
from .records import DataRecord, fetch_record
from .store import DataStore

log = logging.getLogger(__name__)

#: a download this large (bytes) says how far it is, at each quarter (a smaller one takes under ~2 s)
PROGRESS_FROM = 10_000_000

FETCH_HINT = "run `paperpack data fetch` to download the declared data into the cache"
LOCK_HINT = (
    "run `paperpack data fetch` then `paperpack data lock`: it writes the sha256 of what was fetched into "
    "paperpack.yml (check the file first), so every later build gets exactly those bytes"
)


def require_hashes(repo: Repo, declared: list[DeclaredFile]) -> None:
    """:class:`DataError` if a file to download by URL has no declared hash (a build or run needs one).

    Without a hash nothing says the bytes a build gets are the bytes the paper used: the
    server may change the file, or splice two versions of it.
    """
    unpinned = [d for d in declared if d.url and d.expected is None]
    if unpinned:
        shown = ", ".join(f"{d.path} (data[{d.dataset}])" for d in unpinned[:5])
        more = f" and {len(unpinned) - 5} more" if len(unpinned) > 5 else ""
        raise DataError(
            f"no sha256 declared for data downloaded by URL: {shown}{more}",
            hint=LOCK_HINT,
            path=repo.manifest.path if repo.manifest else None,
        )


def _present_in_repo(repo: Repo, declared: DeclaredFile) -> bool:
    """True if the repo already holds the declared file with the right hash.

    A file with a wrong hash raises :class:`ChecksumError`; a non-empty folder at the
    target of an ``extract: true`` archive counts as present.
    """
    target = repo.root / declared.path
    if target.is_symlink():
        return False
    if declared.extract:  # an unpacked copy committed to the repo (a folder holding only .gitkeep is not one)
        return target.is_dir() and any(not p.name.startswith(".") for p in target.iterdir())
    if not target.is_file():
        return False
    expected = declared.expected
    if expected is None:
        return True  # nothing to compare with: the committed file is what the paper uses
    actual = hash_file(target)[expected[0]]
    if actual != expected[1]:
        raise ChecksumError(
            f"{declared.path}: {expected[0]} is {actual}, but paperpack.yml declares {expected[1]}",
            hint=f"replace {declared.path} with the published file, or correct the hash in paperpack.yml "
            "(`paperpack data lock` fills in missing hashes only)",
            path=target,
        )
    return True


def data_mounts(repo: Repo, *, cache_dir: Path | None = None) -> list[DataMount]:
    """What a run mounts read-only: each declared file not already in the repo with the right hash.

    ``cache_dir`` is paperpack's cache folder (``--cache-dir``, default :func:`~paperpack.util.cache.cache_dir`);
    the data store is its ``data/`` folder.
    Raises :class:`DataError` (hint: run ``paperpack data fetch``) when a declared
    file has not been fetched, or (hint: ``paperpack data lock``) when a cached file
    declared by URL has no hash, and :class:`ChecksumError` for a committed file whose
    hash differs from the declared one.
    """
    store = DataStore.in_cache(cache_dir)
    mounts: list[DataMount] = []
    missing: list[str] = []
    unpinned: list[DeclaredFile] = []
    for declared in declared_files(repo, store):
        local = local_result(repo, store, declared)
        if local is None:
            missing.append(declared.label)
        elif local.state == "cached" and local.source is not None:
            mounts.append(DataMount(source=local.source, target=declared.path))
            unpinned.append(declared)
    require_hashes(repo, unpinned)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DataError(
            f"declared data not fetched yet: {shown} (cache: {store.root})",
            hint=FETCH_HINT,
            path=repo.manifest.path if repo.manifest else None,
        )
    return mounts


# -- fetch ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchResult:
    """What happened to one declared file: in-repo, cached, fetched."""

    declared: DeclaredFile
    state: str
    sha256: str | None = None
    source: Path | None = None


def local_result(repo: Repo, store: DataStore, declared: DeclaredFile) -> FetchResult | None:
    """``declared`` as it is without network: in the repo ("in-repo"), in the store ("cached"), or ``None``.

    A committed file with a wrong hash raises :class:`ChecksumError`; an ``extract: true``
    archive counts as cached only once it is unpacked; a record not listed yet is not there.
    """
    if declared.unlisted:
        return None
    if _present_in_repo(repo, declared):
        return FetchResult(declared, "in-repo", source=repo.root / declared.path)
    sha = store.find(declared)
    if sha is None:
        return None
    source = store.mount_source(declared, sha)
    if not source.exists():
        return None
    if declared.extract and stat.S_IMODE(source.stat().st_mode) != 0o755:
        open_up(source)  # unpacked by an older paperpack, 0700: the run's user could not read it
    return FetchResult(declared, "cached", sha, source)


#: ``progress(path, bytes_done, bytes_total_or_None)``
FetchProgress = Callable[[str, int, "int | None"], None]


class _Fetcher:
    def __init__(
        self,
        repo: Repo,
        store: DataStore,
        config: ServiceConfig,
        client: HttpClient,
        limits: ArchiveLimits,
        progress: FetchProgress | None,
    ) -> None:
        self.repo, self.store, self.config, self.client = repo, store, config, client
        self.limits, self.progress = limits, progress
        self.records: dict[str, DataRecord] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def record(self, doi: str) -> DataRecord:
        """The DOI's record, asked for once per run (only when a file must be downloaded)."""
        with self._lock:
            if doi not in self.records:
                self.records[doi] = fetch_record(doi, self.client, self.config)
            return self.records[doi]

    def source(self, declared: DeclaredFile) -> tuple[str, tuple[str, str] | None, int | None]:
        """URL, expected hash and size of a declared file (asking the DOI record if needed)."""
        if declared.url:
            return declared.url, declared.expected, declared.size
        if not declared.doi:
            raise DataError(
                f"{declared.path}: paperpack.yml gives neither a `url:` nor a dataset `doi:` for it",
                hint="add the file's download `url:` or the dataset's `doi:`",
            )
        entry = self.record(declared.doi).file(declared.record_name)
        expected = declared.expected or entry.checksum
        if (
            declared.expected
            and entry.checksum
            and declared.expected[0] == entry.checksum[0]
            and declared.expected != entry.checksum
        ):
            raise ChecksumError(
                f"{declared.path}: paperpack.yml declares {declared.expected[0]} {declared.expected[1]}, but the "
                f"record of {declared.doi} says {entry.checksum[1]} for {entry.name}",
                hint="one of them is out of date: check the record and correct paperpack.yml",
            )
        return entry.url, expected, declared.size if declared.size is not None else entry.size

    def expand(self, declared: DeclaredFile) -> list[DeclaredFile]:
        """The files of an unlisted whole-record dataset, from its record (the listing is saved in the store)."""
        if not declared.unlisted:
            return [declared]
        assert declared.doi is not None
        record = self.record(declared.doi)
        if not record.files:
            raise DataError(
                f"the record of {declared.doi} (record {record.record_id}) lists no files",
                hint="check the DOI, or declare the files under `files:` with their `url:`",
                path=self.repo.manifest.path if self.repo.manifest else None,
            )
        for name in record.files:
            safe_record_name(name, declared.doi)  # before it is saved: a bad listing is never kept
        self.store.save_listing(declared.doi, listing_of(record))
        return whole_record(self.repo, declared.dataset, declared.doi, self.store)

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def fetch(self, declared: DeclaredFile) -> FetchResult:
        local = local_result(self.repo, self.store, declared)
        if local is not None:
            return local
        state = "cached"
        # One download per source at a time, in this process (threads) and across processes sharing the cache.
        with self._key_lock(declared.key), self.store.locked(declared.key):
            sha = self.store.find(declared)  # another thread or process may have fetched it meanwhile
            if sha is None:
                sha = self._download(declared)
                state = "fetched"
            if declared.extract and not self.store.extracted(sha).is_dir():
                extract_archive(
                    self.store.blob(sha), self.store.extracted(sha), limits=self.limits, label=declared.path
                )
        return FetchResult(declared, state, sha, self.store.mount_source(declared, sha))

    def _download(self, declared: DeclaredFile) -> str:
        """Download ``declared`` into the store (the caller holds its key's lock); return its sha256."""
        url, expected, size = self.source(declared)
        partial = self.store.partial(declared.key)
        progress = self.progress
        report = (lambda done, total: progress(declared.path, done, total)) if progress else None
        hashes = download(self.client, url, partial, expected=expected, size=size, label=declared.path, progress=report)
        sha = hashes["sha256"]
        blob = self.store.blob(sha)
        try:
            blob.parent.mkdir(parents=True, exist_ok=True)
            os.replace(partial, blob)
            os.chmod(blob, 0o444)
        except OSError as exc:
            if not blob.is_file():
                raise DataError(
                    f"{declared.path}: cannot move the download into the cache at {blob}: {exc.strerror or exc}",
                    hint="check that the cache folder is writable and not full, then run `paperpack data fetch` again",
                    path=blob,
                ) from None
            log.debug("%s: %s already in the cache (%s)", declared.path, blob, exc)
        self.store.remember(sha, md5=hashes["md5"], key=declared.key)
        return sha


def fetch_data(
    repo: Repo,
    *,
    config: ServiceConfig | None = None,
    cache_dir: Path | None = None,
    client: HttpClient | None = None,
    limits: ArchiveLimits | None = None,
    progress: FetchProgress | None = None,
    workers: int = 4,
) -> list[FetchResult]:
    """Download every declared file not in the repo or the cache; check hashes; unpack archives.

    Files are fetched ``workers`` at a time. The first error is raised after the
    other downloads finished (what was fetched stays in the cache).
    """
    return _fetch(
        repo,
        declared_files(repo, DataStore.in_cache(cache_dir)),
        config=config,
        cache_dir=cache_dir,
        client=client,
        limits=limits,
        progress=progress,
        workers=workers,
    )


def _fetch(
    repo: Repo,
    declared: list[DeclaredFile],
    *,
    config: ServiceConfig | None = None,
    cache_dir: Path | None = None,
    client: HttpClient | None = None,
    limits: ArchiveLimits | None = None,
    progress: FetchProgress | None = None,
    workers: int = 4,
) -> list[FetchResult]:
    """:func:`fetch_data` for the files ``declared`` (results in their order)."""
    config = config or ServiceConfig.from_env()
    store = DataStore.in_cache(cache_dir)
    if declared:
        store.prepare()
    own = client is None
    http = client or HttpClient(config)
    fetcher = _Fetcher(repo, store, config, http, limits or ArchiveLimits.from_env(), progress)
    try:
        declared = [f for d in declared for f in fetcher.expand(d)]  # records are listed first (network)
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="paperpack-fetch") as pool:
            # The first file of each source goes first; files sharing its source wait for it (then hit the cache).
            first: dict[str, int] = {}
            for i, d in enumerate(declared):
                first.setdefault(d.key, i)
            order = sorted(range(len(declared)), key=lambda i: (first[declared[i].key] != i, i))
            submitted = {i: pool.submit(fetcher.fetch, declared[i]) for i in order}
            futures = [submitted[i] for i in range(len(declared))]
    finally:
        if own:
            http.close()
    return [future.result() for future in futures]  # raises the first error, in manifest order


def ensure_data(
    repo: Repo, *, cache_dir: Path | None = None, progress: Callable[[str], None] | None = None
) -> list[FetchResult]:
    """Fetch what a run needs and is not yet in the repo or the cache; return what was downloaded.

    Nothing is asked of the network when every declared file is already there. A
    committed file whose hash differs from the declared one raises :class:`ChecksumError`;
    a file to download by URL without a declared hash raises :class:`DataError` before
    any download (``paperpack data fetch`` and ``lock`` pin it).
    """
    store = DataStore.in_cache(cache_dir)
    # hashes each committed file once (download.hash_file remembers it for the fetch and the mounts)
    missing = [d for d in declared_files(repo, store) if local_result(repo, store, d) is None]
    if not missing:
        return []
    require_hashes(repo, missing)
    report = None
    if progress is not None:
        shown: dict[str, int] = {}  # path -> bytes done at its last line

        def report(path: str, done: int, total: int | None) -> None:
            if path not in shown:
                shown[path] = 0
                progress(f"fetching {path}" + (f" ({total} bytes)" if total else ""))
            elif (total or done) >= PROGRESS_FROM and (
                done - shown[path] >= (total or PROGRESS_FROM) // 4 or done == total
            ):
                shown[path] = done  # a large download: a line at each quarter (or each PROGRESS_FROM bytes)
                progress(
                    f"{path}: {human_size(done)}"
                    + (f" of {human_size(total)} ({100 * done // total}%)" if total else "")
                )

    results = _fetch(repo, missing, cache_dir=cache_dir, progress=report)
    return [r for r in results if r.state == "fetched"]
