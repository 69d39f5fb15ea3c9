"""A notebook that waits on the network until the cell timeout is named as such, not as a bare timeout.

Real processes only, on loopback: a listening socket that takes connections and never answers
(the kernel is then stuck in ``recv``), and a client that retries a refused port with back-off.
The runner reads what the kernel waits on from /proc at the timeout (``network_waits``).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from paperpack.cli.main import main
from paperpack.run.causes import Failure, diagnose
from paperpack.run.runner import network_waits
from tests.runhelp import read_report


def test_network_waits_sees_a_connection_that_gets_no_answer() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)  # takes the connection (the kernel's backlog) and never answers
        port = server.getsockname()[1]
        code = (
            f"import socket, sys; s = socket.create_connection(('127.0.0.1', {port})); "
            "print('connected', flush=True); s.recv(1)"
        )
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "connected"
            waits = network_waits(child.pid, set())
            assert {
                "host": "127.0.0.1",
                "port": port,
                "state": "connected, waiting for an answer",
                "pid": child.pid,
            } in waits
            assert network_waits(child.pid, {port}) == []  # the kernel's own Jupyter ports are left out
        finally:
            child.kill()
            child.wait()
            if child.stdout is not None:
                child.stdout.close()


def _timed_out(**kwargs) -> Failure:  # type: ignore[no-untyped-def]
    return Failure(
        notebook="a.ipynb", status="timeout", ename="CellTimeoutError", evalue="cell 1 ran longer than 3 s", **kwargs
    )


def test_rule_needs_evidence_of_the_network() -> None:
    source = 'data = urllib.request.urlopen("https://zenodo.org/records/1/files/x.csv").read()'
    assert diagnose(_timed_out(source=source)) is None  # a URL in the cell alone: it may be computing
    found = diagnose(
        _timed_out(source=source, waiting_on=[{"host": "10.0.0.1", "port": 443, "state": "connecting, no answer"}])
    )
    assert found is not None and found.cause == "network-wait"
    assert "zenodo.org" in found.message and "10.0.0.1:443 (connecting, no answer)" in found.message
    found = diagnose(
        _timed_out(
            source=source,
            stderr="Retrying (Retry(total=4, connect=None)) after connection broken by 'NewConnectionError'",
        )
    )
    assert found is not None and found.cause == "network-wait"
    assert diagnose(_timed_out(waiting_on=[{"host": 1, "port": "x", "state": None}])) is None  # malformed: ignored


@pytest.mark.slow
def test_local_run_names_the_network_wait(copy_case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = copy_case("run-cause-network-wait")
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(repo),
            "--engine",
            "local",
            "-o",
            str(out),
            "--jobs",
            "2",
            "--format",
            "json",
            "--cell-timeout",
            "3",
        ]
    )
    assert code == 1
    runs = {nb["path"]: nb for nb in read_report(out)["run"]["notebooks"]}
    for path, seen in (
        ("hang.ipynb", "(connected, waiting for an answer)"),
        ("retry.ipynb", "the cell printed connection errors and retried"),
    ):
        run = runs[path]
        assert run["status"] == "timeout", run["message"]
        assert run["error"]["cause"]["id"] == "network-wait", run["message"]
        message = run["message"]
        assert "this notebook was waiting on the network (127.0.0.1)" in message, message
        assert seen in message and "declare the file as data in paperpack.yml" in message, message
