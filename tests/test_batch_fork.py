"""The fork server (paperpack/batch/forkserver.py): each pipeline is forked from a per-worker server,
which works in a daemonic worker (a Dask nanny's) and dies with it, taking its pipelines with it.

Real processes: a "worker" is a daemonic multiprocessing child of a test process (what a nanny
starts), running the batch's task on a submission whose notebook waits for a gate file; the test
synchronises on its state.json, never on sleeps.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from paperpack.batch.pipeline import TaskConfig
from test_batch_dask import alive, events, kernels_below, state, wait_for
from test_batch_limits import never_ending

pytestmark = pytest.mark.slow

#: what paperpack.run.sandbox.probe() logs when it runs (once per process)
PROBED = "local engine confinement:"

WORKER = """
import json, multiprocessing, sys
from paperpack.batch.task import run_task

if __name__ == "__main__":
    worker = multiprocessing.Process(target=run_task, args=(json.loads(sys.argv[1]), json.loads(sys.argv[2])),
                                     daemon=True)  # a Dask nanny's worker is daemonic
    worker.start()
    worker.join()
"""


def stop(nanny: subprocess.Popen[str], out: Path) -> None:
    """After a failure: the daemonic worker outlives a killed parent, so kill it too (its pipeline follows)."""
    worker = state(out, "slow").get("worker_pid")
    if worker and alive(worker):
        os.kill(worker, signal.SIGKILL)
    if nanny.poll() is None:
        nanny.kill()
    nanny.communicate()


def start_worker(tmp_path: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], Path]:
    """A "nanny" whose daemonic worker runs the task of a submission that verifies until tmp_path/gate exists."""
    sub = never_ending(tmp_path / "paper", tmp_path / "gate")
    out = tmp_path / "out"
    config = TaskConfig(out_dir=str(out), engine="local").to_dict()
    nanny = subprocess.Popen(
        [sys.executable, "-c", WORKER, json.dumps(sub.to_dict()), json.dumps(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    return nanny, out


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[1])


def test_a_daemonic_worker_forks_pipelines_from_its_server_and_a_killed_one_takes_both_along(tmp_path: Path) -> None:
    nanny, out = start_worker(tmp_path)
    try:
        running = wait_for(
            "the submission verifying", lambda: (s := state(out, "slow")).get("status") == "verifying" and s, nanny
        )
        pipeline, worker = running["pid"], running["worker_pid"]
        server = parent_of(pipeline)
        assert server != worker and parent_of(server) == worker  # forked from the server the worker started
        assert "paperpack.batch.forkserver" in Path(f"/proc/{server}/cmdline").read_text()
        kernels = wait_for("the notebook's kernel", lambda: kernels_below(pipeline), nanny)
        # the machine's confinement probe was done once by the server, before the fork: the pipeline did not probe
        # (its log reaches the file: the pipeline's own first line is there)
        logged = (out / ".batch" / "log" / "slow.out").read_text()
        assert f"pipeline {pipeline} forked from the worker's fork server {server}" in logged
        assert PROBED not in logged
        os.kill(worker, signal.SIGKILL)
        wait_for("the server and the pipeline gone", lambda: not alive(server) and not alive(pipeline))
        wait_for("the kernel gone", lambda: not [p for p in kernels if alive(p)])
        wait_for("the submission recorded as interrupted", lambda: state(out, "slow").get("status") == "interrupted")
        nanny.wait(timeout=60)
    finally:
        stop(nanny, out)
    assert [e["event"] for e in events(out, "slow")] == ["fetching", "verifying", "interrupted"]


def test_the_fork_server_can_be_switched_off(tmp_path: Path) -> None:
    nanny, out = start_worker(tmp_path, env={**os.environ, "PAPERPACK_BATCH_FORK": "0"})
    try:
        running = wait_for(
            "the submission verifying", lambda: (s := state(out, "slow")).get("status") == "verifying" and s, nanny
        )
        assert parent_of(running["pid"]) == running["worker_pid"]  # a fresh process the worker started itself
        wait_for("the notebook's kernel", lambda: kernels_below(running["pid"]), nanny)
        assert PROBED in (out / ".batch" / "log" / "slow.out").read_text()  # which probes the machine itself
        (tmp_path / "gate").touch()
        nanny.wait(timeout=300)
    finally:
        stop(nanny, out)
    assert nanny.returncode == 0
    assert state(out, "slow")["status"] == "done"


def _worker_and_server() -> tuple[int, int | None]:
    """Run on a Dask worker: its pid, and its fork server's (None: not started)."""
    from paperpack.batch import forkserver

    return os.getpid(), forkserver._SERVER.pid


def _replaced(client: Any, worker: int, server: int) -> int | None:
    """SIGKILL ``worker``; once its fork server ``server`` is gone and the nanny's new worker answers, its server."""
    os.kill(worker, signal.SIGKILL)
    wait_for("the killed worker's fork server gone", lambda: not alive(server))
    # the scheduler may still list the killed worker for a while: ask every worker, ignore the dead one's error
    ((_, again),) = wait_for(
        "a new worker",
        lambda: [found for found in client.run(_worker_and_server, on_error="ignore").values() if found[0] != worker],
    )
    return again  # type: ignore[no-any-return]


def test_a_local_cluster_worker_starts_its_fork_server_with_no_task_and_a_killed_one_leaves_none(
    tmp_path: Path,
) -> None:
    """The worker preload (paperpack/batch/preload.py): the server runs before any task, and it dies with its
    worker however the worker ends — killed (the nanny starts another) or closed with the cluster."""
    pytest.importorskip("distributed")
    from paperpack.batch.cluster import connect

    servers = []
    with connect(jobs=1) as client:
        ((_, (worker, server)),) = client.run(_worker_and_server).items()
        assert server is not None, "no fork server started with the worker"
        assert parent_of(server) == worker
        assert "paperpack.batch.forkserver" in Path(f"/proc/{server}/cmdline").read_text()
        servers.append(server)
        again = _replaced(client, worker, server)
        assert again is not None and again != server
        servers.append(again)
    wait_for("every fork server gone with the cluster", lambda: not any(alive(s) for s in servers))


def test_a_local_batch_forks_each_worker_server_from_one_zygote_and_leaves_nothing(tmp_path: Path) -> None:
    """--jobs N: the batch starts one zygote (paperpack's stages imported once, the machine probed once) before the
    cluster, and each worker's fork server is a fork of it; when the batch ends, nothing of it is left running."""
    pytest.importorskip("distributed")
    from paperpack.batch import BatchOptions, Submission, run_batch
    from paperpack.batch.queue import SourceKind
    from test_batch import paper

    subs = [Submission(f"p{i}", str(paper(tmp_path / f"p{i}", 45 + i)), kind=SourceKind.FOLDER) for i in range(4)]
    out = tmp_path / "out"
    result = run_batch(subs, BatchOptions(out_dir=out, jobs=2, engine="local"))
    assert [e.result.verdict for e in result.entries if e.result] == ["reproduced"] * 4
    forked = [
        re.search(
            r"pipeline (\d+) forked from the worker's fork server (\d+), itself forked from the batch's zygote (\d+)",
            (out / ".batch" / "log" / f"{sub.id}.out").read_text(),
        )
        for sub in subs
    ]
    assert all(forked), "a pipeline not forked from a server forked from the zygote"
    servers = {int(m.group(2)) for m in forked if m}
    (zygote,) = {int(m.group(3)) for m in forked if m}  # one for the whole batch
    assert zygote not in servers and zygote != os.getpid()
    logged = "".join((out / ".batch" / "log" / f"{sub.id}.out").read_text() for sub in subs)
    assert PROBED not in logged  # the machine was probed by the zygote, before any fork
    wait_for("the zygote and the servers gone", lambda: not alive(zygote) and not any(alive(s) for s in servers))


def test_a_zygote_forked_server_dies_with_its_worker_and_the_zygote_with_the_batch(tmp_path: Path) -> None:
    """Lifetimes with the zygote: a worker killed takes its server along (the nanny's new worker gets a new one from
    the zygote); closing the cluster ends every server; closing the zygote ends it and removes its socket."""
    pytest.importorskip("distributed")
    from paperpack.batch.cluster import connect
    from paperpack.batch.forkserver import start_zygote

    zygote = start_zygote()
    assert zygote is not None
    servers = []
    with zygote:
        with connect(jobs=1, worker_env=zygote.env()) as client:
            ((_, (worker, server)),) = client.run(_worker_and_server).items()
            assert server is not None and parent_of(server) == zygote.process.pid != worker
            assert parent_of(zygote.process.pid) == os.getpid()
            servers.append(server)
            again = _replaced(client, worker, server)
            assert again is not None and again != server and parent_of(again) == zygote.process.pid
            servers.append(again)
        wait_for("every fork server gone with the cluster", lambda: not any(alive(s) for s in servers))
        assert alive(zygote.process.pid)
    assert zygote.process.returncode is not None
    assert not Path(zygote.folder).exists()


def test_a_zygote_closed_while_starting_finishes_its_probe_and_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch with nothing to run (every submission reused) ends while its zygote still imports and probes the
    machine: the zygote ends by itself once started (exit 0), not killed half-way, which left the probe's folder
    (and, as root, its cgroup) behind."""
    from paperpack.batch.forkserver import start_zygote

    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where the zygote's probe makes its scratch folder
    slow = tmp_path / "slow"  # a loaded machine's start-up, made certain: 2 s before the zygote's imports begin
    slow.mkdir()
    (slow / "sitecustomize.py").write_text("import time\ntime.sleep(2)\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(slow), os.environ.get("PYTHONPATH")])))
    zygote = start_zygote()
    assert zygote is not None
    with zygote:
        pass  # closed at once
    assert zygote.process.returncode == 0, "the zygote was killed instead of ending by itself"
    assert list(tmp_path.glob("paperpack-probe-*")) == []
    assert not Path(zygote.folder).exists()


#: evaluated on a worker by the built-in eval: a function of this file would import the file there, and with it
#: fetching (test_batch)
BATCH_MODULES = (
    "sorted(m for m in __import__('sys').modules if m in ('paperpack.batch.runner', 'paperpack.batch.fetch'))"
)


def test_a_worker_imports_only_what_its_tasks_need() -> None:
    """The preload imports the task's module (paperpack.batch.task) as the worker starts: not the batch's own side
    (the runner, Dask's client side, fetching — its pipelines fetch, forked from a server that imported it)."""
    pytest.importorskip("distributed")
    from paperpack.batch.cluster import connect

    with connect(jobs=1) as client:
        assert list(client.run(eval, BATCH_MODULES).values()) == [[]]


#: a batch's process, in a fresh interpreter (multiprocessing's fork server is started once per process): the local
#: cluster started as run_batch starts it; prints what each worker's parent process runs
EARLY = """
import sys
from paperpack.batch.cluster import connect, start_local_early

if __name__ == "__main__":
    start_local_early()
    with connect(jobs=1) as client:
        parent = "open('/proc/%d/cmdline' % __import__('os').getppid()).read()"
        print(list(client.run(eval, parent).values()))
"""


def test_the_local_workers_fork_server_starts_early_with_the_worker_preload(tmp_path: Path) -> None:
    """run_batch starts multiprocessing's fork server before the cluster (its imports overlap the batch's own): the
    workers are forked from a server that imported distributed and the worker preload already."""
    pytest.importorskip("distributed")
    script = tmp_path / "batch.py"
    script.write_text(EARLY)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=True)
    (cmdline,) = eval(done.stdout.strip().splitlines()[-1])
    assert "multiprocessing.forkserver" in cmdline and "paperpack.batch.preload" in cmdline
