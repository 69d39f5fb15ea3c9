"""Declared data: which files the manifest lists, where they are cached, what runs mount.

Every file declared under ``data[*].files`` in ``paperpack.yml`` is fetched once into
a content-addressed store (``<cache>/data/sha256/<hex>``), checked against its hash,
and — for archives with ``extract: true`` — unpacked safely into
``<cache>/data/extracted/<hex>/``. The run step mounts these read-only at the
declared paths (:func:`data_mounts`), so notebooks need no network.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

from .cache import cache_dir as default_cache_dir
from .errors import ChecksumError, DataError
from .repo import Repo
from .report import write_atomic

__all__ = [
    "DataMount",
    "DeclaredFile",
    "DataStore",
    "declared_files",
    "data_mounts",
    "file_hashes",
]

log = logging.getLogger(__name__)

FETCH_HINT = "run `paperpack data fetch` to download the declared data into the cache"
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


def file_hashes(path: Path, chunk: int = 1 << 20) -> dict[str, str]:
    """sha256 and md5 of a file, read once."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            sha.update(block)
            md5.update(block)
    return {"sha256": sha.hexdigest(), "md5": md5.hexdigest()}


class DataStore:
    """The content-addressed data cache under ``<root>``.

    Layout: ``sha256/<hex>`` the files; ``md5/<hex>`` and ``keys/<sha256 of key>``
    small text files naming the sha256 of a blob; ``extracted/<hex>/`` unpacked
    archives; ``partial/`` downloads in progress (resumable).
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir() / "data"

    def blob(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256.lower()

    def extracted(self, sha256: str) -> Path:
        return self.root / "extracted" / sha256.lower()

    def partial(self, key: str) -> Path:
        return self.root / "partial" / (hashlib.sha256(key.encode("utf-8")).hexdigest() + ".part")

    def _alias(self, kind: str, name: str) -> Path:
        return self.root / kind / name

    def remember(self, sha256: str, *, md5: str | None = None, key: str | None = None) -> None:
        """Record that ``md5`` and the source ``key`` name the blob ``sha256``."""
        if md5:
            write_atomic(self._alias("md5", md5.lower()), sha256.encode("ascii"))
        if key:
            write_atomic(self._alias("keys", hashlib.sha256(key.encode("utf-8")).hexdigest()),
                               sha256.encode("ascii"))

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
            candidates.append(self._read_alias("keys", hashlib.sha256(declared.key.encode("utf-8")).hexdigest()))
        for sha in candidates:
            if sha and self.blob(sha).is_file():
                return sha
        return None

    def mount_source(self, declared: DeclaredFile, sha256: str) -> Path:
        return self.extracted(sha256) if declared.extract else self.blob(sha256)


def _present_in_repo(repo: Repo, declared: DeclaredFile) -> bool:
    """True if the repo already holds the declared file with the right hash.

    A file with a wrong hash raises :class:`ChecksumError`; an extracted folder
    committed to the repo counts as present.
    """
    target = repo.root / declared.path
    if target.is_symlink():
        return False
    if declared.extract:
        return target.is_dir()
    if not target.is_file():
        return False
    expected = declared.expected
    if expected is None:
        return True  # nothing to compare with: the committed file is what the paper uses
    actual = file_hashes(target)[expected[0]]
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
        if _present_in_repo(repo, declared):
            continue
        sha = store.find(declared)
        source = store.mount_source(declared, sha) if sha else None
        if source is None or not source.exists():
            missing.append(declared.path)
            continue
        mounts.append(DataMount(source=source, target=declared.path))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DataError(f"declared data not fetched yet: {shown} (cache: {store.root})", hint=FETCH_HINT,
                        path=repo.manifest.path if repo.manifest else None)
    return mounts


def iter_missing_hashes(repo: Repo) -> Iterator[DeclaredFile]:
    """Declared files with neither sha256 nor md5."""
    for declared in declared_files(repo):
        if declared.expected is None:
            yield declared
