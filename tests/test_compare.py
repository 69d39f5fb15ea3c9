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
import pytest
from PIL import Image

from paperpack.compare import CompareOptions, compare_notebooks, image_similarity, normalise_text, texts_match

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


@pytest.mark.parametrize("name, cell, reason", [
    ("differs-number", 0, "stream:stdout differs"),
    ("differs-image", 3, "image/png looks different"),
    ("differs-text", 2, "stream:stdout differs"),
    ("differs-error", 6, "error differs"),
])
def test_real_differences_name_the_cell(name: str, cell: int, reason: str) -> None:
    result = compare_notebooks(_read("reference"), _read(name))
    assert result.verdict == "differs"
    assert [d.cell for d in result.differences] == [cell]
    assert result.differences[0].reason.startswith(reason)
    assert f"(cell {cell})" in result.message
    assert len(result.differences[0].diff.splitlines()) <= 13


def test_short_diff_shows_normalised_lines() -> None:
    diff = compare_notebooks(_read("reference"), _read("differs-text")).differences[0].diff
    assert "-run at <DATETIME>" in diff and "+finished at <DATETIME>" in diff


def test_no_stored_outputs() -> None:
    result = compare_notebooks(_read("no-outputs"), _read("reference"))
    assert result.verdict == "no-outputs"


def test_injected_parameters_cell_is_not_compared() -> None:
    assert compare_notebooks(_read("reference"), _read("with-injected")).verdict == "same"


def test_tolerances_come_from_options() -> None:
    loose = CompareOptions.from_manifest({"rtol": 0.1})
    assert compare_notebooks(_read("reference"), _read("differs-number"), loose).verdict == "same"
    strict_images = CompareOptions.from_manifest({"image_threshold": 0.999})
    assert compare_notebooks(_read("reference"), _read("same"), strict_images).verdict == "differs"
    assert compare_notebooks(_read("reference"), _read("differs-text"),
                             CompareOptions(ignore_cells=[2])).verdict == "same"
    assert compare_notebooks(_read("reference"), _read("differs-text"),
                             CompareOptions(ignore_patterns=[r"^(run|finished) at"])).verdict == "same"


def test_cell_count_change_differs() -> None:
    executed = _read("reference")
    executed.cells.append(nbformat.v4.new_code_cell("print(1)"))
    result = compare_notebooks(_read("reference"), executed)
    assert result.verdict == "differs" and "code cells" in result.message


@pytest.mark.parametrize("text, expected", [
    ("<Model at 0x7f3a2b1c9d40>", "<Model at 0x<ADDR>>"),
    ("at 2024-03-01T10:11:12.5+01:00 and 2024-03-01", "at <DATETIME> and <DATE>"),
    ("took 12:01:02", "took <TIME>"),
    ("file /tmp/tmpab12_x/out.csv, home /home/alice/paper", "file <TMP>, home <HOME>/paper"),
    ("\r 10%|█         | 1/10\r100%|██████████| 10/10\nnext", "next"),
    ("CPU times: user 1.2 s, sys: 3 ms\nWall time: 1.3 s\nok", "<TIMING>\n<TIMING>\nok"),
    ('{"model_id": "0123456789abcdef0123"}', '{"model_id": "<MODEL>"}'),
    ("id 0f8fad5b-d9cb-469f-a165-70867728950e", "id <UUID>"),
    ("\x1b[31mred\x1b[0m", "red"),
])
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
    assert image_similarity(ref, ref) == 1.0
    assert image_similarity(ref, _png(_read("same"))) > 0.9
    assert image_similarity(ref, _png(_read("differs-image"))) < 0.85
    image = Image.open(io.BytesIO(base64.b64decode(ref)))
    bigger = io.BytesIO()
    image.resize((640, 480)).save(bigger, "PNG")
    assert image_similarity(ref, base64.b64encode(bigger.getvalue())) > 0.95
    wide = io.BytesIO()
    image.resize((640, 240)).save(wide, "PNG")
    assert image_similarity(ref, base64.b64encode(wide.getvalue())) == 0.0
    assert image_similarity(ref, "not an image") == 0.0
