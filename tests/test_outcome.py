"""How the runner's result and the engine's facts become a status and a message."""

from __future__ import annotations

from typing import Any

from paperpack.run.outcome import interpret
from paperpack.run.plan import Limits, PlannedNotebook

NB = PlannedNotebook(path="fit.ipynb", timeout=100, cell_timeout=10, parameters={"n": 2})
LIMITS = Limits(memory="256m", pids=64)


def _result(status: str, cell: int | None = 3, **extra: Any) -> dict[str, Any]:
    return {
        "status": status,
        "kernel": "python3",
        "duration": 1.0,
        "cells": [],
        "injected_cell": 1,
        "error": {"kind": extra.pop("kind", status), "cell": cell, "ename": "E", "evalue": "v"},
        **extra,
    }


def test_error_cell_is_counted_in_the_committed_notebook() -> None:
    run = interpret(NB, _result("error", kind="cell-error", ename="KeyError"), {}, LIMITS, False)
    assert run.verdict == "failed" and run.error is not None
    assert run.error["source_cell"] == 2  # the injected parameters cell (index 1) shifted it
    assert run.message == "cell 3: E: v"  # 1-based; without the committed notebook, among all cells
    assert run.parameters == {"n": 2}


def test_dead_kernel_causes() -> None:
    oom = interpret(NB, _result("dead-kernel", kernel_exit=-9, oom_kills=1), {}, LIMITS, False)
    assert oom.status == "oom" and "out of memory" in oom.message and "256m" in oom.message
    docker_oom = interpret(NB, _result("dead-kernel", kernel_exit=-9), {"oom_killed": True}, LIMITS, False)
    assert docker_oom.status == "oom"
    segv = interpret(NB, _result("dead-kernel", kernel_exit=-11), {}, LIMITS, False)
    assert segv.status == "dead-kernel" and "SIGSEGV" in segv.message and "cell 3" in segv.message
    exited = interpret(NB, _result("dead-kernel", kernel_exit=7), {}, LIMITS, False)
    assert "exit code 7" in exited.message


def test_timeouts_and_limits() -> None:
    cell = interpret(NB, _result("timeout", kind="cell-timeout"), {}, LIMITS, False)
    assert cell.message == "timeout: cell 3 ran longer than 10 s (the cell timeout)"
    whole = interpret(NB, _result("timeout", kind="notebook-timeout", cell=0), {}, LIMITS, False)
    assert whole.message == "timeout: the notebook ran longer than 100 s; it was in cell 1"
    pids = interpret(NB, _result("error", pids_limit_hits=5), {}, LIMITS, False)
    assert pids.status == "pids-limit" and "process limit (64)" in pids.message


def test_interrupted_and_missing_results() -> None:
    assert interpret(NB, _result("error"), {}, LIMITS, True).status == "interrupted"
    assert interpret(NB, None, {}, LIMITS, True).status == "interrupted"
    assert interpret(NB, None, {"oom_killed": True}, LIMITS, False).status == "oom"
    lost = interpret(
        NB, None, {"exit_code": 1, "output": "ModuleNotFoundError: No module named 'nbclient'"}, LIMITS, False
    )
    assert lost.status == "error" and "add nbclient to requirements.txt" in lost.message
    no_python = interpret(
        NB, None, {"exit_code": 127, "output": 'exec: "python3": executable file not found in $PATH'}, LIMITS, False
    )
    assert "pass --image with a Jupyter image" in no_python.message
    ok = interpret(NB, {"status": "ok", "duration": 2.0, "cells": [{"index": 0, "duration": 1.0}]}, {}, LIMITS, False)
    assert ok.status == "ok" and ok.error is None
