"""``paperpack.yml``: reading, schema validation with line numbers, and typed access.

The manifest is optional. :func:`load_manifest` returns ``None`` when the repository
has none; callers then infer what they need (see :mod:`paperpack.checks.infer`).
Errors are :class:`~paperpack.errors.ManifestError` with the file, line, the path
inside the document, what was expected and, for misspelt keys, a "did you mean".
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..errors import ManifestError
from ..util.schemas import load_schema, validator_for

if TYPE_CHECKING:
    import jsonschema
    from ruamel.yaml.error import YAMLError

# ruamel.yaml and jsonschema are imported where they are used: a repository without a manifest
# needs neither, and a valid manifest never needs jsonschema (python -X importtime: together
# they cost more than validating a one-notebook repository).

__all__ = [
    "OrderProblem",
    "OrderProblemKind",
    "run_order_problems",
    "record_folder",
    "MANIFEST_NAMES",
    "BinderSettings",
    "Manifest",
    "ManifestProblem",
    "NotebookSpec",
    "find_manifest",
    "load_manifest",
    "parse_manifest",
    "run_limit",
    "safe_relpath",
    "find_cycle",
    "yaml_problem",
    "yaml_line",
]

MANIFEST_NAMES = ("paperpack.yml", "paperpack.yaml")
MAX_MANIFEST_BYTES = 1 << 20
RECORD_FOLDER = "data"  # where a whole-record dataset goes without `path:`


@dataclass
class NotebookSpec:
    """How one notebook is run, from the manifest (or defaults)."""

    path: str
    depends_on: list[str] = field(default_factory=list)
    timeout: float | None = None
    cell_timeout: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    allow_errors: bool = False
    skip: bool | str = False
    kernel: str | None = None
    compare: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BinderSettings:
    """The manifest's ``binder:`` section: where the launch badge and ``paperpack binder`` point.

    Every field is optional; ``None`` means "from the command line, else from git, else the default"
    (see :mod:`paperpack.binder.launch`).
    """

    url: str | None = None  # the BinderHub's base URL
    repository: str | None = None  # owner/name on GitHub, a git URL, or a Zenodo DOI
    ref: str | None = None  # branch, tag or commit to launch
    urlpath: str | None = None  # what to open, e.g. lab/tree/01-data.ipynb (instead of the first notebook)


@dataclass
class Manifest:
    """A validated manifest. ``data`` is the plain document; ``path`` the file read."""

    data: dict[str, Any]
    path: Path | None = None
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict, repr=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def line_of(self, *where: str | int) -> int | None:
        """1-based line of the node at ``where`` (closest enclosing node known)."""
        key = tuple(where)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None

    @property
    def notebooks(self) -> list[NotebookSpec]:
        out = []
        for item in self.data.get("notebooks", []) or []:
            known = {k: v for k, v in item.items() if k in NotebookSpec.__dataclass_fields__}
            out.append(NotebookSpec(**known))
        return out

    @property
    def datasets(self) -> list[dict[str, Any]]:
        return list(self.data.get("data", []) or [])

    @property
    def binder(self) -> BinderSettings:
        section = self.section("binder")
        return BinderSettings(
            **{k: str(v) for k, v in section.items() if k in BinderSettings.__dataclass_fields__ and v is not None}
        )

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name) or {}
        return dict(value)


def find_manifest(root: Path) -> Path | None:
    for name in MANIFEST_NAMES:
        candidate = root / name
        if candidate.is_file() and not candidate.is_symlink():
            return candidate
    return None


def load_manifest(root: Path) -> Manifest | None:
    """Read and validate the repository's manifest; ``None`` if there is none."""
    path = find_manifest(root)
    if path is None:
        return None
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ManifestError(
            f"{path.name} is {path.stat().st_size} bytes; a manifest is a short file",
            hint="keep data listings in the manifest short; large file lists belong in the DOI record",
            path=path,
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"{path.name} is not UTF-8 (byte {exc.start} is 0x{raw[exc.start]:02x})",
            hint="save the file as UTF-8",
            path=path,
        ) from None
    return parse_manifest(text, path=path, root=root)


def yaml_problem(exc: YAMLError) -> tuple[str, int | None]:
    """(what is wrong, 1-based line) of a YAML syntax error, naming where an unclosed thing was opened."""
    mark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    opened = getattr(exc, "context", None)
    if context is not None and mark is not None and context.line != mark.line and opened:
        problem += f" ({opened} on line {context.line + 1})"
    return problem, mark.line + 1 if mark is not None else None


def yaml_line(node: Any, key: str | int) -> int | None:
    """1-based line of ``key`` in a round-trip YAML mapping (or item ``key`` of a sequence); ``None`` if unknown.

    The one YAML line helper: the manifest, CITATION.cff and environment.yml readers all use it.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    try:
        if isinstance(node, CommentedMap):
            return int(node.lc.key(key)[0]) + 1
        if isinstance(node, CommentedSeq):
            return int(node.lc.item(key)[0]) + 1
    except (KeyError, TypeError, AttributeError, IndexError):
        pass
    return None


def _error(name: str, line: int | None, where: str, message: str, hint: str, path: Path | None) -> ManifestError:
    """A :class:`ManifestError` reading ``name:line: where: message``, with ``line``, ``where`` and ``problems`` attributes."""
    head = f"{name}:{line}" if line else name
    return ManifestError(
        f"{head}: {where + ': ' if where else ''}{message}",
        hint=hint,
        path=path,
        line=line,
        where=where,
        problems=[ManifestProblem(line, where, message, hint)],
    )


def parse_manifest(text: str, *, path: Path | None = None, root: Path | None = None) -> Manifest:
    """Parse and check a manifest; with ``root``, its paths are checked against the repository too.

    Every problem (schema, patterns, paths) is found in one pass and raised together in one
    :class:`ManifestError` (``problems`` lists them), so fixing the first does not uncover the next.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    name = path.name if path else "paperpack.yml"
    yaml = YAML(typ="rt")
    try:
        doc = yaml.load(text)
    except YAMLError as exc:
        problem, line = yaml_problem(exc)
        raise _error(
            name,
            line,
            "",
            f"YAML syntax error: {problem}",
            "fix the YAML syntax (indentation with spaces, a space after each colon, quotes around "
            "values with ':' or '#')",
            path,
        ) from None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, dict):
        raise _error(
            name,
            1,
            "",
            f"the manifest must be a mapping of keys (version, title, notebooks, …), found {_a(_kind(_to_plain(doc)))}",
            "start from `paperpack init`, which writes a manifest inferred from the repository",
            path,
        )
    lines: dict[tuple[str | int, ...], int] = {}
    _collect_lines(doc, (), lines)
    plain = _to_plain(doc)
    manifest = Manifest(data=plain, path=path, lines=lines)
    problems = _schema_problems(manifest)
    problems += _pattern_problems(manifest)
    if root is not None:
        said = {p.where for p in problems}  # an absolute path is already a schema problem
        problems += [p for p in _path_problems(manifest, root) if p.where not in said]
    if problems:
        raise _combined(name, manifest.path, problems)
    return manifest


def run_limit(name: str, text: str) -> int | float | str:
    """A run limit given on the command line (``--pids 5``), checked by the very rule the manifest's
    ``run.<name>`` follows (its schema, through the same checks and messages as the manifest's).

    Returns the value (a number, or a size such as ``2g``); raises :class:`ValueError` saying what is
    wrong and what is allowed.
    """
    rule = load_schema("manifest")["properties"]["run"]["properties"][name]
    value: int | float | str = text
    if rule.get("type") == "integer":
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"expected a whole number, got {text!r}") from None
    elif rule.get("type") == "number":
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"expected a finite number, got {text!r}")
    problems = _schema_problems(Manifest(data={"version": 1, "run": {name: value}}))
    if problems:
        raise ValueError(problems[0].message)
    return value


def _iter_patterns(manifest: Manifest) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    sections: list[tuple[tuple[str | int, ...], Any]] = [(("compare",), manifest.data.get("compare"))]
    sections += [
        (("notebooks", i, "compare"), nb.get("compare"))
        for i, nb in _items(manifest.data.get("notebooks"))
        if isinstance(nb, dict)
    ]
    for where, section in sections:  # the document may not follow the schema: wrong types are skipped
        if isinstance(section, dict):
            for j, pattern in _items(section.get("ignore_patterns")):
                if isinstance(pattern, str):
                    yield where + ("ignore_patterns", j), pattern


def _pattern_problems(manifest: Manifest) -> list[ManifestProblem]:
    """Every ``compare.ignore_patterns`` entry must be a valid regular expression."""
    out = []
    for where, pattern in _iter_patterns(manifest):
        try:
            re.compile(str(pattern))
        except re.error as exc:
            out.append(
                ManifestProblem(
                    manifest.line_of(*where) or 1,
                    _dotted(where),
                    f"{pattern!r} is not a valid regular expression: {exc}",
                    "fix the pattern (Python `re` syntax; escape literal brackets and dots "
                    "with \\, quote the YAML value with single quotes)",
                )
            )
    return out


def _collect_lines(node: Any, where: tuple[str | int, ...], out: dict[tuple[str | int, ...], int]) -> None:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap):
        for key in node:
            line = yaml_line(node, key)
            if line is None:
                continue
            out[where + (str(key),)] = line
            _collect_lines(node[key], where + (str(key),), out)
    elif isinstance(node, CommentedSeq):
        for index, item in enumerate(node):
            if (line := yaml_line(node, index)) is not None:
                out[where + (index,)] = line
            _collect_lines(item, where + (index,), out)


def _to_plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_to_plain(v) for v in node]
    if hasattr(node, "isoformat"):
        return node.isoformat()
    return node


def _schema_at(schema: dict[str, Any], error: jsonschema.ValidationError) -> dict[str, Any]:
    return error.schema if isinstance(error.schema, dict) else schema


def _best_error(errors: list[jsonschema.ValidationError]) -> jsonschema.ValidationError:
    import jsonschema

    best = jsonschema.exceptions.best_match(errors)
    # For oneOf, descend into the branch that came nearest (nbformat's approach), unless every
    # branch failed on its type: then the oneOf itself says best what is allowed.
    while best.context and not all(e.validator == "type" for e in best.context) and best.validator != "anyOf":
        deeper = jsonschema.exceptions.best_match(best.context)
        if deeper is None:
            break
        best = deeper
    return best


def _locate(error: jsonschema.ValidationError, manifest: Manifest) -> tuple[tuple[Any, ...], int]:
    where = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = (_schema_at(load_schema("manifest"), error).get("properties") or {}).keys()
        unknown = [k for k in error.instance if k not in allowed]
        if unknown:
            where = where + (str(unknown[0]),)  # point at the misspelt key's own line
    return where, manifest.line_of(*where) or 1


#: at most this many further problems are listed under the first (the message stays under 10 lines)
MAX_MORE = 3


@dataclass(frozen=True)
class ManifestProblem:
    """One schema violation: line, place in the document, what is wrong, how to fix it."""

    line: int | None
    where: str
    message: str
    hint: str


_fast_check: Callable[[Any], bool] | None = None


def _conforms(data: Any) -> bool:
    """A fast yes/no against the manifest schema (jsonschema-rs, compiled once), as for notebooks.

    Only a manifest that fails is checked again with jsonschema, for the messages; the two
    agree on every manifest of the test cases (tests/test_manifest_fast.py).
    """
    global _fast_check
    if _fast_check is None:
        try:
            import jsonschema_rs
        except ImportError:
            return False  # jsonschema decides alone
        _fast_check = jsonschema_rs.validator_for(load_schema("manifest")).is_valid
    try:
        return bool(_fast_check(_builtin(data)))
    except ValueError:  # a value jsonschema-rs cannot take: jsonschema decides
        return False


def _builtin(node: Any) -> Any:
    """``node`` with ruamel's scalar types (ScalarFloat, ScalarInt, quoted strings) as Python's own."""
    if isinstance(node, dict):
        return {k: _builtin(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_builtin(v) for v in node]
    for cls in (bool, int, float, str):
        if isinstance(node, cls):
            return cls(node)
    return node


def _schema_problems(manifest: Manifest) -> list[ManifestProblem]:
    if _conforms(manifest.data):
        return []
    validator = validator_for("manifest")
    errors = list(validator.iter_errors(manifest.data))
    if not errors:
        return []
    first = _best_error(errors)
    rest = sorted(
        (e for e in errors if e is not first and list(e.absolute_path) != list(first.absolute_path)),
        key=lambda e: _locate(e, manifest)[1],
    )
    problems = []
    for error in [first] + rest:
        error = _best_error([error]) if error is not first else error
        where, line = _locate(error, manifest)
        message, hint = _explain(error, manifest)
        problems.append(ManifestProblem(line, _dotted(where) or "(top level)", message, hint))
    return problems


def _combined(name: str, path: Path | None, problems: list[ManifestProblem]) -> ManifestError:
    """One error for every problem: the first in full, up to :data:`MAX_MORE` more as lines under it."""
    head = problems[0]
    extra = "".join(f"\n  also line {p.line}: {p.where}: {p.message}" for p in problems[1 : MAX_MORE + 1])
    if len(problems) > MAX_MORE + 1:
        extra += f"\n  and {len(problems) - MAX_MORE - 1} more"
    exc = _error(name, head.line, head.where, head.message + extra, head.hint, path)
    exc.problems = problems
    return exc


def _dotted(where: tuple[Any, ...]) -> str:
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_FORMS = {
    "memory": "a memory size such as 2g or 512m",
    "disk": "a size such as 4g or 512m",
    "sha256": "64 hexadecimal characters (`sha256sum FILE`)",
    "md5": "32 hexadecimal characters (`md5sum FILE`)",
    "python": "a Python version such as 3.11",
    "url": "an http(s) URL such as https://mybinder.org",
}


def _explain(error: jsonschema.ValidationError, manifest: Manifest) -> tuple[str, str]:
    schema = _schema_at(load_schema("manifest"), error)
    key = str(error.absolute_path[-1]) if error.absolute_path else ""
    if error.validator == "additionalProperties":
        instance = error.instance if isinstance(error.instance, dict) else {}
        allowed = sorted((schema.get("properties") or {}).keys())
        unknown = [k for k in instance if k not in allowed]
        bad = unknown[0] if unknown else "?"
        close = difflib.get_close_matches(bad, allowed, n=1, cutoff=0.6)
        guess = f"did you mean '{close[0]}'?" if close else f"allowed keys here: {', '.join(allowed)}"
        return f"unknown key '{bad}'; {guess}", (
            f"rename '{bad}' to '{close[0]}'" if close else f"remove '{bad}' or use one of: {', '.join(allowed)}"
        )
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        if missing == "version":
            return "'version' is missing", "add `version: 1` as the first line of the manifest"
        return f"'{missing}' is required here", f"add '{missing}'"
    if error.validator == "anyOf" and all(e.validator == "required" for e in error.context):
        keys = [e.message.split("'")[1] for e in error.context if "'" in e.message]
        listed = ", ".join(keys[:-1]) + f" or {keys[-1]}" if len(keys) > 1 else "".join(keys)
        return f"needs at least one of {listed}", f"add {listed}"
    if error.validator == "oneOf" and all(e.validator == "type" for e in error.context):
        kinds = [e.validator_value for e in error.context]
        return (
            f"expected {' or '.join(_a(k) for k in kinds)}, found {_a(_kind(error.instance))} "
            f"({_short(error.instance)})",
            schema.get("description") or f"write {_a(kinds[0])}",
        )
    if error.validator == "type":
        expected = error.validator_value
        if expected == "string" and (unquoted := _unquoted_number(error.instance)):
            return unquoted
        return (
            f"expected {_a(expected)}, found {_a(_kind(error.instance))} ({_short(error.instance)})",
            f"write {_a(expected)}",
        )
    if error.validator == "const" and list(error.absolute_path) == ["version"]:
        return f"version {error.instance!r} is not supported; this paperpack reads version 1", "set `version: 1`"
    if error.validator == "enum":
        choices = ", ".join(repr(v) for v in error.validator_value)
        return f"{_short(error.instance)} is not one of {choices}", f"use one of {choices}"
    if error.validator == "not" and isinstance(error.instance, str):
        return (
            f"{error.instance!r} is an absolute path; paths in the manifest are relative to the repository root",
            f"write it relative to the repository root, e.g. {PurePosixPath(str(error.instance).lstrip('/')).name!r}",
        )
    if error.validator == "pattern":
        form = _FORMS.get(key) or schema.get("description") or f"text matching {error.validator_value}"
        return f"{_short(error.instance)} is not {form}" if key in _FORMS else (
            f"{_short(error.instance)} does not have the expected form ({form})"
        ), f"write {form}"
    bounds = {"minimum": "at least", "exclusiveMinimum": "greater than", "maximum": "at most"}
    if error.validator in bounds:
        return (
            f"{_short(error.instance)} is too {'large' if error.validator == 'maximum' else 'small'}: "
            f"it must be {bounds[str(error.validator)]} {error.validator_value}",
            (schema.get("description") or "see docs/manifest.md for the allowed values"),
        )
    if error.validator == "minLength":
        return "must not be empty", "write a value, or remove the key"
    return error.message, schema.get("description") or "see docs/manifest.md for the manifest format"


def _yaml_text(number: float | int) -> str:
    """A number as it was written in the YAML file (ruamel keeps ``3.10``'s width), else as Python prints it."""
    width, dot = getattr(number, "_width", None), getattr(number, "_prec", None)
    if isinstance(number, float) and getattr(number, "_exp", None) is None and width and dot is not None:
        return f"{number:.{max(width - dot - 1, 0)}f}"
    return repr(number) if not isinstance(number, float) else f"{number:g}" if number == int(number) else repr(number)


def _unquoted_number(value: Any) -> tuple[str, str] | None:
    """Message and fix for a number where a string is expected (``python: 3.10`` is read as 3.1), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    text = _yaml_text(value)
    read = repr(float(value)) if isinstance(value, float) else str(int(value))
    said = f", which YAML reads as {read}" if read != text else ""
    return f"expected a string, found the number {text}{said}", f"write it as a string: '{text}'"


def _kind(value: Any) -> str:
    """The JSON kind of a value, also for ruamel's ScalarFloat, CommentedMap…"""
    for cls, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (dict, "dict"), (list, "list")):
        if isinstance(value, cls):
            return name
    return "NoneType" if value is None else type(value).__name__


def kind_words(value: Any) -> str:
    """What a parsed value is, in an editor's words: "a list", "a number", "true or false"…"""
    return _a(_kind(value))


def _a(t: Any) -> str:
    names = {
        "str": "a string",
        "string": "a string",
        "int": "an integer",
        "integer": "an integer",
        "float": "a number",
        "number": "a number",
        "bool": "true or false",
        "boolean": "true or false",
        "list": "a list",
        "array": "a list",
        "dict": "a mapping",
        "object": "a mapping",
        "NoneType": "nothing (null)",
        "null": "nothing (null)",
    }
    if isinstance(t, list):
        return " or ".join(_a(x) for x in t)
    return names.get(str(t), str(t))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def safe_relpath(root: Path, rel: str) -> Path:
    """Resolve ``rel`` under ``root`` without leaving it, through ``..`` or a symlink.

    Raises :class:`ValueError` with a sentence saying why, for the caller to wrap.
    """
    pure = PurePosixPath(rel.replace("\\", "/"))
    if pure.is_absolute() or (len(rel) > 1 and rel[1] == ":"):
        raise ValueError(f"{rel!r} is absolute; write it relative to the repository root")
    if ".." in pure.parts:
        raise ValueError(f"{rel!r} contains '..'; paths must stay inside the repository")
    current = root
    for part in pure.parts:
        current = current / part
        if current.is_symlink():
            raise ValueError(
                f"{rel!r} goes through the symbolic link {current.relative_to(root)}, which paperpack never follows"
            )
    return current


def record_folder(dataset: dict[str, Any]) -> str:
    """The folder a whole-record dataset (a ``doi`` and no ``files``) puts its files in: ``path`` or ``data``."""
    return str(PurePosixPath(str(dataset.get("path") or RECORD_FOLDER)))  # "./inputs/" -> "inputs", "./" -> "."


def _items(value: Any) -> list[tuple[int, Any]]:
    """(index, item) of a list, nothing for anything else (the schema check reports a wrong type)."""
    return list(enumerate(value)) if isinstance(value, list) else []


def _iter_paths(manifest: Manifest) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every path the manifest writes, even in a document the schema rejects (strings only)."""

    def mapping(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    for i, nb in _items(manifest.data.get("notebooks")):
        yield ("notebooks", i, "path"), mapping(nb).get("path")
        for j, dep in _items(mapping(nb).get("depends_on")):
            yield ("notebooks", i, "depends_on", j), dep
    for i, ds in _items(manifest.data.get("data")):
        yield ("data", i, "path"), mapping(ds).get("path")
        for j, f in _items(mapping(ds).get("files")):
            yield ("data", i, "files", j, "path"), mapping(f).get("path")


def _path_problems(manifest: Manifest, root: Path) -> list[ManifestProblem]:
    out = []
    for where, rel in _iter_paths(manifest):
        if not isinstance(rel, str) or not rel:
            continue  # missing or not a string: a schema problem, reported as such
        try:
            safe_relpath(root, rel)
        except ValueError as exc:
            out.append(
                ManifestProblem(
                    manifest.line_of(*where) or 1,
                    _dotted(where),
                    str(exc),
                    "use a path relative to the repository root, inside the repository, with no symbolic links",
                )
            )
    return out


class OrderProblemKind(enum.Enum):
    """What is wrong with the run order a manifest's ``notebooks`` list asks for."""

    LISTED_TWICE = "listed-twice"
    MISSING = "missing"  #: the notebook is not in the repository
    UNKNOWN_DEPENDENCY = "unknown-dependency"  #: depends_on names a notebook not in the list
    SELF_DEPENDENCY = "self-dependency"
    CYCLE = "cycle"


@dataclass(frozen=True)
class OrderProblem:
    kind: OrderProblemKind
    index: int  #: position of the notebook in ``notebooks:`` (the first of a cycle)
    path: str
    dependency: str | None = None
    dependency_index: int | None = None  #: position in its ``depends_on``
    cycle: tuple[str, ...] = ()


def run_order_problems(specs: Sequence[NotebookSpec], exists: Callable[[str], bool]) -> list[OrderProblem]:
    """Every reason the run order of ``specs`` cannot be followed: the one set of rules, reported by
    validate (MAN003–MAN005) and refused by the run plan. ``exists(path)``: the notebook is in the repository."""
    listed = [nb.path for nb in specs]
    out: list[OrderProblem] = []
    seen: set[str] = set()
    for i, nb in enumerate(specs):
        if nb.path in seen:
            out.append(OrderProblem(OrderProblemKind.LISTED_TWICE, i, nb.path))
        seen.add(nb.path)
        if not exists(nb.path):
            out.append(OrderProblem(OrderProblemKind.MISSING, i, nb.path))
        for j, dep in enumerate(nb.depends_on):
            if dep not in listed:
                out.append(OrderProblem(OrderProblemKind.UNKNOWN_DEPENDENCY, i, nb.path, dep, j))
            elif dep == nb.path:
                out.append(OrderProblem(OrderProblemKind.SELF_DEPENDENCY, i, nb.path, dep, j))
    cycle = find_cycle({nb.path: [d for d in nb.depends_on if d in listed and d != nb.path] for nb in specs})
    if cycle:
        out.append(OrderProblem(OrderProblemKind.CYCLE, listed.index(cycle[0]), cycle[0], cycle=tuple(cycle)))
    return out


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One cycle of ``graph`` (notebook → notebooks it depends on), in order, or ``None``.

    Shared by the MAN checks and anything that orders notebook runs.
    """
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None
