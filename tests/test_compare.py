"""Comparing re-executed notebooks with committed outputs, on golden notebooks.

tests/files/compare/reference.ipynb holds committed outputs; each other file is a
re-execution of it that should (same.ipynb) or should not (differs-*.ipynb) count as
giving the same results. make_golden.py there wrote them.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
from PIL import Image

from paperpack.cli.run import render_verdicts
from paperpack.compare import CompareOptions, Verdict, compare_notebooks, image_similarity, normalise_text, texts_match
from paperpack.compare.core import Comparison
from paperpack.report.text import make_console
from paperpack.run.results import NotebookRun, RunResult, Status

GOLDEN = Path(__file__).resolve().parent / "files" / "compare"


def _read(name: str) -> Any:
    return nbformat.read(GOLDEN / f"{name}.ipynb", as_version=4)


def _png(nb: Any) -> str:
    return str(nb.cells[3].outputs[0]["data"]["image/png"])


def test_what_legitimately_changes_is_the_same() -> None:
    result = compare_notebooks(_read("reference"), _read("same"))
    assert result.verdict == "same", [d.to_dict() for d in result.differences]
    assert result.compared == 7
    assert result.message == "7 cells with the same results"


@pytest.mark.parametrize(
    "name, cell, reason",
    [
        ("differs-number", 0, "stream:stdout differs"),
        ("differs-image", 3, "image/png looks different"),
        ("differs-text", 2, "stream:stdout differs"),
        ("differs-error", 6, "error differs"),
    ],
)
def test_real_differences_name_the_cell(name: str, cell: int, reason: str) -> None:
    result = compare_notebooks(_read("reference"), _read(name))
    assert result.verdict == "differs"
    assert [d.cell for d in result.differences] == [cell]
    assert result.differences[0].reason.startswith(reason)
    assert result.message.endswith(f"cells differ: code cell {cell + 1} (In [{cell + 1}])"), result.message
    assert len(result.differences[0].diff.splitlines()) <= 13


def test_short_diff_shows_normalised_lines() -> None:
    diff = compare_notebooks(_read("reference"), _read("differs-text")).differences[0].diff
    assert "-run at <DATETIME>" in diff and "+finished at <DATETIME>" in diff


def test_no_stored_outputs() -> None:
    result = compare_notebooks(_read("no-outputs"), _read("reference"))
    assert result.verdict == "no-outputs"
    assert result.message == "the committed notebook stores no outputs to compare with", result.message


def test_injected_parameters_cell_is_not_compared() -> None:
    _same(compare_notebooks(_read("reference"), _read("with-injected")), 7)


def test_tolerances_come_from_options() -> None:
    loose = CompareOptions.from_manifest({"rtol": 0.1})
    _same(compare_notebooks(_read("reference"), _read("differs-number"), loose), 7)
    strict = compare_notebooks(_read("reference"), _read("differs-image"))
    assert strict.verdict == "differs" and strict.differences[0].reason.startswith("image/png looks different")
    loose_images = CompareOptions.from_manifest({"image_threshold": 0.0})
    _same(compare_notebooks(_read("reference"), _read("differs-image"), loose_images), 7)
    # the ignored cell is not counted among the compared ones
    _same(compare_notebooks(_read("reference"), _read("differs-text"), CompareOptions(ignore_cells=[2])), 6)
    ignored = CompareOptions(ignore_patterns=[r"^(run|finished) at"])
    _same(compare_notebooks(_read("reference"), _read("differs-text"), ignored), 7)


def test_cell_count_change_differs() -> None:
    executed = _read("reference")
    executed.cells.append(nbformat.v4.new_code_cell("print(1)"))
    result = compare_notebooks(_read("reference"), executed)
    assert result.verdict == "differs" and "code cells" in result.message


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<Model at 0x7f3a2b1c9d40>", "<Model at 0x<ADDR>>"),
        ("at 2024-03-01T10:11:12.5+01:00 and 2024-03-01", "at <DATETIME> and <DATE>"),
        ("took 12:01:02", "took <TIME>"),
        ("file /tmp/tmpab12_x/out.csv, home /home/alice/paper", "file <TMP>, home <HOME>/paper"),
        ("\r 10%|█         | 1/10\r100%|██████████| 10/10\nnext", "next"),
        ("CPU times: user 1.2 s, sys: 3 ms\nWall time: 1.3 s\nok", "<TIMING>\n<TIMING>\nok"),
        ('{"model_id": "0123456789abcdef0123"}', '{"model_id": "<MODEL>"}'),
        ("id 0f8fad5b-d9cb-469f-a165-70867728950e", "id <UUID>"),
        ("\x1b[31mred\x1b[0m", "red"),
    ],
)
def test_normalise_text(text: str, expected: str) -> None:
    assert normalise_text(text) == expected


def test_numbers_within_tolerance() -> None:
    assert texts_match("mean 1.0000001 n=10", "mean 1.0000002 n=10", rtol=1e-5, atol=0)
    assert not texts_match("mean 1.01 n=10", "mean 1.02 n=10", rtol=1e-5, atol=0)
    assert not texts_match("n=10", "n=10 extra", rtol=1, atol=1)
    assert texts_match("nan", "nan", rtol=0, atol=0)
    assert texts_match("x1 = 3", "x1 = 3.0000000001", rtol=1e-9, atol=0)


def test_image_similarity_scale() -> None:
    ref = _png(_read("reference"))
    assert image_similarity(ref, ref).value == 1.0
    assert image_similarity(ref, _png(_read("same"))).value >= 0.9
    assert image_similarity(ref, _png(_read("differs-image"))).value < 0.85
    image = Image.open(io.BytesIO(base64.b64decode(ref)))
    bigger = io.BytesIO()
    image.resize((image.width * 3 // 2, image.height * 3 // 2)).save(bigger, "PNG")
    assert image_similarity(ref, base64.b64encode(bigger.getvalue())).value >= 0.9
    wide = io.BytesIO()
    image.resize((image.width, image.height // 2)).save(wide, "PNG")
    squeezed = image_similarity(ref, base64.b64encode(wide.getvalue()))
    assert "the figure size changed" in squeezed.note and squeezed.value > 0  # scored on the content, not 0
    assert image_similarity(ref, "not an image").value == 0.0


# --- issue 16: each of these tests fails with the mutation its docstring names ----------------


def test_rtol_and_atol_are_not_swapped() -> None:
    """Mutation: ``math.isclose(x, y, rel_tol=atol, abs_tol=rtol)``."""
    assert texts_match("1000.0", "1000.005", rtol=1e-5, atol=1e-8)  # relative 5e-6
    assert not texts_match("0.0", "0.000001", rtol=1e-5, atol=1e-8)  # absolute 1e-6


def test_image_threshold_one_accepts_identical_images() -> None:
    """Mutation: ``score <= image_threshold`` (then ``image_threshold: 1`` flags identical images)."""
    options = CompareOptions.from_manifest({"image_threshold": 1})
    _same(compare_notebooks(_read("reference"), _read("reference"), options), 7)


def test_timeit_lines_are_normalised() -> None:
    """Mutation: the ``%timeit … ± … per loop`` normaliser removed."""
    a = "1.2 ms ± 3.4 µs per loop (mean ± std. dev. of 7 runs, 1,000 loops each)\nresult 3"
    b = "2.9 ms ± 71 µs per loop (mean ± std. dev. of 7 runs, 100 loops each)\nresult 3"
    assert normalise_text(a) == normalise_text(b) == "<TIMING>\nresult 3"


def test_fewer_code_cells_differs() -> None:
    """Mutation: only a longer executed notebook counted as a change (or cells zipped)."""
    executed = _read("reference")
    last = max(i for i, c in enumerate(executed.cells) if c.cell_type == "code")
    del executed.cells[last]
    result = compare_notebooks(_read("reference"), executed)
    assert result.verdict == "differs" and "code cells" in result.message


def test_ignored_cells_are_not_counted() -> None:
    """Mutation: ``compared += 1`` before the ``ignore_cells`` check."""
    result = compare_notebooks(_read("reference"), _read("differs-text"), CompareOptions(ignore_cells=[2]))
    assert result.verdict == "same" and result.compared == 6, result.message


def test_progress_bar_drops_only_its_own_line() -> None:
    """Mutation: the progress-bar rule also matches every line before the bar."""
    text = "loading\nfit 3 models\n 50%|█████     | 5/10\r100%|██████████| 10/10 [00:01<00:00]\nbest 0.5"
    assert normalise_text(text) == "loading\nfit 3 models\nbest 0.5"


# --- issue 9: the comparison, right both ways -------------------------------------------------


def _cell(outputs: list[dict[str, Any]], count: int | None = 1) -> Any:
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    cell.execution_count = count
    return cell


def _notebook(*cells: Any) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def test_differs_names_cells_as_failures_do(tmp_path: Path) -> None:
    """ "code cell 2 (In [7])", as a failure in that cell is named: markdown cells are not counted, 1-based."""
    from paperpack.notebook.parse import ParsedNotebook, read_notebook
    from paperpack.run.outcome import where

    def out(text: str) -> dict[str, Any]:
        return {"output_type": "stream", "name": "stdout", "text": text}

    ref = _notebook(
        nbformat.v4.new_markdown_cell("# title"),
        _cell([out("1\n")], count=4),
        nbformat.v4.new_markdown_cell("text"),
        _cell([out("2\n")], count=7),
        _cell([out("3\n")], count=None),
    )
    new = _notebook(
        nbformat.v4.new_markdown_cell("# title"),
        _cell([out("1\n")], count=1),
        nbformat.v4.new_markdown_cell("text"),
        _cell([out("two\n")], count=2),
        _cell([out("three\n")], count=3),
    )
    result = compare_notebooks(ref, new)
    assert result.verdict == Verdict.DIFFERS
    assert result.message == "2 of 3 cells differ: code cell 2 (In [7]), code cell 3"
    assert [(d.cell, d.where) for d in result.differences] == [(3, "code cell 2 (In [7])"), (4, "code cell 3")]
    assert result.to_dict()["differences"][0]["where"] == "code cell 2 (In [7])"
    nbformat.write(ref, str(tmp_path / "a.ipynb"))
    committed = read_notebook(tmp_path / "a.ipynb", "a.ipynb")
    assert isinstance(committed, ParsedNotebook)
    assert [where(committed, d.cell) for d in result.differences] == [d.where for d in result.differences]
    run = NotebookRun(
        path="a.ipynb", status=Status.OK, verdict=result.verdict, message=result.message, comparison=result.to_dict()
    )
    shown = io.StringIO()
    render_verdicts(
        RunResult(engine="local", isolation="", image=None, out_dir=tmp_path, jobs=1, limits={}, notebooks=[run]),
        make_console(shown, color="never"),
    )
    assert "a.ipynb, code cell 2 (In [7]): stream:stdout differs" in shown.getvalue(), shown.getvalue()


def test_only_cells_with_outputs_are_counted() -> None:
    ref = _notebook(
        *[_cell([]) for _ in range(9)],
        _cell([{"output_type": "stream", "name": "stdout", "text": "1"}]),
        _cell([{"output_type": "stream", "name": "stdout", "text": "2"}]),
    )
    result = compare_notebooks(ref, ref)
    assert result.verdict == "same" and result.message == "2 cells with the same results"


def test_ignore_pattern_removes_only_what_it_matches() -> None:
    ref = _notebook(_cell([{"output_type": "stream", "name": "stdout", "text": "took 3 s, result 42\n"}]))
    new = _notebook(_cell([{"output_type": "stream", "name": "stdout", "text": "took 9 s, result 41\n"}]))
    for pattern in ("^took", r"^took \d+ s, result"):  # the result (41, not 42) is not what the pattern removes
        result = compare_notebooks(ref, new, CompareOptions(ignore_patterns=[pattern]))
        assert result.verdict == "differs" and [(d.cell, d.reason) for d in result.differences] == [
            (0, "stream:stdout differs")
        ], pattern
    new.cells[0].outputs[0]["text"] = "took 9 s, result 42\n"
    _same(compare_notebooks(ref, new, CompareOptions(ignore_patterns=[r"took \d+ s"])), 1)
    assert normalise_text("Elapsed 3 s\nok", ignore_patterns=[r"^Elapsed.*"]) == "ok"


def test_new_warnings_are_same_with_warnings() -> None:
    warning = (
        "/srv/venv/lib/python3.11/site-packages/numpy/core/fromnumeric.py:59: "
        "DeprecationWarning: use arr.item()\n  return bound(*args, **kwds)\n"
    )
    out = {"output_type": "stream", "name": "stdout", "text": "result 42\n"}
    ref = _notebook(_cell([out]))
    new = _notebook(_cell([out, {"output_type": "stream", "name": "stderr", "text": warning}]))
    result = compare_notebooks(ref, new)
    assert result.verdict == Verdict.SAME_WITH_WARNINGS
    assert [w.to_dict() for w in result.new_warnings] == [
        {"cell": 0, "where": "code cell 1 (In [1])", "category": "DeprecationWarning", "message": "use arr.item()"}
    ]
    assert result.message == (
        "1 cell with the same results, with 1 new warning (code cell 1 (In [1]): DeprecationWarning: use arr.item())"
    )
    assert compare_notebooks(new, new).verdict == Verdict.SAME  # a warning already committed is not new


def test_html_is_compared_without_its_styling() -> None:
    def table(style: str, value: str) -> Any:
        html = f"<div><style scoped>{style}</style><table class='dataframe'><tr><td>{value}</td></tr></table></div>"
        return _notebook(
            _cell(
                [
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"text/html": html, "text/plain": "   a\n0  1"},
                    }
                ]
            )
        )

    old = table(".dataframe tbody tr th:only-of-type {vertical-align: middle}", "1.5")
    _same(compare_notebooks(old, table(".dataframe thead th {text-align: right}", "1.5")), 1)
    changed = compare_notebooks(old, table(".dataframe thead th {text-align: right}", "1.6"))
    assert changed.verdict == "differs" and changed.differences[0].reason.startswith("text/html"), changed.message


def test_sixteen_bit_images_are_compared() -> None:
    def png(rows: slice) -> bytes:
        pixels = np.zeros((40, 60), dtype=np.uint16)
        pixels[rows, 10:50] = 60000
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "PNG")
        return base64.b64encode(out.getvalue())

    assert image_similarity(png(slice(10, 20)), png(slice(10, 20)) + b"\n").value == 1.0
    assert image_similarity(png(slice(10, 20)), png(slice(25, 35))).value < 0.5


def _same(result: Comparison, cells: int) -> None:
    """*same*, and the cause: how many cells with outputs were compared."""
    said = f"{cells} cell{'s' if cells != 1 else ''} with the same results"
    assert (result.verdict, result.message) == ("same", said), [d.to_dict() for d in result.differences]
