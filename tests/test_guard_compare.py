"""The comparison's guarantees that issue 16's mutation testing found unpinned (paperpack/compare/).

Each test is a small pair of notebooks and the verdict or message an editor reads.
"""

from __future__ import annotations

from typing import Any

from paperpack.compare import compare_notebooks
from tests.test_compare import _cell, _notebook


def _stdout(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _stderr(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stderr", "text": text}


def _warning(message: str) -> str:
    return f"/srv/lib/module.py:12: FutureWarning: {message}\n  call()\n"


def test_many_new_warnings_are_counted_and_three_are_shown() -> None:
    ref = _notebook(_cell([_stdout("42\n")]))
    new = _notebook(_cell([_stdout("42\n"), _stderr("".join(_warning(f"change {i}") for i in range(5)))]))
    result = compare_notebooks(ref, new)
    assert result.verdict == "same-with-warnings"
    assert len(result.new_warnings) == 5
    assert ", with 5 new warnings (" in result.message, result.message
    shown = result.message.split(", with 5 new warnings (", 1)[1]
    assert shown.endswith("; … 2 more)"), shown
    assert [part.rsplit(": ", 1)[-1] for part in shown[:-len("; … 2 more)")].split("; ")] == [
        "change 0", "change 1", "change 2"]


def test_three_new_warnings_are_all_shown_and_one_is_singular() -> None:
    ref = _notebook(_cell([_stdout("42\n")]))
    three = _notebook(_cell([_stdout("42\n"), _stderr("".join(_warning(f"change {i}") for i in range(3)))]))
    message = compare_notebooks(ref, three).message
    assert message.endswith(", with 3 new warnings (code cell 1 (In [1]): FutureWarning: change 0; "
                            "code cell 1 (In [1]): FutureWarning: change 1; "
                            "code cell 1 (In [1]): FutureWarning: change 2)"), message
    two = _notebook(_cell([_stdout("42\n"), _stderr(_warning("a") + _warning("b"))]))
    assert ", with 2 new warnings (" in compare_notebooks(ref, two).message
    one = _notebook(_cell([_stdout("42\n"), _stderr(_warning("a"))]))
    assert ", with 1 new warning (" in compare_notebooks(ref, one).message


def test_a_long_warning_is_cut() -> None:
    ref = _notebook(_cell([_stdout("42\n")]))
    new = _notebook(_cell([_stdout("42\n"), _stderr(_warning("x" * 500))]))
    message = compare_notebooks(ref, new).message
    assert "x" * 100 in message and "x" * 200 not in message, message


def test_the_report_records_the_verdict_differences_warnings_and_tolerances() -> None:
    """report.json's ``comparison``: what an editor reads to see why, and with which tolerances."""
    from paperpack.compare import CompareOptions

    ref = _notebook(_cell([_stdout("42\n")]), _cell([_stdout("1\n")], count=2), _cell([_stdout("x\n")], count=3))
    new = _notebook(_cell([_stdout("42\n"), _stderr(_warning("soon"))]), _cell([_stdout("5\n")], count=2),
                    _cell([_stdout("y\n")], count=3))
    options = CompareOptions(rtol=0.5, atol=0.25, image_threshold=0.5, ignore_cells=[2], ignore_patterns=["^z"])
    result = compare_notebooks(ref, new, options)
    record = result.to_dict()
    assert record["verdict"] == "differs" and record["message"] == result.message
    assert record["cells_compared"] == 2  # the third cell is ignored
    assert record["tolerances"] == {"rtol": 0.5, "atol": 0.25, "image_threshold": 0.5, "ignore_cells": [2],
                                    "ignore_patterns": ["^z"]}
    [difference] = record["differences"]
    assert set(difference) >= {"cell", "reason", "diff"} and difference["cell"] == 1
    assert difference["reason"] == result.differences[0].reason and difference["reason"]
    assert "1" in difference["diff"] and "5" in difference["diff"]
    assert record["new_warnings"] == [{"cell": 0, "where": "code cell 1 (In [1])", "category": "FutureWarning",
                                       "message": "soon"}]
