"""``paperpack run`` end to end with the local engine, on tests/cases/run-basic and run-interrupt.

The first run builds the local engine's environment (cached under the paperpack cache).
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from paperpack.cli.main import main
from paperpack.repository.repo import Repo
from paperpack.run import RunEvent, kernelfork, run_notebooks
from paperpack.run.plan import Limits
from paperpack.run.sandbox import describe, probe
from tests.runhelp import alive, children, interrupt_run, read_report, sleeping, tree_hashes

pytestmark = pytest.mark.slow


def test_run_basic_local(copy_case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = copy_case("run-basic")
    before = tree_hashes(repo)
    out = tmp_path / "out"
    code = main(["run", str(repo), "--engine", "local", "-o", str(out), "--format", "json"])
    assert code == 1, "a notebook that differs fails the run"
    printed = json.loads(capsys.readouterr().out)
    verdicts = {nb["path"]: nb["verdict"] for nb in printed["notebooks"]}
    assert verdicts == {
        "analysis/produce.ipynb": "same",
        "analysis/consume.ipynb": "same",
        "independent.ipynb": "same",
        "differs.ipynb": "differs",
        "empty.ipynb": "no-outputs",
    }
    by_path = {nb["path"]: nb for nb in printed["notebooks"]}
    assert by_path["analysis/produce.ipynb"]["parameters"] == {"n": 5}
    for same in ("analysis/produce.ipynb", "analysis/consume.ipynb", "independent.ipynb"):  # why each is what it is
        assert re.match(r"\d+ cells? with the same results", by_path[same]["message"]), by_path[same]
    assert by_path["empty.ipynb"]["message"] == "the committed notebook stores no outputs to compare with"
    differs = by_path["differs.ipynb"]["comparison"]
    assert [d["cell"] for d in differs["differences"]] == [0]  # cell 1 is within the notebook's rtol
    assert differs["differences"][0]["reason"] == "stream:stdout differs", differs
    assert "-46" in differs["differences"][0]["diff"] and "+45" in differs["differences"][0]["diff"]
    label = printed["isolation"]
    assert label.startswith("local engine: no network," if probe().net else "local engine: network ON ("), label
    assert "memory ≤ 2g per process" in label and "less isolated than a container" in label
    assert label == describe(probe(), Limits(**printed["limits"]), cores=len(os.sched_getaffinity(0)))
    assert printed["complete"] is True
    report = read_report(out)
    assert report["run"]["failed"] is True and report["complete"] is True
    for nb in verdicts:
        assert (out / "executed" / nb).is_file()
    assert tree_hashes(repo) == before, "the repository must not change"


def test_parameters_and_allow_differs(copy_case, tmp_path: Path) -> None:
    repo = copy_case("run-basic")
    before = tree_hashes(repo)
    events: list[RunEvent] = []
    result = run_notebooks(
        Repo.open(repo), engine="local", out_dir=tmp_path / "out", parameters={"n": 2}, progress=events.append
    )
    runs = {nb.path: nb for nb in result.notebooks}
    assert runs["analysis/produce.ipynb"].verdict == "differs"
    assert runs["analysis/produce.ipynb"].parameters == {"n": 2}
    assert "n=2" in runs["analysis/produce.ipynb"].message
    assert runs["analysis/consume.ipynb"].verdict == "differs"  # it read what produce wrote with n=2
    produced, consumed = runs["analysis/produce.ipynb"].comparison, runs["analysis/consume.ipynb"].comparison
    assert produced is not None and consumed is not None
    assert [(d["cell"], d["reason"]) for d in produced["differences"]] == [
        (1, "stream:stdout differs"),  # the squares printed
        (2, "stream:stdout differs"),  # how many were written
    ], produced
    assert [(d["cell"], d["reason"]) for d in consumed["differences"]] == [(0, "stream:stdout differs")], consumed
    assert runs["empty.ipynb"].parameters == {"n": 2}
    kinds = {e.kind for e in events}
    assert {"queued", "start", "cell", "done", "finished"} <= kinds
    starts = [e.path for e in events if e.kind == "start"]
    assert starts.index("analysis/consume.ipynb") > starts.index("analysis/produce.ipynb")
    assert tree_hashes(repo) == before
    code = main(
        [
            "run",
            str(repo),
            "--engine",
            "local",
            "-o",
            str(tmp_path / "o2"),
            "--allow-differs",
            "-p",
            "n",
            "5",
            "--format",
            "json",
        ]
    )
    assert code == 0


def _cwd_once_set(pid: int, before: str) -> str:
    """The working folder of the forked kernel ``pid``, once it left the template's (``before``)."""
    deadline = time.monotonic() + 60  # a hang guard: the kernel changes folder right after the fork
    while time.monotonic() < deadline:
        cwd = os.readlink(f"/proc/{pid}/cwd")
        if cwd != before:
            return cwd
        time.sleep(0.05)
    raise AssertionError(f"kernel {pid} stayed in {before}")


def test_a_late_answer_of_the_kernel_template_never_goes_to_the_next_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race behind test_parameters_and_allow_differs's failure (issue 16), made certain.

    A batch forks its notebooks' kernels from one template, one request at a time. On a starved machine the
    template can answer a request after the runner stopped waiting (``FORK_TIMEOUT``) and started that kernel
    the normal way. The late answer used to be taken by the next request: the next notebook was given the first
    kernel's pid (polled and killed in its place), and the first kernel ran twice on the same ports.
    """
    monkeypatch.setattr(kernelfork, "FORK_TIMEOUT", 1.0)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    env = {**os.environ, "JPY_PARENT_PID": str(os.getpid())}
    template = kernelfork.Template()
    try:
        os.kill(template.process.pid, signal.SIGSTOP)  # it cannot answer in time
        with pytest.raises(OSError, match="did not answer within 1 s"):
            template.fork(["-f", str(first / "kernel.json")], str(first), env)
        monkeypatch.setattr(kernelfork, "FORK_TIMEOUT", 120.0)
        os.kill(template.process.pid, signal.SIGCONT)  # it answers the first request now, then the second
        kernel = template.fork(["-f", str(second / "kernel.json")], str(second), env)
        assert _cwd_once_set(kernel.pid, os.getcwd()) == str(second), "the second request got the first's kernel"
        deadline = time.monotonic() + 60
        while [
            pid for pid in children(template.process.pid) if alive(pid) and pid != kernel.pid
        ] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [pid for pid in children(template.process.pid) if alive(pid)] == [kernel.pid], (
            "the kernel of the abandoned request is killed"
        )
    finally:
        os.kill(template.process.pid, signal.SIGCONT)
        template.close()


def test_interrupt_local(copy_case, tmp_path: Path) -> None:
    repo = copy_case("run-interrupt")
    out = tmp_path / "out"
    seen: dict[str, list[int]] = {}

    def started(proc) -> bool:
        runners = children(proc.pid)
        kernels = [k for r in runners for k in children(r)]
        forked = [f for k in kernels for f in children(k)]  # kernels forked from the runner's kernel template
        if len(forked or kernels) < 2:
            return False
        seen["pids"] = runners + kernels + forked
        # The template may already hold a spare kernel, idle, for the third notebook: two asleep is enough.
        asleep = [sleeping(pid) for pid in forked or kernels]
        if None in asleep:  # /proc does not say: give the kernels time to reach the long cell
            time.sleep(2)
            return True
        return asleep.count(True) >= 2  # two kernels are in the long cell's time.sleep

    proc, output = interrupt_run(["run", str(repo), "--engine", "local", "-o", str(out), "--jobs", "2"], started)
    assert proc.returncode == 130, output
    report = read_report(out)
    assert report["complete"] is False and report["run"]["complete"] is False
    statuses = {nb["status"] for nb in report["run"]["notebooks"]}
    assert statuses <= {"interrupted", "not-run"}
    assert "interrupted: incomplete" in report["run"]["summary"]
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in seen["pids"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in seen["pids"] if alive(pid)], "runner or kernel processes left behind"


def test_failed_dependency_skip_and_allow_errors(copy_case, tmp_path: Path) -> None:
    repo = copy_case("run-deps")
    result = run_notebooks(Repo.open(repo), engine="local", out_dir=tmp_path / "out")
    runs = {nb.path: nb for nb in result.notebooks}
    assert runs["load.ipynb"].verdict == "failed"
    assert runs["load.ipynb"].message.startswith("code cell 2: FileNotFoundError:")
    assert (runs["model.ipynb"].verdict, runs["model.ipynb"].message) == (
        "skipped",
        "not run: it depends on load.ipynb, which did not succeed",
    )
    assert (runs["gpu.ipynb"].verdict, runs["gpu.ipynb"].message) == ("skipped", "needs a GPU")
    assert (runs["report.ipynb"].status, runs["report.ipynb"].verdict) == ("ok", "no-outputs")
    assert result.summary() == "1/2 notebooks ran to the end: 1 no stored outputs, 1 failed, 2 skipped"
    assert result.failed
