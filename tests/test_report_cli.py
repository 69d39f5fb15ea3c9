"""The command line and the reports: the last line and exit status follow the paper verdict, every report
is written by each build and run (also when the data or the build fails), bad output folders stop early."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from junitparser import JUnitXml

from conftest import CASES, CLOSED_LOOPBACK
from paperpack.cli.main import main
from paperpack.cli.run import paper_exit, paper_line
from paperpack.report.publish import WRITERS
from paperpack.util.schemas import validator_for
from paperpack.verify import Result, RunSettings, VerifyOptions
from publishhelp import differs, failed, make_publication, same

REPORTS = ("report.json", "report.junit.xml", "report.sarif", "summary.md", "codequality.json")


def _result(tmp_path: Path, *notebooks, allow_differs: bool = False, run: bool = True) -> Result:  # type: ignore[no-untyped-def]
    pub = make_publication(tmp_path / "repo", list(notebooks), run=run, write=False)
    result = pub.result
    result.options = VerifyOptions(run=RunSettings(allow_differs=allow_differs))
    return result


def test_exit_and_last_line_follow_the_paper_verdict(tmp_path: Path) -> None:
    nb = {"a": same("a.ipynb"), "b": same("b.ipynb"), "c": failed("c.ipynb")}
    partial = _result(tmp_path / "1", nb["a"], nb["b"], nb["c"])
    assert paper_exit(partial) == 1
    assert paper_line(partial) == "paper: partially reproduced 2/3 (code-error)"
    assert paper_exit(_result(tmp_path / "2", same("a.ipynb"))) == 0
    minor = _result(tmp_path / "3", same("a.ipynb"), same("b.ipynb"))
    minor.run.notebooks[1].verdict = "same-with-warnings"  # type: ignore[union-attr]
    assert paper_exit(minor) == 0 and paper_line(minor).startswith("paper: reproduced with minor differences 2/2")
    no_outputs = _result(tmp_path / "4", same("a.ipynb"))
    no_outputs.run.notebooks[0].verdict = "no-outputs"  # type: ignore[union-attr]
    assert paper_line(no_outputs) == "paper: partially reproduced 0/1 (no-committed-outputs)"  # not "reproduced"
    assert paper_exit(no_outputs) == 0  # but nothing failed or differed: stripped outputs must not fail CI
    mixed = _result(tmp_path / "4b", same("a.ipynb"), failed("b.ipynb"))
    mixed.run.notebooks[0].verdict = "no-outputs"  # type: ignore[union-attr]
    assert paper_exit(mixed) == 1
    assert paper_exit(_result(tmp_path / "5", differs("d.ipynb"), allow_differs=True)) == 0
    assert paper_exit(_result(tmp_path / "6", failed("d.ipynb"), allow_differs=True)) == 1
    assert paper_exit(_result(tmp_path / "7", run=False)) == 0  # build --no-run: no run asked for
    assert paper_line(_result(tmp_path / "8", run=False)) == "paper: not run (not-requested)"


def test_every_writer_is_registered_once() -> None:
    names = [name for name, _ in WRITERS]
    assert {"report.junit.xml", "report.sarif", "summary.md", "codequality.json"} <= set(names)
    assert len(names) == len(set(names))


def test_run_writes_every_report_and_ends_with_the_paper_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "paper"
    shutil.copytree(CASES / "run-basic", root)
    out = tmp_path / "out"
    code = main(["run", str(root), "--engine", "local", "--out-dir", str(out), "--timeout", "120"])
    captured = capsys.readouterr()
    assert code == 1, captured.out + captured.err  # differs.ipynb differs on purpose
    last = captured.out.strip().splitlines()[-1]
    report = json.loads((out / "report.json").read_text())
    assert last == f"paper: {report['paper']['label']} ({', '.join(report['paper']['reasons'])})"
    assert report["paper"]["class"] in ("partially-reproduced", "not-reproduced")
    assert all((out / name).is_file() for name in REPORTS)
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    suites = {s.name: s for s in JUnitXml.fromfile(str(out / "report.junit.xml"))}
    assert f"paper run: {report['paper']['label']}" in suites

    code = main(["run", str(root), "--engine", "local", "--out-dir", str(out), "--timeout", "120", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["paper"] == json.loads((out / "report.json").read_text())["paper"]


def test_data_that_cannot_be_fetched_still_writes_every_report_as_not_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "paper"
    root.mkdir()
    (root / "requirements.txt").write_text("")
    url = f"{CLOSED_LOOPBACK}/obs.csv"  # nothing listens there
    (root / "paperpack.yml").write_text(
        f"version: 1\ndata:\n  - url: {url}\n    files:\n      - path: data/obs.csv\n"
        f"        url: {url}\n        sha256: {'a' * 64}\n"
    )
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")]), root / "a.ipynb")
    out = tmp_path / "out"
    code = main(["build", str(root), "--engine", "local", "--out-dir", str(out)])
    err = capsys.readouterr().err
    assert code == 1, err
    report = json.loads((out / "report.json").read_text())
    assert list(validator_for("report").iter_errors(report)) == []
    paper = report["paper"]
    assert (paper["class"], paper["reasons"]) == ("not-run", ["build-failed"])
    assert "obs.csv" in paper["error"]
    assert all((out / name).is_file() for name in REPORTS)
    (case,) = [c for s in JUnitXml.fromfile(str(out / "report.junit.xml")) if s.name.startswith("paper run") for c in s]
    assert case.result[0].type == "build-failed" and "obs.csv" in case.result[0].text
    assert "### Why nothing ran" in (out / "summary.md").read_text()


def _fake_docker(tmp_path: Path) -> tuple[Path, Path]:
    calls = tmp_path / "docker-calls"
    script = tmp_path / "fake-docker"
    script.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexit 1\n')
    script.chmod(0o755)
    return script, calls


@pytest.mark.parametrize("command", ["build", "run"])
def test_an_output_folder_that_is_a_file_stops_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    docker, calls = _fake_docker(tmp_path)
    monkeypatch.setenv("PAPERPACK_DOCKER", str(docker))
    root = tmp_path / "paper"
    shutil.copytree(CASES / "run-image-found", root)
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    assert main([command, str(root), "--out-dir", str(afile)]) == 2
    err = capsys.readouterr().err
    assert f"the output folder {afile} exists and is not a folder" in err and "--out-dir" in err
    assert not calls.exists(), "docker was asked before the output folder was checked"
    assert main([command, str(root), "--out-dir", "/proc/paperpack-out"]) == 2  # not writable, even by root
    assert "the output folder /proc/paperpack-out cannot be created in /proc" in capsys.readouterr().err
    assert not calls.exists()


def test_a_report_that_cannot_be_written_is_said_on_stderr_with_the_file_and_cause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "paper"
    shutil.copytree(CASES / "run-image-found", root)
    out = tmp_path / "out"
    (out / "summary.md").mkdir(parents=True)  # a folder where summary.md goes
    code = main(["build", str(root), "--engine", "local", "--out-dir", str(out), "-q"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"could not write summary.md: cannot write {out / 'summary.md'}: it is a folder" in captured.err
    assert "fix: make that path in the output folder writable" in " ".join(captured.err.split())
    assert captured.out.strip().splitlines()[-1] == "paper: reproduced 1/1"
    assert (out / "report.sarif").is_file()  # the other writers still ran
