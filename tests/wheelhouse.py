"""One folder of wheels of paperpack's dependencies per test session, for tests whose pip installs paperpack.

The Action's install step and pre-commit's hook environment pip-install this checkout, as
they do on a runner, and the local engine pip-installs its runner's packages; each of those
resolved the whole dependency tree against the package index (1.5–2.5 min each here, and the
index is not on loopback). The session resolves it once, with the machine's pip settings
(``pip wheel``, as ``.ci/run``'s own install does), into a folder; the tests' installs then
read only that folder (:func:`pip_from`: ``PIP_NO_INDEX``, ``PIP_FIND_LINKS``). pip still
builds and installs the checkout from its source, as the runner does; paperpack's own wheel
is not kept in the folder, so an install cannot take it from there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

__all__ = ["wheelhouse", "pip_from"]

_MADE: dict[Path, Path] = {}  # the session's temporary folder: its wheelhouse


def wheelhouse(factory: pytest.TempPathFactory) -> Path:
    """The session's folder of wheels (``factory`` is the session's: one folder for every test that asks)."""
    session = factory.getbasetemp()
    if session in _MADE:
        return _MADE[session]
    folder = factory.mktemp("wheelhouse")
    # hatchling: pip builds the checkout in an isolated environment that needs its build backend
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(folder),
            str(ROOT),
            "hatchling",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert proc.returncode == 0, f"pip wheel of paperpack's dependencies failed:\n{proc.stdout}\n{proc.stderr}"
    for own in folder.glob("paperpack-*.whl"):
        own.unlink()
    _MADE[session] = folder
    return folder


def pip_from(folder: Path) -> dict[str, str]:
    """Environment variables that make pip install from ``folder`` only."""
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(folder)}
