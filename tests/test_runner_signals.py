"""SIGTERM reaches the runner after a notebook has finished: the batch still stops as documented.

nbclient adds signal handlers to the event loop for each notebook and removes them after it; it used to
remove the runner's own with them, so a SIGTERM after the first notebook (``docker stop``, a cluster
evicting a worker) killed the runner with -15 and no result for the running notebook. Here the runner
runs as a real subprocess (runner.py under this Python, kernels real), two notebooks one after the other
(``jobs: 1``); SIGTERM comes while the second one runs, to the runner alone or to its process group.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from paperpack.run.channel import EVENT_PREFIX
from tests.runhelp import RunnerOutput, alive, descendants, start_runner

v4 = nbformat.v4
SWITCH = "PAPERPACK_KERNEL_TEMPLATE"
#: the notebook executed first leaves a marker and finishes; the one executed second finds it and waits
WAIT_IF_SECOND = (
    "import os, time\n"
    "if os.path.exists('first-finished'):\n"
    "    time.sleep(120)\n"
    "else:\n"
    "    open('first-finished', 'w').close()"
)


def _notebook() -> Any:
    nb = v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [v4.new_code_cell("print('started')"), v4.new_code_cell(WAIT_IF_SECOND)]
    return nb


def _events(line: bytes) -> dict[str, Any] | None:
    if not line.startswith(EVENT_PREFIX):
        return None
    event: dict[str, Any] = json.loads(line[len(EVENT_PREFIX) :])
    return event


@pytest.mark.parametrize("template", ["1", "0"], ids=["forked-kernels", "launched-kernels"])
@pytest.mark.parametrize("target", ["runner", "group"], ids=["runner-alone", "process-group"])
def test_sigterm_while_the_second_notebook_runs(tmp_path: Path, target: str, template: str) -> None:
    source = tmp_path / "repo"
    source.mkdir()
    keys = ["a", "b"]
    for key in keys:
        nbformat.write(_notebook(), source / f"{key}.ipynb")
    spec = {
        "source": str(source),
        "workdir": str(tmp_path / "work"),
        "jobs": 1,
        "links": [],
        "notebooks": [{"key": key, "path": f"{key}.ipynb", "timeout": 300, "cell_timeout": 300} for key in keys],
    }
    proc, channel_key = start_runner(spec, env={**os.environ, SWITCH: template})
    assert proc.stdout is not None
    seen, finished, second = b"", None, None
    try:
        for line in proc.stdout:  # until the second notebook executes its waiting cell
            seen += line
            event = _events(line)
            if event is None:
                continue
            if event["event"] == "done":
                finished = event["key"]
            elif event["event"] == "cell" and event["cell"] == 1 and finished not in (None, event["key"]):
                second = event["key"]
                break
        assert second is not None, f"the second notebook never ran: {seen.decode(errors='replace')[-2000:]}"
        family = descendants(proc.pid)
        assert len(family) >= (2 if template == "1" else 1), family  # the template and the second's kernel
        if target == "runner":
            os.kill(proc.pid, signal.SIGTERM)  # as `docker stop` or an evicting cluster does
        else:
            os.killpg(proc.pid, signal.SIGTERM)  # as a cancelled CI job does
        rest, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, f"the runner ended with {proc.returncode}, not 130 (interrupted)"
    sent = RunnerOutput(proc.returncode, stderr).read(seen + rest, set(keys), channel_key)
    assert sent.events[-1]["event"] == "interrupted"
    first = sent.deliveries[finished]
    assert first.result is not None and first.result["status"] == "ok" and first.notebook is not None
    stopped = sent.deliveries[second]
    assert stopped.result is not None, "no result for the notebook that was running"
    assert stopped.result["status"] == "interrupted" and stopped.result["error"]["cell"] == 1
    assert stopped.notebook is not None
    executed = nbformat.reads(stopped.notebook.decode(), as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "started\n"
    deadline = time.monotonic() + 15  # the kernels' shutdown is asynchronous to the runner's exit
    while time.monotonic() < deadline and any(alive(pid) for pid in family):
        time.sleep(0.1)
    assert not [pid for pid in family if alive(pid)], "a kernel or the template was left behind"
