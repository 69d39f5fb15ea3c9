"""The labelled comparison set (tests/compare_pairs.py): noise compares same, changes of 5 % or more differ.

benchmarks/bench_compare.py reports the same set as precision and recall, with the 1–2 % changes
(which the comparison is not required to see) counted too.
"""

from __future__ import annotations

import pytest

from paperpack.compare import compare_notebooks
from tests.compare_pairs import Pair, all_pairs, one_cell_notebook

pytestmark = pytest.mark.slow  # draws about 210 figures with matplotlib

SAME = ("same", "same-with-warnings")


@pytest.fixture(scope="module")
def pairs() -> list[Pair]:
    pytest.importorskip("matplotlib")
    return list(all_pairs())


def _verdict(pair: Pair) -> tuple[str, str]:
    result = compare_notebooks(one_cell_notebook(pair.reference), one_cell_notebook(pair.executed))
    return str(result.verdict), result.differences[0].reason if result.differences else ""


def test_noise_is_same(pairs: list[Pair]) -> None:
    wrong = {p.name: _verdict(p) for p in pairs if p.same and "default-size-changed" not in p.name}
    wrong = {name: v for name, v in wrong.items() if v[0] not in SAME}
    assert not wrong, wrong


#: a number in a figure's title changed, the data the same: seen glyph by glyph (images.py, step 6)
TEXT_ONLY = "title-number"


def test_changes_of_five_percent_or_more_differ(pairs: list[Pair]) -> None:
    missed = [p.name for p in pairs if p.change >= 0.05 and TEXT_ONLY not in p.name and _verdict(p)[0] != "differs"]
    assert not missed, missed


def test_a_changed_number_in_a_figure_title_differs(pairs: list[Pair]) -> None:
    judged = {p.name: _verdict(p) for p in pairs if TEXT_ONLY in p.name}
    assert len(judged) == 2
    wrong = {name: v for name, v in judged.items() if v[0] != "differs" or "its text changed" not in v[1]}
    assert not wrong, wrong


def test_rerendered_text_is_named(pairs: list[Pair]) -> None:
    """A font change is the same figure, and the comparison says what it left out."""
    (pair,) = [p for p in pairs if p.name == "line/change-0.1-font-stix"]
    verdict, reason = _verdict(pair)
    assert verdict == "differs" and "its text was re-rendered" in reason, reason


def test_a_changed_figure_size_is_named_not_scored_zero(pairs: list[Pair]) -> None:
    for pair in pairs:
        if "default-size-changed" in pair.name:
            verdict, reason = _verdict(pair)
            assert verdict in SAME or ("the figure size changed" in reason and "similarity 0.000" not in reason), (
                pair.name,
                reason,
            )


def test_new_warning_is_listed(pairs: list[Pair]) -> None:
    (pair,) = [p for p in pairs if p.name == "stderr/new-warning"]
    result = compare_notebooks(one_cell_notebook(pair.reference), one_cell_notebook(pair.executed))
    assert result.verdict == "same-with-warnings"
    assert "FutureWarning: use .loc" in result.message
