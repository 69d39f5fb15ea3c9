"""``report.junit.xml``: the verification as JUnit XML, for GitHub test reporters and GitLab.

GitLab's ``artifacts:reports:junit`` and the GitHub test-report actions read one
``<testsuite>`` per group of checks: here *validate* (a test case per error-level finding)
and the *paper run* (a test case per notebook: a ``<failure>`` for *differs* with the cells,
the reasons and a short diff, an ``<error>`` for *failed* with the cell, the exception, the
cause and the fix, ``<skipped>`` for *skipped*; the time it ran). Test case names are unique
within a suite (GitLab drops duplicates). Built with junitparser; every text from a
notebook goes through :func:`xml_text`, so control characters and undecodable bytes in
outputs cannot make the file invalid XML.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from junitparser import Error, Failure, JUnitXml, Properties, Property, Skipped, TestCase, TestSuite

from ..findings import Severity
from ..terminal import printable
from . import write_atomic
from .publish import Publication, first_line

if TYPE_CHECKING:
    from ..run.results import NotebookRun

__all__ = ["JUNIT_NAME", "write_junit", "render_junit", "xml_text"]

JUNIT_NAME = "report.junit.xml"
#: lines of a diff or traceback kept in a test case, and characters a line (the whole is in report.json)
SHORT_LINES = 40
LINE_CHARS = 1000
#: what XML 1.0 forbids even escaped (printable() already showed C0/C1 controls as \\xNN)
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


def xml_text(text: object, *, newlines: bool = True) -> str:
    """Untrusted text made valid in XML 1.0: control characters, lone surrogates (bytes that were not
    UTF-8, decoded with ``surrogateescape``) and U+FFFE/U+FFFF shown as visible escapes."""
    shown = printable(str(text), newlines=newlines)
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group(0)):04x}", shown)


def _short(text: str, limit: int = SHORT_LINES) -> list[str]:
    """The first ``limit`` lines of ``text``, each cut at :data:`LINE_CHARS` (an output can be 50 MB)."""
    total = text.count("\n") + (0 if text.endswith("\n") else 1)
    lines = [line if len(line) <= LINE_CHARS else line[:LINE_CHARS - 1] + "…"
             for line in text[:(limit + 1) * (LINE_CHARS + 1)].splitlines()[:limit]]
    return lines if total <= len(lines) else [*lines, f"… {total - len(lines)} more lines in report.json"]


class _Names:
    """Unique test case names within one suite: a second "x" becomes "x (2)"."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, name: str) -> str:
        unique, n = name, 1
        while unique in self.seen:
            n += 1
            unique = f"{name} ({n})"
        self.seen.add(unique)
        return unique


def _properties(pairs: dict[str, str]) -> Properties:
    props = Properties()
    for name, value in pairs.items():
        props.add_property(Property(name, xml_text(value, newlines=False)))
    return props


def _validate_suite(publication: Publication) -> TestSuite:
    suite = TestSuite("validate")
    names = _Names()
    findings = publication.result.findings.sorted()
    errors = [f for f in findings if f.severity is Severity.ERROR]
    for f in errors:
        case = TestCase(xml_text(names(f"{f.rule} {f.where}"), newlines=False), classname=f"validate.{f.rule}",
                        time=0.0)
        failure = Failure(xml_text(f.message, newlines=False), type_=f.rule)
        failure.text = xml_text(f"{f.name}: {f.message}\nWhy: {f.why}\nFix: {f.fix}")
        case.result = [failure]
        suite.add_testcase(case)
    if not errors:
        passed = TestCase("no validation errors", classname="validate", time=0.0)
        passed.system_out = xml_text(f"{publication.result.findings.warnings} warning(s); "
                                     "`paperpack validate` lists them")
        suite.add_testcase(passed)
    return suite


def _differs(nb: NotebookRun) -> Failure:
    differences: list[dict[str, Any]] = list((nb.comparison or {}).get("differences") or [])
    head = differences[0] if differences else {}
    message = (f"cell {head.get('cell')}: {head.get('reason', '')}" if head else nb.message) or "differs"
    failure = Failure(xml_text(first_line(message, 300), newlines=False), type_="differs")
    lines: list[str] = []
    for difference in differences:
        lines.append(f"cell {difference.get('cell')}: {difference.get('reason', '')}")
        lines.extend(f"    {line}" for line in _short(str(difference.get("diff") or ""), 20))
    failure.text = xml_text("\n".join(_short("\n".join(lines), 4 * SHORT_LINES) or [first_line(nb.message)]))
    return failure


def _failed(nb: NotebookRun) -> Error:
    error = nb.error or {}
    cause = error.get("cause") or {}
    ename = str(error.get("ename") or "") or str(nb.status)
    error_element = Error(xml_text(first_line(nb.message or ename, 300), newlines=False),
                          type_=xml_text(ename, newlines=False))
    lines = [f"where: {error.get('where') or 'cell ' + str(error.get('cell'))}",
             *_short(f"exception: {ename}: {error.get('evalue') or ''}".rstrip(": "), 10)]
    if cause:
        lines += [f"cause: {cause.get('message', '')}", f"fix: {cause.get('fix', '')}"]
    traceback = [str(line) for line in error.get("traceback") or []]
    if traceback:
        lines += ["", *_short("\n".join(traceback))]
    error_element.text = xml_text("\n".join(lines))
    return error_element


def _notebook_case(nb: NotebookRun, name: str) -> TestCase:
    case = TestCase(xml_text(name, newlines=False), classname="run", time=round(nb.duration or 0.0, 3))
    verdict = str(nb.verdict)
    if verdict == "differs":
        case.result = [_differs(nb)]
    elif verdict == "failed":
        case.result = [_failed(nb)]
    elif verdict == "skipped":
        case.result = [Skipped(xml_text(first_line(nb.message or "skipped", 300), newlines=False))]
    elif nb.message:
        case.system_out = xml_text(f"{verdict}: {nb.message}")
    case.append(_properties({"verdict": verdict, "status": str(nb.status)}))
    return case


def _run_suite(publication: Publication) -> TestSuite:
    verdict = publication.verdict
    suite = TestSuite(xml_text(f"paper run: {verdict.label()}", newlines=False))
    suite.add_property("paper.class", verdict.cls.value)
    suite.add_property("paper.label", verdict.label())
    suite.add_property("paper.reasons", " ".join(r.value for r in verdict.reasons))
    if publication.commit:
        suite.add_property("commit", publication.commit)
    run = publication.result.run
    if run is None:
        case = TestCase("run", classname="run", time=0.0)
        if publication.failure:
            error = Error(xml_text(first_line(publication.failure, 300), newlines=False), type_="build-failed")
            error.text = xml_text(publication.failure)
            case.result = [error]
        else:
            case.result = [Skipped(f"not run: {', '.join(r.value for r in verdict.reasons)}")]
        suite.add_testcase(case)
        return suite
    names = _Names()
    for nb in run.notebooks:
        suite.add_testcase(_notebook_case(nb, names(nb.path)))
    suite.time = round(run.duration, 3)
    return suite


def render_junit(publication: Publication) -> bytes:
    """The JUnit XML document (UTF-8 bytes) of this verification."""
    xml = JUnitXml("paperpack")
    if publication.result.validation is not None:
        xml.add_testsuite(_validate_suite(publication))
    xml.add_testsuite(_run_suite(publication))
    xml.update_statistics()
    out: bytes = xml.tostring()
    if not out.startswith(b"<?xml"):
        out = b'<?xml version="1.0" encoding="utf-8"?>\n' + out
    return out


def write_junit(publication: Publication) -> list[Path]:
    path = publication.out_dir / JUNIT_NAME
    write_atomic(path, render_junit(publication))
    return [path]
