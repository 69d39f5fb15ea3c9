"""One verdict vocabulary at the bottom layer, shared by the comparison and the run."""

from __future__ import annotations

import json

from paperpack.compare import Verdict as CompareVerdict
from paperpack.compare import compare_notebooks
from paperpack.notebook import verdicts
from paperpack.run.results import NotebookRun, Status, Verdict


def test_one_verdict_enum_for_compare_and_run() -> None:
    assert CompareVerdict is Verdict is verdicts.Verdict
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": 1,
                "source": "1",
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"}],
            }
        ]
    }
    run = NotebookRun(path="a.ipynb")
    run.verdict = compare_notebooks(nb, nb).verdict  # what judge() does: no conversion needed
    assert run.verdict is Verdict.SAME and isinstance(run.status, Status)


def test_enum_fields_serialise_as_their_words() -> None:
    run = NotebookRun(path="a.ipynb", status=Status.OK, verdict=Verdict.SAME_WITH_WARNINGS)
    data = json.loads(json.dumps(run.to_dict()))
    assert (data["status"], data["verdict"]) == ("ok", "same-with-warnings")
    assert f"{run.verdict}" == "same-with-warnings"


def test_progress_counts_cells_from_one() -> None:
    """The live progress line counts cells from 1, as every other message does ("cell 1 of 3", not 0)."""
    import io

    from paperpack.cli.run import Progress
    from paperpack.report.text import make_console
    from paperpack.run.results import RunEvent

    progress = Progress(make_console(io.StringIO(), color="never"), quiet=False)
    progress.update(RunEvent(kind="cell", path="a.ipynb", cell=0, cells=3))
    assert progress.rows["a.ipynb"] == "cell 1 of 3"


def test_run_event_kinds_are_a_closed_vocabulary() -> None:
    """A progress event's kind is an EventKind, also when given as its word; a word outside it is refused."""
    import pytest

    from paperpack.run.results import EventKind, RunEvent

    assert RunEvent("cell", "a.ipynb", cell=0, cells=3).kind is EventKind.CELL
    assert [str(k) for k in EventKind] == ["queued", "start", "cell", "done", "finished"]
    with pytest.raises(ValueError, match="celll"):
        RunEvent("celll", "a.ipynb")
