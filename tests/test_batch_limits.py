"""A submission's limits: --timeout and --memory reach verify()'s settings, and the whole pipeline
has a wall clock; a pipeline stopped by it is recorded as a timeout and leaves nothing running.

These call the batch's task directly (the function a Dask worker runs) with the local engine.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from paperpack.batch import SourceKind, Submission
from paperpack.batch.pipeline import TaskConfig
from paperpack.batch.state import Layout, read_state
from paperpack.batch.task import run_task
from test_batch import git, git_paper, notebook, paper
from test_batch_dask import alive, events, wait_for

pytestmark = pytest.mark.slow


def never_ending(root: Path, gate: Path) -> Submission:
    code = f"import os, time\nwhile not os.path.exists({str(gate)!r}):\n    time.sleep(0.05)\nprint('opened')"
    notebook(root / "analysis.ipynb", code, "opened\n")
    return Submission("slow", str(root), kind=SourceKind.FOLDER)


def test_the_notebook_time_and_memory_limits_are_verifys(tmp_path: Path) -> None:
    sub = never_ending(tmp_path / "paper", tmp_path / "never")
    out = tmp_path / "out"
    result = run_task(
        sub.to_dict(), TaskConfig(out_dir=str(out), engine="local", timeout=3, memory="300m", deadline=600).to_dict()
    )
    assert result["status"] == "done" and result["verdict"] == "not-reproduced", result
    assert result["reasons"] == ["timeout"]
    report = json.loads((out / "slow" / "report.json").read_text())
    assert report["run"]["limits"]["timeout"] == 3 and report["run"]["limits"]["memory"] == "300m"


def test_a_pipeline_past_its_deadline_is_stopped_and_recorded_as_a_timeout(tmp_path: Path) -> None:
    sub = never_ending(tmp_path / "paper", tmp_path / "never")
    out = tmp_path / "out"
    result = run_task(sub.to_dict(), TaskConfig(out_dir=str(out), engine="local", deadline=8).to_dict())
    assert result["status"] == "failed" and result["failure"]["kind"] == "timeout", result
    assert "ran longer than its time limit of 8 s and was stopped while verifying" in result["failure"]["message"]
    state = read_state(Layout(out), "slow")
    assert state is not None and state.pid is not None and not alive(state.pid)
    assert [e["event"] for e in events(out, "slow")] == ["fetching", "verifying", "interrupted", "failed"]


def test_a_failed_submission_does_not_stop_the_next_one_in_the_same_worker(tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = TaskConfig(out_dir=str(out), engine="local").to_dict()
    bad = run_task(Submission("bad", (tmp_path / "nothing.git").as_uri()).to_dict(), config)
    good = run_task(Submission("good", str(paper(tmp_path / "p")), kind=SourceKind.FOLDER).to_dict(), config)
    assert (bad["status"], bad["failure"]["kind"]) == ("failed", "fetch")
    assert (good["status"], good["verdict"]) == ("done", "reproduced")


def test_a_finished_submission_is_reused_until_its_revision_changes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = TaskConfig(out_dir=str(out), engine="local").to_dict()
    folder = Submission("plain", str(paper(tmp_path / "p")), kind=SourceKind.FOLDER)
    repo = tmp_path / "repo"
    git_paper(repo)
    tracked = Submission("tracked", str(repo), "main", SourceKind.GIT)
    first = {s.id: run_task(s.to_dict(), config) for s in (folder, tracked)}
    again = {s.id: run_task(s.to_dict(), config) for s in (folder, tracked)}
    assert again == first
    for ident in ("plain", "tracked"):
        assert [e["event"] for e in events(out, ident)] == ["fetching", "verifying", "done", "fetching", "reused"]
    paper(repo, 7)  # main moves on: a new commit is verified again
    git(repo, "commit", "-qam", "new result")
    moved = run_task(tracked.to_dict(), config)
    assert moved["commit"] == git(repo, "rev-parse", "HEAD") != first["tracked"]["commit"]
    assert [e["event"] for e in events(out, "tracked")][-3:] == ["fetching", "verifying", "done"]


def _every_notebook_same(results: list[dict[str, Any]]) -> None:
    """Reproduced because every notebook gave the same results: the cause, not only the verdict word."""
    for result in results:
        notebooks = result["notebooks"]
        assert isinstance(notebooks, list) and notebooks, result
        for nb in notebooks:
            assert nb["verdict"] == "same" and re.fullmatch(r"\d+ cells? with the same results", nb["message"]), nb


def test_a_worker_verifies_one_submission_at_a_time_and_fetches_the_next_meanwhile(tmp_path: Path) -> None:
    """Two tasks in one worker process (two threads, as the local cluster's): the second is fetched while the
    first verifies, and verifies only after the first is done."""
    from concurrent.futures import ThreadPoolExecutor

    from test_batch_dask import state, wait_for

    gate = tmp_path / "gate"
    first = never_ending(tmp_path / "first", gate)
    second = Submission("quick", str(paper(tmp_path / "second")), kind=SourceKind.FOLDER)
    out = tmp_path / "out"
    config = TaskConfig(out_dir=str(out), engine="local").to_dict()
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(run_task, first.to_dict(), config)
        wait_for("the first verifying", lambda: state(out, "slow").get("status") == "verifying")
        quick = pool.submit(run_task, second.to_dict(), config)
        wait_for("the second fetched", lambda: (out / ".batch" / "work" / "quick" / "src" / "analysis.ipynb").exists())
        gate.touch()
        results = [slow.result(timeout=600), quick.result(timeout=600)]
    assert [r["verdict"] for r in results] == ["reproduced", "reproduced"]
    _every_notebook_same(results)
    first_done = next(e["time"] for e in events(out, "slow") if e["event"] == "done")
    second_fetching = next(e["time"] for e in events(out, "quick") if e["event"] == "fetching")
    second_verifying = next(e["time"] for e in events(out, "quick") if e["event"] == "verifying")
    assert second_fetching < first_done < second_verifying


def test_a_long_verification_never_holds_up_the_submission_fetched_behind_it_on_the_local_cluster(
    tmp_path: Path,
) -> None:
    """The flaky resume test's race, forced: on the local cluster (--jobs 2) Dask may put the never-ending
    submission and another in the same worker, and the never-ending one may take the worker's slot first.
    The machine's two slots are shared by its workers, so the other verifies at once, on the free slot."""
    from concurrent.futures import ThreadPoolExecutor

    from paperpack.batch.runner import BatchOptions, task_config
    from test_batch_dask import state, wait_for

    gate = tmp_path / "gate"
    first = never_ending(tmp_path / "first", gate)
    second = Submission("quick", str(paper(tmp_path / "second")), kind=SourceKind.FOLDER)
    out = tmp_path / "out"
    config = task_config(BatchOptions(out_dir=out, jobs=2, engine="local"), Layout(out)).to_dict()
    with ThreadPoolExecutor(2) as pool:  # two tasks in one worker process, as Dask may place them
        slow = pool.submit(run_task, first.to_dict(), config)
        try:
            wait_for("the first verifying", lambda: state(out, "slow").get("status") == "verifying")
            quick = pool.submit(run_task, second.to_dict(), config)
            wait_for(
                "the second done while the first still verifies",
                lambda: state(out, "quick").get("status") == "done" and quick.done(),
            )
            assert state(out, "slow")["status"] == "verifying"
        finally:
            gate.touch()
        results = [slow.result(timeout=600), quick.result(timeout=600)]
    assert [r["verdict"] for r in results] == ["reproduced", "reproduced"]
    _every_notebook_same(results)


def test_a_fresh_pipeline_that_ignores_sigterm_is_killed_with_what_it_started(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the grace, SIGKILL goes to the fresh pipeline's whole session (its kernels, its containers' clients)."""
    from paperpack.batch import task

    monkeypatch.setattr(task, "GRACE", 0.5)
    program = (
        "import signal, subprocess, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen(['sleep', '300'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        proc.stdout.close()
        task._stop(proc)
        assert proc.returncode == -signal.SIGKILL
        wait_for(f"the pipeline's child {child} gone with it", lambda: not alive(child))  # reaped by init
    finally:  # the test failed: leave nothing of it running (its session is its process group)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
