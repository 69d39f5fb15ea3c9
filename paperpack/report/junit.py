"""``report.junit.xml``: the verification as JUnit XML, for GitHub test reporters and GitLab.

GitLab's ``artifacts:reports:junit`` and the GitHub test-report actions read one
``<testsuite>`` per group of checks: here *validate* (a test case per error-level finding)
and the *paper run* (a test case per notebook: a ``<failure>`` for *differs* with the cells,
the reasons and a short diff, an ``<error>`` for *failed* with the cell, the exception, the
cause and the fix, ``<skipped>`` for *skipped*; the time it ran). Test case names are unique
within a suite (GitLab drops duplicates). Built with junitparser; every text from a
notebook goes through :func:`xml_text`, so control characters and undecodable bytes in
outputs cannot make the file invalid XML.

The paper-run suite is built from a small typed input, :class:`PaperRun` (and a
:class:`NotebookCase` per notebook), which a :class:`Publication` gives
(:meth:`PaperRun.of_publication`) and so does each submission of ``paperpack batch``:
``batch.junit.xml`` is :func:`render_runs` of one :class:`PaperRun` per submission, one reporter for both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from junitparser import Error, Failure, JUnitXml, Properties, Property, Skipped, TestCase, TestSuite

from ..checks.findings import Severity
from ..util.atomic import write_atomic
from ..util.terminal import printable
from .paper import PaperClass
from .publish import Publication, first_line

if TYPE_CHECKING:
    from ..run.results import NotebookRun

__all__ = [
    "JUNIT_NAME",
    "write_junit",
    "render_junit",
    "render_runs",
    "xml_text",
    "PaperRun",
    "NotebookCase",
    "Stopped",
]

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
    lines = [
        line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 1] + "…"
        for line in text[: (limit + 1) * (LINE_CHARS + 1)].splitlines()[:limit]
    ]
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
        case = TestCase(
            xml_text(names(f"{f.rule} {f.where}"), newlines=False), classname=f"validate.{f.rule}", time=0.0
        )
        failure = Failure(xml_text(f.message, newlines=False), type_=f.rule)
        failure.text = xml_text(f"{f.name}: {f.message}\nWhy: {f.why}\nFix: {f.fix}")
        case.result = [failure]
        suite.add_testcase(case)
    if not errors:
        passed = TestCase("no validation errors", classname="validate", time=0.0)
        passed.system_out = xml_text(
            f"{publication.result.findings.warnings} warning(s); `paperpack validate` lists them"
        )
        suite.add_testcase(passed)
    return suite


@dataclass(frozen=True)
class NotebookCase:
    """One notebook's outcome, as its test case shows it: from a :class:`NotebookRun` or from a batch's
    notebook line (each with its differences and error; a batch state of an older version: the message only)."""

    path: str
    verdict: str
    status: str
    duration: float | None = None
    message: str = ""
    comparison: Mapping[str, Any] | None = None  # report.json's "comparison": the differences with their diffs
    error: Mapping[str, Any] | None = None  # report.json's "error": the cell, the exception, the cause

    @classmethod
    def of_run(cls, nb: NotebookRun) -> NotebookCase:
        return cls(nb.path, str(nb.verdict), str(nb.status), nb.duration, nb.message or "", nb.comparison, nb.error)


@dataclass(frozen=True)
class Stopped:
    """Why nothing ran (a build or a fetch that failed, a batch interrupted): an ``<error>`` test case."""

    type: str  # build-failed, fetch, unsafe-source, interrupted, …
    message: str
    detail: str = ""  # the whole message and the fix (the first line of ``message`` when empty)


@dataclass(frozen=True)
class PaperRun:
    """What a paper-run ``<testsuite>`` is built from: the paper-level verdict and the notebooks' cases."""

    name: str
    cls: str  # a PaperClass value
    label: str
    reasons: tuple[str, ...] = ()  # Reason values
    commit: str | None = None
    notebooks: tuple[NotebookCase, ...] | None = None  # None: nothing ran
    duration: float = 0.0
    stopped: Stopped | None = None
    classname: str = "run"
    #: a "verdict" test case, failed unless the paper class passed (the batch: one line per submission)
    verdict_case: bool = False
    properties: Mapping[str, str] = field(default_factory=dict)  # more properties (the batch: source, ref, status)

    @classmethod
    def of_publication(cls, publication: Publication) -> PaperRun:
        verdict, run = publication.verdict, publication.result.run
        failure = publication.failure
        return cls(
            name=f"paper run: {verdict.label()}",
            cls=verdict.cls.value,
            label=verdict.label(),
            reasons=tuple(r.value for r in verdict.reasons),
            commit=publication.commit,
            notebooks=tuple(NotebookCase.of_run(nb) for nb in run.notebooks) if run is not None else None,
            duration=run.duration if run is not None else 0.0,
            stopped=Stopped("build-failed", failure, failure) if run is None and failure else None,
        )


def _differs(nb: NotebookCase) -> Failure:
    differences: list[Mapping[str, Any]] = list((nb.comparison or {}).get("differences") or [])
    head = differences[0] if differences else {}
    message = (f"cell {head.get('cell')}: {head.get('reason', '')}" if head else nb.message) or "differs"
    failure = Failure(xml_text(first_line(message, 300), newlines=False), type_="differs")
    lines: list[str] = []
    for difference in differences:
        lines.append(f"cell {difference.get('cell')}: {difference.get('reason', '')}")
        lines.extend(f"    {line}" for line in _short(str(difference.get("diff") or ""), 20))
    failure.text = xml_text("\n".join(_short("\n".join(lines) if lines else nb.message, 4 * SHORT_LINES)))
    return failure


def _failed(nb: NotebookCase) -> Error:
    error = nb.error or {}
    cause = error.get("cause") or {}
    ename = str(error.get("ename") or "") or nb.status
    error_element = Error(
        xml_text(first_line(nb.message or ename, 300), newlines=False), type_=xml_text(ename, newlines=False)
    )
    if not error:  # a batch's notebook line: the message is all there is (the rest is in ID/report.json)
        error_element.text = xml_text("\n".join(_short(nb.message or ename)))
        return error_element
    lines = [
        f"where: {error.get('where') or 'cell ' + str(error.get('cell'))}",
        *_short(f"exception: {ename}: {error.get('evalue') or ''}".rstrip(": "), 10),
    ]
    if cause:
        lines += [f"cause: {cause.get('message', '')}", f"fix: {cause.get('fix', '')}"]
    traceback = [str(line) for line in error.get("traceback") or []]
    if traceback:
        lines += ["", *_short("\n".join(traceback))]
    error_element.text = xml_text("\n".join(lines))
    return error_element


def _notebook_case(nb: NotebookCase, name: str, classname: str) -> TestCase:
    case = TestCase(
        xml_text(name, newlines=False), classname=xml_text(classname, newlines=False), time=round(nb.duration or 0.0, 3)
    )
    if nb.verdict == "differs":
        case.result = [_differs(nb)]
    elif nb.verdict == "failed":
        case.result = [_failed(nb)]
    elif nb.verdict == "skipped":
        case.result = [Skipped(xml_text(first_line(nb.message or "skipped", 300), newlines=False))]
    elif nb.message:
        case.system_out = xml_text(f"{nb.verdict}: {nb.message}")
    case.append(_properties({"verdict": nb.verdict, "status": nb.status}))
    return case


def _stopped_case(stopped: Stopped, name: str, classname: str) -> TestCase:
    case = TestCase(name, classname=xml_text(classname, newlines=False), time=0.0)
    error = Error(
        xml_text(first_line(stopped.message, 300), newlines=False), type_=xml_text(stopped.type, newlines=False)
    )
    error.text = xml_text(stopped.detail or stopped.message)
    case.result = [error]
    return case


def _run_suite(run: PaperRun) -> TestSuite:
    suite = TestSuite(xml_text(run.name, newlines=False))
    for name, value in {
        "paper.class": run.cls,
        "paper.label": run.label,
        "paper.reasons": " ".join(run.reasons),
        **({"commit": run.commit} if run.commit else {}),
        **run.properties,
    }.items():
        suite.add_property(name, xml_text(value, newlines=False))
    names = _Names()
    if run.verdict_case and run.stopped is None:
        case = TestCase(
            names("verdict"), classname=xml_text(run.classname, newlines=False), time=round(run.duration, 3)
        )
        if not PaperClass(run.cls).passed:
            failure = Failure(xml_text(run.label, newlines=False), type_=run.cls)
            failure.text = xml_text(f"{run.label} ({', '.join(run.reasons) or 'no reason'})")
            case.result = [failure]
        suite.add_testcase(case)
    if run.stopped is not None:
        suite.add_testcase(_stopped_case(run.stopped, names("run"), run.classname))
    elif run.notebooks is None:
        if not run.verdict_case:
            case = TestCase(names("run"), classname=xml_text(run.classname, newlines=False), time=0.0)
            case.result = [Skipped(xml_text(f"not run: {', '.join(run.reasons)}", newlines=False))]
            suite.add_testcase(case)
    for nb in run.notebooks or ():
        suite.add_testcase(_notebook_case(nb, names(nb.path), run.classname))
    suite.time = round(run.duration, 3)
    return suite


def _document(name: str, suites: Iterable[TestSuite]) -> bytes:
    xml = JUnitXml(name)
    for suite in suites:
        xml.add_testsuite(suite)
    xml.update_statistics()
    out: bytes = xml.tostring()
    if not out.startswith(b"<?xml"):
        out = b'<?xml version="1.0" encoding="utf-8"?>\n' + out
    return out


def render_runs(name: str, runs: Iterable[PaperRun]) -> bytes:
    """A JUnit XML document (UTF-8 bytes) named ``name`` with one ``<testsuite>`` per paper run."""
    return _document(name, (_run_suite(run) for run in runs))


def render_junit(publication: Publication) -> bytes:
    """The JUnit XML document (UTF-8 bytes) of this verification."""
    suites = [_validate_suite(publication)] if publication.result.validation is not None else []
    return _document("paperpack", [*suites, _run_suite(PaperRun.of_publication(publication))])


def write_junit(publication: Publication) -> list[Path]:
    path = publication.out_dir / JUNIT_NAME
    write_atomic(path, render_junit(publication))
    return [path]
