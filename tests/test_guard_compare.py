"""The comparison's guarantees that issue 16's mutation testing found unpinned (paperpack/compare/).

Each test is a small pair of notebooks and the verdict or message an editor reads.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

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
    assert [part.rsplit(": ", 1)[-1] for part in shown[: -len("; … 2 more)")].split("; ")] == [
        "change 0",
        "change 1",
        "change 2",
    ]


def test_three_new_warnings_are_all_shown_and_one_is_singular() -> None:
    ref = _notebook(_cell([_stdout("42\n")]))
    three = _notebook(_cell([_stdout("42\n"), _stderr("".join(_warning(f"change {i}") for i in range(3)))]))
    message = compare_notebooks(ref, three).message
    assert message.endswith(
        ", with 3 new warnings (code cell 1 (In [1]): FutureWarning: change 0; "
        "code cell 1 (In [1]): FutureWarning: change 1; "
        "code cell 1 (In [1]): FutureWarning: change 2)"
    ), message
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
    new = _notebook(
        _cell([_stdout("42\n"), _stderr(_warning("soon"))]),
        _cell([_stdout("5\n")], count=2),
        _cell([_stdout("y\n")], count=3),
    )
    options = CompareOptions(rtol=0.5, atol=0.25, image_threshold=0.5, ignore_cells=[2], ignore_patterns=["^z"])
    result = compare_notebooks(ref, new, options)
    record = result.to_dict()
    assert record["verdict"] == "differs" and record["message"] == result.message
    assert record["cells_compared"] == 2  # the third cell is ignored
    assert record["tolerances"] == {
        "rtol": 0.5,
        "atol": 0.25,
        "image_threshold": 0.5,
        "ignore_cells": [2],
        "ignore_patterns": ["^z"],
    }
    [difference] = record["differences"]
    assert set(difference) >= {"cell", "reason", "diff"} and difference["cell"] == 1
    assert difference["reason"] == result.differences[0].reason and difference["reason"]
    assert "1" in difference["diff"] and "5" in difference["diff"]
    assert record["new_warnings"] == [
        {"cell": 0, "where": "code cell 1 (In [1])", "category": "FutureWarning", "message": "soon"}
    ]


# --- numbers ------------------------------------------------------------------------------------


def test_nan_equals_nan_in_any_spelling_and_nothing_else() -> None:
    from paperpack.compare import texts_match

    assert texts_match("loss nan", "loss NaN", 1e-5, 1e-8)
    assert not texts_match("loss nan", "loss 1.0", 1e-5, 1e-8), "a NaN where a number was is a difference"
    assert not texts_match("loss 1.0", "loss nan", 1e-5, 1e-8)


def test_the_absolute_tolerance_applies_near_zero() -> None:
    """rtol alone never accepts anything against 0: atol is what makes 1e-9 "zero"."""
    from paperpack.compare import texts_match

    assert texts_match("residual 0.0", "residual 0.000000001", 1e-5, 1e-8)
    assert not texts_match("residual 0.0", "residual 0.001", 1e-5, 1e-8)


# --- the manifest's compare section -------------------------------------------------------------


def test_every_key_of_the_manifests_compare_section_is_read() -> None:
    from paperpack.compare import CompareOptions

    section = {"rtol": 0.1, "atol": 2, "image_threshold": 0.5, "ignore_cells": [3, 4], "ignore_patterns": ["^Took"]}
    options = CompareOptions.from_manifest(section, workdirs=["/w"])
    assert options.to_dict() == {
        "rtol": 0.1,
        "atol": 2.0,
        "image_threshold": 0.5,
        "ignore_cells": [3, 4],
        "ignore_patterns": ["^Took"],
    }
    assert options.workdirs == ["/w"] and isinstance(options.atol, float)
    assert CompareOptions.from_manifest(None).to_dict() == CompareOptions().to_dict()


# --- the diff an editor reads -------------------------------------------------------------------


def test_the_diff_shows_one_line_of_context_and_the_normalised_text() -> None:
    from paperpack.compare import CompareOptions

    lines = [f"row {i} /work/dir/x took 3 s" for i in range(9)]
    changed = list(lines)
    changed[4] = "row 4 /work/dir/x took 3 s CHANGED"
    ref = _notebook(_cell([_stdout("\n".join(lines) + "\n")]))
    new = _notebook(_cell([_stdout("\n".join(changed) + "\n")]))
    options = CompareOptions(ignore_patterns=[r" took \d+ s"], workdirs=["/work/dir"])
    [difference] = compare_notebooks(ref, new, options).differences
    diff = difference.diff.split("\n")
    assert re.fullmatch(r"@@ -\d+,\d+ \+\d+,\d+ @@", diff[0]), diff  # the hunk header first, no file names
    assert diff[1:] == [
        " row 3 <WORKDIR>/x",
        "-row 4 <WORKDIR>/x",
        "+row 4 <WORKDIR>/x CHANGED",
        " row 5 <WORKDIR>/x",
    ], diff


def test_a_long_diff_is_cut_and_says_how_much_more() -> None:
    ref = _notebook(_cell([_stdout("".join(f"a{i}\n" for i in range(30)))]))
    new = _notebook(_cell([_stdout("".join(f"b{i}\n" for i in range(30)))]))
    [difference] = compare_notebooks(ref, new).differences
    diff = difference.diff.split("\n")
    assert len(diff) == 13 and diff[-1] == "… 50 more lines", diff[-3:]  # 62 lines: hunk header, label, 60


def test_an_image_is_shown_with_its_size_in_the_diff() -> None:
    import base64
    import io

    from PIL import Image

    def png(colour: str, width: int) -> str:
        buffer = io.BytesIO()
        Image.new("RGB", (width, 3), colour).save(buffer, format="PNG")
        return base64.b64encode(buffer.getvalue()).decode()

    def shown(colour: str, width: int) -> Any:
        return _cell([{"output_type": "display_data", "metadata": {}, "data": {"image/png": png(colour, width)}}])

    [difference] = compare_notebooks(_notebook(shown("white", 4)), _notebook(shown("black", 5))).differences
    assert difference.diff.split("\n")[1:] == ["-[image/png 4x3]", "+[image/png 5x3]"], difference.diff


def test_cells_are_listed_as_a_person_finds_them_up_to_eight() -> None:
    from paperpack.compare.core import CellDifference, cell_list

    assert cell_list([CellDifference(cell=4, reason="x")]) == "cell 5"
    eight = [CellDifference(cell=i, reason="x", where=f"code cell {i + 1}") for i in range(8)]
    assert cell_list(eight) == ", ".join(f"code cell {i + 1}" for i in range(8))
    assert cell_list(eight + [CellDifference(cell=8, reason="x", where="code cell 9")]).endswith("code cell 8 …")


def test_an_image_that_cannot_be_decoded_is_still_shown() -> None:
    def broken(text: str) -> Any:
        return _cell([{"output_type": "display_data", "metadata": {}, "data": {"image/png": text}}])

    [difference] = compare_notebooks(_notebook(broken("bm90IGEgcG5n")), _notebook(broken("bm90IHRoYXQ="))).differences
    assert difference.reason.startswith("image/png"), difference.reason
    assert difference.diff == "", "both are shown as [image/png], without a size"
    from PIL import Image

    [one] = compare_notebooks(
        _notebook(broken("bm90IGEgcG5n")), _notebook(broken(_png(Image.new("RGB", (4, 3), "white"))))
    ).differences
    assert one.diff.split("\n")[1:] == ["-[image/png]", "+[image/png 4x3]"], one.diff


# --- what a reader sees of rich outputs -----------------------------------------------------------


def _display(data: dict[str, Any]) -> Any:
    return _cell([{"output_type": "display_data", "metadata": {}, "data": data}])


def _verdict(a: dict[str, Any], b: dict[str, Any]) -> str:
    """The verdict word; a *same* also says why (the one cell was compared, not left out)."""
    result = compare_notebooks(_notebook(_display(a)), _notebook(_display(b)))
    assert result.verdict != "same" or result.message == "1 cell with the same results", result.message
    return str(result.verdict)


def _differs(a: dict[str, Any], b: dict[str, Any]) -> str:
    """The reason a *differs* verdict gives (the verdict word alone would not say what was compared)."""
    result = compare_notebooks(_notebook(_display(a)), _notebook(_display(b)))
    assert str(result.verdict) == "differs" and result.differences, result.message
    return result.differences[0].reason


def test_an_image_is_the_same_however_its_base64_is_wrapped() -> None:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, format="PNG")
    flat = base64.b64encode(buffer.getvalue()).decode()
    wrapped = "\n".join(flat[i : i + 76] for i in range(0, len(flat), 76)) + "\n"
    assert _verdict({"image/png": flat}, {"image/png": wrapped}) == "same"


def test_a_widget_is_compared_by_its_view_without_model_id_and_text_repr() -> None:
    def widget(model: str, version: int, text: str) -> dict[str, Any]:
        return {
            "application/vnd.jupyter.widget-view+json": {"model_id": model, "version_major": version},
            "text/plain": text,
        }

    assert (
        _verdict(widget("a" * 32, 2, "IntSlider(value=1)"), widget("b" * 32, 2, "IntSlider(value=1, description='')"))
        == "same"
    )
    assert _verdict(widget("slider-one", 2, "x"), widget("slider-two", 2, "x")) == "same", "any model id"
    view = {"model_id": "m", "version_major": 2, "version_minor": 0}
    reordered = {"version_minor": 0, "model_id": "m", "version_major": 2}
    assert (
        _verdict(
            {"application/vnd.jupyter.widget-view+json": view, "text/plain": "x"},
            {"application/vnd.jupyter.widget-view+json": reordered, "text/plain": "x"},
        )
        == "same"
    )
    nested = {"model_id": "m", "version_major": 2, "state": {"value": 1}, "layout": {"width": "50%"}}
    nested_reordered = {"layout": {"width": "50%"}, "state": {"value": 1}, "version_major": 2, "model_id": "m"}
    assert (
        _verdict(
            {"application/vnd.jupyter.widget-view+json": nested, "text/plain": "x"},
            {"application/vnd.jupyter.widget-view+json": nested_reordered, "text/plain": "x"},
        )
        == "same"
    ), "a view holding objects is compared by content, in any key order"
    broken = {"application/vnd.jupyter.widget-view+json": "not a view", "text/plain": "x"}
    assert _verdict(broken, broken) == "same", "an untrusted view that is not an object is judged, not crashed on"
    assert "widget" in _differs(widget("a" * 32, 2, "IntSlider(value=1)"), widget("a" * 32, 3, "IntSlider(value=1)"))


def test_json_outputs_are_compared_by_content() -> None:
    assert _verdict({"application/json": {"a": 1, "b": [1, 2]}}, {"application/json": {"b": [1, 2], "a": 1}}) == "same"
    assert "application/json" in _differs({"application/json": {"a": 1}}, {"application/json": {"a": 2}})
    assert "application/json" in _differs({"application/json": [{"a": 1}]}, {"application/json": [{"a": 2}]})
    assert _verdict({"text/plain": ["line 1\n", "line 2"]}, {"text/plain": "line 1\nline 2"}) == "same"
    assert "application/json" in _differs({"application/json": 5}, {"application/json": 6})
    ref = _notebook(_display({"application/json": 5}))
    [difference] = compare_notebooks(ref, _notebook(_display({"application/json": 6}))).differences
    assert difference.diff.split("\n")[1] == " [application/json]", difference.diff


def test_html_keeps_what_it_points_at_and_its_text_not_its_styling() -> None:
    assert (
        _verdict(
            {"text/html": '<img src="fig.png" width="100" class="a">'},
            {"text/html": '<img class="b" width="200" src="fig.png">'},
        )
        == "same"
    )
    assert "text/html" in _differs({"text/html": '<img src="fig.png">'}, {"text/html": '<img src="other.png">'})
    assert "text/html" in _differs({"text/html": '<a href="x.csv">data</a>'}, {"text/html": '<a href="y.csv">data</a>'})
    assert "text/html" in _differs({"text/html": "<td>1 &lt; 2</td>"}, {"text/html": "<td>1 &gt; 2</td>"})
    assert (
        _verdict(
            {"text/html": "<style>td {color: red}</style><p>x</p>"},
            {"text/html": "<style>td {color: blue}</style><p>x</p>"},
        )
        == "same"
    )


def test_latex_is_compared_without_its_math_delimiters() -> None:
    assert _verdict({"text/latex": "$$x^2$$"}, {"text/latex": "$\\displaystyle x^2$"}) == "same"
    assert "text/latex" in _differs({"text/latex": "$$x^2$$"}, {"text/latex": "$$x^3$$"})
    assert _verdict({"text/latex": "x^2"}, {"text/latex": "$x^2$"}) == "same"


def test_html_text_outside_and_after_tags_is_compared() -> None:
    assert "text/html" in _differs({"text/html": "result 1"}, {"text/html": "result 2"})
    assert "text/html" in _differs({"text/html": "<b>mean</b> 1.0"}, {"text/html": "<b>mean</b> 2.0"})


def test_only_warnings_and_their_source_lines_leave_stderr() -> None:
    """What else a cell printed on stderr stays compared, indented lines included."""
    from paperpack.compare.stderr import PrintedWarning, split_warnings

    text = (
        "  indented before any warning\n"
        "/srv/a.py:1: UserWarning: first\n"
        "  source line\n"
        "\tsource line after a tab\n"
        "real error output\n"
        "  indented real output\n"
        "/srv/b.py:2: FutureWarning: second\n"
        "  source\n"
        "after"
    )
    kept, found = split_warnings(text)
    assert kept == "  indented before any warning\nreal error output\n  indented real output\nafter"
    assert found == [PrintedWarning("UserWarning", "first"), PrintedWarning("FutureWarning", "second")]


# --- which outputs are compared -------------------------------------------------------------------


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]], **options: Any) -> bool:
    from paperpack.compare import CompareOptions

    result = compare_notebooks(_notebook(_cell(a)), _notebook(_cell(b)), CompareOptions(**options))
    assert result.verdict != "same" or result.message == "1 cell with the same results", result.message
    return result.verdict == "same"


def _cell_differs(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> str:
    """Why the one cell differs (its one difference's reason): what a *differs* verdict says beyond its word."""
    result = compare_notebooks(_notebook(_cell(a)), _notebook(_cell(b)))
    assert result.verdict == "differs" and [d.cell for d in result.differences] == [0], result.message
    return result.differences[0].reason


def _result(text: str) -> dict[str, Any]:
    return {"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {"text/plain": text}}


def _error(ename: str, evalue: str) -> dict[str, Any]:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": []}


def test_a_cells_result_is_compared() -> None:
    assert _same([_result("42")], [_result("42")])
    assert (
        not _same([_result("42")], [_result("43")])
        and _cell_differs([_result("42")], [_result("43")]) == "text/plain differs"
    )


def test_an_error_is_compared_by_its_name_and_value() -> None:
    assert _same([_error("KeyError", "'x'")], [_error("KeyError", "'x'")])
    assert (
        not _same([_error("KeyError", "'x'")], [_error("KeyError", "'y'")])
        and _cell_differs([_error("KeyError", "'x'")], [_error("KeyError", "'y'")]) == "error differs"
    )
    assert (
        not _same([_error("KeyError", "'x'")], [_error("IndexError", "'x'")])
        and _cell_differs([_error("KeyError", "'x'")], [_error("IndexError", "'x'")]) == "error differs"
    )
    assert _same([{"output_type": "error"}], [_error("", "")]), "a missing name or value is an empty one"


def test_streams_default_to_stdout_and_empty_text_and_are_joined() -> None:
    assert _same([{"output_type": "stream", "text": "x\n"}], [_stdout("x\n")])
    assert _same([{"output_type": "stream", "name": "stdout"}], [_stdout("")])
    assert _same([_stdout("a"), _stdout("b\n")], [_stdout("ab\n")]), "chunking differs from run to run"
    assert (
        not _same([_stdout("a\n"), _stderr("b\n")], [_stdout("a\n"), _stdout("b\n")])
        and _cell_differs([_stdout("a\n"), _stderr("b\n")], [_stdout("a\n"), _stdout("b\n")])
        == "the outputs are not of the same kinds"
    )


def test_warnings_of_every_stderr_chunk_and_the_outputs_after_them_count() -> None:
    ref = _notebook(_cell([_stdout("1\n")]))
    new = _notebook(_cell([_stderr(_warning("one")), _stderr(_warning("two")), _stdout("1\n")]))
    result = compare_notebooks(ref, new)
    assert result.verdict == "same-with-warnings" and [w.warning.message for w in result.new_warnings] == ["one", "two"]
    assert (
        not _same([_stdout("1\n")], [_stderr(_warning("one")), _stdout("2\n")])
        and _cell_differs([_stdout("1\n")], [_stderr(_warning("one")), _stdout("2\n")]) == "stream:stdout differs"
    ), "a warning hides nothing after it"


def test_every_output_of_a_cell_is_compared_not_only_the_last_display() -> None:
    display = {"output_type": "display_data", "metadata": {}, "data": {"text/plain": "b"}}
    assert (
        not _same([_stdout("a\n"), display], [_stdout("c\n"), display])
        and _cell_differs([_stdout("a\n"), display], [_stdout("c\n"), display]) == "stream:stdout differs"
    )
    assert _same([{"output_type": "display_data", "metadata": {}}], [{"output_type": "display_data", "metadata": {}}])


def test_a_widget_text_repr_is_skipped_only_in_its_own_output() -> None:
    widget = {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "application/vnd.jupyter.widget-view+json": {"model_id": "a" * 32, "version_major": 2},
            "text/plain": "IntSlider(value=1)",
        },
    }
    plain = {"output_type": "display_data", "metadata": {}, "data": {"text/plain": "mean 1.0"}}
    other = {"output_type": "display_data", "metadata": {}, "data": {"text/plain": "mean 2.0"}}
    assert (
        not _same([widget, plain], [widget, other])
        and _cell_differs([widget, plain], [widget, other]) == "text/plain differs"
    )


def test_the_run_folders_are_normalised_on_both_sides() -> None:
    folders = ["/srv/run-a/work", "/srv/run-b/work"]
    assert _same(
        [_stdout("read /srv/run-a/work/data.csv\n")], [_stdout("read /srv/run-b/work/data.csv\n")], workdirs=folders
    )
    assert (
        not _same([_stdout("read /srv/run-a/work/data.csv\n")], [_stdout("read /srv/run-b/work/data.csv\n")])
        and _cell_differs([_stdout("read /srv/run-a/work/data.csv\n")], [_stdout("read /srv/run-b/work/data.csv\n")])
        == "stream:stdout differs"
    )


def test_a_cell_compared_alone_is_named_by_its_number() -> None:
    from paperpack.compare import CompareOptions
    from paperpack.compare.core import compare_cell

    difference, _ = compare_cell(3, [_stdout("1\n")], [_stdout("2\n")], CompareOptions())
    assert difference is not None and difference.where == "cell 4"


# --- which cells are compared ---------------------------------------------------------------------


def _code(count: int | None, *outputs: dict[str, Any]) -> dict[str, Any]:
    """A plain-dict code cell, as an untrusted notebook may hold it (no metadata)."""
    cell: dict[str, Any] = {"cell_type": "code", "execution_count": count, "source": ""}
    if outputs:
        cell["outputs"] = list(outputs)
    return cell


def test_a_cell_the_author_never_ran_is_skipped_and_the_next_ones_compared() -> None:
    ref = {"cells": [_code(None), _code(2, _stdout("1\n"))]}
    new = {"cells": [_code(1, _stdout("anything\n")), _code(2, _stdout("2\n"))]}
    result = compare_notebooks(ref, new)
    assert result.verdict == "differs" and result.compared == 1
    assert [(d.cell, d.reason) for d in result.differences] == [(1, "stream:stdout differs")]


def test_a_cell_that_printed_nothing_and_now_prints_differs() -> None:
    ref = {"cells": [_code(1), _code(2, _stdout("1\n"))]}
    new = {"cells": [_code(1, _stdout("surprise\n")), _code(2, _stdout("1\n"))]}
    result = compare_notebooks(ref, new)
    assert result.verdict == "differs" and [(d.cell, d.reason) for d in result.differences] == [
        (0, "the outputs are not of the same kinds")
    ], result.message
    quiet = compare_notebooks(ref, {"cells": [_code(1), _code(2, _stdout("1\n"))]})
    assert quiet.verdict == "same" and quiet.compared == 1, "no output on either side: nothing compared"


def test_untrusted_notebooks_missing_keys_are_judged_not_crashed_on() -> None:
    ref = {"cells": [_code(1, _stdout("1\n"))]}
    missing = compare_notebooks(ref, {})
    assert missing.verdict == "differs" and missing.message == (
        "the executed notebook has 0 code cells, the committed one 1"
    )
    assert missing.to_dict()["tolerances"]["rtol"] == 1e-5
    none = compare_notebooks({"cells": [_code(1)]}, ref)
    assert none.verdict == "no-outputs" and none.message == "the committed notebook stores no outputs to compare with"
    assert none.to_dict()["tolerances"]["rtol"] == 1e-5
    no_outputs_key = compare_notebooks(
        {"cells": [_code(1), _code(2, _stdout("1\n"))]}, {"cells": [_code(1, _stdout("x\n")), _code(2, _stdout("1\n"))]}
    )
    assert no_outputs_key.verdict == "differs" and [(d.cell, d.reason) for d in no_outputs_key.differences] == [
        (0, "the outputs are not of the same kinds")
    ]


# --- normalisation ------------------------------------------------------------------------------


def test_carriage_returns_keep_each_lines_final_state() -> None:
    from paperpack.compare import normalise_text

    assert normalise_text("10%\r50%\r100%\nnext") == "100%\nnext"
    assert normalise_text("FIX\r") == "FIX", "a trailing carriage return does not erase its line"
    assert normalise_text("working...\r          \r\nresult") == "\nresult", "a line cleared with spaces is empty"
    assert normalise_text("a\r\nb") == "a\nb"


def test_run_folders_become_workdir_and_indentation_stays() -> None:
    from paperpack.compare import normalise_text

    assert normalise_text("at /srv/w/x.csv", workdirs=["", "/srv/w"]) == "at <WORKDIR>/x.csv"
    assert normalise_text("    indented\nnot") == "    indented\nnot"


# --- images ---------------------------------------------------------------------------------------


def _png(image: Any) -> str:
    import base64
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_transparent_figure_is_seen_on_white() -> None:
    """matplotlib with ``transparent=True`` against the same figure on white: the reader sees the same."""
    from PIL import Image, ImageDraw

    from paperpack.compare import image_similarity

    def figure(mode: str, background: tuple[int, ...]) -> str:
        image = Image.new(mode, (120, 80), background)
        draw = ImageDraw.Draw(image)
        draw.line([(10, 70), (60, 10), (110, 60)], fill=(0, 0, 0) + ((255,) if mode == "RGBA" else ()), width=3)
        draw.rectangle([5, 5, 114, 74], outline=(0, 0, 0) + ((255,) if mode == "RGBA" else ()))
        return _png(image)

    transparent, white = figure("RGBA", (0, 0, 0, 0)), figure("RGB", (255, 255, 255))
    assert image_similarity(transparent, white).value > 0.95
    cyan = figure("RGB", (0, 255, 255))
    assert image_similarity(transparent, cyan).value < image_similarity(transparent, white).value


def test_what_is_not_an_image_decodes_to_none() -> None:
    from paperpack.compare.images import decode_image

    assert decode_image(["iVBORw0KGgo="]) is None  # type: ignore[arg-type]
    assert decode_image("bm90IGFuIGltYWdl") is None


def _drawing(width: int, height: int) -> Any:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([2, 2, width - 3, height - 3], outline="black", width=2)
    draw.line([(4, height - 4), (width // 2, 4), (width - 4, height // 2)], fill="black", width=2)
    return image


def test_a_changed_figure_shape_is_named_and_a_rescaled_figure_is_not() -> None:
    from paperpack.compare import image_similarity

    small, large = _png(_drawing(120, 80)), _png(_drawing(240, 160))
    rescaled = image_similarity(small, large)
    assert rescaled.note == "", rescaled  # the same shape, twice the size
    reshaped = image_similarity(small, _png(_drawing(120, 160)))
    assert reshaped.note == "; the figure size changed: 120x80 → 120x160", reshaped.note
    wide = image_similarity(_png(_drawing(160, 80)), _png(_drawing(120, 80)))
    assert wide.note == "; the figure size changed: 160x80 → 120x80", wide.note
    exactly = image_similarity(_png(_drawing(104, 24)), _png(_drawing(99, 24)))  # drawn: 100 x 20 → 95 x 20
    assert "size changed" not in exactly.note, "a shape changed by exactly ASPECT (5 %) is the same shape"


def test_an_output_that_is_not_an_image_says_so() -> None:
    from paperpack.compare import image_similarity

    score = image_similarity(_png(_drawing(40, 30)), "bm90IGFuIGltYWdl")
    assert (score.value, score.note) == (0.0, "; one of them is not an image")


def test_a_diff_of_exactly_twelve_lines_is_not_cut() -> None:
    ref = _notebook(_cell([_stdout("".join(f"a{i}\n" for i in range(5)))]))
    new = _notebook(_cell([_stdout("".join(f"b{i}\n" for i in range(5)))]))
    [difference] = compare_notebooks(ref, new).differences
    diff = difference.diff.split("\n")
    assert len(diff) == 12 and not diff[-1].endswith("more lines"), diff


def test_four_new_warnings_show_three_and_one_more() -> None:
    ref = _notebook(_cell([_stdout("42\n")]))
    new = _notebook(_cell([_stdout("42\n"), _stderr("".join(_warning(f"change {i}") for i in range(4)))]))
    assert compare_notebooks(ref, new).message.endswith("; … 1 more)")


def test_outputs_of_other_kinds_are_named_as_such() -> None:
    [difference] = compare_notebooks(_notebook(_cell([_stdout("1\n")])), _notebook(_cell([_result("1")]))).differences
    assert difference.reason == "the outputs are not of the same kinds"


def test_a_cell_that_lost_its_output_differs() -> None:
    ref = {"cells": [_code(1, _stdout("1\n")), _code(2, _stdout("2\n"))]}
    lost = compare_notebooks(ref, {"cells": [_code(1), _code(2, _stdout("2\n"))]})
    assert lost.verdict == "differs" and [(d.cell, d.reason) for d in lost.differences] == [
        (0, "the outputs are not of the same kinds")
    ]
    assert lost.compared == 2


def test_every_verdict_records_the_tolerances_used() -> None:
    from paperpack.compare import CompareOptions

    options = CompareOptions(rtol=0.5)
    ref = _notebook(_cell([_stdout("42\n")]))
    warned = compare_notebooks(ref, _notebook(_cell([_stdout("42\n"), _stderr(_warning("w"))])), options)
    assert warned.verdict == "same-with-warnings" and warned.to_dict()["cells_compared"] == 1
    assert warned.to_dict()["tolerances"]["rtol"] == 0.5
    no_outputs = compare_notebooks({"cells": [_code(1)]}, {"cells": [_code(1, _stdout("1\n"))]}, options)
    fewer_cells = compare_notebooks({"cells": [_code(1, _stdout("1\n"))]}, {}, options)
    assert (no_outputs.verdict, fewer_cells.verdict) == ("no-outputs", "differs")
    assert fewer_cells.message == "the executed notebook has 0 code cells, the committed one 1", fewer_cells.message
    assert no_outputs.to_dict()["tolerances"]["rtol"] == fewer_cells.to_dict()["tolerances"]["rtol"] == 0.5


# --- text in figures (issue 9: a number in a title) ------------------------------------------------


def _titled_figure(title: str, font: Any = None, legend: tuple[float, float] = (200.0, 40.0)) -> str:
    """A plot drawn with Pillow: a frame, a coloured curve, tick labels, an x label, a legend label
    at ``legend`` (fractions of a pixel allowed) and a title, in Pillow's own font unless ``font``."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (320, 240), "white")
    draw = ImageDraw.Draw(image)
    font = font or ImageFont.load_default(size=12)
    draw.rectangle((40, 30, 300, 210), outline="black")
    draw.line([(40 + x, 120 + 60 * ((x / 40) % 2 - 1)) for x in range(0, 261, 20)], fill=(31, 119, 180), width=2)
    for i, label in enumerate(("1.0", "0.5", "0.0")):
        draw.text((12, 24 + 90 * i), label, fill="black", font=font)
    draw.text((130, 215), "time (s)", fill="black", font=font)
    draw.text(legend, "model", fill="black", font=font)
    draw.text((110, 8), title, fill="black", font=font)
    return _png(image)


def _figure_cell(png: str) -> dict[str, Any]:
    return _cell([{"output_type": "display_data", "metadata": {}, "data": {"image/png": png}}])


def test_a_changed_number_in_a_figure_title_differs_and_is_named() -> None:
    """ "RMSE = 0.31" → "RMSE = 0.35", the curve the same: one glyph, too few pixels for a tile."""
    from paperpack.compare.images import image_similarity

    reference = _titled_figure("fit, RMSE = 0.31")
    result = compare_notebooks(
        _notebook(_figure_cell(reference)), _notebook(_figure_cell(_titled_figure("fit, RMSE = 0.35")))
    )
    assert result.verdict == "differs"
    reason = result.differences[0].reason
    assert reason.startswith("image/png looks different (similarity 0.")
    assert reason.endswith(
        "; its text changed: 1 character of a title, label or number differs (the rest of the text is drawn the same))"
    ), reason
    two = image_similarity(reference, _titled_figure("fit, RMSE = 0.47"))
    assert two.note == (
        "; its text changed: 2 characters of a title, label or number differ (the rest of the text is drawn the same)"
    ), two.note
    assert two.value < 0.6, "the similarity is 1 − the change of the most changed glyph"
    # the same, seen from the other side: a glyph of the re-executed figure that the committed one lacks
    assert "its text changed" in image_similarity(_titled_figure("fit, RMSE = 0.35"), reference).note


def test_digits_swapped_or_inserted_in_a_figure_title_differ() -> None:
    """Each digit of "0.13" has its shape a digit's width away in "0.31" (and so has each of "0.331"): a
    glyph counts as moved only when the glyphs around it moved with it."""
    from paperpack.compare.images import image_similarity

    reference = _titled_figure("fit, RMSE = 0.31")
    for title in ("fit, RMSE = 0.13", "fit, RMSE = 0.331"):
        score = image_similarity(reference, _titled_figure(title))
        assert "its text changed" in score.note and score.value < 0.78, (title, score)


def test_the_same_text_in_another_font_or_placed_elsewhere_is_not_a_text_change() -> None:
    from PIL import ImageFont

    from paperpack.compare.images import image_similarity

    reference = _titled_figure("fit, RMSE = 0.31")
    assert image_similarity(reference, _titled_figure("fit, RMSE = 0.31")).value == 1.0
    for other in (
        _titled_figure("fit, RMSE = 0.31", ImageFont.load_default_imagefont()),  # another font
        _titled_figure("fit, RMSE = 0.31", ImageFont.load_default(size=13)),  # another size
        _titled_figure("fit, RMSE = 0.31", legend=(200.5, 40.5)),  # a legend a half pixel away
        _titled_figure("fit, RMSE = 0.31", legend=(202.0, 41.0)),  # … and two pixels away
        _titled_figure("fit, RMSE = 0.31", legend=(204.0, 40.0)),
    ):  # … and moved by four
        score = image_similarity(reference, other)
        assert "its text changed" not in score.note and score.value >= 0.78, score


# --- the image score's parts (images.py), each against a plain reading of its docstring -------------


def _naive_box(values: Any, k: int) -> Any:
    import numpy as np

    before, after = k // 2, k - 1 - k // 2
    padded = np.pad(values, ((before, after), (before, after), (0, 0)), mode="edge")
    out = np.zeros_like(values, dtype=np.float64)
    for y in range(values.shape[0]):
        for x in range(values.shape[1]):
            out[y, x] = padded[y : y + k, x : x + k].mean(axis=(0, 1))
    return out


def test_the_box_blur_is_the_mean_of_each_window_with_edges_repeated() -> None:
    import numpy as np

    from paperpack.compare.images import _box

    values = np.random.default_rng(1).uniform(0, 255, (7, 9, 3))
    for k in (1, 2, 3, 4):
        assert np.allclose(_box(values, k), _naive_box(values, k)), k
    ramp = np.arange(16, dtype=np.float64).reshape(4, 4, 1)
    assert _box(ramp, 3)[0, 0, 0] == (0 + 0 + 1 + 0 + 0 + 1 + 4 + 4 + 5) / 9


def test_the_worst_tile_is_the_largest_share_of_changed_pixels_in_a_half_overlapping_tile() -> None:
    import numpy as np

    from paperpack.compare.images import TILE, _worst_tile

    changed = np.zeros((40, 48), dtype=bool)
    assert _worst_tile(changed) == 0.0
    changed[8:24, 8:24] = True  # exactly one tile on the half-tile grid
    assert _worst_tile(changed) == 1.0
    changed[:] = False
    changed[4:20, 4:20] = True  # straddles the grid: at best a quarter of a tile on it... or more
    shares = [
        changed[y : y + TILE, x : x + TILE].mean()
        for y in range(0, 40 - TILE + 1, TILE // 2)
        for x in range(0, 48 - TILE + 1, TILE // 2)
    ]
    assert _worst_tile(changed) == max(shares) == 0.5625
    small = np.zeros((6, 10), dtype=bool)  # smaller than a tile: the tile is the short side
    small[0, 0] = True
    assert _worst_tile(small) == 1 / 36
    last = np.zeros((40, 48), dtype=bool)
    last[24:40, 32:48] = True  # the last tile on the grid, at the bottom right corner
    assert _worst_tile(last) == 1.0
    strip = np.zeros((31, 47), dtype=bool)
    strip[24:31, 40:47] = True  # the last 7 rows and columns: no whole tile on the grid holds them
    assert _worst_tile(strip) == 49 / 256
    for last in (np.s_[24, :], np.s_[:, 24]):  # the last row, then the last column, of a 25 × 25 image
        edge = np.zeros((25, 25), dtype=bool)
        edge[last] = True
        assert _worst_tile(edge) == 16 / 256, last


def test_the_worst_tile_against_every_tile_on_the_grid() -> None:
    import numpy as np

    from paperpack.compare.images import TILE, _worst_tile

    rng = np.random.default_rng(3)
    for height, width in ((40, 48), (31, 47), (57, 33)):
        rows = np.linspace(0.1, 0.9, height)[:, None]  # denser further down: the worst tile is not the first
        changed = rng.uniform(0, 1, (height, width)) < rows
        step = TILE // 2
        shares = [
            changed[y : y + TILE, x : x + TILE].sum() / TILE**2
            for y in range(0, height - TILE + step, step)
            for x in range(0, width - TILE + step, step)
        ]
        assert _worst_tile(changed) == max(shares), (height, width)


def test_cropping_keeps_exactly_what_is_drawn() -> None:
    from PIL import Image

    from paperpack.compare.images import _crop

    image = Image.new("RGB", (30, 20), "white")
    image.putpixel((7, 5), (238, 255, 255))  # 17 from white in one channel: drawn
    image.putpixel((12, 9), (0, 0, 0))
    image.putpixel((25, 15), (239, 239, 239))  # 16 from white: background
    assert _crop(image).size == (6, 5)
    assert _crop(image).getpixel((0, 0)) == (238, 255, 255) and _crop(image).getpixel((5, 4)) == (0, 0, 0)
    blank = Image.new("RGB", (30, 20), "white")
    assert _crop(blank).size == (30, 20)


def test_glyphs_are_small_connected_pieces_of_dark_grey_ink() -> None:
    import numpy as np

    from paperpack.compare.images import INK_DARK, INK_GREY, _glyph_mask, _glyphs

    pixels = np.full((100, 100, 3), 255.0)
    pixels[10:14, 10:13] = 0.0  # a letter
    pixels[14, 13] = 0.0  # touching it only diagonally: the same piece
    pixels[30:34, 30:34] = INK_DARK - 1  # dark enough
    pixels[50:54, 50:54] = INK_DARK  # too light
    pixels[70:74, 70:74] = (0.0, 0.0, INK_GREY - 1)  # grey enough
    pixels[70:74, 80:84] = (0.0, 0.0, INK_GREY)  # a colour
    pixels[90, 5:95] = 0.0  # a long line: no glyph
    pixels[20:26, 80] = 0.0  # 6 px tall: the limit is max(4, 5 % of 100) = 5, a box spans fewer rows than 6
    pixels[40:45, 95:100] = 0.0  # 5 × 5 px: a glyph
    found = {(g.top, g.left, g.bottom, g.right) for g in _glyphs(pixels)}
    assert found == {(10, 10, 14, 13), (30, 30, 33, 33), (70, 70, 73, 73), (40, 95, 44, 99)}, found
    [letter] = [g for g in _glyphs(pixels) if g.top == 10]
    assert len(letter.rows) == 13 and (14, 13) in zip(letter.rows, letter.cols)
    mask = _glyph_mask((100, 100), _glyphs(pixels))
    assert mask.sum() == 13 + 16 + 16 + 25 and mask[14, 13] and not mask[14, 10]
    edge = np.full((4, 4, 3), 255.0)
    edge[3, 3] = 0.0  # a glyph in the corner is found (neighbours out of the image are skipped)
    assert [(g.top, g.left) for g in _glyphs(edge)] == [(3, 3)]


def test_registration_finds_the_shift_and_keeps_the_identity_on_a_tie() -> None:
    import numpy as np

    from paperpack.compare.images import _fit_axis

    profile = np.zeros(60)
    profile[20:24] = 10.0
    profile[40] = 5.0
    assert _fit_axis(profile, profile) == (1.0, 0.0)
    moved = np.roll(profile, 3)
    scale, shift = _fit_axis(profile, moved)
    assert (round(scale, 6), shift) == (1.0, 3.0)
    assert _fit_axis(profile, np.roll(profile, -4)) == (1.0, -4.0)
    assert _fit_axis(profile, np.roll(profile, 5))[1] != 5.0, "at most 4 px are searched"
    flat = np.ones(60)
    assert _fit_axis(flat, flat) == (1.0, 0.0), "every fit costs the same: the identity stays"


def test_registration_moves_the_new_image_onto_the_committed_one() -> None:
    import numpy as np
    from PIL import Image

    from paperpack.compare.images import _register

    ref = np.full((40, 60, 3), 255.0)
    ref[10:20, 15:18] = 0.0
    new = np.full((40, 60, 3), 255.0)
    new[12:22, 18:21] = 0.0  # 2 rows lower, 3 columns right
    moved = np.asarray(_register(ref, Image.fromarray(new.astype(np.uint8))), dtype=np.float64)
    assert np.abs(moved - ref).max() < 1.0


def test_text_is_rerendered_when_changes_touch_more_than_a_tenth_of_the_glyph_tiles() -> None:
    import numpy as np

    from paperpack.compare.images import _text_rerendered

    text = np.zeros((32, 176), dtype=bool)
    text[4, 4::16] = True  # one glyph pixel in each of 11 tiles
    changed = np.zeros_like(text)
    assert not _text_rerendered(changed, text)
    changed[4, 4] = True  # 1 of 11 tiles: 0.09
    assert not _text_rerendered(changed, text)
    changed[4, 20] = True  # 2 of 11: 0.18
    assert _text_rerendered(changed, text)
    assert not _text_rerendered(changed, np.zeros_like(text)), "no glyph, no text"
    assert not _text_rerendered(changed[:8], text[:8]), "an image smaller than a tile has no tile"
    other = np.zeros_like(text)
    other[20, 4] = other[20, 20] = True  # changes off the glyphs do not count
    assert not _text_rerendered(other, text)


def test_growing_a_mask_is_a_square_dilation() -> None:
    import numpy as np

    from paperpack.compare.images import _grow

    mask = np.zeros((7, 7), dtype=bool)
    mask[3, 3] = True
    grown = _grow(mask, 2)
    assert grown.sum() == 25 and grown[1:6, 1:6].all()
    corner = np.zeros((4, 4), dtype=bool)
    corner[0, 0] = True
    assert _grow(corner, 1).sum() == 4


def _naive_glyph_change(
    grey: Any, other: Any, box: tuple[int, int, int, int], reach: int, offset: tuple[int, int]
) -> float:
    """images._glyph_change read from its docstring, on images without padding."""
    top, left, bottom, right = box
    mine = grey[top - 1 : bottom + 2, left - 1 : right + 2]
    best = []
    for dy in range(offset[0] - reach, offset[0] + reach + 1):
        for dx in range(offset[1] - reach, offset[1] + reach + 1):
            theirs = other[top - 1 + dy : bottom + 2 + dy, left - 1 + dx : right + 2 + dx]
            ink = sum(255.0 - min(a, b) for a, b in zip(mine.ravel(), theirs.ravel()))  # the darker of the two
            best.append(abs(mine - theirs).sum() / ink)
    return min(best)


def test_a_glyph_is_compared_on_its_box_and_a_pixel_all_round_within_its_reach() -> None:
    import numpy as np

    from paperpack.compare.images import MARGIN, Glyph, _glyph_change

    rng = np.random.default_rng(5)
    grey, other = rng.uniform(0, 255, (60, 60)), rng.uniform(0, 255, (60, 60))
    padded, padded_other = (np.pad(x, MARGIN, constant_values=255.0) for x in (grey, other))
    glyph = Glyph(top=25, left=28, bottom=31, right=32, rows=(25,), cols=(28,))
    for reach, offset in ((0, (0, 0)), (1, (0, 0)), (2, (0, 0)), (1, (3, -4)), (0, (-5, 6))):
        expected = _naive_glyph_change(grey, other, (25, 28, 31, 32), reach, offset)
        assert abs(_glyph_change(padded, padded_other, glyph, reach, offset) - expected) < 1e-12, (reach, offset)


def test_a_glyph_found_within_twelve_pixels_was_moved_not_replaced() -> None:
    import numpy as np

    from paperpack.compare.images import MARGIN, MOVED, Glyph, _moved

    def image(top: int, left: int) -> Any:
        pixels = np.full((80, 80), 255.0)
        pixels[top : top + 5, left : left + 3] = 0.0
        pixels[top + 2, left + 3] = 0.0  # not symmetric: only the same place matches
        return np.pad(pixels, MARGIN, constant_values=255.0)

    glyph = Glyph(top=20, left=20, bottom=24, right=23, rows=(20,), cols=(20,))
    for dy, dx, moved in (
        (0, MOVED, True),
        (MOVED, 0, True),
        (0, MOVED + 1, False),
        (MOVED + 1, 0, False),
        (-MOVED, -MOVED, True),
    ):
        there = Glyph(top=20 + dy, left=20 + dx, bottom=24 + dy, right=23 + dx, rows=(20 + dy,), cols=(20 + dx,))
        other = image(20 + dy, 20 + dx)
        assert _moved(image(20, 20), other, glyph, [glyph], [there]) is moved, (dy, dx)
    assert not _moved(image(20, 20), image(20, 20), glyph, [glyph], []), "no glyph in the other image"


def test_a_glyph_at_the_edge_of_the_image_is_compared_as_if_on_white() -> None:
    """The images are padded with white: a tick label cropped to the image's edge is compared as if it
    stood inside, on white."""
    import numpy as np

    from paperpack.compare.images import _glyphs, _text_change

    def pair(column: int) -> tuple[Any, Any]:
        a, b = np.full((100, 100, 3), 255.0), np.full((100, 100, 3), 255.0)
        for image in (a, b):
            for left in (25, 35, 45):  # the same text elsewhere: not re-rendered
                image[25:30, left : left + 3] = 0.0
        a[10:15, column] = 0.0  # a "1" …
        b[10:15, column : column + 3] = 0.0  # … became a "0"
        b[11:14, column + 1] = 255.0
        return a, b

    edge, inside = pair(0), pair(10)
    change_edge = _text_change(*edge, _glyphs(edge[0]), _glyphs(edge[1]))
    change_inside = _text_change(*inside, _glyphs(inside[0]), _glyphs(inside[1]))
    assert change_edge[1] == change_inside[1] == 1
    assert abs(change_edge[0] - change_inside[0]) < 1e-12 and change_edge[0] > 0.25, (change_edge, change_inside)


def test_images_are_compared_at_most_512_pixels_wide_and_never_enlarged() -> None:
    from paperpack.compare.images import _working_size

    assert _working_size(100, 60) == (100, 60)
    assert _working_size(1024, 768) == (512, 384)
    assert _working_size(600, 1200) == (256, 512)
    assert _working_size(10, 5) == (16, 16), "at least a tile each way"
    assert _working_size(2048, 40) == (512, 16)


def test_a_wide_figure_one_pixel_taller_keeps_its_shape_and_a_one_pixel_line_its_ratio() -> None:
    from PIL import Image, ImageDraw

    from paperpack.compare import image_similarity

    assert image_similarity(_png(_drawing(160, 40)), _png(_drawing(160, 41))).note == ""

    def line(width: int, height: int) -> str:
        image = Image.new("RGB", (width, height), "white")
        ImageDraw.Draw(image).line([(10, 5), (49, 5)], fill="black")
        return _png(image)

    assert image_similarity(line(60, 20), line(70, 30)).note == "", "both crop to the same 40 × 1 line"


def test_a_resampled_figure_says_its_size_changed_and_its_text_was_re_rendered(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import base64
    import io

    from PIL import Image, ImageFont

    from paperpack.compare import image_similarity

    reference = _titled_figure("fit, RMSE = 0.31")
    other_font = _titled_figure("fit, RMSE = 0.31", ImageFont.load_default_imagefont())
    image = Image.open(io.BytesIO(base64.b64decode(other_font)))
    squeezed = _png(image.resize((320, 200), Image.Resampling.LANCZOS))
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract: the same note on every machine (OCR: test_compare_ocr)
    note = image_similarity(reference, squeezed).note
    assert note.startswith(
        "; the figure size changed: 320x240 → 320x200; its text was re-rendered (another font or hinting): "
        "glyph shapes not compared"
    ), note
    assert "its text changed" not in note, note
    assert note == (
        "; the figure size changed: 320x240 → 320x200; its text was re-rendered (another font or hinting): "
        "glyph shapes not compared; the re-rendered text was not read: install tesseract-ocr (with "
        "tesseract-ocr-eng) to read it"
    ), note


def test_a_difference_of_exactly_the_level_after_the_blur_is_no_change() -> None:
    """A pixel changed when a channel moved by *more than* LEVEL (64) after the 3 × 3 blur."""
    import numpy as np
    from PIL import Image

    from paperpack.compare.images import compare_images

    def framed(change: int) -> Image.Image:
        pixels = np.full((40, 40, 3), 255, dtype=np.uint8)
        pixels[0, :] = pixels[-1, :] = pixels[:, 0] = pixels[:, -1] = 0
        pixels[20, 19:22, 0] = 255 - change  # three pixels in a row, red channel only (not ink)
        return Image.fromarray(pixels)

    assert compare_images(framed(0), framed(192)).value == 1.0  # 3 × 192 / 9 = 64 at the middle ones
    assert compare_images(framed(0), framed(195)).value < 1.0  # 65 (in one channel: the largest of R, G, B)
    assert compare_images(framed(195), framed(0)).value < 1.0  # lighter as well as darker


def test_glyph_pieces_join_only_touching_pixels_and_small_images_allow_four_pixel_boxes() -> None:
    import numpy as np

    from paperpack.compare.images import _glyphs

    def pieces(*points: tuple[int, int], size: int = 30) -> int:
        pixels = np.full((size, size, 3), 255.0)
        for point in points:
            pixels[point] = 0.0
        return len(_glyphs(pixels))

    assert pieces((5, 10), (6, 11), (7, 12)) == 1  # diagonal neighbours
    assert pieces((5, 10), (6, 11), (7, 12), (5, 13)) == 2  # two rows above the last, not touching
    assert pieces((5, 10), (7, 10)) == 2  # a row between
    assert pieces((5, 10), (6, 10), (6, 8)) == 2  # a column between
    small = np.full((80, 80, 3), 255.0)  # 5 % of 80 is 4: the limit is 4, a box spans fewer than 4 rows
    small[10:14, 10:14] = 0.0
    small[30:35, 30:35] = 0.0
    assert [(g.top, g.bottom) for g in _glyphs(small)] == [(10, 13)]


def test_text_touched_on_exactly_a_tenth_of_its_tiles_is_not_re_rendered() -> None:
    import numpy as np

    from paperpack.compare.images import _text_rerendered

    text = np.zeros((16, 160), dtype=bool)
    text[4, 4::16] = True  # 10 tiles
    changed = np.zeros_like(text)
    changed[4, 4] = True
    assert not _text_rerendered(changed, text)  # 1 of 10: not more than 0.1


def test_registration_searches_half_pixels_and_scales_up_to_three_percent_each_way() -> None:
    import numpy as np

    from paperpack.compare.images import _fit_axis

    positions = np.arange(200, dtype=np.float64)
    ref = np.exp(-(((positions - 80) / 6) ** 2)) + 0.5 * np.exp(-(((positions - 140) / 4) ** 2))

    def fit(scale: float, shift: float) -> tuple[float, float]:
        new = np.interp((positions - shift) / scale, positions, ref)  # new(x · scale + shift) = ref(x)
        found = _fit_axis(ref, new)
        return round(found[0], 6), found[1]

    assert fit(1.0, 0.5) == (1.0, 0.5)
    assert fit(1.0, 4.0) == (1.0, 4.0)
    assert fit(1.03, 0.0) == (1.03, 0.0)
    assert fit(0.97, 0.0) == (0.97, 0.0)
    assert fit(1.2, 0.0)[0] <= 1.03, "a scale beyond 3 % is not searched"


# --- filled areas whose edges snapped to other pixels (issue 9, third round: matplotlib 3.10 → 3.11) ------


def _bar_chart(bars: list[tuple[int, int, int]], line_column: int | None = None) -> Any:
    """A framed 80 × 120 chart of navy bars ``(left, right, top)`` (columns inclusive, from the base row 70),
    and a thin black vertical line at ``line_column``."""
    import numpy as np

    pixels = np.full((80, 120, 3), 255.0)
    pixels[0, :] = pixels[-1, :] = pixels[:, 0] = pixels[:, -1] = 0.0
    for left, right, top in bars:
        pixels[top:70, left : right + 1] = (0.0, 0.0, 128.0)
    if line_column is not None:
        pixels[10:60, line_column] = 0.0
    return pixels


def test_bars_whose_edges_moved_a_pixel_are_the_same_and_two_pixels_differ() -> None:
    """Each edge a pixel elsewhere, some bars wider, some narrower, some moved (not one shift for all,
    which registration would undo): the same bars. One bar two pixels taller: changed."""
    from PIL import Image

    from paperpack.compare.images import ImageScore, compare_images

    def image(bars: list[tuple[int, int, int]]) -> Image.Image:
        return Image.fromarray(_bar_chart(bars).astype("uint8"))

    reference = [(10, 16, 30), (30, 36, 20), (50, 56, 40), (70, 76, 25)]
    snapped = [(9, 17, 30), (31, 36, 20), (51, 57, 40), (70, 75, 25)]
    assert compare_images(image(reference), image(snapped)) == ImageScore(1.0), "no note, nothing left unread"
    taller = [(9, 17, 30), (31, 36, 18), (51, 57, 40), (70, 75, 25)]
    assert compare_images(image(reference), image(taller)).value < 0.78


def test_only_fills_within_a_pixel_both_ways_explain_changes() -> None:
    import numpy as np

    from paperpack.compare.images import BLUR, _fills, _snapped

    reference = _bar_chart([(10, 16, 30)], line_column=40)
    assert _fills(reference) == {0x000080}, (
        "the bar; not the frame or the line (no pixel all of whose neighbours are black)"
    )
    wider = _bar_chart([(10, 17, 30)], line_column=40)
    everywhere = np.ones(reference.shape[:2], dtype=bool)
    explained = _snapped(reference, wider, everywhere)
    reach = 17 + 1 + BLUR // 2  # the column that moved, the blended pixel beside an edge, the blur
    assert explained[50, 17 - BLUR // 2 : reach + 1].all() and not explained[50, reach + 1]
    assert not explained[50, 13], "the bar's inside, where both images agree"
    assert not explained[:, 30:].any(), "nothing far from the bar's edges"
    moved_line = _bar_chart([(10, 17, 30)], line_column=41)
    assert not _snapped(moved_line, reference, everywhere)[:, 39:43].any(), "a line moved by a pixel is not a fill"
    for further in ([(10, 18, 30)], [(10, 16, 28)], [(10, 16, 30), (60, 66, 50)]):
        assert not _snapped(reference, _bar_chart(further, line_column=40), everywhere).any(), further
        assert not _snapped(_bar_chart(further, line_column=40), reference, everywhere).any(), further
    assert not _snapped(reference, np.full_like(reference, 255.0), everywhere).any(), "a fill gone"
    assert not _snapped(reference, wider, ~everywhere).any(), "no fill beside a change: none looked at"


def test_only_the_fill_colours_most_often_beside_changes_are_looked_at() -> None:
    """A heat map has a fill per cell: at most FILLS colours are checked, those with the most pixels beside
    changed ones; the changes of the others stay."""
    import numpy as np

    from paperpack.compare.images import FILLS, _snapped

    def chart(widen: int) -> Any:
        pixels = np.full((40, 10 * (FILLS + 1) + 4, 3), 255.0)
        for i in range(FILLS + 1):
            top = 22 if i == 0 else 10  # the first bar is the smallest
            colour = (i % 10 * 24, 40 + i // 10 * 60, 200)  # each 24 or 60 from the others
            pixels[top:35, 10 * i + 2 : 10 * i + 8 + widen] = colour
        return pixels

    explained = _snapped(chart(0), chart(1), np.ones((40, 10 * (FILLS + 1) + 4), dtype=bool))
    assert explained[30, 10 * 1 + 8] and explained[30, 10 * FILLS + 8], "the widened edges of the larger bars"
    assert not explained[30, 8], "the smallest bar's colour is not looked at"


def test_what_counts_as_a_fill_at_each_bound() -> None:
    """A fill: at least FILL_AREA pixels whose 8 neighbours have their colour (the image's border counts as
    the colour beside it), and a colour more than BACKGROUND away from white."""
    import numpy as np

    from paperpack.compare.images import BACKGROUND, FILL_AREA, _fills

    side = int(FILL_AREA**0.5)
    assert side * side == FILL_AREA
    exactly = np.full((side + 2 + 10, side + 2 + 10, 3), 255.0)
    exactly[5 : 5 + side + 2, 5 : 5 + side + 2] = (200.0, 40.0, 40.0)  # FILL_AREA pixels inside its rim
    assert _fills(exactly) == {200 * 65536 + 40 * 256 + 40}, "a fill of exactly FILL_AREA flat pixels"
    one_short = np.full_like(exactly, 255.0)
    one_short[5 : 5 + side + 2, 5 : 5 + side + 1] = (200.0, 40.0, 40.0)
    assert _fills(one_short) == set(), "one column fewer: not a fill"
    whole = np.full((side, side, 3), (200.0, 40.0, 40.0))
    assert _fills(whole) == {200 * 65536 + 40 * 256 + 40}, "a fill up to the border: beyond it is more of it"
    pale = np.full((20, 20, 3), 255.0 - BACKGROUND)
    assert _fills(pale) == set(), "exactly BACKGROUND from white is background"
    grey = np.full((20, 20, 3), 255.0 - BACKGROUND - 1)
    assert _fills(grey) == {int(255 - BACKGROUND - 1) * 65793}, "one step darker is a fill"


def test_a_fill_that_moved_further_does_not_stop_the_others_being_excused() -> None:
    """Each fill colour is judged on its own: a navy bar two pixels taller keeps its changes, and a red bar
    whose edge snapped a pixel elsewhere is still excused after it (the navy one, with more changed pixels
    beside it, is looked at first)."""
    import numpy as np

    from paperpack.compare.images import _snapped

    reference = _bar_chart([(10, 40, 30)])
    reference[40:70, 70:80] = (200.0, 0.0, 0.0)
    changed = _bar_chart([(10, 40, 28)])
    changed[40:70, 70:81] = (200.0, 0.0, 0.0)  # its right edge a pixel further right
    everywhere = np.ones(reference.shape[:2], dtype=bool)
    explained = _snapped(reference, changed, everywhere)
    assert not explained[25:35, 10:41].any(), "the navy bar moved two pixels: nothing of it excused"
    assert explained[55, 80], "the red bar's snapped edge is excused"


def test_fill_colours_within_two_pixels_of_a_change_are_looked_at_and_no_further() -> None:
    """A change is explained by a fill whose colour lies within the blur's reach and a pixel of it
    (BLUR // 2 + 1 = 2 pixels): a fill three pixels away is not looked at."""
    import numpy as np

    from paperpack.compare.images import BLUR, _snapped

    reference, wider = _bar_chart([(10, 16, 30)]), _bar_chart([(10, 17, 30)])  # the wider bar's edge: column 17
    reach = BLUR // 2 + 1
    for column, looked_at in ((17 + reach, True), (17 + reach + 1, False)):
        changed = np.zeros(reference.shape[:2], dtype=bool)
        changed[50, column] = True  # white in both images
        assert bool(_snapped(reference, wider, changed).any()) is looked_at, column


def test_a_fill_in_one_image_only_is_still_looked_at() -> None:
    """A bar four pixels wide narrowed a pixel on each side has no pixel left whose neighbours all share its
    colour: a fill in the committed image only, still excused (and the other way round)."""
    from paperpack.compare.images import _fills, _snapped

    wide, narrow = _bar_chart([(10, 13, 30)]), _bar_chart([(11, 12, 30)])
    assert _fills(wide) == {0x000080} and _fills(narrow) == set()
    everywhere = wide[:, :, 0] < 1000
    for a, b in ((wide, narrow), (narrow, wide)):
        explained = _snapped(a, b, everywhere)
        assert explained[50, 10] and explained[50, 13], "both edges that snapped"


def test_a_pixel_within_the_fill_tolerance_of_its_colour_is_part_of_the_fill() -> None:
    """Each channel within FILL_TOLERANCE (8) of the fill's colour is that colour: a red bar grown by two
    columns 8 redder moved two pixels (not excused); 9 redder, they are another colour, and the bar snapped."""
    import numpy as np

    from paperpack.compare.images import FILL_TOLERANCE, _snapped

    reference = _bar_chart([])
    reference[40:70, 70:80] = (200.0, 0.0, 0.0)
    everywhere = np.ones(reference.shape[:2], dtype=bool)
    for redder, excused in ((FILL_TOLERANCE, False), (FILL_TOLERANCE + 1, True)):
        changed = reference.copy()
        changed[40:70, 80:82] = (200.0 + redder, 0.0, 0.0)
        assert bool(_snapped(reference, changed, everywhere)[55, 80]) is excused, redder


def test_the_text_change_of_figures_without_glyphs_or_with_the_same_text_is_none() -> None:
    """``(largest glyph change, glyphs changed, redrawn)``: no glyph, nothing to compare nor to read by OCR."""
    import numpy as np

    from paperpack.compare.images import _glyphs, _text_change

    reference, wider = _bar_chart([(10, 16, 30)]), _bar_chart([(10, 17, 30)])
    assert _glyphs(reference) == _glyphs(wider) == []
    assert _text_change(reference, wider, [], []) == (0.0, 0, False)
    texts = np.full((60, 60, 3), 255.0)
    texts[20:25, 20:23] = texts[20:25, 30:33] = 0.0
    assert _text_change(texts, texts.copy(), _glyphs(texts), _glyphs(texts)) == (0.0, 0, False)


def test_text_changed_by_exactly_a_tenth_pixel_for_pixel_is_not_re_rendered() -> None:
    """The text was redrawn when the median glyph changed by more than SAME_TEXT (0.1) of its ink: a glyph of
    two black pixels, one of them grey 51 (51 / 510 of the ink), was not; grey 52 was."""
    from paperpack.compare.images import SAME_TEXT, _glyphs, _text_change

    assert SAME_TEXT == 51 / 510
    for grey, redrawn in ((51.0, False), (52.0, True)):
        a, b = _bar_chart([]), _bar_chart([])
        a[20, 20:22] = b[20, 20:22] = 0.0
        b[20, 21] = grey
        assert _text_change(a, b, _glyphs(a), _glyphs(b)) == (0.0, 0, redrawn), grey


def _same_dots() -> tuple[Any, Any]:
    """Two 80 × 80 images holding the same 14 glyphs (3 × 3 dots) far below row 20: the median glyph unchanged."""
    import numpy as np

    a, b = np.full((80, 80, 3), 255.0), np.full((80, 80, 3), 255.0)
    for image in (a, b):
        for top in (50, 65):
            for left in range(10, 80, 10):
                image[top : top + 3, left : left + 3] = 3.0
    return a, b


def test_a_glyph_changed_by_exactly_text_changed_is_the_same_character() -> None:
    """A glyph is another character when its blurred ink changed by more than TEXT_CHANGED (a quarter). Every
    grey here is 3 modulo 9, as white's 255 is: each 3 × 3 blur window sums to a multiple of 9, so the blurred
    pixels and the change are exact. A grey dash moved a pixel up-left and the dot beside it gone: the dash
    changed by exactly a quarter at its best shift, and its word (the dot with it) was not moved, not found."""
    import numpy as np

    from paperpack.compare.images import BLUR, MARGIN, REACH, TEXT_CHANGED, _box, _glyph_change, _glyphs, _text_change

    a, b = _same_dots()
    a[20, 20], a[20, 22], a[20, 23] = 3.0, 165.0, 93.0
    b[19, 21], b[19, 22] = 165.0, 93.0
    soft_a, soft_b = (
        _box(np.pad(p.mean(axis=2), MARGIN, constant_values=255.0)[:, :, None], BLUR)[:, :, 0] for p in (a, b)
    )
    dash = next(g for g in _glyphs(a) if (g.top, g.left) == (20, 22))
    assert _glyph_change(soft_a, soft_b, dash, REACH) == TEXT_CHANGED
    assert _text_change(a, b, _glyphs(a), _glyphs(b)) == (0.0, 0, False)
    assert _text_change(b, a, _glyphs(b), _glyphs(a)) == (0.0, 0, False), "and the other way round"


def test_a_redrawn_figure_scored_at_most_read_changed_is_not_read_by_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its text redrawn (each glyph hollowed), a red patch 8 × 12 leaves exactly READ_CHANGED (half a tile
    unchanged): a lower score than a changed number would give, so the text is not read. 8 × 11, it is."""
    import numpy as np
    from PIL import Image

    from paperpack.compare import ocr
    from paperpack.compare.images import READ_CHANGED, compare_images

    def figure(patch_width: int, hollow: bool) -> Image.Image:
        pixels = np.full((120, 160, 3), 255.0)
        pixels[0, :] = pixels[-1, :] = pixels[:, 0] = pixels[:, -1] = 0.0
        for left in range(90, 150, 6):
            for top in (20, 40, 60, 80):
                pixels[top : top + 5, left : left + 3] = 0.0
                if hollow:
                    pixels[top + 1 : top + 4, left + 1] = 255.0
        pixels[41:49, 41 : 41 + patch_width] = (255.0, 0.0, 0.0)
        return Image.fromarray(pixels.astype("uint8"))

    reference = figure(0, hollow=False)
    monkeypatch.setattr(ocr, "tesseract_path", lambda: pytest.fail("a score of READ_CHANGED needs no OCR"))
    score = compare_images(reference, figure(12, hollow=True))
    assert (score.value, score.unread) == (READ_CHANGED, ""), score
    assert score.note == "; its text was re-rendered (another font or hinting): glyph shapes not compared"
    monkeypatch.setattr(ocr, "tesseract_path", lambda: None)
    score = compare_images(reference, figure(11, hollow=True))
    assert score.value > READ_CHANGED and score.unread.startswith("install tesseract-ocr"), score


def test_a_glyph_found_elsewhere_changed_by_exactly_text_changed_was_moved() -> None:
    """A dot moved 8 pixels and redrawn lighter: blurred, its ink per pixel went from 28 to 21 (grey 3 → 66, both
    3 modulo 9: exact), a change of exactly a quarter where it now is: moved, not replaced. Grey 75 (ink 20) is
    more than a quarter: another character."""
    from paperpack.compare.images import _glyphs, _text_change

    for grey, change in ((66.0, (0.0, 0, False)), (75.0, (1.0, 1, False))):
        a, b = _same_dots()
        a[20, 20], b[20, 28] = 3.0, grey
        assert _text_change(a, b, _glyphs(a), _glyphs(b)) == change, grey
        assert _text_change(b, a, _glyphs(b), _glyphs(a)) == change, (grey, "the other way round")


# --- set and dict reprs: printed in any order, shown sorted by key ---------------------------------


def test_a_dicts_items_are_shown_sorted_by_key_whatever_follows_the_key() -> None:
    """Sorted by the key (the text before the first colon), not by the whole item nor by the value:
    'x' before 'x1' although ':' sorts after '1', and 10 after 1 whatever 1's value holds."""
    from paperpack.compare.normalize import normalise_text

    assert normalise_text("{'x1': 1, 'x': 2}") == "{'x': 2, 'x1': 1}"
    assert normalise_text("{10: 3, 1: 'a:b'}") == "{1: 'a:b', 10: 3}"
    assert normalise_text("{'b', 'a', 'c'}") == "{'a', 'b', 'c'}", "a set's items have no key: sorted by their text"
    result = compare_notebooks(
        _notebook(_cell([_stdout("{'x1': 1, 'x': 2}\n")])), _notebook(_cell([_stdout("{'x': 2, 'x1': 3}\n")]))
    )
    diff = result.differences[0].diff
    assert "-{'x': 2, 'x1': 1}" in diff and "+{'x': 2, 'x1': 3}" in diff, diff


def test_a_dict_repr_of_up_to_4000_characters_is_sorted_and_a_longer_one_left_as_printed() -> None:
    from paperpack.compare.normalize import normalise_text

    def repr_of(length: int) -> str:
        """A dict repr whose text between the braces is ``length`` characters, its items out of order."""
        head = "'b': 1, 'a': "
        return "{" + head + "'" + "v" * (length - len(head) - 2) + "'}"

    for length in (3999, 4000):
        text = repr_of(length)
        assert len(text) == length + 2
        assert normalise_text(text).startswith("{'a': 'vvv"), length
    longest = repr_of(4001)
    assert normalise_text(longest) == longest, "left as printed, braces and all"
