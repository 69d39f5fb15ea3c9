"""What a piece of Python code (a notebook cell or a local module) imports, reads and writes.

:func:`analyse` parses the source once with :mod:`ast` (after :func:`strip_magics` has
turned IPython syntax into plain Python, keeping line numbers) and returns
:class:`CodeFacts`: imports, file paths passed to reading and writing calls, absolute
path literals, or the syntax error that stopped the parse. It never raises.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass, field

from .importmap import BACKENDS

__all__ = [
    "Import",
    "PathUse",
    "CodeFacts",
    "strip_magics",
    "analyse",
    "may_have_facts",
    "NO_FACTS",
    "ABSOLUTE_PATH",
    "SCRATCH_PATH",
]

#: Cell magics whose body is not Python (the whole cell is skipped).
_FOREIGN_CELL_MAGICS = frozenset(
    {
        "bash",
        "sh",
        "script",
        "html",
        "HTML",
        "javascript",
        "js",
        "latex",
        "markdown",
        "perl",
        "ruby",
        "sql",
        "svg",
        "writefile",
        "file",
        "R",
        "julia",
        "octave",
        "sx",
        "system",
        "cmd",
        "powershell",
        "dot",
        "md",
    }
)
_MAGIC_LINE = re.compile(r"^(\s*)(?:[%!]|\w[\w\s,]*=\s*[%!])")
_HELP_LINE = re.compile(r"^\s*\??[\w.]+\?\??\s*$|^\s*\?")

#: Absolute paths that exist only on one machine (home folders, cluster file systems, drives).
ABSOLUTE_PATH = re.compile(
    r"^(?:/home/|/Users/|/root/|/scratch|/gpfs|/lustre|/cluster/|/project/|/projects/|/work/|/mnt/|/media/|"
    r"/net/|/nfs/|/storage/|/data/|/Volumes/|/global/|/hpc/|/p/|/share/|[A-Za-z]:[\\/]|\\\\[\w.-]+\\)"
)
#: Machine-local temporary folders: a warning at most.
SCRATCH_PATH = re.compile(r"^(?:/tmp/|/var/tmp/)")

_READ_CALLS = frozenset(
    {
        "open",
        "read_csv",
        "read_table",
        "read_excel",
        "read_parquet",
        "read_json",
        "read_hdf",
        "read_feather",
        "read_pickle",
        "read_fwf",
        "read_stata",
        "read_sas",
        "read_spss",
        "read_orc",
        "read_xml",
        "loadtxt",
        "genfromtxt",
        "load",
        "fromfile",
        "imread",
        "open_dataset",
        "open_mfdataset",
        "open_dataarray",
        "load_workbook",
        "read_file",
        "loadmat",
        "File",
        "read_text",
        "read_bytes",
        "Dataset",
        "load_dataset",
        "read",
        "read_image",
        "load_img",
        "read_shapefile",
        "ExcelFile",
        "read_raw",
    }
)
_WRITE_CALLS = frozenset(
    {
        "savefig",
        "to_csv",
        "to_excel",
        "to_parquet",
        "to_json",
        "to_hdf",
        "to_pickle",
        "to_feather",
        "to_netcdf",
        "to_file",
        "to_string",
        "to_html",
        "to_latex",
        "save",
        "savez",
        "savez_compressed",
        "savetxt",
        "imsave",
        "imwrite",
        "write_text",
        "write_bytes",
        "write_image",
        "write_html",
        "makedirs",
        "mkdir",
        "savemat",
        "to_zarr",
        "write",
        "dump",
        "copy",
        "copyfile",
        "urlretrieve",
        "download",
    }
)
_DATA_SUFFIX = re.compile(
    r"\.(?:csv|tsv|txt|dat|json|jsonl|h5|hdf5|hdf|nc|nc4|npy|npz|parquet|feather|xlsx|xls|pkl|pickle|mat|fits|"
    r"fit|zip|gz|bz2|xz|tar|tif|tiff|jpg|jpeg|png|zarr|shp|geojson|sav|dta|sqlite|db|xml|yaml|yml|root|edf|"
    r"fastq|fasta|fa|vcf|bam|sam|bed|gff|gtf|pdb|cif|mzml|arrow|orc|avro|rds|rda)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Import:
    module: str  # top-level name, e.g. "numpy" for "import numpy.linalg"
    line: int
    optional: bool = False  # inside try/except ImportError
    conditional: bool = False  # inside a function, or the fallback of a try/except ImportError


@dataclass(frozen=True)
class PathUse:
    path: str
    line: int
    call: str  # function it is passed to, "" for a bare path-looking literal


@dataclass
class CodeFacts:
    imports: list[Import] = field(default_factory=list)
    relative_imports: list[tuple[str, int]] = field(default_factory=list)  # (module or "", line)
    reads: list[PathUse] = field(default_factory=list)
    writes: list[PathUse] = field(default_factory=list)
    absolute: list[PathUse] = field(default_factory=list)  # literals matching ABSOLUTE_PATH or SCRATCH_PATH
    backend_calls: list[tuple[str, int]] = field(default_factory=list)  # (call in importmap.BACKENDS, line)
    aliases: dict[str, str] = field(default_factory=dict)  # `from h5py import File as h5_file`: h5_file → File
    other_calls: list[PathUse] = field(default_factory=list)  # a path passed to a call of unknown name
    syntax_error: tuple[int, str] | None = None  # (line, message)
    skipped: str = ""  # why the source was not parsed: a non-Python cell magic, or "no facts" (see analyse)


def strip_magics(source: str) -> tuple[str, str]:
    """``(python, skipped)``: IPython-only lines become ``pass`` at the same indentation.

    A cell whose first line is a non-Python cell magic (``%%bash``, ``%%writefile`` …)
    returns ``("", "%%bash")``; other cell magics (``%%time``) keep their body.
    """
    if "%" not in source and "!" not in source and "?" not in source:
        return source, ""
    lines = source.split("\n")
    first = lines[0].strip()
    if first.startswith("%%"):
        name = first[2:].split(None, 1)[0] if len(first) > 2 else ""
        if name in _FOREIGN_CELL_MAGICS or not name:
            return "", f"%%{name}"
        lines[0] = ""
    out = []
    continued = False
    for line in lines:
        if continued or _MAGIC_LINE.match(line) or _HELP_LINE.match(line):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}pass" if line.strip() and not continued else "")
            continued = line.rstrip().endswith("\\")
        else:
            out.append(line)
    return "\n".join(out), ""


def _literal(node: ast.AST, names: dict[str, str]) -> str | None:
    """A string known statically: a literal, a name bound to one, or os.path.join / Path / "/" of those."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):  # Path("data") / "x.csv"
        left, right = _literal(node.left, names), _literal(node.right, names)
        return f"{left.rstrip('/')}/{right}" if left is not None and right is not None else None
    if isinstance(node, ast.Call):
        func = _call_name(node.func)
        if func in ("join", "Path", "PurePath", "PurePosixPath") and node.args and not node.keywords:
            parts = [_literal(a, names) for a in node.args]
            if all(p is not None for p in parts):
                return "/".join(p.rstrip("/") for p in parts if p is not None)
    return None


def _call_name(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _mode(call: ast.Call, names: dict[str, str]) -> str:
    if len(call.args) > 1:
        return _literal(call.args[1], names) or ""
    for kw in call.keywords:
        if kw.arg == "mode":
            return _literal(kw.value, names) or ""
    return ""


class _Visitor(ast.NodeVisitor):
    def __init__(self, facts: CodeFacts) -> None:
        self.facts = facts
        self.names: dict[str, str] = {}
        self.optional = 0
        self.conditional = 0  # function bodies and ImportError handlers entered
        self.in_call: set[int] = set()

    def _import(self, module: str, line: int) -> None:
        self.facts.imports.append(Import(module, line, self.optional > 0, self.conditional > 0))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self.conditional += 1  # runs only if called, on whatever path calls it
        self.generic_visit(node)
        self.conditional -= 1

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_Try(self, node: ast.Try) -> None:
        catches = any(_catches_import_error(h.type) for h in node.handlers)
        self.optional += catches
        for stmt in node.body:
            self.visit(stmt)
        self.optional -= catches
        for handler in node.handlers:  # a fallback runs only when the first import failed
            fallback = _catches_import_error(handler.type)
            self.conditional += fallback
            self.visit(handler)
            self.conditional -= fallback
        for stmt in node.orelse + node.finalbody:
            self.visit(stmt)

    visit_TryStar = visit_Try

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._import(alias.name.split(".")[0], node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.facts.relative_imports.append((node.module or "", node.lineno))
        elif node.module and node.module != "__future__":
            self._import(node.module.split(".")[0], node.lineno)
        self.facts.aliases.update({a.asname: a.name for a in node.names if a.asname})

    def visit_Assign(self, node: ast.Assign) -> None:
        value = _literal(node.value, self.names)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if value is not None:
                    self.names[target.id] = value
                else:
                    self.names.pop(target.id, None)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _call_name(node.func)
        if name in BACKENDS:
            self.facts.backend_calls.append((name, node.lineno))
        target: ast.AST | None = node.args[0] if node.args else None
        if target is None:
            target = next(
                (
                    kw.value
                    for kw in node.keywords
                    if kw.arg in ("path", "fname", "filepath_or_buffer", "filename", "file", "fname")
                ),
                None,
            )
        owner = node.func.value if isinstance(node.func, ast.Attribute) else None
        if name in ("read_text", "read_bytes", "write_text", "write_bytes", "open", "mkdir") and owner is not None:
            target = owner if _literal(owner, self.names) is not None else target  # Path("x").read_text()
        path = _literal(target, self.names) if target is not None else None
        if path is not None and not _is_url(path):
            use = PathUse(path, getattr(target, "lineno", node.lineno), name)
            mode = _mode(node, self.names) if name in ("open", "File", "Dataset") else ""
            if name in _WRITE_CALLS or any(c in mode for c in "wax+"):
                self.facts.writes.append(use)
            elif name in _READ_CALLS:
                self.facts.reads.append(use)
            elif name:  # maybe a reader imported under another name, in this cell or another
                self.facts.other_calls.append(use)
            if target is not None:
                self.in_call.add(id(target))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if not isinstance(value, str) or len(value) > 400 or "\n" in value or _is_url(value):
            return
        if ABSOLUTE_PATH.match(value) or SCRATCH_PATH.match(value):
            self.facts.absolute.append(PathUse(value, node.lineno, ""))
        elif (
            id(node) not in self.in_call
            and _DATA_SUFFIX.search(value)
            and " " not in value.strip()
            and "/" in value
            and not value.startswith(("*", "."))
            and "%" not in value
            and "{" not in value
        ):
            self.facts.reads.append(PathUse(value, node.lineno, ""))


def aliased_reads(cells: dict[int, CodeFacts]) -> dict[int, list[PathUse]]:
    """Reads through readers imported under another name anywhere in the notebook, by cell.

    ``from h5py import File as h5_file`` in one cell makes ``h5_file("x.h5")`` in any cell a read
    by ``File``; the call keeps the name the reader is known by.
    """
    aliases: dict[str, str] = {}
    for f in cells.values():
        aliases.update(f.aliases)
    out: dict[int, list[PathUse]] = {}
    for index, f in cells.items():
        found = [PathUse(u.path, u.line, aliases[u.call]) for u in f.other_calls if aliases.get(u.call) in _READ_CALLS]
        if found:
            out[index] = found
    return out


def _is_url(value: str) -> bool:
    return "://" in value or value.startswith(("www.", "git@", "s3:", "gs:", "doi:"))


def _catches_import_error(node: ast.AST | None) -> bool:
    if node is None:
        return True  # bare except
    if isinstance(node, ast.Tuple):
        return any(_catches_import_error(e) for e in node.elts)
    return _call_name(node) in ("ImportError", "ModuleNotFoundError", "Exception", "BaseException")


_CALL_NAMES = _READ_CALLS | _WRITE_CALLS | {"join", "Path", "PurePath", "PurePosixPath"}
_SLASH_LITERAL = re.compile(r"[\"'][^\"'\n/\\]*[/\\]")  # a quote, then a slash before the next quote
_SUFFIX_LITERAL = re.compile(r"\.[A-Za-z0-9]{1,8}[\"']")  # a file-like ending, then a quote
_OPEN_LITERAL = re.compile(r"\(\s*[rbufRBUF]{0,2}[\"']")
_LITERAL_BOUND = re.compile(r"=\s*[rbufRBUF]{0,2}[\"']")
_CALL = re.compile(r"(\w+)\s*\(")


def may_have_facts(source: str) -> bool:
    """False only when :func:`analyse` would find no import and no path in ``source``.

    Every path fact starts from a string literal, and every import from the keyword, so a
    cheap scan decides: ``import`` present; a quoted string with a slash, backslash or
    file-like ending; or a reading/writing call given a literal (directly, or through a
    name or keyword bound to one in the same code).
    """
    if "import" in source:
        return True
    if '"' not in source and "'" not in source:
        return False
    if ("/" in source or "\\" in source) and _SLASH_LITERAL.search(source):
        return True
    if _SUFFIX_LITERAL.search(source):
        return True
    if "=" in source and _LITERAL_BOUND.search(source):
        return any(name in _CALL_NAMES for name in _CALL.findall(source))
    for m in _OPEN_LITERAL.finditer(source):  # f("…"): is f a reading or writing call?
        end = m.start()
        while end > 0 and source[end - 1] in " \t":
            end -= 1
        start = end
        while start > 0 and (source[start - 1].isalnum() or source[start - 1] == "_"):
            start -= 1
        if source[start:end] in _CALL_NAMES:
            return True
    return False


#: What :func:`analyse` returns for code it did not need to parse (shared: do not mutate).
NO_FACTS = CodeFacts(skipped="no facts")


def analyse(source: str, *, magics: bool = True, syntax: bool = True) -> CodeFacts:
    """Facts about ``source`` (a cell when ``magics``, else a ``.py`` file). Never raises.

    With ``syntax=False``, code that cannot hold any fact (:func:`may_have_facts`) is not
    parsed at all (``skipped="no facts"``), so its syntax errors go unreported: parsing
    costs ~25 µs a line, several times the cost of reading the notebook.
    """
    wanted = may_have_facts(source)
    if not syntax and not wanted:
        return NO_FACTS
    facts = CodeFacts()
    if magics:
        source, facts.skipped = strip_magics(source)
        if facts.skipped:
            return facts
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for invalid escapes in user code
            tree = ast.parse(source)
    except SyntaxError as exc:
        facts.syntax_error = (exc.lineno or 1, exc.msg or "invalid syntax")
        return facts
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        facts.syntax_error = (1, str(exc) or type(exc).__name__)
        return facts
    if not wanted:  # parsed for its syntax only: nothing to find in it
        return NO_FACTS
    _Visitor(facts).visit(tree)
    if facts.reads:  # a literal bound to a name and then read is one read, the call's
        named = {u.path for u in facts.reads if u.call} | {u.path for u in facts.writes}
        facts.reads = [u for u in facts.reads if u.call or u.path not in named]
    return facts
