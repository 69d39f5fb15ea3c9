"""The in-image runner script, run directly under this Python (which has nbclient and ipykernel)."""

from __future__ import annotations

from typing import Any

import nbformat
import pytest

from tests.runhelp import run_runner

v4 = nbformat.v4


def _nb(*sources: str, tags: dict[int, list[str]] | None = None, kernel: str = "python3") -> Any:
    nb = v4.new_notebook(metadata={"kernelspec": {"name": kernel, "display_name": kernel, "language": "python"}})
    nb.cells = [v4.new_code_cell(src) for src in sources]
    for index, names in (tags or {}).items():
        nb.cells[index].metadata["tags"] = names
    return nb


NOTEBOOKS = {
    "params.ipynb": _nb("n = 1", "print(n * 10)", tags={0: ["parameters"]}),
    "sub/top.ipynb": _nb("print(n, label)\nimport os\nprint(os.getcwd())"),
    "error.ipynb": _nb("x = 1", "raise ValueError('bad value 42')", "print('never')"),
    "celltimeout.ipynb": _nb("x = 1", "import time\nwhile True:\n    time.sleep(0.05)"),
    "nbtimeout.ipynb": _nb("import time", "time.sleep(1)", "time.sleep(30)"),
    "exit.ipynb": _nb("import os\nos._exit(5)"),
    "nokernel.ipynb": _nb("1", kernel="no-such-kernel-xyz"),
    "writes.ipynb": _nb("open('out.txt', 'w').write('x')\nprint(open('data/input.csv').read())"),
}
JOBS: list[dict[str, Any]] = [
    {"key": "p", "path": "params.ipynb", "parameters": {"n": 4}},
    {"key": "t", "path": "sub/top.ipynb", "parameters": {"n": 2, "label": "small"}},
    {"key": "e", "path": "error.ipynb"},
    {"key": "ct", "path": "celltimeout.ipynb", "cell_timeout": 1.5},
    {"key": "nt", "path": "nbtimeout.ipynb", "timeout": 10},
    {"key": "x", "path": "exit.ipynb"},
    {"key": "k", "path": "nokernel.ipynb"},
    {"key": "w", "path": "writes.ipynb"},
]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("runner")
    source, work, out, data = root / "repo", root / "work", root / "out", root / "fetched"
    for rel, nb in NOTEBOOKS.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, source / rel)
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    data.mkdir()
    (data / "input.csv").write_text("a,b\n1,2\n")
    jobs = [{"timeout": 60, "cell_timeout": 30, **job} for job in JOBS]
    spec = {
        "source": str(source),
        "workdir": str(work),
        "jobs": len(jobs),
        "links": [{"target": "data/input.csv", "source": str(data / "input.csv")}],
        "notebooks": jobs,
    }
    before = {p: p.read_bytes() for p in source.rglob("*") if p.is_file()}
    proc = run_runner(spec)
    out.mkdir()
    for job_key, delivery in proc.deliveries.items():
        if delivery.notebook is not None:
            (out / f"{job_key}.ipynb").write_bytes(delivery.notebook)
    results = {job["key"]: proc.deliveries[job["key"]].result for job in JOBS}
    return {
        "proc": proc,
        "events": proc.events,
        "results": results,
        "out": out,
        "work": work,
        "source": source,
        "before": before,
    }


def test_batch_finishes_and_reports_each_notebook(batch: dict[str, Any]) -> None:
    assert batch["proc"].code == 0, batch["proc"].output + [batch["proc"].stderr.decode()]
    kinds = [e["event"] for e in batch["events"]]
    assert kinds.count("start") == len(JOBS) and kinds.count("done") == len(JOBS)
    assert kinds[-1] == "batch-done"
    assert not batch["proc"].stderr, "the runner's stderr goes to /dev/null once its channel is open"


def test_parameters_injected_after_the_parameters_cell(batch: dict[str, Any]) -> None:
    result = batch["results"]["p"]
    assert result["status"] == "ok" and result["parameters"] == {"n": 4}
    nb = nbformat.read(batch["out"] / "p.ipynb", as_version=4)
    assert result["injected_cell"] == 1
    assert nb.cells[1].metadata["tags"] == ["injected-parameters"]
    assert "n = 4" in nb.cells[1].source
    assert nb.cells[2].outputs[0]["text"] == "40\n"
    assert [c["index"] for c in result["cells"]] == [0, 1, 2]
    assert all(c["duration"] >= 0 and c["status"] == "ok" for c in result["cells"])


def test_parameters_at_the_top_without_a_parameters_cell_and_cwd_is_the_copy(batch: dict[str, Any]) -> None:
    nb = nbformat.read(batch["out"] / "t.ipynb", as_version=4)
    assert batch["results"]["t"]["injected_cell"] == 0
    assert nb.cells[0].source.splitlines()[1:] == ["n = 2", "label = 'small'"]
    lines = nb.cells[1].outputs[0]["text"].splitlines()
    assert lines == ["2 small", str(batch["work"] / "sub")]


def test_error_names_cell_exception_and_value(batch: dict[str, Any]) -> None:
    result = batch["results"]["e"]
    assert result["status"] == "error"
    error = result["error"]
    assert (error["cell"], error["ename"], error["evalue"]) == (1, "ValueError", "bad value 42")
    assert any("ValueError" in line for line in error["traceback"])
    nb = nbformat.read(batch["out"] / "e.ipynb", as_version=4)  # partial copy written too
    assert nb.cells[2].get("outputs") == []


def test_cell_timeout_names_the_cell(batch: dict[str, Any]) -> None:
    result = batch["results"]["ct"]
    assert result["status"] == "timeout"
    assert result["error"]["kind"] == "cell-timeout" and result["error"]["cell"] == 1
    assert result["duration"] < 20


def test_notebook_timeout_names_the_cell(batch: dict[str, Any]) -> None:
    result = batch["results"]["nt"]
    assert result["status"] == "timeout"
    assert result["error"]["kind"] == "notebook-timeout" and result["error"]["cell"] == 2
    assert result["cells"][-1] == {**result["cells"][-1], "index": 2, "status": "unfinished"}


def test_dead_kernel_with_exit_status(batch: dict[str, Any]) -> None:
    result = batch["results"]["x"]
    assert result["status"] == "dead-kernel"
    assert result["error"]["cell"] == 0
    assert result["kernel_exit"] == 5


def test_missing_kernel(batch: dict[str, Any]) -> None:
    result = batch["results"]["k"]
    assert result["status"] == "no-kernel"
    assert "no-such-kernel-xyz" in result["error"]["evalue"]
    assert "python3" in result["available_kernels"]


def test_writes_go_to_the_copy_and_data_is_linked(batch: dict[str, Any]) -> None:
    assert batch["results"]["w"]["status"] == "ok"
    assert (batch["work"] / "out.txt").read_text() == "x"
    nb = nbformat.read(batch["out"] / "w.ipynb", as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "a,b\n1,2\n\n"
    assert not (batch["work"] / ".git").exists()
    after = {p: p.read_bytes() for p in batch["source"].rglob("*") if p.is_file()}
    assert after == batch["before"]
