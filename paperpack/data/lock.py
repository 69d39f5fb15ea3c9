"""``paperpack data lock`` and ``status``: pin the hashes of declared data, say what is ready."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from ..errors import ChecksumError, DataError
from ..repository.repo import Repo
from ..util.atomic import write_atomic
from .declared import DeclaredFile, declared_files
from .download import hash_file
from .fetch import FETCH_HINT, FetchResult, local_result
from .store import DataStore


def _list_offset(text: str) -> int:
    """How far the author indents ``- `` under its key (0 or 2, usually), so a rewrite keeps the layout.

    Comments and blank lines may come between the key and its list; without any key followed by a block list
    (quoted keys, or only flow lists), the usual 2.
    """
    m = re.search(r"^( *)[\w-]+:[ \t]*(?:#.*)?\n(?:[ \t]*(?:#.*)?\n)*( *)- ", text, re.MULTILINE)
    return max(0, len(m.group(2)) - len(m.group(1))) if m else 2


def lock_hashes(repo: Repo, *, cache_dir: Path | None = None) -> list[tuple[str, str]]:
    """Write ``sha256:`` into paperpack.yml for declared files that have no hash yet.

    The hash comes from the file in the repo, or from the fetched copy. A whole-record
    dataset (a DOI, no ``files:``) gets its fetched file list written out as ``files:``
    with a sha256 each, so the paper pins exactly the files it used. Returns the
    (path, sha256) pairs written; the manifest keeps its comments and layout.
    """
    if repo.manifest is None or repo.manifest.path is None:
        raise DataError(
            "no paperpack.yml: nothing is declared, so there is nothing to lock",
            hint="declare the data under `data:` in paperpack.yml (`paperpack init` starts one)",
        )
    store = DataStore.in_cache(cache_dir)
    found: list[tuple[DeclaredFile, str]] = []
    for declared in declared_files(repo, store):
        if declared.unlisted:
            raise DataError(
                f"data[{declared.dataset}]: the files of {declared.doi} are not known yet, so there is nothing to lock",
                hint=FETCH_HINT + ", then run `paperpack data lock` again",
                path=repo.manifest.path,
            )
        if declared.expected is not None and declared.index >= 0:
            continue  # a whole record's files are all written out, each with its sha256
        target = repo.root / declared.path
        if target.is_file() and not target.is_symlink() and not declared.extract:
            found.append((declared, hash_file(target)["sha256"]))
        elif (sha := store.find(declared)) is not None:
            found.append((declared, sha))
        else:
            raise DataError(
                f"{declared.path}: no hash declared and not fetched yet, so there is nothing to lock",
                hint=FETCH_HINT + ", then run `paperpack data lock` again",
                path=repo.manifest.path,
            )
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
        dataset = doc["data"][declared.dataset]
        if declared.index >= 0:
            dataset["files"][declared.index]["sha256"] = sha
        else:
            _pin_record_file(dataset, declared, sha)
    buf = io.StringIO()
    yaml.dump(doc, buf)
    write_atomic(path, buf.getvalue())
    return [(d.path, sha) for d, sha in found]


def _pin_record_file(dataset: Any, declared: DeclaredFile, sha: str) -> None:
    """Add ``declared`` (a file of a whole-record dataset) to the dataset's ``files:``, replacing its ``path:``."""
    if "path" in dataset:
        del dataset["path"]
    entry: dict[str, Any] = {"path": declared.path}
    if declared.record_name != declared.path.rsplit("/", 1)[-1]:
        entry["name"] = declared.record_name
    entry["sha256"] = sha
    dataset.setdefault("files", []).append(entry)


def data_status(repo: Repo, *, cache_dir: Path | None = None) -> list[FetchResult]:
    """For each declared file: in-repo, cached, missing, or mismatch (in the repo with another hash)."""
    store = DataStore.in_cache(cache_dir)
    out: list[FetchResult] = []
    for declared in declared_files(repo, store):
        try:
            local = local_result(repo, store, declared)
        except ChecksumError:
            local = FetchResult(declared, "mismatch", source=repo.root / declared.path)
        out.append(local or FetchResult(declared, "missing"))
    return out
