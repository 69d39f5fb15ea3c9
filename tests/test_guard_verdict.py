"""A reproduced error is a verdict only if the cells before it gave the same results (run/verdict.py), and
a failing run's status and message say what happened (run/outcome.py).

Issue 16's mutation testing found these guarantees untested: the earlier cells are compared with the
notebook's own tolerances, a run without a failing cell is left alone, and an executed copy that cannot
be read leaves the verdict and says so, naming the notebook and the cause.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from paperpack.repository.repo import Repo
from paperpack.run import outcome
from paperpack.run.causes import Failure
from paperpack.run.outcome import _committed, _failure, _first_line, interpret, iso_time, link_upstream
from paperpack.run.plan import Limits, PlannedNotebook
from paperpack.run.results import NotebookRun
from paperpack.run.verdict import judge


def _notebook(path: Path, printed: str) -> Path:
    """A notebook printing ``printed`` in its first cell and failing with ZeroDivisionError in its second."""
    error = new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell(
                    "print(x)", execution_count=1, outputs=[new_output("stream", name="stdout", text=printed)]
                ),
                new_code_cell("1 / 0", execution_count=2, outputs=[error]),
            ]
        ),
        path,
    )
    return path


def _reproduced(source_cell: int | None = 1) -> NotebookRun:
    """A run that failed as the committed notebook did, in the committed cell ``source_cell``."""
    return NotebookRun(
        path="a.ipynb",
        status="error",
        verdict="reproduces-error",
        message="code cell 2 (In [2]): reproduces the committed error",
        error={"kind": "cell-error", "source_cell": source_cell},
    )


def test_earlier_cells_are_compared_with_the_notebooks_tolerances(tmp_path: Path) -> None:
    committed = _notebook(tmp_path / "a.ipynb", "1.000\n")
    executed = _notebook(tmp_path / "executed.ipynb", "1.001\n")  # 0.1 % off
    tolerant = _reproduced()
    judge(tolerant, PlannedNotebook(path="a.ipynb", compare={"rtol": 0.01}), committed, executed)
    assert (tolerant.verdict, tolerant.comparison) == ("reproduces-error", None), tolerant.message
    strict = _reproduced()
    judge(strict, PlannedNotebook(path="a.ipynb"), committed, executed)
    assert strict.verdict == "differs", strict.message
    assert strict.message.endswith("but 1 cell before it differ: code cell 1 (In [1])"), strict.message
    assert strict.comparison is not None and [d["reason"] for d in strict.comparison["differences"]] == [
        "stream:stdout differs"
    ]


def test_a_run_without_a_failing_cell_is_left_alone(tmp_path: Path) -> None:
    """No source cell to compare up to: the verdict stays, nothing crashes on the differing cells."""
    committed = _notebook(tmp_path / "a.ipynb", "1\n")
    executed = _notebook(tmp_path / "executed.ipynb", "2\n")
    run = _reproduced(source_cell=None)
    judge(run, PlannedNotebook(path="a.ipynb"), committed, executed)
    assert (run.verdict, run.comparison) == ("reproduces-error", None)


def test_no_executed_copy_keeps_the_verdict_without_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    committed = _notebook(tmp_path / "a.ipynb", "1\n")
    run = _reproduced()
    with caplog.at_level(logging.WARNING, logger="paperpack.run.verdict"):
        judge(run, PlannedNotebook(path="a.ipynb"), committed, None)
    assert (run.verdict, run.comparison) == ("reproduces-error", None)
    assert not caplog.records, "nothing was wrong: no executed copy is expected after a failure in some engines"


def test_an_unreadable_executed_copy_is_reported_with_the_notebook_and_cause(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    committed = _notebook(tmp_path / "a.ipynb", "1\n")
    executed = tmp_path / "executed.ipynb"
    executed.write_text("{not json", encoding="utf-8")
    run = _reproduced()
    with caplog.at_level(logging.WARNING, logger="paperpack.run.verdict"):
        judge(run, PlannedNotebook(path="sub/a.ipynb"), committed, executed)
    assert (run.verdict, run.comparison) == ("reproduces-error", None)
    [record] = caplog.records
    message = record.getMessage()
    assert message.startswith("sub/a.ipynb: cells before the error not compared: "), message
    assert "JSON" in message, f"the cause is named: {message}"


# --- a notebook that ran to the end -------------------------------------------------------------


def _printing(path: Path, printed: str) -> Path:
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell(
                    "print(x)", execution_count=1, outputs=[new_output("stream", name="stdout", text=printed)]
                ),
            ]
        ),
        path,
    )
    return path


def _ran() -> NotebookRun:
    return NotebookRun(path="a.ipynb", status="ok", verdict="failed")


def test_a_run_to_the_end_is_compared_with_the_notebooks_tolerances(tmp_path: Path) -> None:
    committed = _printing(tmp_path / "a.ipynb", "1.000\n")
    executed = _printing(tmp_path / "executed.ipynb", "1.001\n")
    tolerant = _ran()
    judge(tolerant, PlannedNotebook(path="a.ipynb", compare={"rtol": 0.01}), committed, executed)
    assert tolerant.verdict == "same", tolerant.message
    assert tolerant.comparison is not None and tolerant.comparison["tolerances"]["rtol"] == 0.01
    strict = _ran()
    judge(strict, PlannedNotebook(path="a.ipynb"), committed, executed)
    assert strict.verdict == "differs" and strict.status == "ok"
    assert strict.comparison is not None and [d["cell"] for d in strict.comparison["differences"]] == [0]
    assert [d["reason"] for d in strict.comparison["differences"]] == ["stream:stdout differs"]
    assert strict.message == strict.comparison["message"]


def test_a_run_to_the_end_without_an_executed_copy_failed(tmp_path: Path) -> None:
    run = _ran()
    judge(run, PlannedNotebook(path="a.ipynb"), _printing(tmp_path / "a.ipynb", "1\n"), None)
    assert (run.status, run.verdict, run.comparison) == ("error", "failed", None)
    assert run.message == "the runner wrote no executed notebook"


def test_an_unreadable_executed_copy_fails_and_says_why(tmp_path: Path) -> None:
    executed = tmp_path / "executed.ipynb"
    executed.write_text("{not json", encoding="utf-8")
    run = _ran()
    judge(run, PlannedNotebook(path="a.ipynb"), _printing(tmp_path / "a.ipynb", "1\n"), executed)
    assert (run.verdict, run.comparison) == ("failed", None)
    assert run.message.startswith("could not read the notebook to compare it: ") and len(run.message) > 45


def test_the_parameters_are_named_in_the_message(tmp_path: Path) -> None:
    committed = _printing(tmp_path / "a.ipynb", "1\n")
    run = _ran()
    judge(run, PlannedNotebook(path="a.ipynb", parameters={"n": 2, "name": "x"}), committed, committed)
    assert run.verdict == "same"
    assert run.message == "1 cell with the same results (with parameters n=2, name='x')", run.message
    plain = _ran()
    judge(plain, PlannedNotebook(path="a.ipynb"), committed, committed)
    assert "parameters" not in plain.message and plain.message


def _failing_third(path: Path, first: str, second: str, where: str = "<ipython-input-3>") -> Path:
    error = new_output(
        "error", ename="ZeroDivisionError", evalue=f"division by zero in {where}", traceback=[f"File {where}, line 1"]
    )
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell("print(a)", execution_count=1, outputs=[new_output("stream", name="stdout", text=first)]),
                new_code_cell(
                    "print(b)", execution_count=2, outputs=[new_output("stream", name="stdout", text=second)]
                ),
                new_code_cell("1 / 0", execution_count=3, outputs=[error]),
            ]
        ),
        path,
    )
    return path


@pytest.mark.parametrize("second, count", [("2\n", "1 cell"), ("3\n", "2 cells")])
def test_the_message_keeps_the_error_and_names_every_differing_cell(tmp_path: Path, second: str, count: str) -> None:
    committed = _failing_third(tmp_path / "a.ipynb", "1\n", "2\n")
    executed = _failing_third(tmp_path / "executed.ipynb", "0\n", second, where="/srv/other/path.py")
    run = _reproduced(source_cell=2)
    judge(run, PlannedNotebook(path="a.ipynb"), committed, executed)
    assert run.verdict == "differs"
    assert run.message.startswith("code cell 2 (In [2]): reproduces the committed error; but "), run.message
    assert f"; but {count} before it differ: " in run.message, run.message
    cells = ["0", "1"] if count == "2 cells" else ["0"]  # not the failing cell (2): its traceback differs
    assert [str(d["cell"]) for d in run.comparison["differences"]] == cells  # type: ignore[index]
    listed = run.message.split(" before it differ: ", 1)[1]
    assert listed.count("code cell") == len(cells), listed


# --- run/outcome.py: what a failing run's status and message say ------------------------------
# Issue 16's first measure of run/outcome.py left these untested: a runner that stopped without a result
# (its verdict, the exit code and the last lines of its output, the cause found in that output), a kernel
# that exited by itself or by an unknown signal, the disk and read-only hints, and the upstream notes.


NB = PlannedNotebook(path="fit.ipynb", timeout=100, cell_timeout=10)
LIMITS = Limits(memory="256m", pids=64)
STOPPED = "the runner stopped without a result"


def _no_result(facts: dict[str, object], root: Path | None = None, **kwargs: object) -> NotebookRun:
    return interpret(NB, None, facts, LIMITS, kwargs.pop("cancelled", False), root=root, **kwargs)  # type: ignore[arg-type]


def test_a_runner_without_a_result_fails_with_its_exit_code_and_last_lines() -> None:
    quiet = _no_result({"exit_code": 3})
    assert (quiet.status, quiet.verdict, quiet.message) == ("error", "failed", f"{STOPPED} (exit code 3)")
    lines = "\n".join(f"line {i}" for i in range(1, 8))
    loud = _no_result({"exit_code": 3, "output": f"\x1b[31m{lines}\x1b[0m\n"})
    assert loud.message == f"{STOPPED} (exit code 3): line 3 | line 4 | line 5 | line 6 | line 7"


def test_a_known_runner_problem_adds_its_fix_to_the_message() -> None:
    run = _no_result({"exit_code": 1, "output": "ModuleNotFoundError: No module named 'nbclient'"})
    assert run.message.startswith(f"{STOPPED} (exit code 1): ModuleNotFoundError"), run.message
    assert run.message.endswith(
        " — the environment lacks nbclient (every repo2docker image has it): add nbclient "
        "to requirements.txt or rebuild with `paperpack build`"
    ), run.message


def test_a_runner_stopped_or_killed_for_memory_fails_and_says_so() -> None:
    stopped = _no_result({"exit_code": 1, "output": "x"}, cancelled=True)
    assert (stopped.status, stopped.verdict, stopped.message) == (
        "interrupted",
        "failed",
        "interrupted before it finished",
    )
    oom = _no_result({"oom_killed": True})
    assert (oom.status, oom.verdict) == ("oom", "failed")
    assert oom.message == "out of memory: the container was killed (memory limit 256m; raise it with --memory)"


def test_the_disk_limit_is_named_only_when_the_disk_was_full() -> None:
    full = _no_result({"exit_code": 1, "disk_limit": "64m", "output": "OSError: [Errno 28] No space left on device"})
    assert full.message.startswith(f"{STOPPED} (exit code 1): OSError"), full.message
    assert full.message.endswith("does not fit in the disk limit (64m): raise run.disk in paperpack.yml or --disk")
    other = _no_result({"exit_code": 1, "disk_limit": "64m", "output": "boom"})
    assert other.message == f"{STOPPED} (exit code 1): boom"


def test_a_cause_found_in_the_runners_output_is_explained_with_the_exit_code(tmp_path: Path) -> None:
    output = f"PermissionError: [Errno 13] Permission denied: '{tmp_path}/data/secret.csv'"
    run = _no_result({"exit_code": 1, "output": output}, root=tmp_path)
    assert run.message.startswith("the repository file 'data/secret.csv' cannot be read"), run.message
    assert run.message.endswith("(the runner stopped with exit code 1)"), run.message
    assert run.error is not None and run.error.pop("cause")["id"] == "unreadable-file"
    assert run.error == {
        "kind": "runner",
        "cell": None,
        "source_cell": None,
        "ename": "",
        "evalue": "",
        "traceback": [],
    }


@pytest.mark.parametrize(
    ("code", "said"), [(0, "it exited with exit code 0 (os._exit or a crash)"), (-77, "killed by signal 77")]
)
def test_a_kernel_that_exited_or_died_of_an_unnamed_signal(code: int, said: str) -> None:
    result = {
        "status": "dead-kernel",
        "kernel_exit": code,
        "error": {"kind": "dead-kernel", "cell": 0, "ename": "DeadKernelError", "evalue": "died"},
    }
    run = interpret(NB, result, {}, LIMITS, False)
    assert run.message == f"the kernel died in cell 1: {said}", run.message


@pytest.mark.parametrize(
    ("evalue", "hint"),
    [
        (
            "[Errno 30] Read-only file system: '/home/x'",
            " — in the container only the working folder (where the notebook "
            "runs) and /tmp are writable: write files there, with paths relative to the notebook",
        ),
        ("bad value", ""),
    ],
)
def test_the_disk_hint_of_a_failing_cell(evalue: str, hint: str) -> None:
    result = {"status": "error", "error": {"kind": "cell-error", "cell": 0, "ename": "OSError", "evalue": evalue}}
    run = interpret(NB, result, {"disk_limit": "64m"}, LIMITS, False)
    assert run.message == f"cell 1: OSError: {evalue}{hint}"


def _reader(writers: list[str] | None) -> NotebookRun:
    detail = {"writers": writers} if writers is not None else {}
    return NotebookRun(
        path="plot.ipynb",
        status="error",
        verdict="failed",
        message="code cell 1: 'out.csv' …",
        error={"cause": {"id": "missing-upstream-output", "message": "", "fix": "", "detail": detail}},
    )


def test_the_upstream_notes_name_each_writer_that_did_not_pass() -> None:
    fit = NotebookRun(path="fit.ipynb", status="error", verdict="failed", message="")
    prep = NotebookRun(path="prep.ipynb", status="ok", verdict="differs", message="1 cell differs")
    reader = _reader(["fit.ipynb", "prep.ipynb", "gone.ipynb"])
    link_upstream([fit, prep, reader])
    assert reader.error is not None
    assert reader.error["cause"]["upstream"] == ["fit.ipynb failed", "prep.ipynb differs: 1 cell differs"]
    assert reader.message == (
        "code cell 1: 'out.csv' … — upstream: fit.ipynb failed; prep.ipynb differs: 1 cell differs"
    )


def test_an_upstream_cause_without_writers_is_left_as_it_is() -> None:
    reader = _reader(None)
    link_upstream([reader])
    assert reader.message == "code cell 1: 'out.csv' …"
    assert reader.error is not None and "upstream" not in reader.error["cause"]


def test_a_run_takes_every_field_of_the_runners_result() -> None:
    result = {
        "status": "ok",
        "duration": 2.5,
        "kernel": "python3",
        "cells": [{"index": 0, "duration": 1.0}],
        "started": "2026-11-30T10:00:00.123456+02:00",
        "ended": "2026-11-30T10:00:02.6+02:00",
    }
    run = interpret(PlannedNotebook(path="fit.ipynb", parameters={"n": 2}, kernel="ir"), result, {}, LIMITS, False)
    assert run.to_dict() == {
        "path": "fit.ipynb",
        "status": "ok",
        "verdict": "failed",
        "message": "",
        "duration": 2.5,
        "parameters": {"n": 2},
        "kernel": "python3",
        "error": None,
        "cells": [{"index": 0, "duration": 1.0}],
        "executed": None,
        "comparison": None,
        "started": "2026-11-30T08:00:00.123+00:00",
        "ended": "2026-11-30T08:00:02.600+00:00",
    }
    lost = interpret(PlannedNotebook(path="fit.ipynb", kernel="ir"), None, {"exit_code": 1}, LIMITS, False)
    assert (lost.path, lost.kernel, lost.cells) == ("fit.ipynb", "ir", [])


def test_an_errors_traceback_is_cleaned_and_its_cell_counted_past_the_parameters() -> None:
    error = {
        "kind": "cell-error",
        "cell": 1,
        "ename": "ValueError",
        "evalue": "bad",
        "traceback": ["\x1b[31mValueError\x1b[0m: bad"],
    }
    run = interpret(NB, {"status": "error", "injected_cell": 1, "error": error}, {}, LIMITS, False)
    assert run.error is not None
    assert (run.error["traceback"], run.error["source_cell"]) == (["ValueError: bad"], 1)  # the injected cell itself
    assert run.message == "cell 2: ValueError: bad"
    bare = interpret(NB, {"status": "error"}, {}, LIMITS, False)
    assert (bare.verdict, bare.message, bare.error) == ("failed", "before the first cell", None)


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2026-11-30T10:00:00.123456+02:00", "2026-11-30T08:00:00.123+00:00"),
        ("2026-11-30T10:00:00.12345+02:00:00.12345", "2026-11-30T08:00:00.000+00:00"),  # 40 characters
        ("2026-11-30T10:00:00.123456+02:00:00.12345", None),  # 41: more than a runner writes
        ("2026-11-30T10:00:00", None),  # no time zone
        ("yesterday", None),
        (12, None),
    ],
)
def test_times_from_the_runner_are_utc_with_milliseconds(value: object, iso: str | None) -> None:
    assert iso_time(value) == iso


def test_a_long_error_value_is_cut_to_its_first_line() -> None:
    assert _first_line("") == ""
    assert _first_line("\x1b[1mfirst\x1b[0m\nsecond") == "first"
    assert _first_line("x" * 160) == "x" * 160
    assert _first_line("x" * 161) == "x" * 159 + "…"


def _committed_error(path: Path, evalue: str) -> Path:
    error = new_output("error", ename="TypeError", evalue=evalue, traceback=[])
    nbformat.write(
        new_notebook(
            cells=[new_code_cell("x = 1", execution_count=1), new_code_cell("f(x)", execution_count=2, outputs=[error])]
        ),
        path,
    )
    return path


@pytest.mark.parametrize(("committed", "run"), [("<A object at 0x7f00aa>", "<A object at 0x7f11bb>"), ("", "")])
def test_the_same_error_is_recognised_whatever_its_addresses(tmp_path: Path, committed: str, run: str) -> None:
    _committed_error(tmp_path / "fit.ipynb", committed)
    error = {"kind": "cell-error", "cell": 1, "ename": "TypeError", "evalue": run}
    found = interpret(NB, {"status": "error", "error": error}, {}, LIMITS, False, root=tmp_path)
    assert found.verdict == "reproduces-error", found.message


def test_an_unreadable_committed_notebook_only_loses_the_cell_names(tmp_path: Path) -> None:
    (tmp_path / "fit.ipynb").write_text("{not json", encoding="utf-8")
    run = interpret(
        NB,
        {"status": "error", "error": {"kind": "cell-error", "cell": 1, "ename": "E", "evalue": "v"}},
        {},
        LIMITS,
        False,
        root=tmp_path,
    )
    assert run.message == "cell 2: E: v"


def test_an_interrupted_run_does_not_read_the_committed_notebook(tmp_path: Path) -> None:
    """Ctrl-C stops at once: the message counts cells without reading the repository."""
    _committed_error(tmp_path / "fit.ipynb", "")
    error = {"kind": "interrupted", "cell": 1, "ename": "Interrupted", "evalue": "the run was stopped"}
    stopped = interpret(NB, {"status": "interrupted", "error": error}, {}, LIMITS, False, root=tmp_path)
    assert (stopped.status, stopped.message) == ("interrupted", "cell 2: Interrupted: the run was stopped")
    cancelled = interpret(NB, {"status": "error", "error": error}, {}, LIMITS, True, root=tmp_path)
    assert (cancelled.status, cancelled.message) == ("interrupted", "interrupted in cell 2")


def test_a_failure_carries_what_the_causes_read(tmp_path: Path) -> None:
    nbformat.write(
        new_notebook(
            cells=[new_markdown_cell("# Fit"), new_code_cell("import a"), new_code_cell("f()"), new_code_cell("g()")]
        ),
        tmp_path / "fit.ipynb",
    )
    nb = PlannedNotebook(path="fit.ipynb", writers={"out.csv": ["prep.ipynb"]})
    committed = _committed(tmp_path, nb)
    error = {
        "ename": "E",
        "evalue": "\x1b[1mv\x1b[0m",
        "traceback": ["\x1b[31mE\x1b[0m: v"],
        "source_cell": 2,
        "stderr": "\x1b[33mwarned\x1b[0m",
        "waiting_on": [{"host": "127.0.0.1", "port": 9, "state": "s"}],
    }
    result = {"status": "timeout", "kernel": "python3", "available_kernels": ["python3"]}
    assert _failure(nb, result, error, committed, tmp_path, output="out") == Failure(
        notebook="fit.ipynb",
        status="timeout",
        ename="E",
        evalue="v",
        traceback=["E: v"],
        stderr="warned",
        output="out",
        cell=2,
        source="f()",
        code=["import a", "f()"],
        root=tmp_path,
        writers={"out.csv": ["prep.ipynb"]},
        kernel="python3",
        available_kernels=["python3"],
        environment_yml=None,
        waiting_on=[{"host": "127.0.0.1", "port": 9, "state": "s"}],
    )
    whole = _failure(nb, {}, {}, committed, tmp_path)
    assert (whole.status, whole.code, whole.source, whole.ename, whole.evalue, whole.stderr, whole.output) == (
        "error",
        ["import a", "f()", "g()"],
        "",
        "",
        "",
        "",
        "",
    )
    assert _failure(nb, None, None, None, None).status == "no-result"


def test_environment_yml_is_read_only_where_it_was_translated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "environment.yml").write_text(
        "dependencies:\n  - python=3.11\n  - dask\n  - numpy>=1.2\n  - pip:\n    - requests==2.0\n", encoding="utf-8"
    )
    environment = Repo.open(tmp_path).environment
    translated = {"python": "", "dask": "", "numpy": ">=1.2", "requests": "==2.0"}
    assert _failure(NB, None, None, None, tmp_path, environment=environment).environment_yml == translated
    monkeypatch.setattr(outcome, "_image_mode", {"offline": "offline", "binder": "binder"}.get)
    assert (
        _failure(NB, None, None, None, tmp_path, image="offline", environment=environment).environment_yml == translated
    )
    assert _failure(NB, None, None, None, tmp_path, image="binder", environment=environment).environment_yml is None


def test_a_cause_comes_first_then_the_error_then_the_fix(tmp_path: Path) -> None:
    (tmp_path / "environment.yml").write_text("dependencies:\n  - python=3.11\n  - dask\n", encoding="utf-8")
    nbformat.write(new_notebook(cells=[new_code_cell("import pyarrow", execution_count=4)]), tmp_path / "fit.ipynb")
    error = {"kind": "cell-error", "cell": 0, "ename": "ModuleNotFoundError", "evalue": "No module named 'pyarrow'"}
    run = interpret(
        NB,
        {"status": "error", "error": error},
        {},
        LIMITS,
        False,
        root=tmp_path,
        environment=Repo.open(tmp_path).environment,
    )
    assert run.error is not None and run.error["cause"]["id"] == "environment-translation", run.message
    cause = run.error["cause"]
    assert run.message == (
        f"code cell 1 (In [4]): {cause['message']} (ModuleNotFoundError: No module named "
        f"'pyarrow') — fix: {cause['fix']}"
    )


def _died(code: int | None) -> dict[str, object]:
    return {
        "status": "dead-kernel",
        "kernel_exit": code,
        "error": {"kind": "dead-kernel", "cell": 0, "ename": "DeadKernelError", "evalue": "died"},
    }


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (-11, "killed by a segmentation fault (SIGSEGV)"),
        (-9, "killed by SIGKILL"),
        (-6, "killed by an abort (SIGABRT)"),
        (-15, "killed by SIGTERM"),
        (None, "it exited (os._exit or a crash)"),
    ],
)
def test_how_a_kernel_died_is_said_in_words(code: int | None, said: str) -> None:
    assert interpret(NB, _died(code), {}, LIMITS, False).message == f"the kernel died in cell 1: {said}"


def test_a_cell_error_names_its_cell_and_keeps_what_it_said(tmp_path: Path) -> None:
    _committed_error(tmp_path / "fit.ipynb", "other")
    run = interpret(
        NB,
        {"status": "error", "error": {"kind": "cell-error", "cell": 1, "ename": "E", "evalue": ""}},
        {},
        LIMITS,
        False,
        root=tmp_path,
    )
    assert run.error is not None and run.error["where"] == "code cell 2 (In [2])"
    assert run.message == "code cell 2 (In [2]): E"
    nameless = interpret(NB, {"status": "error", "error": {"kind": "runner", "cell": 1}}, {}, LIMITS, False)
    assert nameless.message == "cell 2"


def test_a_reproduced_error_says_so_and_why(tmp_path: Path) -> None:
    _committed_error(tmp_path / "fit.ipynb", "bad")
    error = {"kind": "cell-error", "cell": 1, "ename": "TypeError", "evalue": "bad"}
    run = interpret(NB, {"status": "error", "error": error}, {}, LIMITS, False, root=tmp_path)
    assert run.verdict == "reproduces-error" and run.error is not None
    assert run.message == (
        "code cell 2 (In [2]): reproduces the committed error (TypeError: bad); the committed "
        "notebook shows the same error in that cell"
    )
    assert run.error["cause"] == {
        "id": "reproduces-committed-error",
        "message": "the cell fails with the error the committed notebook shows",
        "fix": "nothing to fix for reproducibility; fix the cell if the error is not intended",
    }


def test_a_local_import_after_a_chdir_is_found_from_the_committed_cells(tmp_path: Path) -> None:
    (tmp_path / "tools.py").write_text("VALUE = 1\n", encoding="utf-8")
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell("import os\nos.chdir('data')", execution_count=1),
                new_code_cell("import tools", execution_count=2),
            ]
        ),
        tmp_path / "fit.ipynb",
    )
    error = {"kind": "cell-error", "cell": 1, "ename": "ModuleNotFoundError", "evalue": "No module named 'tools'"}
    run = interpret(NB, {"status": "error", "error": error}, {}, LIMITS, False, root=tmp_path)
    assert run.error is not None and run.error["cause"]["id"] == "chdir-local-import", run.message
    assert (run.error["ename"], run.error["where"]) == ("ModuleNotFoundError", "code cell 2 (In [2])")


def test_the_process_limit_is_named_after_the_failure() -> None:
    error = {"kind": "cell-error", "cell": 2, "ename": "E", "evalue": "v"}
    failed = interpret(NB, {"status": "error", "pids_limit_hits": 2, "error": error}, {}, LIMITS, False)
    assert (failed.status, failed.message) == (
        "pids-limit",
        "cell 3: E: v — the process limit (64) was reached: stopped by --pids",
    )
    timed_out = interpret(
        NB, {"status": "timeout", "pids_limit_hits": 2, "error": {**error, "kind": "cell-timeout"}}, {}, LIMITS, False
    )
    assert timed_out.status == "timeout", "a timeout stays a timeout"


def test_times_are_utc_whatever_the_machines_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert iso_time("2026-11-30T10:00:00+02:00") == "2026-11-30T08:00:00.000+00:00"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_failing_cell_past_the_committed_ones_is_counted_plainly(tmp_path: Path) -> None:
    _committed_error(tmp_path / "fit.ipynb", "")  # two cells
    run = interpret(
        NB,
        {"status": "error", "error": {"kind": "cell-error", "cell": 2, "ename": "E", "evalue": "max X"}},
        {},
        LIMITS,
        False,
        root=tmp_path,
    )
    assert run.message == "cell 3: E: max X"


def test_a_missing_kernel_is_explained_without_a_cell() -> None:
    error = {"kind": "no-kernel", "cell": None, "ename": "NoSuchKernel", "evalue": "No such kernel named julia"}
    run = interpret(
        NB,
        {"status": "no-kernel", "kernel": "julia", "available_kernels": ["ir", "python3"], "error": error},
        {},
        LIMITS,
        False,
    )
    assert run.message == (
        "the notebook asks for the kernel 'julia', which the image lacks (it has: ir, python3) "
        "(NoSuchKernel: No such kernel named julia) — fix: set `kernel: ir` for fit.ipynb in "
        "paperpack.yml (or change the notebook's kernelspec), or install that kernel in the "
        "environment"
    )


@pytest.mark.parametrize(("named", "seen"), [({}, ""), ({"ename": "TimeoutError"}, " (TimeoutError: )")])
def test_a_cause_reads_well_when_the_error_has_no_name_or_value(named: dict[str, str], seen: str) -> None:
    """The channel lets a result's error leave out its name and value: the cause is then said alone."""
    waits = [{"host": "127.0.0.1", "port": 9, "state": "connecting, no answer", "pid": 1}]
    error = {"kind": "cell-timeout", "cell": 0, "waiting_on": waits, **named}
    run = interpret(NB, {"status": "timeout", "error": error}, {}, LIMITS, False)
    assert run.error is not None and run.error["cause"]["id"] == "network-wait", run.message
    cause = run.error["cause"]
    assert run.message == f"cell 1: {cause['message']}{seen} — fix: {cause['fix']}"
