"""batch.junit.xml: each notebook's test case carries what the submission's own report.junit.xml carries
(what differed with its diff, the exception with its traceback), from the same builders, escaped and bounded.

The batch's task is called directly (the function a Dask worker runs) with the local engine, then the index
is written as ``paperpack batch`` writes it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from paperpack.batch import SourceKind, Submission
from paperpack.batch.index import collect, write_index
from paperpack.batch.pipeline import TaskConfig
from paperpack.batch.state import Layout
from paperpack.batch.task import run_task
from paperpack.report.junit import LINE_CHARS
from test_batch import notebook

pytestmark = pytest.mark.slow

LONG = 20_000  # characters of one output line: far more than a test case or a state keeps


def submissions(tmp_path: Path) -> list[Submission]:
    differs, fails = tmp_path / "differs", tmp_path / "fails"
    notebook(differs / "analysis.ipynb", f"print('\\x1b[31m' + 'x' * {LONG})\nprint(45)", "committed\n45\n")
    notebook(
        fails / "analysis.ipynb", "def deep():\n    raise ValueError('bad \\x07 value ' + 'v' * 5000)\ndeep()", "fine\n"
    )
    return [Submission(p.name, str(p), kind=SourceKind.FOLDER) for p in (differs, fails)]


def outcome(document: Path, suite_name: str | None, case: str) -> ET.Element:
    """The <failure> or <error> of test case ``case`` in ``document`` (in the suite ``suite_name``, or the
    paper-run suite)."""
    for suite in ET.parse(document).getroot().iter("testsuite"):
        name = suite.get("name") or ""
        if (suite_name is None and name.startswith("paper run")) or name == suite_name:
            found = suite.find(f"testcase[@name='{case}']")
            assert found is not None, ET.tostring(suite, encoding="unicode")[:2000]
            result = found.find("failure")
            return result if result is not None else found.find("error")  # type: ignore[return-value]
    raise AssertionError(f"no suite {suite_name!r} in {document}")


def test_batch_junit_notebook_cases_carry_the_reports_diffs_and_tracebacks(tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = TaskConfig(out_dir=str(out), engine="local").to_dict()
    subs = submissions(tmp_path)
    results = {s.id: run_task(s.to_dict(), config) for s in subs}
    assert {i: r["notebooks"][0]["verdict"] for i, r in results.items()} == {"differs": "differs", "fails": "failed"}
    layout = Layout(out)
    write_index(layout, collect(layout, subs))
    batch = out / "batch.junit.xml"

    differs = outcome(batch, "differs", "analysis.ipynb")
    own = outcome(out / "differs" / "report.junit.xml", None, "analysis.ipynb")
    assert differs.tag == own.tag == "failure" and differs.attrib == own.attrib
    assert differs.text == own.text  # the same detail, built by the same builder
    assert "cell 0" in (differs.text or "") and "-committed" in (differs.text or "")
    assert max(len(line) for line in (differs.text or "").splitlines()) <= LINE_CHARS

    fails = outcome(batch, "fails", "analysis.ipynb")
    own = outcome(out / "fails" / "report.junit.xml", None, "analysis.ipynb")
    assert fails.tag == own.tag == "error" and fails.attrib == own.attrib
    assert fails.text == own.text
    assert fails.get("type") == "ValueError"
    assert "exception: ValueError: bad \\x07 value" in (fails.text or "")
    assert "deep()" in (fails.text or "")  # the traceback's frames

    for ident in ("differs", "fails"):  # a state keeps the details bounded, whatever the outputs
        state = json.loads((out / ident / "state.json").read_text())
        assert len(json.dumps(state)) < 4 * LINE_CHARS + 4000, len(json.dumps(state))
