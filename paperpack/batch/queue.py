"""The submission queue: a YAML list, a CSV file or JSON Lines, read into :class:`Submission` records.

Each submission has an ``id`` (it names the submission's output folder, so it must be a safe
folder name), a ``source`` (a git URL, a local folder or an archive) and an optional ``ref``
(a commit, tag or branch of a git source). Relative local paths are read relative to the
queue file's folder. Nothing is fetched here: :mod:`paperpack.batch.fetch` does that.
"""

from __future__ import annotations

import csv
import enum
import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import QueueError

__all__ = ["Submission", "SourceKind", "read_queue", "parse_queue", "check_id", "RESERVED_IDS"]

#: an id names a folder under the output folder: letters, digits, dot, dash, underscore; no leading dot
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: a ref is given to git: never an option (no leading dash), no `..`, no spaces or control characters
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}")
#: names the batch itself writes in the output folder
RESERVED_IDS = frozenset({"index.html", "index.json", "batch.junit.xml"})
_ARCHIVES = (".zip", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")
_SCHEMES = ("file://", "https://")
_FIELDS = ("id", "source", "ref")


class SourceKind(str, enum.Enum):
    """Where a submission comes from."""

    GIT = "git"  # a file:// or https:// git URL, or a local folder that is a git repository
    FOLDER = "folder"  # a local folder that is not a git repository: copied
    ARCHIVE = "archive"  # a local zip or tar archive: extracted safely

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Submission:
    """One line of the queue; ``source`` is a URL or an absolute local path."""

    id: str
    source: str
    ref: str | None = None
    kind: SourceKind = SourceKind.GIT

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kind": self.kind.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Submission:
        return cls(id=data["id"], source=data["source"], ref=data.get("ref"), kind=SourceKind(data["kind"]))


def check_id(value: object, where: str) -> str:
    """``value`` as a submission id, or :class:`QueueError` saying what a safe id is."""
    text = str(value).strip() if value is not None else ""
    if not _ID.fullmatch(text) or text in RESERVED_IDS or ".." in text:
        raise QueueError(
            f"{where}: id {text!r} is not a safe folder name",
            hint="use 1-100 letters, digits, '.', '-' or '_', starting with a letter or digit "
            "(it names the submission's output folder)",
        )
    return text


def _check_ref(value: object, where: str) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if not _REF.fullmatch(text) or ".." in text or text.endswith((".lock", "/")):
        raise QueueError(
            f"{where}: ref {text!r} is not a commit, tag or branch name",
            hint="give a commit hash, a tag or a branch name (no leading '-', no '..', no spaces)",
        )
    return text


def _source(value: object, where: str, base: Path) -> tuple[str, SourceKind]:
    text = str(value).strip() if value is not None else ""
    if not text:
        raise QueueError(f"{where}: no source", hint="give a git URL (file:// or https://), a folder or an archive")
    lowered = text.lower()
    if lowered.startswith(_SCHEMES):
        return text, SourceKind.GIT
    if "://" in text or re.match(r"^[\w.-]+@[\w.-]+:", text) or lowered.startswith(("ext::", "fd::")):
        raise QueueError(
            f"{where}: source {text!r} uses a protocol batch mode does not fetch",
            hint="only file:// and https:// git URLs and local paths are fetched (no ssh, git://, "
            "http:// or transport helpers); clone it yourself and give the local folder",
        )
    path = Path(text).expanduser()
    path = path if path.is_absolute() else base / path
    if path.name.lower().endswith(_ARCHIVES):
        return str(path), SourceKind.ARCHIVE
    return str(path), (SourceKind.GIT if (path / ".git").exists() else SourceKind.FOLDER)


def _submissions(rows: Iterable[tuple[str, Any]], base: Path) -> list[Submission]:
    out: list[Submission] = []
    seen: dict[str, str] = {}
    for where, row in rows:
        if not isinstance(row, dict):
            raise QueueError(
                f"{where}: expected a mapping with id, source and ref, got {type(row).__name__}",
                hint="write each submission as {id: ..., source: ..., ref: ...}",
            )
        unknown = sorted(set(map(str, row)) - set(_FIELDS))
        if unknown:
            raise QueueError(
                f"{where}: unknown field(s) {', '.join(unknown)}",
                hint="a submission has id, source and (optionally) ref",
            )
        ident = check_id(row.get("id"), where)
        if ident.lower() in seen:
            raise QueueError(
                f"{where}: id {ident!r} already used at {seen[ident.lower()]}",
                hint="give every submission its own id (ids differing only in case clash too)",
            )
        seen[ident.lower()] = where
        source, kind = _source(row.get("source"), where, base)
        ref = _check_ref(row.get("ref"), where)
        if ref is not None and kind is not SourceKind.GIT:
            raise QueueError(
                f"{where}: ref {ref!r} given for a {kind.value}, which has no commits",
                hint="drop the ref, or give a git repository as the source",
            )
        out.append(Submission(ident, source, ref, kind))
    return out


def parse_queue(text: str, fmt: str, *, base: Path, name: str = "queue") -> list[Submission]:
    """Parse ``text`` in ``fmt`` (yaml, csv, jsonl); ``base`` resolves relative local paths."""
    rows: list[tuple[str, Any]] = []
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((f"{name} line {number}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise QueueError(
                        f"{name} line {number}: not JSON: {exc.msg}", hint="write one JSON object per line"
                    ) from None
    elif fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or "id" not in reader.fieldnames or "source" not in reader.fieldnames:
            raise QueueError(
                f"{name}: the CSV header must name the columns id, source (and optionally ref)",
                hint="start the file with the line: id,source,ref",
            )
        for number, record in enumerate(reader, 2):
            rows.append((f"{name} line {number}", {k: v for k, v in record.items() if k is not None}))
    elif fmt == "yaml":
        from ruamel.yaml import YAML
        from ruamel.yaml.error import YAMLError

        try:
            data = YAML(typ="safe", pure=True).load(text)
        except YAMLError as exc:
            raise QueueError(f"{name}: not valid YAML: {exc}", hint="write a YAML list of mappings") from None
        if isinstance(data, dict) and isinstance(data.get("submissions"), list):
            data = data["submissions"]
        if not isinstance(data, list):
            raise QueueError(f"{name}: expected a list of submissions", hint="write a YAML list: - id: ...")
        rows = [(f"{name} item {i}", item) for i, item in enumerate(data, 1)]
    else:
        raise QueueError(f"{name}: unknown queue format {fmt!r}", hint="use .yml/.yaml, .csv or .jsonl")
    if not rows:
        raise QueueError(f"{name}: no submissions", hint="add at least one submission with an id and a source")
    return _submissions(rows, base)


def read_queue(path: Path) -> list[Submission]:
    """The submissions of the queue file ``path`` (format from its extension)."""
    suffix = path.suffix.lower()
    fmt = {".yml": "yaml", ".yaml": "yaml", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix)
    if fmt is None:
        raise QueueError(
            f"{path}: cannot tell the queue format from the extension {suffix!r}",
            hint="name the queue file .yml/.yaml (a YAML list), .csv (id,source,ref) or .jsonl",
            path=path,
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QueueError(
            f"{path}: cannot read the queue: {exc}", hint="give a readable UTF-8 file", path=path
        ) from None
    return parse_queue(text, fmt, base=path.resolve().parent, name=str(path))
