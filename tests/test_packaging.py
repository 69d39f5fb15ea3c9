"""The wheel carries the schemas, and the package reads them through importlib.resources."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_wheel_ships_schemas_and_typed_marker(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("paperpack-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in sorted((ROOT / "schemas").glob("*.json")):
        assert f"paperpack/schemas/{schema.name}" in names
    assert "paperpack/py.typed" in names


def test_every_schema_is_a_valid_draft_2020_12_schema() -> None:
    import jsonschema

    from paperpack.util.schemas import load_schema

    for path in sorted((ROOT / "schemas").glob("paperpack.*.v*.json")):
        name, version = path.name[len("paperpack.") : -len(".json")].rsplit(".v", 1)
        schema = load_schema(name, int(version))
        jsonschema.Draft202012Validator.check_schema(schema)
