"""`paperpack validate` imports only what validating needs (whole-process speed, benchmarks/bench_validate.py).

Guarded without timings: a real process validates a one-notebook repository with stdout
not on a terminal, then says which heavy modules it had loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

#: each of these costs tens of milliseconds or more to import, and validate --offline needs none of them
HEAVY = (
    "requests",
    "urllib3",
    "jsonschema",
    "rich",
    "rich.console",
    "docker",
    "nbclient",
    "nbformat",
    "distributed",
    "numpy",
    "repo2docker",
    "ruamel.yaml",
    "paperpack.image.builder",
    "paperpack.run.runner",
)

PROBE = """
import contextlib, io, json, sys
from paperpack.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "loaded": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)


def _loaded(*argv: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["code"], result["loaded"]


def _one_notebook(root: Path) -> Path:
    root.mkdir()
    cell = {
        "cell_type": "code",
        "id": "c1",
        "execution_count": 1,
        "metadata": {},
        "outputs": [],
        "source": "import numpy as np\nprint(np.pi)",
    }
    (root / "analysis.ipynb").write_text(
        json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 5,
                "cells": [cell],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            }
        )
    )
    (root / "requirements.txt").write_text("numpy==1.26.4\n")
    (root / "runtime.txt").write_text("python-3.11\n")
    return root


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_validate_offline_loads_no_heavy_module(tmp_path: Path, fmt: str) -> None:
    code, loaded = _loaded("validate", str(_one_notebook(tmp_path / "paper")), "--offline", "--format", fmt)
    assert code == 0
    assert loaded == [], f"paperpack validate --offline imported {loaded}"


def test_a_valid_manifest_needs_no_jsonschema(tmp_path: Path) -> None:
    repo = _one_notebook(tmp_path / "paper")
    (repo / "paperpack.yml").write_text("version: 1\ntitle: A paper\nrun:\n  timeout: 600\n")
    code, loaded = _loaded("validate", str(repo), "--offline")
    assert code == 0 and "jsonschema" not in loaded and "requests" not in loaded, loaded


def test_rules_and_help_of_one_command_load_no_heavy_module() -> None:
    assert _loaded("rules")[1] == []
    assert _loaded("validate", "--help")[1] == []
