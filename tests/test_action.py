"""The GitHub Action (action.yml), run step by step as the runner would (tests/actionharness.py).

Most runs use the local engine and `paperpack-version: installed` (this test environment's paperpack)
for speed; test_action_docker.py runs the docker engine with the action's own installation step.
The report files other than report.json (JUnit, SARIF, HTML, badge.json, summary.md) are written by
the publish writers of issue 13: the checks of those files pass once they are merged.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from actionharness import ActionRun, HarnessError, load_yaml, read_annotations, run_action
from conftest import ROOT, SAMPLE

ISSUE_INPUTS = {
    "path",
    "mode",
    "engine",
    "timeout",
    "cell-timeout",
    "parameters",
    "fail-on",
    "report-dir",
    "image-name",
    "push",
    "binder-hub",
    "python-version",
    "paperpack-version",
}
ISSUE_OUTPUTS = {
    "verdict",
    "same",
    "differs",
    "failed",
    "report-json",
    "junit",
    "sarif",
    "html",
    "image",
    "image-digest",
    "badge-json",
}
#: the report files the action points at, by output
FILES = {
    "report-json": "report.json",
    "junit": "report.junit.xml",
    "sarif": "report.sarif",
    "html": "report.html",
    "badge-json": "badge.json",
    "summary": "summary.md",
}
SHA = re.compile(r"^[0-9a-f]{40}$")


def runner_env(**extra: str) -> dict[str, str]:
    """The runner's environment: this test environment's python3 first on PATH, an 80-column log."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', os.defpath)}"
    env["COLUMNS"] = "80"
    env.update(extra)
    return env


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace holding a copy of the sample paper in paper/."""
    ws = tmp_path / "workspace"
    shutil.copytree(SAMPLE, ws / "paper", ignore=shutil.ignore_patterns("paperpack-out"))
    return ws


def act(workspace: Path, **inputs: str) -> ActionRun:
    given = {"path": "paper", "engine": "local", "paperpack-version": "installed", **inputs}
    return run_action(
        ROOT, inputs=given, workspace=workspace, runner_temp=workspace.parent / "runner", env=runner_env()
    )


def change_output(notebook: Path, old: str, new: str) -> None:
    """Change a committed output of ``notebook`` (the result a reader would compare against)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            text = output.get("text")
            if text and any(old in line for line in text):
                output["text"] = [line.replace(old, new) for line in text]
                notebook.write_text(json.dumps(nb, indent=1), encoding="utf-8")
                return
    raise AssertionError(f"{old!r} is not an output of {notebook}")


# --- action.yml itself --------------------------------------------------------------------------------


def test_action_declares_the_inputs_and_outputs_and_is_composite() -> None:
    action = load_yaml(ROOT / "action.yml")
    assert action["runs"]["using"] == "composite"
    assert ISSUE_INPUTS <= set(action["inputs"])
    assert ISSUE_OUTPUTS <= set(action["outputs"])
    assert action["inputs"]["paperpack-version"]["default"] == ""  # empty: the action's own checkout
    assert "PAPERPACK_ACTION_PATH" in action["runs"]["steps"][1]["env"]


def test_no_input_or_expression_is_written_into_shell_code() -> None:
    """Inputs reach scripts through env: only (an expression in run: is text the shell would execute)."""
    for step in load_yaml(ROOT / "action.yml")["runs"]["steps"]:
        assert "${{" not in str(step.get("run", "")), step.get("name")


def test_every_action_used_is_pinned_by_full_commit() -> None:
    used = [step["uses"] for step in load_yaml(ROOT / "action.yml")["runs"]["steps"] if "uses" in step]
    assert {u.split("@")[0] for u in used} == {"actions/setup-python", "actions/upload-artifact"}
    for uses in used:
        assert SHA.match(uses.split("@")[1]), uses


def test_the_verify_step_passes_every_setting_the_module_reads() -> None:
    from paperpack.ci.settings import VARIABLES

    steps = {step.get("id"): step for step in load_yaml(ROOT / "action.yml")["runs"]["steps"]}
    passed = set(steps["verify"]["env"]) | set(steps["binder"]["env"])
    assert set(VARIABLES.values()) <= passed
    for name, variable in VARIABLES.items():
        for step in (steps["verify"], steps["binder"]):
            if variable in step["env"]:
                assert step["env"][variable] == f"${{{{ inputs.{name} }}}}"


# --- runs ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_reproduced_paper_passes_with_outputs_summary_and_artifact(workspace: Path) -> None:
    run = act(workspace, timeout="600", **{"cell-timeout": "120"})
    assert run.exit_code == 0 and not run.failed, run.log
    out = run.outputs
    assert (out["verdict"], out["label"], out["same"], out["differs"], out["failed"]) == (
        "reproduced",
        "reproduced 3/3",
        "3",
        "0",
        "0",
    )
    report_dir = Path(out["report-dir"])
    assert report_dir == (workspace / "paperpack-out").resolve()
    report = json.loads(Path(out["report-json"]).read_text())
    assert report["paper"]["class"] == "reproduced"
    assert report["run"]["limits"]["timeout"] == 600 and report["run"]["limits"]["cell_timeout"] == 120
    assert out["image"] == "" and out["image-digest"] == ""  # the local engine builds no image
    # every report file of issue 13 (after the publish writers are merged)
    for key, name in FILES.items():
        assert out[key] == str(report_dir / name), (key, out[key])
        assert Path(out[key]).is_file(), key
    summary_md = Path(out["summary"]).read_text(encoding="utf-8")
    assert summary_md.strip() and summary_md.rstrip() in run.summary
    assert "reproduced" in run.summary
    upload = run.uses("actions/upload-artifact")
    assert upload.with_ == {"name": "paperpack-report", "path": out["report-dir"], "if-no-files-found": "warn"}
    assert run.step("binder").outcome == "skipped"  # no binder-hub given
    assert not [a for a in run.annotations if a.level == "error"]


@pytest.mark.slow
@pytest.mark.parametrize("fail_on, status", [("differs", 1), ("failed", 0)])
def test_a_changed_committed_output_differs_and_fails_per_fail_on(workspace: Path, fail_on: str, status: int) -> None:
    change_output(workspace / "paper" / "01-data.ipynb", "wing switches: 17", "wing switches: 18")
    run = act(workspace, **{"fail-on": fail_on, "parameters": "# the default size\nn_rows=400\n"})
    assert run.exit_code == status, run.log
    out = run.outputs
    assert (out["verdict"], out["same"], out["differs"], out["failed"]) == ("partially-reproduced", "2", "1", "0")
    report = json.loads(Path(out["report-json"]).read_text())
    assert {nb["path"]: nb["parameters"] for nb in report["run"]["notebooks"]}["01-data.ipynb"] == {"n_rows": 400}
    errors = [a for a in run.annotations if a.level == "error"]
    assert any(a.properties.get("file") == "paper/01-data.ipynb" and "differs" in a.message for a in errors)
    assert "partially reproduced" in run.summary
    upload = run.uses("actions/upload-artifact")  # uploaded whatever the verdict
    assert upload.with_["path"] == out["report-dir"]
    if status:
        assert run.step("verify").outcome == "failure"
        assert errors[0].message.startswith("fail-on differs: partially reproduced")  # first, never over the limit


@pytest.mark.slow
def test_text_from_a_notebook_cannot_make_workflow_commands(workspace: Path) -> None:
    """A failing cell's message, wrapped by the log, puts '::error file=planted.py::' at a line start:
    the runner must not read it (workflow commands are stopped while paperpack runs)."""
    notebook = workspace / "paper" / "01-data.ipynb"
    nb = json.loads(notebook.read_text())
    nb["cells"][8]["source"] = ['raise RuntimeError("boom" + " " * 100 + "::error file=planted.py::planted")\n']
    notebook.write_text(json.dumps(nb, indent=1))
    run = act(workspace, **{"fail-on": "failed"})
    assert run.exit_code == 1
    assert run.outputs["failed"] == "1"
    planted = [line for line in run.log.splitlines() if line.strip().startswith("::error file=planted.py::")]
    assert planted, "the planted command no longer reaches a line start: this test proves nothing"
    assert read_annotations("\n".join(planted)), "the harness would read it without stop-commands"
    assert not [a for a in run.annotations if a.properties.get("file") == "planted.py" or a.message == "planted"]
    assert any(a.properties.get("file") == "paper/01-data.ipynb" and "failed" in a.message for a in run.annotations)


@pytest.mark.slow
def test_a_stale_report_in_the_output_folder_is_never_taken_for_this_run(workspace: Path) -> None:
    """A repository may commit paperpack-out/report.json saying "reproduced"; when paperpack stops before
    writing its own (here: an invalid paperpack.yml), the verdict is not-run, never the stale one."""
    first = act(workspace, **{"report-dir": "paper/paperpack-out"})
    assert first.outputs["verdict"] == "reproduced"
    manifest = workspace / "paper" / "paperpack.yml"
    manifest.write_text(manifest.read_text() + "\nnot_a_key: [\n")
    run = act(workspace, **{"report-dir": "paper/paperpack-out"})
    assert (workspace / "paper" / "paperpack-out" / "report.json").is_file()
    assert run.exit_code == 1
    assert (run.outputs["verdict"], run.outputs["report-json"], run.outputs["same"]) == ("not-run", "", "0")
    assert "stopped before writing a report" in run.summary


def test_an_input_with_shell_code_is_never_run(workspace: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f'"; touch {marker}; "'
    run = act(
        workspace,
        path=payload,
        **{
            "report-dir": payload,
            "image-name": payload,
            "parameters": f"n={payload}",
            "binder-hub": payload,
            "artifact-name": payload,
        },
    )
    assert not marker.exists(), run.log
    assert run.step("verify").ran and run.exit_code == 1
    assert run.outputs["verdict"] == "not-run"
    install = act(workspace, **{"paperpack-version": payload, "python-version": payload})
    assert install.step("install").outcome == "failure"
    assert not marker.exists()


def test_the_harness_does_run_an_input_written_into_a_script(tmp_path: Path) -> None:
    """The check above can fail: an action that writes ${{ inputs.x }} into run: is injected here."""
    action = tmp_path / "vulnerable"
    action.mkdir()
    (action / "action.yml").write_text(
        "name: vulnerable\ninputs:\n  path: {default: .}\nruns:\n  using: composite\n  steps:\n"
        '    - shell: bash\n      run: echo "${{ inputs.path }}"\n'
    )
    marker = tmp_path / "pwned"
    run = run_action(
        action,
        inputs={"path": f'"; touch {marker}; "'},
        workspace=tmp_path,
        runner_temp=tmp_path / "runner",
        env=runner_env(),
    )
    assert marker.exists(), run.log


def test_bad_inputs_fail_with_a_message_naming_the_input(workspace: Path) -> None:
    for name, value in (
        ("fail-on", "sometimes"),
        ("timeout", "soon"),
        ("parameters", "no equals sign"),
        ("engine", "podman"),
        ("push", "maybe"),
    ):
        run = act(workspace, **{name: value})
        assert run.step("verify").outcome == "failure" and run.exit_code == 2, (name, run.log)
        (error,) = [a for a in run.annotations if a.level == "error"]
        assert f"input {name}" in error.message, error
        assert run.step("binder").outcome == "skipped"


def test_env_and_path_files_reach_later_steps(tmp_path: Path) -> None:
    """The harness honours GITHUB_ENV and GITHUB_PATH between steps, as the runner does."""
    action = tmp_path / "files"
    (action / "bin").mkdir(parents=True)
    tool = action / "bin" / "hello-from-path"
    tool.write_text("#!/bin/sh\necho found on PATH\n")
    tool.chmod(0o755)
    (action / "action.yml").write_text(
        "name: files\noutputs:\n  seen: {value: '${{ steps.b.outputs.seen }}'}\nruns:\n  using: composite\n"
        "  steps:\n"
        "    - shell: bash\n      run: |\n        printf 'GREETING<<EOF\\nhello\\nworld\\nEOF\\n' >> \"$GITHUB_ENV\"\n"
        '        echo "$GITHUB_ACTION_PATH/bin" >> "$GITHUB_PATH"\n'
        "    - id: b\n      shell: bash\n"
        '      run: echo "seen=$(hello-from-path) / ${GREETING//$\'\\n\'/ }" >> "$GITHUB_OUTPUT"\n'
    )
    run = run_action(action, inputs={}, workspace=tmp_path, runner_temp=tmp_path / "runner", env=runner_env())
    assert run.outputs == {"seen": "found on PATH / hello world"}, run.log


def test_the_harness_refuses_what_it_does_not_model(tmp_path: Path) -> None:
    action = tmp_path / "unmodelled"
    action.mkdir()
    (action / "action.yml").write_text(
        "name: x\nruns:\n  using: composite\n  steps:\n"
        "    - if: contains(github.ref, 'main')\n      shell: bash\n      run: 'true'\n"
    )
    with pytest.raises(HarnessError, match="contains"):
        run_action(action, inputs={}, workspace=tmp_path, runner_temp=tmp_path / "runner", env=runner_env())
    with pytest.raises(HarnessError, match="does not declare"):
        run_action(
            ROOT, inputs={"no-such-input": "x"}, workspace=tmp_path, runner_temp=tmp_path / "r", env=runner_env()
        )
