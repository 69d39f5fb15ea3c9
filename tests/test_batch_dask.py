"""Batch mode on real Dask: a scheduler and worker processes on 127.0.0.1, workers and the batch killed.

Six submissions made here (git repositories at a tag and a branch, a zip and a tar.gz, a zip
with a path traversal, an unreachable file:// URL) go through `paperpack batch` with the local
engine. One of them waits for a gate file, so the tests can act while it is verifying (they
synchronise on its state.json, never on sleeps): one kills the worker running it, the other
kills the batch process itself and runs the batch again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runhelp import descendants
from test_batch import git, git_paper, notebook, paper, tar_of, traversal_zip, zip_of

pytestmark = pytest.mark.slow

DEADLINE = 600.0  # seconds any one condition may take (the first test builds the local environment)


def wait_for(what: str, check: Callable[[], Any], proc: subprocess.Popen[str] | None = None) -> Any:
    """Poll ``check`` until it returns something true; fail (with the batch's output) if the batch ends first."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            pytest.fail(
                f"the batch ended ({proc.returncode}) before {what}:\n{proc.stdout.read() if proc.stdout else ''}"
            )
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def state(out: Path, ident: str) -> dict[str, Any]:
    try:
        return json.loads((out / ident / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def events(out: Path, ident: str) -> list[dict[str, Any]]:
    path = out / ".batch" / "log" / f"{ident}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def gated_repo(root: Path, gate: Path) -> None:
    """A git repository whose notebook (on branch `review`) waits for ``gate`` to exist, then prints."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    code = f"import os, time\nwhile not os.path.exists({str(gate)!r}):\n    time.sleep(0.05)\nprint('opened')"
    notebook(root / "analysis.ipynb", code, "opened\n")
    git(root, "checkout", "-q", "-b", "review")
    git(root, "add", ".")
    git(root, "commit", "-qm", "gated")


def make_queue(tmp_path: Path, gate: Path, *, six: bool = True) -> Path:
    git_paper(tmp_path / "repo")
    gated_repo(tmp_path / "gated", gate)
    paper(tmp_path / "plain")
    paper(tmp_path / "wrong", claims=99)
    rows = [
        {"id": "tagged", "source": "repo", "ref": "v1"},
        {"id": "zipped", "source": zip_of(tmp_path / "plain", tmp_path / "zipped.zip").name},
        {"id": "gated", "source": (tmp_path / "gated").as_uri(), "ref": "review"},
    ]
    if six:
        rows += [
            {"id": "tarred", "source": tar_of(tmp_path / "wrong", tmp_path / "tarred.tar.gz").name},
            {"id": "escape", "source": traversal_zip(tmp_path / "escape.zip").name},
            {"id": "gone", "source": (tmp_path / "no-such-repo.git").as_uri()},
        ]
    queue = tmp_path / "queue.jsonl"
    queue.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return queue


def batch_command(queue: Path, out: Path, *where: str) -> list[str]:
    """`paperpack batch` on ``queue`` with the local engine, on ``where`` (--scheduler ADDRESS, --jobs N)."""
    return [
        sys.executable,
        "-m",
        "paperpack",
        "batch",
        str(queue),
        "--out-dir",
        str(out),
        "--engine",
        "local",
        "--timeout",
        "300",
        *where,
    ]


def start_batch(queue: Path, out: Path, *where: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        batch_command(queue, out, *where), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def done_count(out: Path, ident: str) -> int:
    return sum(1 for e in events(out, ident) if e["event"] == "done")


EXPECTED = {
    "tagged": ("done", "reproduced"),
    "zipped": ("done", "reproduced"),
    "gated": ("done", "reproduced"),
    "tarred": ("done", "not-reproduced"),
    "escape": ("failed", "not-run"),
    "gone": ("failed", "not-run"),
}


def check_index(out: Path, ids: list[str]) -> dict[str, dict[str, Any]]:
    index = {s["id"]: s for s in json.loads((out / "index.json").read_text())["submissions"]}
    assert sorted(index) == sorted(ids)
    for ident in ids:
        entry = index[ident]
        assert (entry["status"], entry["result"]["verdict"]) == EXPECTED[ident], entry
        assert done_count(out, ident) == (1 if EXPECTED[ident][0] == "done" else 0), events(out, ident)
    return index


@pytest.fixture
def dask_cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A `dask scheduler` and two `dask worker` processes (no nanny: a killed worker stays dead) on 127.0.0.1."""
    pytest.importorskip("distributed")
    info = tmp_path / "scheduler.json"
    base = [sys.executable, "-m", "distributed.cli.dask_"]
    procs = [
        subprocess.Popen(
            [
                base[0],
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--dashboard-address",  # its HTTP server still starts: a free loopback port, never 8787
                "127.0.0.1:0",
                "--scheduler-file",
                str(info),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        wait_for("the scheduler file", info.exists)
        address = wait_for("the scheduler address", lambda: json.loads(info.read_text() or "{}").get("address"))
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        base[0],
                        "-m",
                        "distributed.cli.dask_worker",
                        address,
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--resources",
                        "docker=1",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                        "--death-timeout",
                        "60",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, {p.pid for p in procs[1:]}
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def test_a_worker_killed_mid_batch_costs_no_verdict_and_no_double_run(tmp_path: Path, dask_cluster) -> None:  # type: ignore[no-untyped-def]
    address, workers = dask_cluster
    gate = tmp_path / "gate"
    out = tmp_path / "out"
    batch = start_batch(make_queue(tmp_path, gate), out, "--scheduler", address)
    try:
        first = wait_for(
            "gated verifying", lambda: (s := state(out, "gated")).get("status") == "verifying" and s, batch
        )
        assert first["worker_pid"] in workers and first["attempt"] == 1
        os.kill(first["worker_pid"], signal.SIGKILL)
        second = wait_for(
            "gated verifying again on the other worker",
            lambda: (s := state(out, "gated")).get("attempt") == 2 and s.get("status") == "verifying" and s,
            batch,
        )
        assert second["worker_pid"] in workers - {first["worker_pid"]}
        assert not alive(first["pid"])  # the killed worker's pipeline stopped before the second attempt began
        gate.touch()
        output, _ = batch.communicate(timeout=DEADLINE)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
    assert batch.returncode == 1, output  # some submissions were not reproduced or failed
    index = check_index(out, list(EXPECTED))
    assert index["escape"]["result"]["failure"]["kind"] == "unsafe-source"
    assert "points outside the target folder" in index["escape"]["result"]["failure"]["message"]
    assert index["gone"]["result"]["failure"]["kind"] == "fetch"
    assert index["tagged"]["result"]["commit"] == git(tmp_path / "repo", "rev-parse", "v1")
    assert index["tarred"]["result"]["reasons"] == ["differs-in-text"]
    assert [e["event"] for e in events(out, "gated")] == [
        "queued",
        "fetching",
        "verifying",
        "interrupted",
        "fetching",
        "verifying",
        "done",
    ]
    page = (out / "index.html").read_text()
    for ident in ("tagged", "zipped", "gated", "tarred"):
        assert (out / ident / "report.json").is_file()
        assert f'href="{ident}/report.html"' in page  # verify()'s own report, linked
    assert 'href="escape/report.html"' not in page
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not (out / ".batch" / "work" / "gated").exists()  # workspaces removed once done
    junit = (out / "batch.junit.xml").read_text()
    assert junit.count("<testsuite ") == 6
    assert 'type="unsafe-source"' in junit and 'type="fetch"' in junit


def test_a_killed_batch_resumes_without_redoing_finished_submissions(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    gate = tmp_path / "gate"
    out = tmp_path / "out"
    queue = make_queue(tmp_path, gate, six=False)
    batch = start_batch(queue, out, "--jobs", "2")
    try:
        wait_for(
            "two done and gated verifying",
            lambda: (
                all(state(out, i).get("status") == "done" for i in ("tagged", "zipped"))
                and state(out, "gated").get("status") == "verifying"
            ),
            batch,
        )
        before = state(out, "gated")
        forked = re.search(
            r"fork server (\d+), itself forked from the batch's zygote (\d+)",
            (out / ".batch" / "log" / "gated.out").read_text(),
        )
        assert forked, "the gated pipeline not forked from a server of the batch's zygote"
        server, zygote = int(forked.group(1)), int(forked.group(2))
        zygote_folder = Path(Path(f"/proc/{zygote}/cmdline").read_text().split("\0")[-2])
        assert zygote_folder.is_dir()
        os.kill(batch.pid, signal.SIGKILL)
        batch.wait()
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
        assert batch.stdout is not None
        batch.stdout.close()
    # nothing left running: the local cluster's workers and the gated pipeline die with the batch
    wait_for(
        "the worker and the pipeline to stop", lambda: not alive(before["pid"]) and not alive(before["worker_pid"])
    )
    # and the worker's fork server, and the batch's zygote, which removed its socket's folder
    wait_for(
        "the server and the zygote to stop",
        lambda: not alive(server) and not alive(zygote) and not zygote_folder.exists(),
    )
    logged = {i: len(events(out, i)) for i in ("tagged", "zipped")}
    (out / "gated" / "stale.txt").write_text("left by the killed run")
    gate.touch()
    rerun = subprocess.run(
        batch_command(queue, out, "--jobs", "2"),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    # a normal end is quiet: no task left watching the batch's stop when the local cluster closes
    assert "Traceback" not in rerun.stderr and "stop event" not in rerun.stderr, rerun.stderr
    assert "tagged: reproduced 1/1 (verified earlier)" in rerun.stdout
    assert {i: len(events(out, i)) for i in ("tagged", "zipped")} == logged  # not even fetched again
    check_index(out, ["tagged", "zipped", "gated"])
    gated = state(out, "gated")
    assert gated["attempt"] == 2 and gated["status"] == "done"
    assert not (out / "gated" / "stale.txt").exists()  # the interrupted attempt's output was removed first
    assert [e["event"] for e in events(out, "gated")][-3:] == ["fetching", "verifying", "done"]
    index = json.loads((out / "index.json").read_text())
    assert {s["id"]: s["reused"] for s in index["submissions"]} == {"tagged": True, "zipped": True, "gated": False}


def kernels_below(pid: int) -> dict[int, str]:
    """The living kernel processes started (directly or not) by ``pid``, with their command lines."""
    found = {}
    for child in descendants(pid):
        try:
            line = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "kernel" in line and alive(child):
            found[child] = line
    return found


def test_ctrl_c_stops_the_tasks_running_on_the_cluster_and_records_them_interrupted(
    tmp_path: Path, dask_cluster
) -> None:  # type: ignore[no-untyped-def]
    address, workers = dask_cluster
    gate = tmp_path / "gate"
    out = tmp_path / "out"
    queue = make_queue(tmp_path, gate, six=False)
    batch = start_batch(queue, out, "--scheduler", address)
    try:
        running = wait_for(
            "gated verifying", lambda: (s := state(out, "gated")).get("status") == "verifying" and s, batch
        )
        kernels = wait_for("the gated notebook's kernel", lambda: kernels_below(running["pid"]), batch)
        batch.send_signal(signal.SIGINT)
        output, _ = batch.communicate(timeout=DEADLINE)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
    assert batch.returncode == 130, output
    # stopped on the worker before the batch exited: the pipeline and its kernel are gone, the workers are not
    assert not alive(running["pid"]) and not [p for p in kernels if alive(p)], kernels
    assert all(alive(w) for w in workers)
    stopped = state(out, "gated")
    assert (stopped["status"], stopped["attempt"]) == ("interrupted", 1)
    assert [e["event"] for e in events(out, "gated")] == ["queued", "fetching", "verifying", "interrupted"]
    assert "interrupted: 1 of 3 submissions not finished" in output or "interrupted: 2 of 3" in output, output
    index = {s["id"]: s for s in json.loads((out / "index.json").read_text())["submissions"]}
    assert index["gated"]["status"] == "interrupted" and index["gated"]["result"] is None
    assert 'type="interrupted"' in (out / "batch.junit.xml").read_text()

    (out / "gated" / "stale.txt").write_text("left by the interrupted run")
    gate.touch()
    rerun = subprocess.run(
        batch_command(queue, out, "--scheduler", address),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    again = state(out, "gated")
    assert (again["status"], again["attempt"]) == ("done", 2)
    assert not (out / "gated" / "stale.txt").exists()  # started over cleanly
    assert [e["event"] for e in events(out, "gated")][-4:] == ["interrupted", "fetching", "verifying", "done"]
