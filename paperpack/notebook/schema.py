"""nbformat's own JSON schemas: a fast yes/no per notebook, and short messages for the ones that fail.

Schema conformance uses the schema nbformat ships for the notebook's minor version
(``nbformat/v4/nbformat.v4.<minor>.schema.json``), compiled once per process with
jsonschema-rs or fastjsonschema; only a notebook that fails is re-checked with jsonschema
to turn the errors into short messages with the cell index.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

__all__ = [
    "LATEST_V4_MINOR",
    "MAX_SCHEMA_ISSUES",
    "SchemaIssue",
    "conforms",
    "detailed_issues",
    "schema_version",
    "short_repr",
]

#: At most this many schema messages per notebook (the first ones, in document order).
MAX_SCHEMA_ISSUES = 5
#: The newest nbformat 4 minor version whose schema nbformat ships.
LATEST_V4_MINOR = 5


@dataclass(frozen=True)
class SchemaIssue:
    """One place where a notebook does not follow its nbformat schema."""

    message: str  # short, starts with the path inside the document
    where: str  # e.g. "cells[3].outputs[0]"
    cell: int | None = None


_schemas: dict[str, dict[str, Any]] = {}
_fast: dict[str, Callable[[Any], bool]] = {}


def _schema(version: str) -> dict[str, Any]:
    """nbformat's own schema file for ``version`` ("3" or "4.<minor>")."""
    if version not in _schemas:
        major = version.split(".")[0]
        name = f"nbformat.v{version}.schema.json"
        # The package's folder without importing nbformat (find_spec runs no code): `import nbformat`
        # costs more than validating a small repository (python -X importtime).
        spec = find_spec("nbformat")
        folder = Path(list(spec.submodule_search_locations or [])[0]) if spec else None
        if folder is None:
            raise FileNotFoundError("nbformat is not installed: paperpack needs its notebook schemas")
        text = (folder / f"v{major}" / name).read_text(encoding="utf-8")
        _schemas[version] = json.loads(text)
    return _schemas[version]


def _fast_validator(version: str) -> Callable[[Any], bool]:
    """``is_valid(doc)`` for the schema, compiled once per process.

    jsonschema-rs (compiled Rust, ~40x faster here) when installed, else fastjsonschema
    (what nbformat itself can use). Both implement draft 4, which nbformat's schemas use.
    """
    if version not in _fast:
        try:
            import jsonschema_rs
        except ImportError:
            jsonschema_rs = None  # type: ignore[assignment]
        if jsonschema_rs is not None:
            _fast[version] = jsonschema_rs.Draft4Validator(_schema(version)).is_valid
        else:
            import fastjsonschema

            compiled = fastjsonschema.compile(_schema(version), use_default=False)

            def is_valid(doc: Any) -> bool:
                try:
                    compiled(doc)
                except fastjsonschema.JsonSchemaException:
                    return False
                return True

            _fast[version] = is_valid
    return _fast[version]


def schema_version(major: int, minor: Any) -> str:
    if major == 3:
        return "3"
    if isinstance(minor, int) and not isinstance(minor, bool) and 0 <= minor <= LATEST_V4_MINOR:
        return f"4.{minor}"
    return f"4.{LATEST_V4_MINOR}"


def conforms(doc: dict[str, Any], version: str) -> bool:
    return _fast_validator(version)(doc)


def _dotted(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def short_repr(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _explain(error: Any) -> str:
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "type":
        return (
            f"expected {expected if isinstance(expected, str) else ' or '.join(expected)}, "
            f"got {type(value).__name__} {short_repr(value)}"
        )
    if kind == "enum":
        return f"{short_repr(value)} is not one of {', '.join(map(str, expected))}"
    if kind == "pattern":
        return f"{short_repr(value)} does not match {expected}"
    if kind in ("required", "additionalProperties", "minimum", "maximum", "minLength", "maxLength"):
        return str(error.message) if len(str(error.message)) < 160 else str(error.message)[:159] + "…"
    return f"fails '{kind}'" + (f" ({short_repr(value)})" if not isinstance(value, (dict, list)) else "")


def detailed_issues(doc: dict[str, Any], version: str) -> list[SchemaIssue]:
    """Short messages for a notebook known not to conform (slow path, jsonschema)."""
    import jsonschema

    schema = _schema(version)
    definitions = schema.get("definitions", {})
    issues: list[SchemaIssue] = []

    def collect(instance: Any, sub: dict[str, Any], prefix: list[Any]) -> None:
        validator = jsonschema.Draft4Validator(sub)
        for error in sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.path]):
            if len(issues) >= MAX_SCHEMA_ISSUES:
                return
            path = prefix + list(error.path)
            if error.validator == "oneOf" and isinstance(error.instance, dict):
                # like nbformat's better_validation_error: re-check against the branch the object claims
                claimed = error.instance.get("cell_type") or error.instance.get("output_type")
                name = f"{claimed}_cell" if "cell_type" in error.instance else claimed
                if isinstance(name, str) and name in definitions and name not in ("unrecognized_cell",):
                    before = len(issues)
                    collect(error.instance, {"definitions": definitions, "$ref": f"#/definitions/{name}"}, path)
                    if len(issues) > before:
                        continue
                field_name = "cell_type" if "cell_type" in error.instance or "cells" in path else "output_type"
                message = f"{_dotted(path)}: unknown or missing {field_name} {short_repr(claimed)}"
            else:
                message = f"{_dotted(path)}: {_explain(error)}"
            cell = path[1] if len(path) > 1 and path[0] == "cells" and isinstance(path[1], int) else None
            issues.append(SchemaIssue(message=message, where=_dotted(path), cell=cell))

    collect(doc, schema, [])
    if not issues:  # fastjsonschema and jsonschema disagree: say so rather than nothing
        issues.append(SchemaIssue(message="does not follow the nbformat schema", where="(top level)"))
    return issues
