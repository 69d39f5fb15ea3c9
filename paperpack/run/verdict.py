"""The same-results verdict of one executed notebook, from :mod:`paperpack.compare`."""

from __future__ import annotations

import logging
from pathlib import Path

import nbformat

from ..compare import CompareOptions, compare_notebooks
from ..compare.core import cell_list
from .plan import PlannedNotebook
from .results import NotebookRun, Status, Verdict

__all__ = ["judge"]

log = logging.getLogger(__name__)


def judge(run: NotebookRun, nb: PlannedNotebook, committed: Path, executed: Path | None) -> None:
    """Set ``run.verdict`` (and ``comparison``/``message``) for a notebook that ran to the end.

    A notebook that did not run to the end keeps the verdict :func:`~paperpack.run.outcome.interpret`
    gave it: failed, or reproduces-error (its failing cell fails as the committed one did).
    """
    if run.status != Status.OK:
        if run.verdict == Verdict.REPRODUCES_ERROR:
            _earlier_cells(run, nb, committed, executed)
        else:
            run.verdict = Verdict.FAILED
        return
    if executed is None:
        run.status, run.verdict, run.message = Status.ERROR, Verdict.FAILED, "the runner wrote no executed notebook"
        return
    try:
        reference = nbformat.read(committed, as_version=4)
        result = nbformat.read(executed, as_version=4)
    except Exception as exc:  # noqa: BLE001 - an unreadable notebook is a verdict, not a crash
        run.verdict, run.message = Verdict.FAILED, f"could not read the notebook to compare it: {exc}"
        return
    options = CompareOptions.from_manifest(nb.compare)
    comparison = compare_notebooks(reference, result, options)
    run.verdict = comparison.verdict
    run.comparison = comparison.to_dict()
    run.message = comparison.message
    if nb.parameters:
        run.message += f" (with parameters {', '.join(f'{k}={v!r}' for k, v in nb.parameters.items())})"


def _earlier_cells(run: NotebookRun, nb: PlannedNotebook, committed: Path, executed: Path | None) -> None:
    """A notebook reproducing its committed error must give the same results in the cells before it.

    Cells before the failing one that differ make the verdict *differs*: the error is the same,
    the results leading to it are not. (The failing cell and those after it are not compared:
    the traceback's paths differ, and nothing after it ran.)
    """
    failing = (run.error or {}).get("source_cell")
    if executed is None or failing is None:
        return
    try:
        comparison = compare_notebooks(
            nbformat.read(committed, as_version=4),
            nbformat.read(executed, as_version=4),
            CompareOptions.from_manifest(nb.compare),
        )
    except Exception as exc:  # noqa: BLE001 - the error is reproduced; say why earlier cells were not compared
        log.warning("%s: cells before the error not compared: %s", nb.path, exc)
        return
    earlier = [d for d in comparison.differences if d.cell < failing]
    if earlier:
        comparison.differences = earlier
        run.verdict = Verdict.DIFFERS
        run.comparison = comparison.to_dict()
        run.message += f"; but {len(earlier)} cell{'s' * (len(earlier) > 1)} before it differ: {cell_list(earlier)}"
