"""Declared data: which files the manifest lists, where they are cached, what runs mount.

Every file declared under ``data[*].files`` in ``paperpack.yml`` is fetched once into
a content-addressed store (``<cache>/data/sha256/<hex>``), checked against its hash,
and — for archives with ``extract: true`` — unpacked safely into
``<cache>/data/extracted/<hex>/``. The run step mounts these read-only at the
declared paths (:func:`data_mounts`), so notebooks need no network.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import logging
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from ruamel.yaml import YAML

from .cache import cache_dir as default_cache_dir
from .archive import ArchiveLimits, extract_archive
from .download import hash_file, download
from .errors import ChecksumError, DataError
from .httpclient import HttpClient, ServiceConfig
from .records import DataRecord, fetch_record
from .repo import Repo
from .report import write_atomic

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

log = logging.getLogger(__name__)

FETCH_HINT = "run `paperpack data fetch` to download the declared data into the cache"
CACHE_HINT = "pass a writable folder with --cache-dir, or set PAPERPACK_CACHE_DIR to one"
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True)
class DataMount:
    """A fetched file or extracted folder to mount read-only at ``target`` in a run."""

    source: Path
    target: str  # repo-relative POSIX path


@dataclass(frozen=True)
class DeclaredFile:
    """One entry of ``data[i].files[j]`` in the manifest, with its dataset's DOI and URL."""

    path: str
    dataset: int
    index: int
    doi: str | None = None
    url: str | None = None
    name: str | None = None
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    extract: bool = False
    line: int | None = None

    @property
    def key(self) -> str:
        """A stable name for where the file comes from (used to find it again without network)."""
        if self.url:
            return f"url:{self.url}"
        return f"doi:{self.doi}/{self.record_name}"

    @property
    def record_name(self) -> str:
        """The file's name in its DOI record: ``name`` or the last part of ``path``."""
        return self.name or PurePosixPath(self.path).name

    @property
    def expected(self) -> tuple[str, str] | None:
        """The strongest declared hash as (algorithm, hex), or ``None``."""
        if self.sha256:
            return ("sha256", self.sha256.lower())
        if self.md5:
            return ("md5", self.md5.lower())
        return None


def declared_files(repo: Repo) -> list[DeclaredFile]:
    """Every file the manifest declares, in manifest order (empty without a manifest)."""
    if repo.manifest is None:
        return []
    out: list[DeclaredFile] = []
    for i, ds in enumerate(repo.manifest.datasets):
        files = ds.get("files") or []
        for j, f in enumerate(files):
            url = f.get("url")
            if not url and not ds.get("doi") and ds.get("url") and len(files) == 1:
                url = ds.get("url")
            out.append(DeclaredFile(
                path=str(f["path"]), dataset=i, index=j, doi=ds.get("doi"), url=url, name=f.get("name"),
                sha256=(f.get("sha256") or None), md5=(f.get("md5") or None), size=f.get("size"),
                extract=bool(f.get("extract", False)),
                line=repo.manifest.line_of("data", i, "files", j, "path"),
            ))
    return out


def _name_of(key: str) -> str:
    """The file name standing for a source key in the store (its sha256)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class DataStore:
    """The content-addressed data cache under ``<root>``.

    Layout: ``sha256/<hex>`` the files; ``md5/<hex>`` and ``keys/<sha256 of key>``
    small text files naming the sha256 of a blob; ``extracted/<hex>/`` unpacked
    archives; ``partial/`` downloads in progress (resumable); ``locks/`` one lock file
    per source, held while it is downloaded.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir() / "data"

    def blob(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256.lower()

    def extracted(self, sha256: str) -> Path:
        return self.root / "extracted" / sha256.lower()

    def partial(self, key: str) -> Path:
        return self.root / "partial" / (_name_of(key) + ".part")

    def prepare(self) -> None:
        """Create the store's folders, or raise :class:`DataError` naming the folder that cannot be made."""
        try:
            for sub in ("partial", "locks"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot use {self.root} as the data cache: {exc.strerror or exc}",
                            hint=CACHE_HINT, path=self.root) from None

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold the lock of ``key`` across processes (``flock`` on ``locks/<sha256 of key>.lock``).

        Threads of one process also serialise on it: each ``flock`` call opens its own file
        description, and those exclude one another. The lock file stays (deleting it would race).
        """
        path = self.root / "locks" / (_name_of(key) + ".lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataError(f"cannot create the lock file {path}: {exc.strerror or exc}",
                            hint=CACHE_HINT, path=path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _alias(self, kind: str, name: str) -> Path:
        return self.root / kind / name

    def remember(self, sha256: str, *, md5: str | None = None, key: str | None = None) -> None:
        """Record that ``md5`` and the source ``key`` name the blob ``sha256``."""
        if md5:
            write_atomic(self._alias("md5", md5.lower()), sha256.encode("ascii"))
        if key:
            write_atomic(self._alias("keys", _name_of(key)), sha256.encode("ascii"))

    def _read_alias(self, kind: str, name: str) -> str | None:
        try:
            value = self._alias(kind, name).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return value if len(value) == 64 and _HEX.match(value) else None

    def find(self, declared: DeclaredFile) -> str | None:
        """The sha256 of the cached blob for ``declared``, or ``None`` if not fetched."""
        expected = declared.expected
        candidates: list[str | None] = []
        if expected and expected[0] == "sha256":
            candidates.append(expected[1])
        elif expected:
            candidates.append(self._read_alias("md5", expected[1]))
        else:
            candidates.append(self._read_alias("keys", _name_of(declared.key)))
        for sha in candidates:
            if sha and self.blob(sha).is_file():
                return sha
        return None

    def mount_source(self, declared: DeclaredFile, sha256: str) -> Path:
        return self.extracted(sha256) if declared.extract else self.blob(sha256)


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

    ``cache_dir`` is the data store folder (default ``<paperpack cache>/data``).
    Raises :class:`DataError` (hint: run ``paperpack data fetch``) when a declared
    file has not been fetched, and :class:`ChecksumError` for a committed file whose
    hash differs from the declared one.
    """
    store = DataStore(cache_dir)
    mounts: list[DataMount] = []
    missing: list[str] = []
    for declared in declared_files(repo):
        local = _local_result(repo, store, declared)
        if local is None:
            missing.append(declared.path)
        elif local.state == "cached" and local.source is not None:
            mounts.append(DataMount(source=local.source, target=declared.path))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DataError(f"declared data not fetched yet: {shown} (cache: {store.root})", hint=FETCH_HINT,
                        path=repo.manifest.path if repo.manifest else None)
    return mounts


# -- fetch ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FetchResult:
    """What happened to one declared file: in-repo, cached, fetched."""

    declared: DeclaredFile
    state: str
    sha256: str | None = None
    source: Path | None = None


def _local_result(repo: Repo, store: DataStore, declared: DeclaredFile) -> FetchResult | None:
    """``declared`` as it is without network: in the repo ("in-repo"), in the store ("cached"), or ``None``.

    A committed file with a wrong hash raises :class:`ChecksumError`; an ``extract: true``
    archive counts as cached only once it is unpacked.
    """
    if _present_in_repo(repo, declared):
        return FetchResult(declared, "in-repo", source=repo.root / declared.path)
    sha = store.find(declared)
    if sha is None:
        return None
    source = store.mount_source(declared, sha)
    return FetchResult(declared, "cached", sha, source) if source.exists() else None


#: ``progress(path, bytes_done, bytes_total_or_None)``
FetchProgress = Callable[[str, int, "int | None"], None]


class _Fetcher:
    def __init__(self, repo: Repo, store: DataStore, config: ServiceConfig, client: HttpClient,
                 limits: ArchiveLimits, progress: FetchProgress | None) -> None:
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
            raise DataError(f"{declared.path}: paperpack.yml gives neither a `url:` nor a dataset `doi:` for it",
                            hint="add the file's download `url:` or the dataset's `doi:`")
        entry = self.record(declared.doi).file(declared.record_name)
        expected = declared.expected or entry.checksum
        if declared.expected and entry.checksum and declared.expected[0] == entry.checksum[0] \
                and declared.expected != entry.checksum:
            raise ChecksumError(
                f"{declared.path}: paperpack.yml declares {declared.expected[0]} {declared.expected[1]}, but the "
                f"record of {declared.doi} says {entry.checksum[1]} for {entry.name}",
                hint="one of them is out of date: check the record and correct paperpack.yml")
        return entry.url, expected, declared.size if declared.size is not None else entry.size

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def fetch(self, declared: DeclaredFile) -> FetchResult:
        local = _local_result(self.repo, self.store, declared)
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
                extract_archive(self.store.blob(sha), self.store.extracted(sha), limits=self.limits)
        return FetchResult(declared, state, sha, self.store.mount_source(declared, sha))

    def _download(self, declared: DeclaredFile) -> str:
        """Download ``declared`` into the store (the caller holds its key's lock); return its sha256."""
        url, expected, size = self.source(declared)
        partial = self.store.partial(declared.key)
        progress = self.progress
        report = (lambda done, total: progress(declared.path, done, total)) if progress else None
        hashes = download(self.client, url, partial, expected=expected, size=size, label=declared.path,
                          progress=report)
        sha = hashes["sha256"]
        blob = self.store.blob(sha)
        try:
            blob.parent.mkdir(parents=True, exist_ok=True)
            os.replace(partial, blob)
            os.chmod(blob, 0o444)
        except OSError as exc:
            if not blob.is_file():
                raise DataError(f"{declared.path}: cannot move the download into the cache at {blob}: "
                                f"{exc.strerror or exc}",
                                hint="check that the cache folder is writable and not full, then run "
                                     "`paperpack data fetch` again", path=blob) from None
            log.debug("%s: %s already in the cache (%s)", declared.path, blob, exc)
        self.store.remember(sha, md5=hashes["md5"], key=declared.key)
        return sha


def fetch_data(repo: Repo, *, config: ServiceConfig | None = None, cache_dir: Path | None = None,
               client: HttpClient | None = None, limits: ArchiveLimits | None = None,
               progress: FetchProgress | None = None, workers: int = 4) -> list[FetchResult]:
    """Download every declared file not in the repo or the cache; check hashes; unpack archives.

    Files are fetched ``workers`` at a time. The first error is raised after the
    other downloads finished (what was fetched stays in the cache).
    """
    return _fetch(repo, declared_files(repo), config=config, cache_dir=cache_dir, client=client, limits=limits,
                  progress=progress, workers=workers)


def _fetch(repo: Repo, declared: list[DeclaredFile], *, config: ServiceConfig | None = None,
           cache_dir: Path | None = None, client: HttpClient | None = None, limits: ArchiveLimits | None = None,
           progress: FetchProgress | None = None, workers: int = 4) -> list[FetchResult]:
    """:func:`fetch_data` for the files ``declared`` (results in their order)."""
    config = config or ServiceConfig.from_env()
    store = DataStore(cache_dir)
    if declared:
        store.prepare()
    own = client is None
    http = client or HttpClient(config)
    fetcher = _Fetcher(repo, store, config, http, limits or ArchiveLimits(), progress)
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="paperpack-fetch") as pool:
            # The first file of each source goes first; files sharing its source wait for it (then hit the cache).
            keys = [d.key for d in declared]
            order = sorted(range(len(declared)), key=lambda i: (keys.index(keys[i]) != i, i))
            submitted = {i: pool.submit(fetcher.fetch, declared[i]) for i in order}
            futures = [submitted[i] for i in range(len(declared))]
    finally:
        if own:
            http.close()
    results: list[FetchResult] = []
    for future in futures:
        results.append(future.result())  # raises the first error, in manifest order
    return results


def ensure_data(repo: Repo, *, cache_dir: Path | None = None,
                progress: Callable[[str], None] | None = None) -> list[FetchResult]:
    """Fetch what a run needs and is not yet in the repo or the cache; return what was downloaded.

    Nothing is asked of the network when every declared file is already there. A
    committed file whose hash differs from the declared one raises :class:`ChecksumError`.
    """
    store = DataStore(cache_dir)
    missing = [d for d in declared_files(repo) if _local_result(repo, store, d) is None]  # hashes committed files once
    if not missing:
        return []
    report = None
    if progress is not None:
        seen: set[str] = set()

        def report(path: str, done: int, total: int | None) -> None:
            if path not in seen:
                seen.add(path)
                progress(f"fetching {path}" + (f" ({total} bytes)" if total else ""))

    results = _fetch(repo, missing, cache_dir=cache_dir, progress=report)
    return [r for r in results if r.state == "fetched"]


# -- lock and status ------------------------------------------------------------------------

def _list_offset(text: str) -> int:
    """How far the author indents ``- `` under its key (0 or 2, usually), so a rewrite keeps the layout."""
    m = re.search(r"^( *)[\w-]+:[ \t]*(?:#.*)?\n(?:[ \t]*#.*\n)*( *)- ", text, re.MULTILINE)
    return max(0, len(m.group(2)) - len(m.group(1))) if m else 2


def lock_hashes(repo: Repo, *, cache_dir: Path | None = None) -> list[tuple[str, str]]:
    """Write ``sha256:`` into paperpack.yml for declared files that have no hash yet.

    The hash comes from the file in the repo, or from the fetched copy. Returns the
    (path, sha256) pairs written; the manifest keeps its comments and layout.
    """
    if repo.manifest is None or repo.manifest.path is None:
        raise DataError("no paperpack.yml: nothing is declared, so there is nothing to lock",
                        hint="declare the data under `data:` in paperpack.yml (`paperpack init` starts one)")
    store = DataStore(cache_dir)
    found: list[tuple[DeclaredFile, str]] = []
    for declared in declared_files(repo):
        if declared.expected is not None:
            continue
        target = repo.root / declared.path
        if target.is_file() and not target.is_symlink() and not declared.extract:
            found.append((declared, hash_file(target)["sha256"]))
        elif (sha := store.find(declared)) is not None:
            found.append((declared, sha))
        else:
            raise DataError(f"{declared.path}: no hash declared and not fetched yet, so there is nothing to lock",
                            hint=FETCH_HINT + ", then run `paperpack data lock` again", path=repo.manifest.path)
    if not found:
        return []
    path = repo.manifest.path
    text = path.read_text(encoding="utf-8")
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    offset = _list_offset(text)
    yaml.indent(mapping=2, sequence=offset + 2, offset=offset)
    doc = yaml.load(text)
    for declared, sha in found:
        doc["data"][declared.dataset]["files"][declared.index]["sha256"] = sha
    buf = io.StringIO()
    yaml.dump(doc, buf)
    write_atomic(path, buf.getvalue())
    return [(d.path, sha) for d, sha in found]


def data_status(repo: Repo, *, cache_dir: Path | None = None) -> list[FetchResult]:
    """For each declared file: in-repo, cached, missing, or mismatch (in the repo with another hash)."""
    store = DataStore(cache_dir)
    out: list[FetchResult] = []
    for declared in declared_files(repo):
        try:
            local = _local_result(repo, store, declared)
        except ChecksumError:
            local = FetchResult(declared, "mismatch", source=repo.root / declared.path)
        out.append(local or FetchResult(declared, "missing"))
    return out
