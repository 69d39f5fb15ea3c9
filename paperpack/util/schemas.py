"""Versioned JSON Schemas, looked up by name and version and compiled once.

The files live in the top-level ``schemas/`` folder of the source tree and ship inside
the wheel as ``paperpack/schemas`` (hatchling ``force-include``).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema

__all__ = ["load_schema", "validator_for", "schema_path"]

_cache: dict[str, Any] = {}
_validators: dict[str, jsonschema.protocols.Validator] = {}


def _schema_dir() -> Path:
    packaged = resources.files("paperpack") / "schemas"
    if packaged.is_dir():  # installed wheel
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent.parent / "schemas"  # source tree / editable


def schema_path(name: str, version: int = 1) -> Path:
    """Path of ``schemas/paperpack.<name>.v<version>.json``."""
    path = _schema_dir() / f"paperpack.{name}.v{version}.json"
    if not path.is_file():
        raise FileNotFoundError(f"paperpack ships no schema {path.name} (looked in {path.parent})")
    return path


def load_schema(name: str, version: int = 1) -> dict[str, Any]:
    key = f"{name}.v{version}"
    if key not in _cache:
        _cache[key] = json.loads(schema_path(name, version).read_text(encoding="utf-8"))
    return _cache[key]


def validator_for(name: str, version: int = 1) -> jsonschema.protocols.Validator:
    """A compiled validator for the schema, made once per process."""
    import jsonschema  # here, not at start-up: a valid manifest never needs it (python -X importtime)

    key = f"{name}.v{version}"
    if key not in _validators:
        schema = load_schema(name, version)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _validators[key] = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return _validators[key]
