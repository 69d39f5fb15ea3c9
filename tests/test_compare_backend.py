"""Notebooks run with the matplotlib backend Jupyter uses (matplotlib-inline), not agg.

tests/cases/run-mpl-inline/plot.ipynb plots without ``%matplotlib inline``, as 15 of the 35
notebooks with committed figures in eleven published paper repositories do; its committed
outputs come from a Jupyter kernel. Under ``MPLBACKEND=agg`` no figure came back at all and
the comparison said "the outputs are not of the same kinds".
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from paperpack.repository.repo import Repo
from paperpack.run import NotebookRun, run_notebooks

pytestmark = pytest.mark.slow


def check_figures_came_back(run: NotebookRun, out: Path) -> None:
    """The run of tests/cases/run-mpl-inline kept its three figures and nothing on stderr."""
    assert run.status == "ok", run.message
    executed = nbformat.read(out / "executed" / "plot.ipynb", as_version=4)
    kinds = [
        [sorted(o.get("data", {})) for o in cell.outputs if o.output_type == "display_data"] for cell in executed.cells
    ]
    assert kinds == [[["image/png", "text/plain"]]] * 3, kinds
    streams = [o for cell in executed.cells for o in cell.outputs if o.output_type == "stream"]
    assert [o.name for o in streams] == ["stdout"], streams  # no "figure already exists" warnings
    assert run.verdict == "same", run.comparison
    assert run.message == "3 cells with the same results", run.message  # the three figures were compared


def test_figures_without_matplotlib_inline_come_back_local(copy_case, tmp_path: Path) -> None:
    repo = copy_case("run-mpl-inline")
    result = run_notebooks(Repo.open(repo), engine="local", out_dir=tmp_path / "out")
    (run,) = result.notebooks
    check_figures_came_back(run, tmp_path / "out")
