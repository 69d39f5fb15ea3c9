"""report.junit.xml: read back with junitparser, as GitLab and the GitHub test reporters read it."""

from __future__ import annotations

from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped

from paperpack.report.junit import JUNIT_NAME, write_junit
from publishhelp import RULE_E, RULE_W, TRACEBACK, differs, failed, make_publication, same, skipped


def _suites(path: Path) -> dict[str, list]:  # type: ignore[type-arg]
    xml = JUnitXml.fromfile(str(path))
    return {suite.name: list(suite) for suite in xml}


def test_one_suite_for_validate_one_for_the_run_with_a_case_each(tmp_path: Path) -> None:
    notebooks = [same("a.ipynb"), differs("b.ipynb", diff="-0.5\n+0.7"), failed("c.ipynb"), skipped("d.ipynb")]
    findings = [
        RULE_E.at("a.ipynb", "absolute path /home/me/data.csv", "use a relative path", cell=1),
        RULE_E.at("a.ipynb", "absolute path /home/me/data.csv", "use a relative path", cell=1),
        RULE_W.at("requirements.txt", "numpy is not pinned", "pin it", line=1),
    ]
    pub = make_publication(tmp_path / "repo", notebooks, findings)
    (path,) = write_junit(pub)
    assert path == pub.out_dir / JUNIT_NAME
    suites = _suites(path)
    assert set(suites) == {"validate", "paper run: partially reproduced 1/3"}

    validate = suites["validate"]
    names = [case.name for case in validate]
    assert len(validate) == 2  # error-level findings only, the warning is not a test case
    assert len(set(names)) == 2, names  # the same finding twice: unique names (GitLab drops duplicates)
    assert all(isinstance(case.result[0], Failure) for case in validate)
    assert validate[0].result[0].message == "absolute path /home/me/data.csv"
    assert "Fix: use a relative path" in validate[0].result[0].text

    run = {case.name: case for case in suites["paper run: partially reproduced 1/3"]}
    assert list(run) == ["a.ipynb", "b.ipynb", "c.ipynb", "d.ipynb"]
    assert run["a.ipynb"].is_passed and run["a.ipynb"].time == 1.5
    failure = run["b.ipynb"].result[0]
    assert isinstance(failure, Failure) and failure.type == "differs"
    assert failure.message == "cell 1: text output differs" and "+0.7" in failure.text
    error = run["c.ipynb"].result[0]
    assert isinstance(error, Error) and error.type == "ZeroDivisionError"
    assert "code cell 1" in error.text and "cause: the cell raised an error" in error.text
    assert "fix: fix the division" in error.text and TRACEBACK[-1] in error.text
    assert isinstance(run["d.ipynb"].result[0], Skipped)

    xml = JUnitXml.fromfile(str(path))
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (6, 3, 1, 1)


def test_control_characters_and_undecodable_bytes_in_outputs_keep_the_xml_valid(tmp_path: Path) -> None:
    nasty = "bell\x07 esc\x1b[31mred\x1b[0m nul\x00 bad-bytes:" + b"\xff\xfe".decode("utf-8", "surrogateescape")
    notebooks = [
        failed("e.ipynb", evalue=nasty, traceback=[nasty, "\x0c\ufffe"]),
        differs("f.ipynb", diff=f"-{nasty}\n+ok"),
    ]
    pub = make_publication(tmp_path / "repo", notebooks)
    (path,) = write_junit(pub)
    import xml.etree.ElementTree as ET

    ET.parse(path)  # a strict XML parser: control characters would make this raise
    run = {case.name: case for suite in JUnitXml.fromfile(str(path)) for case in suite}
    text = run["e.ipynb"].result[0].text
    assert "bell\\x07" in text and "nul\\x00" in text and "\\udcff" in text
    assert "\x1b" not in path.read_text(encoding="utf-8")


def test_a_build_that_failed_is_an_error_case_naming_the_cause(tmp_path: Path) -> None:
    pub = make_publication(tmp_path / "repo", run=False, failure="building paperpack/x:1 failed at pip install")
    (path,) = write_junit(pub)
    suites = _suites(path)
    (case,) = suites["paper run: not run"]
    assert isinstance(case.result[0], Error) and case.result[0].type == "build-failed"
    assert "failed at pip install" in case.result[0].message


def test_a_50_mb_output_gives_a_short_test_case(tmp_path: Path) -> None:
    huge = "z" * (50 << 20)
    pub = make_publication(
        tmp_path / "repo",
        [failed("h.ipynb", evalue=huge, traceback=[huge, huge]), differs("i.ipynb", diff=huge + "\n" * 5000)],
        write=False,
    )
    (path,) = write_junit(pub)
    assert path.stat().st_size < 64 << 10
    run = {case.name: case for suite in JUnitXml.fromfile(str(path)) for case in suite}
    assert "more lines in report.json" in run["i.ipynb"].result[0].text


def test_batch_suites_come_from_the_same_builders_as_the_report(tmp_path: Path) -> None:
    import dataclasses
    import xml.etree.ElementTree as ET

    from paperpack.report.junit import NotebookCase, PaperRun, Stopped, render_runs

    notebooks = [same("a.ipynb"), differs("b.ipynb", diff="-0.5\n+0.7"), failed("c.ipynb"), skipped("d.ipynb")]
    pub = make_publication(tmp_path / "repo", notebooks)
    (report,) = write_junit(pub)
    paper = dataclasses.replace(PaperRun.of_publication(pub), name="s1", verdict_case=True)
    fetch = PaperRun(
        "s2",
        "not-run",
        "not run",
        stopped=Stopped("fetch", "fetch: git clone failed\nstderr…", "git clone failed\nhint: check the URL"),
        verdict_case=True,
    )
    lines = PaperRun(
        "s3",
        "not-reproduced",
        "not reproduced 0/2",
        ("execution-error",),
        verdict_case=True,
        notebooks=(
            NotebookCase("n.ipynb", "failed", "error", 1.0, "cell 2: bell\x07 ZeroDivisionError"),
            NotebookCase("n.ipynb", "differs", "ok", 1.0, "cell 1: text output differs"),
        ),
    )
    path = tmp_path / "batch.junit.xml"
    path.write_bytes(render_runs("paperpack batch", [paper, fetch, lines]))
    ET.parse(path)  # strict XML

    suites = _suites(path)
    assert list(suites) == ["s1", "s2", "s3"]
    (run_suite,) = [cases for name, cases in _suites(report).items() if name.startswith("paper run")]
    verdict, *rest = suites["s1"]
    assert verdict.name == "verdict" and verdict.result[0].type == "partially-reproduced"
    # the submission's notebook cases are report.junit.xml's, element for element
    assert [ET.tostring(c._elem) for c in rest] == [ET.tostring(c._elem) for c in run_suite]

    (stopped,) = suites["s2"]
    assert isinstance(stopped.result[0], Error) and stopped.result[0].type == "fetch"
    assert stopped.result[0].message == "fetch: git clone failed" and "hint: check the URL" in stopped.result[0].text

    names = [case.name for case in suites["s3"]]
    assert names == ["verdict", "n.ipynb", "n.ipynb (2)"]  # unique within the suite
    error = suites["s3"][1].result[0]
    assert isinstance(error, Error) and error.type == "error" and "bell\\x07" in error.message

    s3 = next(suite for suite in JUnitXml.fromfile(str(path)) if suite.name == "s3")
    assert {p.name: p.value for p in s3.properties()} == {  # the paper class and reasons as properties
        "paper.class": "not-reproduced",
        "paper.label": "not reproduced 0/2",
        "paper.reasons": "execution-error",
    }
