"""The dependency family (DEP): one generated test per tests/cases/dep-* folder, plus the import map."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from nbcases import folders, run_case
from paperpack.notebook.importmap import IMAGE_PROVIDED, MODULE_TO_DISTS, distributions_for, normalise, requires_closure

CASE_FOLDERS = folders("dep-")


def test_there_are_cases() -> None:
    assert len(CASE_FOLDERS) >= 4


@pytest.mark.parametrize("name", CASE_FOLDERS)
def test_case(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_case(name, tmp_path, capsys)


def test_missing_dependency_names_the_cell_and_the_line_to_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    got = run_case("dep-imports", tmp_path, capsys)
    sklearn = next(f for f in got if f["rule"] == "DEP001" and "sklearn" in f["message"])
    assert sklearn["path"] == "analysis.ipynb" and sklearn["cell"] == 1
    assert sklearn["message"].startswith("line 1: `import sklearn` needs scikit-learn")
    assert "`scikit-learn==" in sklearn["fix"] and "requirements.txt" in sklearn["fix"]
    assert sklearn["detail"]["cell_line"] == 1
    helper = next(f for f in got if f["path"] == "helpers.py" and f["rule"] == "DEP001")
    assert helper["line"] == 1 and "scipy" in helper["fix"]
    transitive = next(f for f in got if f["rule"] == "DEP002" and f["path"] == "analysis.ipynb")
    assert "seaborn" in transitive["message"] and transitive["severity"] == "warning"


def test_environment_yml_is_the_file_to_edit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    got = run_case("dep-environment-yml", tmp_path, capsys)
    assert ["environment.yml" in f["fix"] for f in got] == [True]


@pytest.mark.parametrize(
    "module,dists",
    [
        ("sklearn", ("scikit-learn",)),
        (
            "cv2",
            (
                "opencv-python",
                "opencv-python-headless",
                "opencv-contrib-python",
                "opencv-contrib-python-headless",
                "opencv",
                "py-opencv",
            ),
        ),
        ("PIL", ("pillow",)),
        ("yaml", ("pyyaml",)),
        ("bs4", ("beautifulsoup4",)),
        ("skimage", ("scikit-image",)),
        ("Bio", ("biopython",)),
        ("dateutil", ("python-dateutil",)),
        ("Some_Thing", ("some-thing",)),
        ("numpy", ("numpy",)),
    ],
)
def test_distributions_for(module: str, dists: tuple[str, ...]) -> None:
    assert distributions_for(module) == dists


def test_import_map_is_consistent() -> None:
    assert len(MODULE_TO_DISTS) >= 100
    for module, dists in MODULE_TO_DISTS.items():
        assert dists and all(normalise(d) == d for d in dists), module  # written normalised
    assert not IMAGE_PROVIDED & set(sys.stdlib_module_names) - {"_distutils_hack"}
    assert "ipywidgets" not in IMAGE_PROVIDED  # declared like any other package (offline images lack it)
    assert requires_closure({"seaborn"})["matplotlib"] == "seaborn"
    assert "numpy" in requires_closure({"seaborn"}) and "seaborn" not in requires_closure({"seaborn"})
    assert requires_closure({"pandas", "numpy"}).get("numpy") is None


def test_report_is_valid_json_with_details(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    got = run_case("dep-imports", tmp_path, capsys)
    assert json.loads(json.dumps(got)) == got
    assert all(f["detail"]["distribution"] for f in got if f["rule"] in ("DEP001", "DEP002"))


def test_a_clean_result_says_what_was_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from shutil import copytree

    from conftest import CASES
    from paperpack.cli.main import main
    from paperpack.util.schemas import validator_for

    repo = tmp_path / "repo"
    copytree(CASES / "dep-postbuild-pip", repo)
    main(["validate", str(repo), "--offline", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    validator_for("report").validate(report)
    checked = report["checked"]
    assert checked["notebooks"] == ["analysis.ipynb"] and checked["dois"] == []
    assert checked["environment_files"] == ["requirements.txt", "postBuild", "requirements-plots.txt"]
    assert checked["dependency_closure"] == "offline"
    main(["validate", str(repo), "--offline", "--color", "never"])
    text = capsys.readouterr().out
    assert (
        "checked: 1 notebook (analysis.ipynb); environment files: requirements.txt, postBuild, "
        "requirements-plots.txt; 0 DOIs; dependency closure: offline"
    ) in text


def test_a_conda_metapackage_names_the_translation_not_the_author(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    got = run_case("dep-conda-metapackage", tmp_path, capsys)
    (finding,) = got
    assert "conda-forge's 'dask' brings it" in finding["message"] and "PyPI's 'dask'" in finding["message"]
    assert "`distributed`" in finding["fix"] and "mode: binder" in finding["fix"]


def test_in_binder_mode_a_conda_metapackage_brings_what_it_brings(tmp_path: Path) -> None:
    from shutil import copytree

    from conftest import CASES
    from paperpack.checks import CheckContext
    from paperpack.checks.dependencies import check
    from paperpack.repository.repo import Repo

    repo = tmp_path / "repo"
    copytree(CASES / "dep-conda-metapackage", repo)
    (repo / "expected.json").unlink()
    (repo / "paperpack.yml").write_text("version: 1\nenvironment:\n  mode: binder\n")
    rules = [
        f.rule for f in check(Repo.open(repo), CheckContext(offline=True, options={"resolve_dependencies": False}))
    ]
    assert rules == ["DEP002"], "conda installs the metapackage with what it brings: a transitive import"
