"""What the manifest declares under ``data:``: files with their sources, hashes and targets.

A dataset lists its ``files:`` (each with a target ``path``, and a ``url`` or the
dataset's ``doi`` to find it by), or gives only a ``doi:`` (and optionally a folder
``path:``, default ``data``): then every file of the DOI's record goes into that folder.
The record's file list is learnt when the data is fetched and kept in the store, so
later runs know it without network; until then the dataset stands as one *unlisted*
entry.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..doi.syntax import normalize_doi
from ..errors import DataError
from ..repository.manifest import record_folder, safe_relpath
from ..repository.repo import Repo
from .records import DataRecord
from .store import DataStore


@dataclass(frozen=True)
class DataMount:
    """A fetched file or extracted folder to mount read-only at ``target`` in a run."""

    source: Path
    target: str  # repo-relative POSIX path


@dataclass(frozen=True)
class DeclaredFile:
    """One entry of ``data[i].files[j]`` in the manifest, with its dataset's DOI and URL.

    Files of a whole-record dataset have ``index`` -1; ``unlisted`` marks the stand-in
    for such a dataset whose record has not been listed yet (``path`` is its folder).
    """

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
    unlisted: bool = False

    @property
    def label(self) -> str:
        """How messages name it: the path, or the folder of a record not listed yet."""
        return f"{self.path}/ (every file of {self.doi}, not listed yet)" if self.unlisted else self.path

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


def declared_files(repo: Repo, store: DataStore | None = None) -> list[DeclaredFile]:
    """Every file the manifest declares, in manifest order (empty without a manifest).

    Whole-record datasets are expanded from the listing saved in ``store`` (default: the
    user's data cache) or, if never fetched, stand as one ``unlisted`` entry.
    """
    if repo.manifest is None:
        return []
    store = store or DataStore()
    out: list[DeclaredFile] = []
    for i, ds in enumerate(repo.manifest.datasets):
        doi = normalize_doi(str(ds["doi"])) if ds.get("doi") else None
        files = ds.get("files") or []
        if not files and doi:
            out.extend(whole_record(repo, i, doi, store))
            continue
        for j, f in enumerate(files):
            url = f.get("url")
            if not url and not doi and ds.get("url") and len(files) == 1:
                url = ds.get("url")
            out.append(
                DeclaredFile(
                    path=str(f["path"]),
                    dataset=i,
                    index=j,
                    doi=doi,
                    url=url,
                    name=f.get("name"),
                    sha256=(f.get("sha256") or None),
                    md5=(f.get("md5") or None),
                    size=f.get("size"),
                    extract=bool(f.get("extract", False)),
                    line=repo.manifest.line_of("data", i, "files", j, "path"),
                )
            )
    return out


def whole_record(repo: Repo, index: int, doi: str, store: DataStore) -> list[DeclaredFile]:
    """The files of dataset ``index`` (a DOI and no ``files:``) from the saved listing, or its stand-in."""
    assert repo.manifest is not None
    folder = record_folder(repo.manifest.datasets[index])
    line = repo.manifest.line_of("data", index, "doi")
    listing = store.listing(doi)
    if listing is None:
        return [DeclaredFile(path=folder, dataset=index, index=-1, doi=doi, line=line, unlisted=True)]
    out = []
    for entry in listing:
        name = str(entry["name"])
        path = posixpath.normpath(posixpath.join(folder, safe_record_name(name, doi)))
        try:
            safe_relpath(repo.root, path)  # a record's sub-folder must not go through a symlink in the repo
        except ValueError as exc:
            raise DataError(
                f"data[{index}]: the file {name!r} of {doi} would be placed at {exc}",
                hint="remove the symbolic link, or declare the files under `files:` with their own `path:`",
                path=repo.manifest.path,
            ) from None
        out.append(
            DeclaredFile(
                path=path,
                dataset=index,
                index=-1,
                doi=doi,
                name=name,
                sha256=_hex(entry.get("sha256")),
                md5=_hex(entry.get("md5")),
                size=entry["size"] if isinstance(entry.get("size"), int) else None,
                line=line,
            )
        )
    return out


def _hex(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value else None


def safe_record_name(name: str, doi: str) -> str:
    """``name`` as a relative path inside the dataset's folder; :class:`DataError` if it would leave it."""
    pure = PurePosixPath(name)
    if not name or "\\" in name or pure.is_absolute() or any(p in ("", ".", "..") for p in name.split("/")):
        raise DataError(
            f"the record of {doi} has a file named {name!r}, which is not a plain relative name",
            hint="declare the files you need under `files:` with a `path:` and `name:` each",
        )
    return str(pure)


def listing_of(record: DataRecord) -> list[dict[str, Any]]:
    """What the store keeps of a record: name, checksum and size of each file, in name order."""
    out = []
    for name in sorted(record.files):
        entry = record.files[name]
        item: dict[str, Any] = {"name": name}
        if entry.checksum:
            item[entry.checksum[0]] = entry.checksum[1]
        if entry.size is not None:
            item["size"] = entry.size
        out.append(item)
    return out
