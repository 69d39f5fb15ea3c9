from __future__ import annotations

import os
from pathlib import Path

import pytest

from paperpack.checks.findings import Findings, Rule, Severity
from paperpack.report import Report
from paperpack.report.github import annotation
from paperpack.util.atomic import write_atomic
from paperpack.util.schemas import validator_for

RULE = Rule("TST001", "test-rule", Severity.WARNING, "because, with: commas, and % signs")


def test_report_json_follows_its_schema(tmp_path: Path) -> None:
    findings = Findings([RULE.at("a.ipynb", "m", "f", cell=3), RULE.at(None, "m2", "f2", severity=Severity.ERROR)])
    report = Report(root=tmp_path, findings=findings)
    doc = report.to_dict()
    errors = list(validator_for("report").iter_errors(doc))
    assert errors == []
    assert doc["summary"]["errors"] == 1 and doc["summary"]["warnings"] == 1
    assert report.failed() and not Report(root=tmp_path).failed(strict=True)


def test_strict_turns_warnings_into_failure(tmp_path: Path) -> None:
    report = Report(root=tmp_path, findings=Findings([RULE.at("x", "m", "f")]))
    assert not report.failed()
    assert report.failed(strict=True)


def test_github_annotation_escapes_properties_and_newlines() -> None:
    f = RULE.at("dir,with:odd.ipynb", "line one\nline two 100%", "fix it", line=4)
    text = annotation(f)
    assert text.startswith("::warning file=dir%2Cwith%3Aodd.ipynb,line=4,title=TST001 test-rule::")
    assert "\n" not in text
    assert "100%25" in text


def test_write_atomic_leaves_no_temporary_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.json"
    write_atomic(target, "first")

    class Boom(str):
        def encode(self, *a: object, **k: object) -> bytes:  # type: ignore[override]
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_atomic(target, Boom("second"))
    assert target.read_text() == "first"
    assert os.listdir(target.parent) == ["report.json"]


def test_write_atomic_without_overwrite_keeps_an_existing_file(tmp_path: Path) -> None:
    from paperpack.errors import UsageError

    target = tmp_path / "paperpack.yml"
    write_atomic(target, "first", overwrite=False)
    with pytest.raises(UsageError, match="exists; not overwritten"):
        write_atomic(target, "second", overwrite=False, hint="use --stdout")
    assert target.read_text() == "first"
    assert os.listdir(tmp_path) == ["paperpack.yml"]


@pytest.mark.parametrize(("choice", "coloured"), [("always", True), ("never", False)])
def test_make_console_takes_the_command_line_colour_choice(choice: str, coloured: bool) -> None:
    import io

    from paperpack.report.text import make_console

    stream = io.StringIO()
    make_console(stream, color=choice).print("[red]x[/]")
    assert ("\x1b[" in stream.getvalue()) is coloured


def test_findings_counts_are_derived_and_count_keeps_its_list_meaning(tmp_path: Path) -> None:
    """Findings.count is list.count again; the numbers per severity come from the list, one way."""
    one = RULE.at("a.ipynb", "m", "f")
    findings = Findings(
        [
            one,
            one,
            RULE.at(None, "m2", "f2", severity=Severity.ERROR),
            RULE.at(None, "m3", "f3", severity=Severity.INFO),
        ]
    )
    assert findings.count(one) == 2  # list.count: how many equal this finding
    assert (findings.errors, findings.warnings, findings.infos) == (1, 2, 1)
    assert findings.of_severity(Severity.WARNING) == 2
    findings.append(RULE.at(None, "m4", "f4", severity=Severity.INFO))
    assert Report(root=tmp_path, findings=findings).to_dict()["summary"]["infos"] == 2


def test_no_caller_counts_findings_with_the_old_count_of_a_severity() -> None:
    """Findings.count(Severity.X) now means list.count and gives 0: a caller written the old way fails here."""
    import re

    package = Path(__file__).resolve().parent.parent / "paperpack"
    old = re.compile(r"\.count\(\s*Severity\.")
    callers = [str(p.relative_to(package)) for p in package.rglob("*.py") if old.search(p.read_text())]
    assert not callers, f"use findings.of_severity(…) or .errors/.warnings/.infos in {callers}"
