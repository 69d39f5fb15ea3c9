"""The NumPy 1 binary case against the real PyPI (reached through this machine's proxy, as in CI).

tests/cases/timemachine-numpy1 pins pandas 2.0.2 (May 2023, built for NumPy 1) and leaves NumPy
unpinned; its outputs were made then, and the test commits it at 2023-06-15. Today's NumPy 2 cannot
load that pandas ("numpy.dtype size changed"); as of the commit date, NumPy 1.24.3 can. This is the
one test that asks PyPI itself: the resolution (two small dry runs) and two local environments of
about 30 MB each; later runs reuse pip's cache.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitdate import commit_all
from paperpack.cli.main import main

pytestmark = pytest.mark.slow


def test_numpy1_pandas_is_reproduced_as_of_2023(
    copy_case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PAPERPACK_PIP_INDEX_URL")  # conftest's closed port: here, pip's configured index (PyPI)
    repo = copy_case("timemachine-numpy1")
    commit_all(repo, "2023-06-15")
    code = main(["run", str(repo), "--engine", "local", "-o", str(tmp_path / "out"), "--format", "json"])
    run = json.loads(capsys.readouterr().out)
    assert code == 1
    nb = run["notebooks"][0]
    assert nb["verdict"] == "failed" and nb["error"]["cause"]["id"] == "numpy-abi", nb["message"]
    dated = run["dated"]
    assert dated["drift"]["analysis.ipynb"]["kind"] == "numpy-abi"
    assert dated["outcome"] == "reproduced", dated
    numpy = next(c for c in dated["changes"] if c["name"] == "numpy")
    assert numpy["dated"].startswith("1.") and numpy["today"].startswith("2.")
    assert f"numpy {numpy['today']} → {numpy['dated']}" in dated["verdict"]
    assert main(["lock", str(repo), "--write"]) == 0
    assert f"numpy=={numpy['dated']}\n" in (repo / "requirements.txt").read_text()
