"""``docker stop`` on a batch's container while its second notebook runs: exit 130 and a partial result.

``docker stop`` sends SIGTERM to the container's first process, the runner. nbclient used to remove the
runner's signal handlers after the first notebook; the runner, process 1 of the container, then ignored
SIGTERM (a signal with its default action does not reach process 1 of a PID namespace) until Docker killed
it 10 s later, and the running notebook had no result. The image is tests/integration/run_image (the
fixture of test_run_docker.py, removed at the end).
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

import nbformat
import pytest

from paperpack.repository.repo import Repo
from paperpack.run import Limits, run_notebooks
from paperpack.run.container import DockerEngine
from paperpack.run.engines import Batch, EngineRegistry, Session
from paperpack.run.results import RunEvent, RunResult
from tests.integration.test_run_docker import run_containers, run_image  # noqa: F401  (fixture)
from tests.test_runner_signals import WAIT_IF_SECOND

pytestmark = pytest.mark.docker


class RecordingEngine(DockerEngine):
    """The real docker engine, keeping what each batch gave back (its exit status among it)."""

    def __init__(self) -> None:
        super().__init__()
        self.facts: list[dict[str, Any]] = []

    def run_batch(self, session: Session, batch: Batch) -> dict[str, Any]:
        facts = super().run_batch(session, batch)
        self.facts.append(facts)
        return facts


def _notebook() -> Any:
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [nbformat.v4.new_code_cell("print('started')"), nbformat.v4.new_code_cell(WAIT_IF_SECOND)]
    return nb


def test_docker_stop_while_the_second_notebook_runs(run_image: str, tmp_path: Path) -> None:  # noqa: F811
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("a.ipynb", "b.ipynb"):
        nbformat.write(_notebook(), repo / name)
    engine = RecordingEngine()
    registry = EngineRegistry()
    registry.register("docker", lambda: engine)
    waiting: list[str] = []  # notebooks in their second cell, in the order they got there
    second_runs = threading.Event()

    def progress(event: RunEvent) -> None:
        if event.kind == "cell" and event.cell == 1 and event.path not in waiting:
            waiting.append(event.path)
            if len(waiting) == 2:
                second_runs.set()

    before = run_containers()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = run_notebooks(
                Repo.open(repo),
                engine="docker",
                image=run_image,
                out_dir=tmp_path / "out",
                jobs=1,
                limits=Limits(cell_timeout=300, timeout=600, memory="512m"),
                progress=progress,
                registry=registry,
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            outcome["error"] = exc
            second_runs.set()

    thread = threading.Thread(target=run, name="paperpack-run")
    thread.start()
    try:
        assert second_runs.wait(timeout=600), "the second notebook never started its second cell"
        assert "error" not in outcome, outcome.get("error")
        names = sorted(engine.names)
        assert len(names) == 1, names  # one batch: both notebooks in one container
        subprocess.run(["docker", "stop", names[0]], check=True, capture_output=True, timeout=120)
    finally:
        thread.join(timeout=600)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    result: RunResult = outcome["result"]
    [facts] = engine.facts
    assert facts["exit_code"] == 130, (facts["exit_code"], facts.get("output"))
    runs = {nb.path: nb for nb in result.notebooks}
    first, second = waiting
    assert runs[first].status == "ok", runs[first].message
    assert (tmp_path / "out" / "executed" / first).is_file()
    assert runs[second].status == "interrupted" and runs[second].verdict == "failed", runs[second].message
    assert not result.complete, "a run stopped from outside is incomplete (the report says so)"
    executed = nbformat.read(tmp_path / "out" / "executed" / second, as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "started\n"  # the partial copy came back too
    assert run_containers() <= before, "containers left behind"
