"""`paperpack build` of the NumPy 1 pandas case for real: the declared image fails, the dated image reproduces.

Both images install from the real PyPI (through this machine's proxy, as in CI): pandas 2.0.2 (May 2023,
built for NumPy 1) with NumPy unpinned. The dated image is a second offline build whose requirements.txt
(or environment.yml) holds the pins as of the commit date; it is content-tagged, so a second build reuses
it. Both images are removed at the end.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from paperpack.util.schemas import validator_for
from tests.conftest import snapshot
from tests.gitdate import commit_all
from tests.pkgindex import PackageIndex
from tests.runhelp import offline_build

pytestmark = pytest.mark.docker


def test_dated_image_reproduces_the_numpy1_case(
    docker: str, copy_case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAPERPACK_PIP_INDEX_URL")  # conftest's closed port: here, pip's configured index (PyPI)
    repo = copy_case("timemachine-numpy1")
    commit_all(repo, "2023-06-15")
    before = snapshot(repo)
    with offline_build(repo, tmp_path) as (code, report):
        assert code == 1, "the declared image's verdict stays the primary one"
        assert list(validator_for("report").iter_errors(report)) == []
        assert [nb["verdict"] for nb in report["run"]["notebooks"]] == ["failed"]
        failed = report["run"]["notebooks"][0]
        assert failed["error"]["cause"]["id"] == "numpy-abi", failed["message"]  # why it failed
        dated = report["run"]["dated"]
        assert dated["outcome"] == "reproduced", dated
        assert dated["run"]["engine"] == "docker" and dated["run"]["image"] != report["build"]["image"]
        assert [nb["verdict"] for nb in dated["run"]["notebooks"]] == ["same"]
        same = dated["run"]["notebooks"][0]
        assert re.match(r"\d+ cells? with the same results", same["message"]), same  # why it is the same
        numpy = next(c for c in dated["changes"] if c["name"] == "numpy")
        assert numpy["dated"].startswith("1.") and dated["python"] == "3.11"
        assert snapshot(repo) == before, "the repository must not change"


FIXES = {
    "timemachine-envyml": "paperpack lock PATH --as-of 2023-06-15 --write (the pip section); pin the conda entries "
    "of environment.yml: numpy=1.24.3",
    "timemachine-package": "paperpack lock PATH --as-of 2023-06-15 (it prints the pins to commit as requirements.txt)",
}

#: why the declared image fails: NumPy 2 under a pandas built for NumPy 1, which for environment.yml is
#: paperpack's translation to PyPI packages (conda's solver would have kept numpy<2)
CAUSES = {"timemachine-envyml": "environment-translation", "timemachine-package": "numpy-abi"}


@pytest.mark.parametrize("case", sorted(FIXES))
def test_dated_image_reproduces_what_the_offline_build_installs(
    case: str, docker: str, copy_case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tests/cases/timemachine-envyml: conda's ``numpy`` unpinned, ``pandas==2.0.2`` in the pip section;
    tests/cases/timemachine-package: a setup.py whose ``install_requires`` are the same two.

    The dated resolution asks only a package index on 127.0.0.1 (tests/pkgindex.py) serving pandas and
    NumPy under their real names and versions with their PyPI upload times, in tiny wheels: it pins NumPy
    to 1.24.3 (April 2023) where today's answer is 2.3.5. The images' pip installs the real wheels of those
    versions from PyPI; the dated one from a scratch copy whose environment.yml holds the pins (or which
    gets a requirements.txt of them, installed before the package)."""
    index = PackageIndex()
    index.add("pandas", "2.0.2", requires=["numpy>=1.23.2"], uploaded="2023-05-29T10:00:00Z")
    index.add("numpy", "1.24.3", uploaded="2023-04-22T10:00:00Z")
    index.add("numpy", "2.3.5", uploaded="2025-11-16T10:00:00Z")
    repo = copy_case(case)
    commit_all(repo, "2023-06-15")
    before = snapshot(repo)
    with index:
        monkeypatch.setenv("PAPERPACK_PIP_INDEX_URL", index.url)
        with offline_build(repo, tmp_path) as (code, report):
            assert code == 1, "the declared image's verdict stays the primary one"
            assert list(validator_for("report").iter_errors(report)) == []
            assert [nb["verdict"] for nb in report["run"]["notebooks"]] == ["failed"]
            failed = report["run"]["notebooks"][0]
            assert failed["error"]["cause"]["id"] == CAUSES[case], failed["message"]  # why it failed
            dated = report["run"]["dated"]
            assert dated["drift"]["analysis.ipynb"]["kind"] == "numpy-abi"
            assert dated["outcome"] == "reproduced", dated
            assert dated["as_of"]["date"] == "2023-06-15" and dated["as_of"]["source"] == "git"
            assert dated["changes"] == [{"name": "numpy", "declared": "", "today": "2.3.5", "dated": "1.24.3"}]
            assert dated["run"]["engine"] == "docker" and dated["run"]["image"] != report["build"]["image"]
            assert [nb["verdict"] for nb in dated["run"]["notebooks"]] == ["same"]
            same = dated["run"]["notebooks"][0]
            assert re.match(r"\d+ cells? with the same results", same["message"]), same  # why it is the same
            assert dated["verdict"] == (
                "not reproduced as declared; reproduced with dependencies as of 2023-06-15 (numpy 2.3.5 → 1.24.3)"
            )
            assert dated["fix"] == FIXES[case]
            assert dated["python"] == "3.11"
            versions = subprocess.run(
                [
                    "docker",
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    dated["run"]["image"],
                    "python",
                    "-c",
                    "import numpy, pandas; print(numpy.__version__, pandas.__version__)",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            assert versions[-2:] == ["1.24.3", "2.0.2"], "the dated image holds the dated pins"
            assert snapshot(repo) == before, "the repository must not change"
