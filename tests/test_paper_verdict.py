"""The paper-level verdict (report/paper.py): its class, reasons and label from typed run results."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperpack.report.paper import PaperClass, Reason, paper_verdict
from paperpack.run.results import NotebookRun, RunResult


def _run(*notebooks: NotebookRun, complete: bool = True) -> RunResult:
    return RunResult(
        engine="docker",
        isolation="container",
        image="img",
        out_dir=Path("out"),
        jobs=1,
        limits={},
        notebooks=list(notebooks),
        complete=complete,
    )


def _nb(name: str, verdict: str, status: str = "ok", **kw: object) -> NotebookRun:
    return NotebookRun(path=name, verdict=verdict, status=status, **kw)  # type: ignore[arg-type]


def _differs(name: str, *reasons: str) -> NotebookRun:
    return _nb(
        name,
        "differs",
        comparison={
            "differences": [{"cell": 1, "reason": r, "diff": ""} for r in reasons],
            "tolerances": {"rtol": 1e-5, "atol": 1e-8},
        },
    )


def test_all_same_is_reproduced_with_label() -> None:
    v = paper_verdict(_run(_nb("a.ipynb", "same"), _nb("b.ipynb", "same"), _nb("c.ipynb", "same")))
    assert v.cls is PaperClass.REPRODUCED
    assert v.label() == "reproduced 3/3"
    assert v.reasons == ()
    assert v.to_dict()["class"] == "reproduced"


def test_new_warnings_or_committed_error_are_minor_differences() -> None:
    v = paper_verdict(_run(_nb("a.ipynb", "same"), _nb("b.ipynb", "same-with-warnings")))
    assert v.cls is PaperClass.MINOR_DIFFERENCES and v.reasons == (Reason.NEW_WARNINGS,)
    v = paper_verdict(_run(_nb("a.ipynb", "reproduces-error", status="error")))
    assert v.cls is PaperClass.MINOR_DIFFERENCES and v.reasons == (Reason.REPRODUCES_COMMITTED_ERROR,)
    assert v.label() == "reproduced with minor differences 1/1"


def test_widened_tolerance_makes_same_minor() -> None:
    nb = _nb("a.ipynb", "same", comparison={"differences": [], "tolerances": {"rtol": 1e-2, "atol": 1e-8}})
    v = paper_verdict(_run(nb))
    assert v.cls is PaperClass.MINOR_DIFFERENCES and v.reasons == (Reason.WIDENED_TOLERANCE,)


def test_some_fail_is_partial_with_reasons_most_frequent_first() -> None:
    v = paper_verdict(
        _run(
            _nb("a.ipynb", "same"),
            _nb("b.ipynb", "failed", status="timeout"),
            _nb("c.ipynb", "failed", status="error", error={"ename": "ModuleNotFoundError"}),
            _nb("d.ipynb", "failed", status="error", error={"ename": "ModuleNotFoundError"}),
        )
    )
    assert v.cls is PaperClass.PARTIALLY_REPRODUCED
    assert v.reasons == (Reason.MISSING_MODULE, Reason.TIMEOUT)
    assert (v.reproduced, v.considered) == (1, 4)
    assert v.label() == "partially reproduced 1/4"


def test_none_same_is_not_reproduced_and_names_the_kind_of_difference() -> None:
    v = paper_verdict(
        _run(
            _differs("a.ipynb", "output 1 image/png looks different (similarity 0.5 < 0.78)"),
            _differs("b.ipynb", "text/plain differs"),
            _nb("c.ipynb", "failed", status="error", error={"ename": "OSError", "cause": {"id": "no-network"}}),
        )
    )
    assert v.cls is PaperClass.NOT_REPRODUCED
    assert set(v.reasons) == {Reason.DIFFERS_IN_IMAGES, Reason.DIFFERS_IN_TEXT, Reason.NEEDS_NETWORK}


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("oom", Reason.OUT_OF_MEMORY),
        ("dead-kernel", Reason.KERNEL_DIED),
        ("pids-limit", Reason.PROCESS_LIMIT),
        ("no-kernel", Reason.MISSING_KERNEL),
    ],
)
def test_runner_status_gives_the_reason(status: str, reason: Reason) -> None:
    v = paper_verdict(_run(_nb("a.ipynb", "failed", status=status)))
    assert v.cls is PaperClass.NOT_REPRODUCED and v.reasons == (reason,)


def test_nothing_run_is_not_run() -> None:
    assert paper_verdict(None).cls is PaperClass.NOT_RUN
    assert paper_verdict(None, build_failed=True).reasons == (Reason.BUILD_FAILED,)
    assert paper_verdict(_run()).reasons == (Reason.NO_NOTEBOOKS,)
    skipped = paper_verdict(_run(_nb("a.ipynb", "skipped", status="skipped")))
    assert skipped.cls is PaperClass.NOT_RUN and skipped.reasons == (Reason.ALL_SKIPPED,)
    assert skipped.label() == "not run"


def test_interrupted_run_is_never_reproduced() -> None:
    v = paper_verdict(_run(_nb("a.ipynb", "same"), _nb("b.ipynb", "failed", status="interrupted"), complete=False))
    assert v.cls is PaperClass.PARTIALLY_REPRODUCED and Reason.INTERRUPTED in v.reasons
    v = paper_verdict(_run(_nb("a.ipynb", "failed", status="not-run"), complete=False))
    assert v.cls is PaperClass.NOT_RUN


def test_no_committed_outputs_is_not_claimed_reproduced() -> None:
    v = paper_verdict(_run(_nb("a.ipynb", "same"), _nb("b.ipynb", "no-outputs")))
    assert v.cls is PaperClass.PARTIALLY_REPRODUCED and v.reasons == (Reason.NO_COMMITTED_OUTPUTS,)


def test_a_dated_rerun_that_reproduces_gives_the_dated_class() -> None:
    from paperpack.timemachine.rerun import DatedOutcome, DatedRun

    run = _run(_nb("a.ipynb", "failed", status="error", error={"ename": "AttributeError"}))
    run.dated = DatedRun(outcome=DatedOutcome.REPRODUCED, declared_ok=False, result=_run(_nb("a.ipynb", "same")))
    v = paper_verdict(run)
    assert v.cls is PaperClass.DATED_DEPENDENCIES  # the declared environment did not, the dated one did
    assert v.reasons == (Reason.CODE_ERROR, Reason.DATED_DEPENDENCIES_REPRODUCE)
    assert v.label() == "reproduced with dated dependencies 1/1"


def test_a_timeout_spent_waiting_on_the_network_needs_network() -> None:
    v = paper_verdict(_run(_nb("a.ipynb", "failed", status="timeout", error={"cause": {"id": "network-wait"}})))
    assert v.reasons == (Reason.NEEDS_NETWORK,)
