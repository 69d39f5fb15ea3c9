"""Fast, bounded reading of Jupyter notebooks, shared by validate, run and compare.

API
---
``read_notebook(path, rel, *, max_bytes=MAX_NOTEBOOK_BYTES) -> ParsedNotebook | NotebookProblem``
    Read one file. Never raises for bad input (only for programming errors): a file that
    cannot be read as a notebook at all comes back as a :class:`NotebookProblem` (empty,
    too large, not UTF-8, not JSON or truncated, not a notebook, unknown format); anything
    that parses comes back as a :class:`ParsedNotebook` whose ``schema_errors`` list the
    places where it does not follow the nbformat schema of its own version.
``read_notebooks(root, rels, *, max_bytes=..., jobs=1) -> list[ParsedNotebook | NotebookProblem]``
    The same for many files, in the order given, optionally across processes.

Memory is bounded: the size is checked with ``fstat`` before anything is read, a file
over ``max_bytes`` is not loaded (a ``too-large`` problem), and a :class:`ParsedNotebook`
keeps only cell sources and a summary of each output (type, payload size, error name),
never the output payloads (nor saved widget state), so holding thousands of them is cheap.
Peak memory while reading is one notebook at a time: its bytes plus the decoded document,
about three times ``max_bytes`` at worst.

Schema conformance is :mod:`paperpack.notebook.schema` (nbformat's own schema per minor version,
compiled once per process). JSON is parsed with orjson when present.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .schema import LATEST_V4_MINOR, SchemaIssue, conforms, detailed_issues, schema_version, short_repr

try:  # optional speed-up; the standard library is the fallback
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised only without orjson
    _orjson = None  # type: ignore[assignment]

__all__ = [
    "MAX_NOTEBOOK_BYTES",
    "OutputSummary",
    "Cell",
    "SchemaIssue",
    "ParsedNotebook",
    "NotebookProblem",
    "read_notebook",
    "read_notebooks",
    "analyse_cells",
    "parse_document",
]

log = logging.getLogger(__name__)

#: Notebooks larger than this are reported as too large and not loaded.
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024


@dataclass(slots=True)
class OutputSummary:
    """One output of a code cell, without its payload."""

    output_type: str
    size: int  # characters of payload (data values, stream text, traceback)
    mimetypes: tuple[str, ...] = ()
    ename: str | None = None
    evalue: str | None = None


@dataclass(slots=True)
class Cell:
    index: int  # 0-based position in the notebook
    cell_type: str
    source: str
    execution_count: int | None = None
    outputs: tuple[OutputSummary, ...] = ()
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def output_size(self) -> int:
        return sum(o.size for o in self.outputs)


@dataclass
class ParsedNotebook:
    rel: str  # path relative to the repository, POSIX
    size: int  # bytes on disk
    nbformat: int
    nbformat_minor: int
    cells: list[Cell]
    metadata: dict[str, Any]
    schema_errors: list[SchemaIssue] = field(default_factory=list)
    schema_version: str = ""  # the schema checked against, e.g. "4.4"
    #: :class:`paperpack.notebook.pysource.CodeFacts` per non-empty code cell index, when read with ``code=...``
    code: dict[int, Any] | None = None

    @property
    def version(self) -> str:
        return f"{self.nbformat}.{self.nbformat_minor}"

    @property
    def kernelspec(self) -> dict[str, Any] | None:
        ks = self.metadata.get("kernelspec")
        return ks if isinstance(ks, dict) else None

    @property
    def language_info(self) -> dict[str, Any] | None:
        li = self.metadata.get("language_info")
        return li if isinstance(li, dict) else None

    @property
    def language(self) -> str | None:
        """Kernel language, lower case: kernelspec.language, else language_info.name."""
        for source in (self.kernelspec, self.language_info):
            if source:
                value = source.get("language") if source is self.kernelspec else source.get("name")
                if isinstance(value, str) and value:
                    return value.lower()
        return None

    @property
    def code_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.cell_type == "code"]

    @property
    def output_size(self) -> int:
        return sum(c.output_size for c in self.cells)


@dataclass(frozen=True)
class NotebookProblem:
    """A file named ``.ipynb`` that cannot be read as a notebook at all."""

    rel: str
    kind: str  # empty | too-large | unreadable | not-utf8 | not-json | truncated | not-a-notebook | unknown-format
    message: str
    fix: str
    size: int = 0
    line: int | None = None


# -- cells ---------------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        try:
            return "".join(value)
        except TypeError:  # not all strings: the schema check reports it
            return "".join([v for v in value if isinstance(v, str)])
    return ""


def _payload_size(value: Any) -> int:
    if value.__class__ is str:
        return len(value)
    if value.__class__ is list:
        try:
            return sum(map(len, value))
        except TypeError:  # not all strings: the schema check reports it
            return sum([len(v) for v in value if v.__class__ is str])
    if value is None:
        return 0
    if _orjson is not None:
        try:
            return len(_orjson.dumps(value))
        except TypeError:
            return 0
    return len(json.dumps(value, default=str))


_NOT_PAYLOAD = frozenset({"output_type", "metadata", "prompt_number", "execution_count", "name", "stream"})


def _output(raw: Any) -> OutputSummary:
    if not isinstance(raw, dict):
        return OutputSummary("?", 0)
    otype = raw.get("output_type")
    if otype == "stream":
        return OutputSummary(otype, _payload_size(raw.get("text")))
    if otype == "error":
        ename, evalue = raw.get("ename"), raw.get("evalue")
        return OutputSummary(
            otype,
            _payload_size(raw.get("traceback")),
            (),
            ename if isinstance(ename, str) else None,
            evalue if isinstance(evalue, str) else None,
        )
    data = raw.get("data")
    if not isinstance(data, dict):  # v3 outputs keep mime payloads at the top level
        data = {k: v for k, v in raw.items() if k not in _NOT_PAYLOAD}
    size = 0
    for value in data.values():
        size += len(value) if value.__class__ is str else _payload_size(value)
    return OutputSummary(otype if isinstance(otype, str) else "?", size, tuple(data))


def _cell(index: int, raw: Any, source_key: str = "source", count_key: str = "execution_count") -> Cell:
    if not isinstance(raw, dict):
        return Cell(index, "?", "")
    ctype = raw.get("cell_type")
    metadata = raw.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    tags = metadata.get("tags")
    source = raw.get(source_key)
    if source.__class__ is not str:
        source = _text(source)
    count = raw.get(count_key)
    outputs = raw.get("outputs")
    return Cell(
        index,
        ctype if isinstance(ctype, str) else "?",
        source,
        count if count.__class__ is int else None,
        tuple([_output(o) for o in outputs]) if outputs.__class__ is list else (),
        tuple([t for t in tags if isinstance(t, str)]) if tags.__class__ is list else (),
        metadata,
    )


def _v3_cells(doc: dict[str, Any]) -> list[Cell]:
    cells: list[Any] = []
    for sheet in doc.get("worksheets") or []:
        if isinstance(sheet, dict) and isinstance(sheet.get("cells"), list):
            cells.extend(sheet["cells"])
    out = []
    for i, raw in enumerate(cells):
        is_code = isinstance(raw, dict) and raw.get("cell_type") == "code"
        out.append(_cell(i, raw, "input" if is_code else "source", "prompt_number"))
    return out


# -- reading -------------------------------------------------------------------------------------------------


def _loads(data: bytes) -> Any:
    return _orjson.loads(data) if _orjson is not None else json.loads(data)


def _decode_problem(rel: str, data: bytes, exc: ValueError) -> NotebookProblem:
    size = len(data)
    if data.startswith(b"\xef\xbb\xbf"):
        return NotebookProblem(
            rel,
            "not-json",
            "starts with a UTF-8 byte-order mark, which Jupyter cannot read",
            "save it again without the BOM (Jupyter writes UTF-8 without one)",
            size,
            1,
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        at = data.count(b"\n", 0, err.start) + 1
        return NotebookProblem(
            rel,
            "not-utf8",
            f"is not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}): not a notebook, "
            "or saved in another encoding",
            "notebooks are UTF-8 JSON: re-save it from Jupyter, or remove it if it is not a notebook",
            size,
            at,
        )
    pos = getattr(exc, "pos", None)
    lineno = getattr(exc, "lineno", None)
    line = lineno if isinstance(lineno, int) else None
    if isinstance(pos, int) and pos >= len(data.rstrip()):
        return NotebookProblem(
            rel,
            "truncated",
            f"is truncated: the JSON ends before the notebook is complete (after {size} bytes)",
            "restore the full file from version control or re-save it from Jupyter",
            size,
            line,
        )
    detail = str(exc).split(":", 1)[0] if _orjson is not None else str(exc)
    return NotebookProblem(
        rel,
        "not-json",
        f"is not valid JSON ({detail}" + (f", line {line})" if line else ")"),
        "fix the JSON (often a merge conflict marker) or re-save it from Jupyter",
        size,
        line,
    )


def read_notebook(
    path: Path, rel: str, *, max_bytes: int = MAX_NOTEBOOK_BYTES, code: str = ""
) -> ParsedNotebook | NotebookProblem:
    """Read the notebook at ``path`` (``rel`` is its name in messages). Never raises for bad input.

    ``code="facts"`` also analyses the code cells of a Python notebook (``ParsedNotebook.code``),
    parsing only cells that may import or name files; ``code="all"`` parses every code cell, so
    every syntax error is found (slower: see :func:`paperpack.notebook.pysource.analyse`).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return NotebookProblem(
                rel,
                "unreadable",
                "is not a regular file (a pipe, socket or device)",
                "replace it with the notebook file itself",
                0,
            )
        with os.fdopen(fd, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                return NotebookProblem(
                    rel,
                    "too-large",
                    f"is {size / 1048576:.0f} MB, over the {max_bytes / 1048576:.0f} MB limit: too large to be "
                    "checked in full, not loaded",
                    "clear large outputs before committing (jupyter nbconvert --clear-output, or nbstripout), "
                    "and keep data in files",
                    size,
                )
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        return NotebookProblem(
            rel, "unreadable", f"cannot be read: {exc.strerror or exc}", "check the file's permissions", 0
        )
    size = len(data)
    if size > max_bytes:  # grew while we looked
        return NotebookProblem(
            rel,
            "too-large",
            f"is over the {max_bytes / 1048576:.0f} MB limit: not loaded",
            "clear large outputs before committing",
            size,
        )
    if not data.strip():
        return NotebookProblem(
            rel,
            "empty",
            "is empty" if not data else "contains only white space",
            "save the notebook from Jupyter again, or delete the file",
            size,
        )
    try:
        doc = _loads(data)
    except ValueError as exc:  # orjson.JSONDecodeError and json.JSONDecodeError are ValueErrors
        return _decode_problem(rel, data, exc)
    del data
    nb = parse_document(doc, rel, size)
    del doc
    if code and isinstance(nb, ParsedNotebook):
        analyse_cells(nb, syntax=code == "all")
    return nb


def analyse_cells(nb: ParsedNotebook, *, syntax: bool = True, memo: dict[str, Any] | None = None) -> None:
    """Fill ``nb.code`` with the :class:`~paperpack.notebook.pysource.CodeFacts` of each code cell (Python only)."""
    from .pysource import analyse

    nb.code = {}
    if nb.language not in (None, "python"):
        return
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.strip():
            key = cell.source
            facts = memo.get(key) if memo is not None else None
            if facts is None:
                facts = analyse(cell.source, syntax=syntax)
                if memo is not None:
                    memo[key] = facts
            nb.code[cell.index] = facts


def parse_document(doc: Any, rel: str, size: int = 0) -> ParsedNotebook | NotebookProblem:
    """Turn a decoded JSON document into a :class:`ParsedNotebook` (or a problem)."""
    if not isinstance(doc, dict) or "nbformat" not in doc:
        what = "a JSON object without an 'nbformat' field" if isinstance(doc, dict) else f"a JSON {type(doc).__name__}"
        return NotebookProblem(
            rel,
            "not-a-notebook",
            f"is {what}, not a notebook",
            "rename it if it is not a notebook, or re-save it from Jupyter",
            size,
        )
    major, minor = doc.get("nbformat"), doc.get("nbformat_minor", 0)
    if not isinstance(major, int) or isinstance(major, bool) or major < 1 or major > 4:
        return NotebookProblem(
            rel,
            "unknown-format",
            f"declares nbformat {short_repr(major)}, which this version of paperpack and nbformat do not know",
            "save it with a current Jupyter (nbformat 4)",
            size,
        )
    minor_int = minor if isinstance(minor, int) and not isinstance(minor, bool) else 0
    metadata: dict[str, Any] = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
    if "widgets" in metadata:  # saved widget state can be megabytes; nothing downstream reads it
        metadata = {k: v for k, v in metadata.items() if k != "widgets"}
    if major < 4:
        cells = _v3_cells(doc)
        version = "3" if major == 3 else ""
    else:
        raw = doc.get("cells")
        cells = [_cell(i, c) for i, c in enumerate(raw)] if isinstance(raw, list) else []
        version = schema_version(major, minor)
    issues: list[SchemaIssue] = []
    if version and not conforms(doc, version):
        issues = detailed_issues(doc, version)
    if major == 4 and isinstance(minor, int) and minor > LATEST_V4_MINOR:
        issues.append(
            SchemaIssue(
                f"nbformat_minor: 4.{minor} is newer than the schemas shipped with nbformat; "
                f"checked against 4.{LATEST_V4_MINOR}",
                "nbformat_minor",
            )
        )
    return ParsedNotebook(
        rel=rel,
        size=size,
        nbformat=major,
        nbformat_minor=minor_int,
        cells=cells,
        metadata=metadata,
        schema_errors=issues,
        schema_version=version,
    )


def _read_chunk(args: tuple[str, list[str], int, str]) -> list[ParsedNotebook | NotebookProblem]:
    root, rels, max_bytes, code = args
    out = []
    memo: dict[str, Any] = {}  # cells copied between notebooks are analysed once
    for rel in rels:
        nb = read_notebook(Path(root) / rel, rel, max_bytes=max_bytes)
        if code and isinstance(nb, ParsedNotebook):
            analyse_cells(nb, syntax=code == "all", memo=memo)
        out.append(nb)
    return out


def read_notebooks(
    root: Path, rels: Sequence[str], *, max_bytes: int = MAX_NOTEBOOK_BYTES, jobs: int = 1, code: str = ""
) -> list[ParsedNotebook | NotebookProblem]:
    """Read many notebooks under ``root``, in the order given (``code`` as in :func:`read_notebook`).

    ``jobs > 1`` spreads the work over that many processes (worth it from a few dozen
    notebooks on); the results are the same as with ``jobs=1``.
    """
    if jobs <= 1 or len(rels) < 2 * jobs:
        return _read_chunk((str(root), list(rels), max_bytes, code))
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor

    # interleave by index so big and small files spread evenly, then restore the order
    chunks = [list(rels[i::jobs]) for i in range(jobs)]
    # fork is cheap, but unsafe once other threads run (and deprecated then from Python 3.12)
    fork = "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork" if fork else "spawn")) as pool:
        parts = list(pool.map(_read_chunk, [(str(root), c, max_bytes, code) for c in chunks]))
    out: list[ParsedNotebook | NotebookProblem] = [None] * len(rels)  # type: ignore[list-item]
    for i, part in enumerate(parts):
        out[i::jobs] = part
    return out
