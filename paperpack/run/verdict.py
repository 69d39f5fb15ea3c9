"""The same-results verdict of one executed notebook, from :mod:`paperpack.compare`."""

from __future__ import annotations

import logging
from pathlib import Path

import nbformat

from ..compare import CompareOptions, compare_notebooks
from .plan import PlannedNotebook
from .results import NotebookRun

__all__ = ["judge"]

log = logging.getLogger(__name__)


def judge(run: NotebookRun, nb: PlannedNotebook, committed: Path, executed: Path | None) -> None:
    """Set ``run.verdict`` (and ``comparison``/``message``) for a notebook that ran to the end."""
    if run.status != "ok":
        run.verdict = "failed"
        return
    if executed is None:
        run.status, run.verdict, run.message = "error", "failed", "the runner wrote no executed notebook"
        return
    try:
        reference = nbformat.read(committed, as_version=4)
        result = nbformat.read(executed, as_version=4)
    except Exception as exc:  # noqa: BLE001 - an unreadable notebook is a verdict, not a crash
        run.verdict, run.message = "failed", f"could not read the notebook to compare it: {exc}"
        return
    options = CompareOptions.from_manifest(nb.compare)
    comparison = compare_notebooks(reference, result, options)
    run.verdict = comparison.verdict.value
    run.comparison = comparison.to_dict()
    run.message = comparison.message
    if nb.parameters:
        run.message += f" (with parameters {', '.join(f'{k}={v!r}' for k, v in nb.parameters.items())})"
