"""``paperpack run --as-of`` end to end with the local engine: the dated rerun and its verdict.

The drift is played by two tiny packages served on 127.0.0.1 (tests/pkgindex.py, with PEP 700
upload times): ``ppk-tabular 2.0.2`` (May 2023) calls ``ppk_numcore.float``, which
``ppk-numcore 1.24.3`` (April 2023) has and ``ppk-numcore 2.4.6`` (2026) removed — the shape of
NumPy's removed aliases. The repository pins ppk-tabular and leaves ppk-numcore unpinned, and its
last commit is dated 2023-06-15. The dated resolution asks the loopback index only; the local
environments get the two packages from a find-links folder and the Jupyter packages from pip's own
configuration (the package index this machine uses, as every local-engine test does).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitdate import commit_all
from paperpack.cli.main import main
from paperpack.repository.repo import Repo
from paperpack.run.results import NotebookRun, RunResult
from paperpack.timemachine import AsOfChoice, AsOfMode
from paperpack.timemachine.pins import MARKER
from paperpack.timemachine.rerun import DatedOutcome, dated_rerun
from pkgindex import PackageIndex
from tests.runhelp import tree_hashes

pytestmark = pytest.mark.slow

OLD = "float = float\n"
TABULAR = "import ppk_numcore\n\n\ndef mean(xs):\n    return ppk_numcore.float(sum(xs)) / len(xs)\n"


@pytest.fixture
def drifting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    index = PackageIndex()
    index.add("ppk-tabular", "2.0.2", requires=["ppk-numcore>=1.20"], uploaded="2023-05-29T10:00:00Z", code=TABULAR)
    index.add("ppk-numcore", "1.24.3", uploaded="2023-04-22T10:00:00Z", code=OLD)
    index.add("ppk-numcore", "2.4.6", uploaded="2026-02-01T10:00:00Z", code="VALUE = 2\n")
    with index:
        monkeypatch.setenv("PAPERPACK_PIP_INDEX_URL", index.url)  # the dated (and today's) resolution
        # the local environments: these wheels from a folder; the rest as pip is configured here
        monkeypatch.setenv("PIP_FIND_LINKS", str(index.write_wheels(tmp_path / "wheels")))
        yield index


def _run(repo: Path, out: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["run", str(repo), "--engine", "local", "-o", str(out), "--format", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_drift_is_reproduced_as_of_the_commit_date_and_lock_writes_the_pins(
    drifting: PackageIndex, copy_case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = copy_case("timemachine-drift")
    commit_all(repo, "2023-06-15")
    before = tree_hashes(repo)
    code, run = _run(repo, tmp_path / "out", capsys=capsys)
    assert code == 1, "the declared environment's verdict stays the primary one"
    assert [nb["verdict"] for nb in run["notebooks"]] == ["failed"]
    assert "no attribute 'float'" in run["notebooks"][0]["message"]
    dated = run["dated"]
    assert dated["outcome"] == "reproduced" and dated["paper_class"] == "reproduced with dated dependencies"
    assert dated["as_of"]["date"] == "2023-06-15" and dated["as_of"]["source"] == "git"
    assert dated["drift"]["analysis.ipynb"]["kind"] == "package-api"
    assert dated["drift"]["analysis.ipynb"]["package"] == "ppk_tabular"
    assert dated["changes"] == [{"name": "ppk-numcore", "declared": "", "today": "2.4.6", "dated": "1.24.3"}]
    assert dated["verdict"] == (
        "not reproduced as declared; reproduced with dependencies as of 2023-06-15 (ppk-numcore 2.4.6 → 1.24.3)"
    )
    assert dated["fix"] == "paperpack lock PATH --as-of 2023-06-15 --write"
    assert [nb["verdict"] for nb in dated["run"]["notebooks"]] == ["same"]
    assert (tmp_path / "out" / "as-of-2023-06-15" / "executed" / "analysis.ipynb").is_file()
    assert json.loads((tmp_path / "out" / "report.json").read_text())["run"]["dated"]["outcome"] == "reproduced"
    assert tree_hashes(repo) == before, "the run never changes the repository"

    assert main(["lock", str(repo), "--write"]) == 0  # the date found the same way: the last commit
    assert "ppk-numcore 2.4.6 → 1.24.3" in capsys.readouterr().out
    locked = (repo / "requirements.txt").read_text()
    assert locked == "ppk-tabular==2.0.2  # the version of the paper\nppk-numcore==1.24.3\n"
    assert MARKER not in locked  # nothing pulled in beyond the two declared
    code, run = _run(repo, tmp_path / "out-locked", "--as-of", "off", capsys=capsys)
    assert code == 0 and [nb["verdict"] for nb in run["notebooks"]] == ["same"] and run["dated"] is None


def test_a_bug_is_not_rescued_by_the_date(
    drifting: PackageIndex, copy_case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = copy_case("timemachine-bug")  # drifted too, and divides by zero with any dependencies
    commit_all(repo, "2023-06-15")
    code, run = _run(repo, tmp_path / "out", capsys=capsys)
    assert code == 1
    dated = run["dated"]
    assert dated["outcome"] == "not-reproduced" and dated["paper_class"] is None and dated["fix"] is None
    assert "ZeroDivisionError" in dated["run"]["notebooks"][0]["message"]
    assert dated["verdict"].startswith("not reproduced as declared, nor with dependencies as of 2023-06-15")


def test_a_date_without_releases_is_stated(
    drifting: PackageIndex, copy_case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = copy_case("timemachine-drift")
    code, run = _run(repo, tmp_path / "out", "--as-of", "2020-01-01", capsys=capsys)
    assert code == 1
    dated = run["dated"]
    assert dated["outcome"] == "unresolvable" and dated["as_of"]["source"] == "given"
    assert dated["reason"] == (
        "no release of ppk-numcore with a wheel for Python "
        f"{dated['python']} had been uploaded to the package index by 2020-01-01"
    )
    assert dated["run"] is None


def test_no_dated_rerun_for_failures_that_are_not_drift(tmp_path: Path) -> None:
    result = RunResult(engine="local", isolation="", image=None, out_dir=tmp_path, jobs=1, limits={})
    result.notebooks.append(
        NotebookRun(
            "a.ipynb",
            status="error",
            verdict="failed",
            error={
                "ename": "ZeroDivisionError",
                "evalue": "division by zero",
                "traceback": ["Cell In[1], line 1\n  1/0"],
            },
        )
    )
    repo = Repo.open(tmp_path, manifest=False)
    dated = dated_rerun(repo, result, AsOfChoice(AsOfMode.AUTO))
    assert dated is not None and dated.outcome is DatedOutcome.NOT_TRIED
    assert dated.verdict() == (
        "not reproduced as declared; not retried with dated dependencies: no failure looks like dependency drift"
    )
    assert dated_rerun(repo, result, AsOfChoice(AsOfMode.OFF)) is None
    result.notebooks[0] = NotebookRun("a.ipynb", status="ok", verdict="same")
    assert dated_rerun(repo, result, AsOfChoice(AsOfMode.AUTO)) is None


def test_the_text_output_says_the_dated_verdict(
    drifting: PackageIndex, copy_case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = copy_case("timemachine-drift")
    assert (
        main(["run", str(repo), "--engine", "local", "-o", str(tmp_path / "out"), "-q", "--as-of", "2020-01-01"]) == 1
    )
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "not reproduced as declared; the dependencies cannot be resolved as of 2020-01-01: no release of "
        "ppk-numcore with a wheel for Python"
    ) in out


def test_a_dated_environment_that_cannot_be_built_leaves_the_declared_verdict(
    copy_case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    index = PackageIndex()
    index.add("ppk-tabular", "2.0.2", requires=["ppk-numcore>=1.20"], uploaded="2023-05-29T10:00:00Z", code=TABULAR)
    index.add("ppk-numcore", "2.4.6", uploaded="2026-02-01T10:00:00Z", code="VALUE = 2\n")
    wheels = index.write_wheels(tmp_path / "wheels")  # ppk-numcore 1.24.3 is on the index, not in the folder
    index.add("ppk-numcore", "1.24.3", uploaded="2023-04-22T10:00:00Z", code=OLD)
    repo = copy_case("timemachine-drift")
    with (repo / "requirements.txt").open("a") as fh:
        fh.write("# an environment of its own\n")  # not the one other tests cache
    with index:
        monkeypatch.setenv("PAPERPACK_PIP_INDEX_URL", index.url)
        monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
        code, run = _run(repo, tmp_path / "out", "--as-of", "2023-06-15", capsys=capsys)
    assert code == 1 and [nb["verdict"] for nb in run["notebooks"]] == ["failed"]
    dated = run["dated"]
    assert dated["outcome"] == "not-tried" and dated["run"] is None
    assert dated["reason"].startswith(
        "the environment with the dated pins could not be built: could not build the local environment"
    ), dated["reason"]
    assert dated["changes"] == [{"name": "ppk-numcore", "declared": "", "today": "2.4.6", "dated": "1.24.3"}]
