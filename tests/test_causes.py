"""Root causes (paperpack/run/causes.py), verdicts of failing notebooks, and safe terminal output.

The failure facts below are modelled on what real runs produced (ename, evalue, the cell's
stderr, the runner's output); tests/test_run_causes.py runs each cause for real.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from paperpack.checks.findings import Finding, Findings, Severity
from paperpack.cli._buildview import BuildView, show_build_failure
from paperpack.cli.run import render_verdicts
from paperpack.errors import BuildError
from paperpack.report import Report
from paperpack.report.github import annotation
from paperpack.report.text import make_console, render_text
from paperpack.repository.repo import Repo
from paperpack.run import runner
from paperpack.run.api import _collect
from paperpack.run.causes import CAUSES, Failure, clean_traceback, diagnose
from paperpack.run.channel import Delivery
from paperpack.run.engines import Batch, Session
from paperpack.run.outcome import FAILED_STATUSES, interpret, link_upstream
from paperpack.run.plan import Limits, PlannedNotebook, make_plan
from paperpack.run.results import NotebookRun, RunResult
from paperpack.run.verdict import judge
from paperpack.util.terminal import printable, strip_ansi

ROOT = Path(__file__).resolve().parent.parent
LIMITS = Limits(memory="1g", pids=64)


def _cause(**facts: Any) -> str | None:
    found = diagnose(Failure(notebook=facts.pop("notebook", "nb.ipynb"), status=facts.pop("status", "error"), **facts))
    return found.cause if found else None


# --- each cause, and what must not be taken for it ---------------------------------------


def test_no_network_names_the_host() -> None:
    found = diagnose(
        Failure(
            "a.ipynb",
            "error",
            ename="ConnectionError",
            evalue="HTTPSConnectionPool(host='zenodo.org', port=443): Max retries exceeded "
            "(Caused by NameResolutionError(\"Failed to resolve 'zenodo.org' ([Errno -3] "
            'Temporary failure in name resolution)"))',
        )
    )
    assert found is not None and found.cause == "no-network"
    assert found.message == "this notebook downloads from zenodo.org, and runs have no network"
    assert "paperpack.yml" in found.fix and "sha256" in found.fix
    # a refused connection to a local server is not "no network"
    assert _cause(ename="ConnectionRefusedError", evalue="[Errno 111] Connection refused") is None


def test_numpy_abi_from_the_cells_stderr() -> None:
    stderr = (
        "A module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.0.2 as it may crash.\n"
        'File "/srv/venv/lib/python3.11/site-packages/tables/__init__.py", line 44'
    )
    found = diagnose(
        Failure(
            "a.ipynb",
            "error",
            ename="ImportError",
            evalue="numpy.core.multiarray failed to import",
            stderr=stderr,
            source="import numpy\nimport tables",
        )
    )
    assert found is not None and found.cause == "numpy-abi"
    assert found.fix == "pin `numpy<2` in the requirements (or upgrade tables to a release built for NumPy 2)"
    size = diagnose(
        Failure(
            "a.ipynb",
            "error",
            ename="ValueError",
            evalue="numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from "
            "C header, got 88 from PyObject",
            source="import pandas",
        )
    )
    assert size is not None and size.cause == "numpy-abi" and "pandas" in size.message


def test_translation_is_named_not_the_author() -> None:
    env = {"dask": "", "python": ""}
    found = diagnose(
        Failure(
            "a.ipynb", "error", ename="ModuleNotFoundError", evalue="No module named 'pyarrow'", environment_yml=env
        )
    )
    assert found is not None and found.cause == "environment-translation" and "'dask'" in found.message
    assert _cause(ename="ModuleNotFoundError", evalue="No module named 'pyarrow'") is None  # requirements.txt
    abi = dict(
        ename="ImportError",
        evalue="numpy.core.multiarray failed to import",
        stderr="compiled using NumPy 1.x cannot be run in NumPy 2.1.0",
    )
    assert _cause(environment_yml={"numpy": ""}, **abi) == "environment-translation"
    assert _cause(environment_yml={"numpy": "<2"}, **abi) == "numpy-abi"  # the author pinned it: not translation
    assert _cause(environment_yml={"numpy": "==1.26.*"}, **abi) == "numpy-abi"


def test_translation_only_where_environment_yml_was_translated(tmp_path: Path) -> None:
    (tmp_path / "environment.yml").write_text("dependencies:\n  - python=3.11\n  - dask\n", encoding="utf-8")
    _committed(tmp_path / "a.ipynb", [new_code_cell("import pyarrow", execution_count=1)])
    nb = PlannedNotebook(path="a.ipynb")
    failed = _error(0, ename="ModuleNotFoundError", evalue="No module named 'pyarrow'")
    environment = Repo.open(tmp_path).environment
    local = interpret(nb, failed, {}, LIMITS, False, root=tmp_path, environment=environment)  # packages from PyPI
    assert local.error is not None and local.error["cause"]["id"] == "environment-translation", local.message
    # an image paperpack did not build in offline mode (conda solved environment.yml): the author's dependency
    solved = interpret(
        nb, failed, {}, LIMITS, False, root=tmp_path, image="paperpack-test-absent:conda", environment=environment
    )
    assert solved.error is not None and "cause" not in solved.error, solved.message


def test_failures_read_the_environment_model_detected_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each failing notebook's cause is judged from ``repo.environment``: the run never re-detects it from disk."""
    import paperpack.environment

    (tmp_path / "environment.yml").write_text("dependencies:\n  - python=3.11\n  - dask\n", encoding="utf-8")
    names = ["a.ipynb", "b.ipynb", "c.ipynb"]
    for name in names:
        _committed(tmp_path / name, [new_code_cell("import pyarrow", execution_count=1)])
    detected: list[Path] = []
    real = paperpack.environment.detect

    def counting(root: Path) -> Any:
        detected.append(root)
        return real(root)

    monkeypatch.setattr(paperpack.environment, "detect", counting)
    repo = Repo.open(tmp_path)
    session = Session(repo=repo, work_dir=tmp_path / "work", limits=LIMITS, jobs=1)  # the local engine (no image)
    keys = {name: f"nb{i:03d}" for i, name in enumerate(names)}
    failed = _error(0, ename="ModuleNotFoundError", evalue="No module named 'pyarrow'")
    facts = {"deliveries": {key: Delivery(result=dict(failed, key=key)) for key in keys.values()}}
    runs = _collect(
        Batch(number=0, notebooks=[PlannedNotebook(path=n) for n in names], keys=keys), facts, session, tmp_path / "out"
    )
    assert [(run.error or {}).get("cause", {}).get("id") for run in runs] == ["environment-translation"] * 3
    assert detected == [tmp_path], f"the environment was detected {len(detected)} times for 3 failing notebooks"


def test_missing_upstream_output_and_empty_glob(tmp_path: Path) -> None:
    missing = dict(ename="FileNotFoundError", evalue="[Errno 2] No such file or directory: '../results/fit.csv'")
    writers = {"results/fit.csv": ["analysis/fit.ipynb"]}
    assert _cause(notebook="figures/plot.ipynb", writers=writers, **missing) == "missing-upstream-output"
    assert _cause(notebook="figures/plot.ipynb", **missing) is None
    (tmp_path / "data" / "runs").mkdir(parents=True)
    (tmp_path / "data" / "runs" / ".gitkeep").write_text("")
    code = ["from pathlib import Path", 'frames = [read(p) for p in Path("data/runs").glob("*.parquet")]']
    found = diagnose(
        Failure(
            "summary.ipynb", "error", ename="ValueError", evalue="No objects to concatenate", code=code, root=tmp_path
        )
    )
    assert found is not None and found.cause == "empty-input-glob"
    assert found.message == (
        "no input files matched 'data/runs/*.parquet'; the folder data/runs/ holds only "
        ".gitkeep; are results of a script missing?"
    )
    (tmp_path / "data" / "runs" / "one.csv").write_text("x\n")  # a folder with real files: another cause
    assert _cause(ename="ValueError", evalue="No objects to concatenate", code=code, root=tmp_path) is None


def test_chdir_local_import_and_missing_kernel(tmp_path: Path) -> None:
    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / "tools.py").write_text("")
    facts = dict(notebook="nb/a.ipynb", ename="ModuleNotFoundError", evalue="No module named 'tools'", root=tmp_path)
    assert _cause(code=["import os\nos.chdir('../data')", "import tools"], **facts) == "chdir-local-import"
    assert _cause(code=["import tools"], **facts) is None  # no chdir: a missing module, not this cause
    kernel = diagnose(Failure("a.ipynb", "no-kernel", kernel="ir", available_kernels=["python3"]))
    assert kernel is not None and kernel.cause == "missing-kernel"
    assert "`kernel: python3` for a.ipynb in paperpack.yml" in kernel.fix and "it has: python3" in kernel.message


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    output = (
        'Traceback (most recent call last):\n  File "/paperpack/runner.py", line 90, in _copy_tree\n'
        "PermissionError: [Errno 13] Permission denied: '/paperpack/repo/data/secret.csv'"
    )
    run = interpret(
        PlannedNotebook(path="a.ipynb"), None, {"exit_code": 1, "output": output}, LIMITS, False, root=tmp_path
    )
    assert run.error is not None and run.error["cause"]["id"] == "unreadable-file"
    assert run.message.startswith("the repository file 'data/secret.csv' cannot be read"), run.message
    assert "chmod a+r data/secret.csv" in run.message


def test_every_cause_is_documented() -> None:
    doc = (ROOT / "docs" / "run-and-compare.md").read_text(encoding="utf-8")
    schema = json.loads((ROOT / "schemas" / "paperpack.report.v1.json").read_text(encoding="utf-8"))
    ids = schema["$defs"]["notebook_run"]["properties"]["error"]["properties"]["cause"]["properties"]["id"]["enum"]
    for cause in CAUSES:
        assert f"`{cause.id}`" in doc, cause.id
        assert cause.id in ids, cause.id
    assert "`reproduces-committed-error`" in doc


# --- tracebacks and cells as people see them ------------------------------------------------


def test_traceback_without_ansi_and_own_frames() -> None:
    ipython = [
        "\x1b[0;31mValueError\x1b[0m  Traceback",
        "File \x1b[0;32m/paperpack/kernelfork.py:120\x1b[0m, in serve\n    run()",
        "Cell \x1b[0;32mIn[3], line 1\x1b[0m\n----> 1 f()",
        "ValueError: bad",
    ]
    assert clean_traceback(ipython) == ["ValueError  Traceback", "Cell In[3], line 1\n----> 1 f()", "ValueError: bad"]
    python = [
        "Traceback (most recent call last):",
        '  File "/paperpack/runner.py", line 300, in run_one',
        "    await _start_kernel(client, tracker)",
        "    ^^^^^^",
        '  File "/venv/x/client.py", line 5, in go',
        "    raise NoSuchKernel(name)",
        "NoSuchKernel: No such kernel named ir",
    ]
    assert clean_traceback(python) == [
        "Traceback (most recent call last):",
        '  File "/venv/x/client.py", line 5, in go',
        "    raise NoSuchKernel(name)",
        "NoSuchKernel: No such kernel named ir",
    ]


def _committed(path: Path, cells: list[Any]) -> None:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def _error(cell: int, ename: str = "KeyError", evalue: str = "'x'", **extra: Any) -> dict[str, Any]:
    return {
        "status": "error",
        "kernel": "python3",
        "duration": 1.0,
        "cells": [],
        "error": {"kind": "cell-error", "cell": cell, "ename": ename, "evalue": evalue, "traceback": []},
        **extra,
    }


def test_cells_counted_as_people_find_them(tmp_path: Path) -> None:
    _committed(
        tmp_path / "a.ipynb",
        [
            new_markdown_cell("# title"),
            new_code_cell("x = 1", execution_count=4),
            new_markdown_cell("text"),
            new_code_cell("y['x']", execution_count=7),
        ],
    )
    run = interpret(PlannedNotebook(path="a.ipynb"), _error(3), {}, LIMITS, False, root=tmp_path)
    assert run.message == "code cell 2 (In [7]): KeyError: 'x'"
    shifted = interpret(
        PlannedNotebook(path="a.ipynb", parameters={"n": 1}),
        _error(4, injected_cell=1),
        {},
        LIMITS,
        False,
        root=tmp_path,
    )
    assert shifted.message.startswith("code cell 2 (In [7]):")  # the injected parameters cell is not counted


def test_the_committed_error_is_a_verdict_of_its_own(tmp_path: Path) -> None:
    error = new_output("error", ename="KeyError", evalue="'x'", traceback=["KeyError: 'x'"])
    _committed(
        tmp_path / "a.ipynb",
        [new_code_cell("d = {}", execution_count=1), new_code_cell("d['x']", execution_count=2, outputs=[error])],
    )
    nb = PlannedNotebook(path="a.ipynb")
    run = interpret(nb, _error(1), {}, LIMITS, False, root=tmp_path)
    judge(run, nb, tmp_path / "a.ipynb", None)
    assert run.verdict == "reproduces-error" and run.status == "error"
    assert run.message.startswith("code cell 2 (In [2]): reproduces the committed error (KeyError: 'x')")
    other = interpret(nb, _error(1, evalue="'y'"), {}, LIMITS, False, root=tmp_path)
    judge(other, nb, tmp_path / "a.ipynb", None)
    assert other.verdict == "failed"  # another error in the same cell is a new failure
    assert "reproduces" not in other.message and "KeyError: 'y'" in other.message, other.message
    result = RunResult(engine="local", isolation="", image=None, out_dir=tmp_path, jobs=1, limits={}, notebooks=[run])
    assert result.summary() == "0/1 notebooks ran to the end: 1 reproduce the committed error"


def test_reproduced_error_after_different_results_differs(tmp_path: Path) -> None:
    """The same error, but the cells before it gave other results: not a reproduction (no false "same")."""

    def notebook(path: Path, printed: str) -> None:
        error = new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])
        _committed(
            path,
            [
                new_code_cell(
                    "print(x)", execution_count=1, outputs=[new_output("stream", name="stdout", text=printed)]
                ),
                new_code_cell("1 / 0", execution_count=2, outputs=[error]),
            ],
        )

    notebook(tmp_path / "a.ipynb", "1\n")
    notebook(tmp_path / "same.ipynb", "1\n")
    notebook(tmp_path / "other.ipynb", "2\n")
    nb = PlannedNotebook(path="a.ipynb")
    failed = _error(1, ename="ZeroDivisionError", evalue="division by zero")
    same = interpret(nb, failed, {}, LIMITS, False, root=tmp_path)
    judge(same, nb, tmp_path / "a.ipynb", tmp_path / "same.ipynb")
    assert same.verdict == "reproduces-error", same.message
    other = interpret(nb, failed, {}, LIMITS, False, root=tmp_path)
    judge(other, nb, tmp_path / "a.ipynb", tmp_path / "other.ipynb")
    assert other.verdict == "differs" and other.comparison is not None, other.message
    assert [d["cell"] for d in other.comparison["differences"]] == [0]
    assert other.message.endswith("; but 1 cell before it differ: code cell 1 (In [1])"), other.message


def test_upstream_failure_is_linked() -> None:
    writer = NotebookRun(path="fit.ipynb", status="error", verdict="failed", message="code cell 2: ValueError: bad")
    reader = NotebookRun(
        path="plot.ipynb",
        status="error",
        verdict="failed",
        message="code cell 1: 'out.csv' …",
        error={
            "cause": {"id": "missing-upstream-output", "message": "", "fix": "", "detail": {"writers": ["fit.ipynb"]}}
        },
    )
    link_upstream([writer, reader])
    assert reader.message.endswith(" — upstream: fit.ipynb failed: code cell 2: ValueError: bad")


# --- issue 16: verdicts of failing notebooks, without Docker ------------------------------


@pytest.mark.parametrize("status", sorted(FAILED_STATUSES - {"not-run"}))
def test_every_failing_status_is_judged_failed(status: str, tmp_path: Path) -> None:
    """Also when the executed copy exists and the committed notebook has no outputs (not no-outputs)."""
    _committed(tmp_path / "a.ipynb", [new_code_cell("while True: pass")])
    executed = tmp_path / "executed.ipynb"
    executed.write_bytes((tmp_path / "a.ipynb").read_bytes())
    nb = PlannedNotebook(path="a.ipynb", timeout=5, cell_timeout=2)
    kind = {"timeout": "cell-timeout", "no-kernel": "no-kernel"}.get(status, status)
    result = {
        "status": status,
        "kernel": "python3",
        "kernel_exit": -9 if status in ("dead-kernel", "oom") else None,
        "oom_kills": 1 if status == "oom" else 0,
        "pids_limit_hits": 3 if status == "pids-limit" else 0,
        "error": {"kind": kind, "cell": 0, "ename": "E", "evalue": "v", "traceback": []},
    }
    run = interpret(nb, result, {}, LIMITS, status == "interrupted", root=tmp_path)
    judge(run, nb, tmp_path / "a.ipynb", executed)
    assert (run.verdict, run.comparison) == ("failed", None), run.message
    assert run.message


def test_a_fractional_cell_timeout_stays_a_timeout() -> None:
    """nbclient reads 0 as "no timeout": 0.5 s must become 1 s, never 0."""
    assert runner._whole_seconds(0.5) == 1
    assert runner._whole_seconds(0.01) == 1
    assert runner._whole_seconds(2.2) == 3
    assert runner._whole_seconds(None) is None


# --- ordering: a notebook reading another's file runs after it ----------------------------


def test_writers_run_before_readers(tmp_path: Path) -> None:
    _committed(tmp_path / "b_plot.ipynb", [new_code_cell("import pandas as pd\nd = pd.read_csv('out/fit.csv')")])
    _committed(tmp_path / "a_fit.ipynb", [new_code_cell("d.to_csv('out/fit.csv')\nopen('../x.txt').read()")])
    _committed(tmp_path / "c_alone.ipynb", [new_code_cell("1")])
    plan = make_plan(Repo.open(tmp_path))
    by = plan.by_path
    assert by["b_plot.ipynb"].after == ["a_fit.ipynb"]
    assert by["b_plot.ipynb"].writers == {"out/fit.csv": ["a_fit.ipynb"]}
    assert by["a_fit.ipynb"].after == [] and by["c_alone.ipynb"].after == []
    assert [nb.path for nb in plan.ready(set(), set())] == ["a_fit.ipynb", "c_alone.ipynb"]
    # a failed writer does not skip the reader: the file may be committed too
    assert [nb.path for nb in plan.ready(set(), {"a_fit.ipynb", "c_alone.ipynb"})] == ["b_plot.ipynb"]
    assert plan.blocked({"a_fit.ipynb"}, {"a_fit.ipynb"}) == []


def test_notebooks_reading_each_other_keep_list_order(tmp_path: Path) -> None:
    _committed(tmp_path / "one.ipynb", [new_code_cell("open('b.txt').read()\nopen('a.txt', 'w').write('1')")])
    _committed(tmp_path / "two.ipynb", [new_code_cell("open('a.txt').read()\nopen('b.txt', 'w').write('2')")])
    plan = make_plan(Repo.open(tmp_path))
    assert plan.by_path["two.ipynb"].after == ["one.ipynb"] and plan.by_path["one.ipynb"].after == []


# --- control characters from notebooks never reach a terminal or a CI log -------------------

HOSTILE = "boom\x1b[2J\x1b[H\x1b]0;pwned\x07\rall good\x08\x9b31m"


def test_printable() -> None:
    assert strip_ansi("\x1b[0;31mKeyError\x1b[0m") == "KeyError"
    assert printable(HOSTILE) == "boom\\x0dall good\\x08"
    assert printable("a\n\tb") == "a\n\tb" and printable("a\nb", newlines=False) == "a\\x0ab"


def _no_control(text: str) -> None:
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text), repr(text)


def test_run_table_and_findings_escape_notebook_text(tmp_path: Path) -> None:
    out = io.StringIO()
    console = make_console(out, color="never")
    run = NotebookRun(
        path="a\x1b[8m.ipynb",
        status="error",
        verdict="failed",
        message=f"code cell 1: E: {HOSTILE}",
        comparison={"differences": [{"cell": 0, "reason": HOSTILE, "diff": f"-1\n+{HOSTILE}"}]},
    )
    render_verdicts(
        RunResult(engine="docker", isolation="", image="img", out_dir=tmp_path, jobs=1, limits={}, notebooks=[run]),
        console,
    )
    _no_control(out.getvalue())
    assert "\\x0d" in out.getvalue() and "pwned" not in out.getvalue()
    finding = Finding(
        rule="NB012",
        name="missing-file",
        severity=Severity.ERROR,
        message=f"reads {HOSTILE}",
        why="w",
        fix="f",
        path="a.ipynb",
        cell=1,
    )
    line = annotation(finding)
    _no_control(line)
    assert line.startswith("::error ")
    text = io.StringIO()
    render_text(
        Report(root=tmp_path, findings=Findings([finding]), environment={"summary": HOSTILE}),
        make_console(text, color="always"),
    )
    shown = re.sub(r"\x1b\[[0-9;]*m", "", text.getvalue())  # our own colours: the only escapes allowed
    _no_control(shown)
    assert "pwned" not in shown and "\\x0dall good" in shown


def test_build_view_escapes_build_output() -> None:
    out = io.StringIO()
    console = make_console(out, color="never")
    with BuildView(console, title="build", verbose=True) as view:
        view(f"Step 3/9 : RUN ./postBuild {HOSTILE}")
    show_build_failure(BuildError("failed", step=f"postBuild {HOSTILE}", log_tail=f"line\n{HOSTILE}"), console)
    _no_control(out.getvalue())
    assert "\\x08" in out.getvalue() and "pwned" not in out.getvalue()
