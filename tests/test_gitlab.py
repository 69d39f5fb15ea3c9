"""The GitLab CI template (ci/gitlab/paperpack.gitlab-ci.yml): its job's script run in bash as a shell runner
would (tests/actionharness.py), on copies of the sample paper with the local engine.

report.junit.xml and codequality.json are written by the publish writers of issue 13: the checks of those
files pass once they are merged.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from actionharness import GitlabJob, load_yaml, run_gitlab_job
from conftest import ROOT, SAMPLE
from test_action import change_output, runner_env

TEMPLATE = ROOT / "ci" / "gitlab" / "paperpack.gitlab-ci.yml"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("paperpack-out"))
    return dest


def job(project: Path, **variables: str) -> GitlabJob:
    given = {"PAPERPACK_ENGINE": "local", "PAPERPACK_VERSION": "installed", **variables}
    return run_gitlab_job(TEMPLATE, "paperpack", project_dir=project, variables=given, env=runner_env())


def test_the_template_has_a_hidden_job_a_default_job_and_the_report_artifacts() -> None:
    from paperpack.ci.settings import VARIABLES

    config = load_yaml(TEMPLATE)
    hidden = config[".paperpack"]
    assert config["paperpack"]["extends"] == ".paperpack"
    assert set(VARIABLES.values()) | {"PAPERPACK_VERSION"} == set(hidden["variables"])
    artifacts = hidden["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["paths"] == ["$PAPERPACK_REPORT_DIR/"]
    assert artifacts["reports"] == {
        "junit": "$PAPERPACK_REPORT_DIR/report.junit.xml",
        "codequality": "$PAPERPACK_REPORT_DIR/codequality.json",
    }
    assert not [top for top in config if not top.startswith(".") and top != "paperpack"]  # nothing global


@pytest.mark.slow
def test_the_job_verifies_the_sample_paper_and_leaves_the_reports_gitlab_reads(project: Path) -> None:
    done = job(project)
    assert done.exit_code == 0, done.log
    assert "paperpack: reproduced 3/3" in done.log
    report_dir = project / "paperpack-out"
    assert done.artifacts["paths"] == ["paperpack-out/"]
    assert (report_dir / "report.json").is_file()
    for kind, path in done.artifacts["reports"].items():  # after the publish writers are merged
        assert (project / path).is_file(), (kind, done.log)


@pytest.mark.slow
def test_a_paper_that_differs_fails_the_job_and_still_leaves_its_report(project: Path) -> None:
    change_output(project / "01-data.ipynb", "wing switches: 17", "wing switches: 18")
    done = job(project, PAPERPACK_REPORT_DIR="reports")
    assert done.exit_code == 1, done.log
    assert "fail-on differs: partially reproduced" in done.log
    assert (project / "reports" / "report.json").is_file()
    assert done.artifacts["reports"]["junit"] == "reports/report.junit.xml"
    assert job(project, PAPERPACK_FAIL_ON="failed", PAPERPACK_REPORT_DIR="reports").exit_code == 0


def test_a_bad_variable_is_named_and_exits_2(project: Path) -> None:
    done = job(project, PAPERPACK_FAIL_ON="sometimes")
    assert done.exit_code == 2
    assert "error: input fail-on (PAPERPACK_FAIL_ON): 'sometimes' is not one of" in done.log


def test_a_variable_with_shell_code_is_never_run(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f'"; touch {marker}; "'
    assert job(project, PAPERPACK_VERSION=payload).exit_code != 0
    assert job(project, PAPERPACK_PATH=payload, PAPERPACK_PARAMETERS=f"n={payload}").exit_code == 1
    assert not marker.exists()
