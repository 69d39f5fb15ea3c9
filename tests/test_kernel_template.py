"""Kernels forked from the runner's pre-loaded template (paperpack/run/kernelfork.py), and the switch that turns it off."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from paperpack.run import kernelfork
from paperpack.run.engines import EVENT_PREFIX, RUNNER
from tests.runhelp import RunnerOutput, alive, run_runner, start_runner

v4 = nbformat.v4
SWITCH = "PAPERPACK_KERNEL_TEMPLATE"

#: what a notebook can see of how its kernel was started: all of it must match the normal launch
PROBE = (
    "import os, sys, signal, random\n"
    "print(os.getcwd())\n"
    "print(sys.path)\n"
    "print(sys.argv[0].rsplit('/', 1)[-1], sys.argv[1])\n"
    "print(os.environ.get('PAPERPACK_PROBE'), os.environ.get('JPY_PARENT_PID') == str(os.getppid()))\n"
    "print(os.getsid(0) == os.getpid(), os.getpgid(0) == os.getpid())\n"
    "print(signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGCHLD))\n"
    "print(type(sys.stdout).__name__, sys.stdin is None or sys.stdin.__class__.__name__)\n"
    "print([ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('SigIgn')])\n"  # SIGPIPE ignored
    "from ipykernel.kernelapp import IPKernelApp\n"
    "print(type(getattr(IPKernelApp.instance(), 'poller', None)).__name__)\n"  # watches its parent
    "import local_helper\n"
    "print(local_helper.VALUE)"
)


def _nb(*sources: str, kernel: str = "python3") -> Any:
    nb = v4.new_notebook(metadata={"kernelspec": {"name": kernel, "display_name": kernel, "language": "python"}})
    nb.cells = [v4.new_code_cell(src) for src in sources]
    return nb


def _run(
    root: Path, notebooks: dict[str, Any], template: bool, env: dict[str, str] | None = None, jobs: int = 2
) -> dict[str, Any]:
    """Run the runner on ``notebooks`` with the template on or off; its results and events."""
    source = root / "repo"
    for rel, nb in notebooks.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, source / rel)
    (source / "sub" / "local_helper.py").parent.mkdir(parents=True, exist_ok=True)
    (source / "sub" / "local_helper.py").write_text("VALUE = 'found beside the notebook'\n")
    keys = {rel: f"nb{i}" for i, rel in enumerate(notebooks)}
    spec = {
        "source": str(source),
        "workdir": str(root / "work"),
        "jobs": jobs,
        "links": [],
        "notebooks": [{"key": key, "path": rel, "timeout": 60, "cell_timeout": 30} for rel, key in keys.items()],
    }
    run_env = {**os.environ, "PAPERPACK_PROBE": "inherited", SWITCH: "1" if template else "0", **(env or {})}
    proc = run_runner(spec, env=run_env)
    assert proc.code == 0, proc.output
    results = {rel: proc.deliveries[key].result for rel, key in keys.items()}
    executed = {
        rel: nbformat.reads(proc.deliveries[key].notebook.decode(), as_version=4)  # type: ignore[union-attr]
        for rel, key in keys.items()
    }
    return {"results": results, "executed": executed, "proc": proc}


def _texts(nb: Any, work: Path) -> list[str]:
    """Each cell's outputs as text, the working copy's path made neutral."""
    out = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("evalue") or json.dumps(output.get("data", {}))
            out.append(str(text).replace(str(work), "<work>"))
    return out


def test_forked_and_normal_kernels_give_the_same_outputs(tmp_path: Path) -> None:
    notebooks = {"sub/probe.ipynb": _nb(PROBE, "x = 6 * 7\nprint(x)", "raise ValueError('shown')")}
    runs = {mode: _run(tmp_path / mode, notebooks, template=mode == "forked") for mode in ("forked", "normal")}
    forked, normal = runs["forked"]["results"]["sub/probe.ipynb"], runs["normal"]["results"]["sub/probe.ipynb"]
    assert forked["kernel_forked"] is True and normal["kernel_forked"] is False
    assert forked["status"] == normal["status"] == "error"
    assert forked["error"]["evalue"] == normal["error"]["evalue"] == "shown"
    texts = {mode: _texts(runs[mode]["executed"]["sub/probe.ipynb"], tmp_path / mode / "work") for mode in runs}
    assert texts["forked"] == texts["normal"], texts
    assert "found beside the notebook" in texts["forked"][0] and "42" in texts["forked"][1]
    assert "kernelfork" not in texts["forked"][0], "the template's folder leaked into the kernel's sys.path"


def test_kernel_is_a_child_of_the_template_and_exit_statuses_come_through(tmp_path: Path) -> None:
    notebooks = {
        "parent.ipynb": _nb("import os\nprint(open(f'/proc/{os.getppid()}/cmdline').read().split(chr(0))[1])"),
        "segv.ipynb": _nb("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"),
        "exit.ipynb": _nb("import os\nos._exit(7)"),
        "seeds.ipynb": _nb("import random\nprint(random.random())"),
        "seeds2.ipynb": _nb("import random\nprint(random.random())"),
    }
    run = _run(tmp_path, notebooks, template=True, jobs=3)
    results = run["results"]
    assert all(r["kernel_forked"] for r in results.values()), results
    assert _texts(run["executed"]["parent.ipynb"], tmp_path)[0].strip() == str(Path(RUNNER).parent / "kernelfork.py")
    assert results["segv.ipynb"]["status"] == "dead-kernel" and results["segv.ipynb"]["kernel_exit"] == -11
    assert results["exit.ipynb"]["status"] == "dead-kernel" and results["exit.ipynb"]["kernel_exit"] == 7
    seeds = [_texts(run["executed"][name], tmp_path)[0] for name in ("seeds.ipynb", "seeds2.ipynb")]
    assert seeds[0] != seeds[1], "forked kernels share the template's random state"


def test_other_python_and_startup_settings_are_launched_normally(tmp_path: Path) -> None:
    notebooks = {"a.ipynb": _nb("import sys\nprint(sys.flags.hash_randomization)")}
    run = _run(tmp_path, notebooks, template=True, env={"PYTHONHASHSEED": "0"})
    # the template was started with PYTHONHASHSEED=0 too: same settings, so forked
    assert run["results"]["a.ipynb"]["kernel_forked"] is True
    env = dict(os.environ)
    assert kernelfork.forkable([sys.executable, "-m", "ipykernel_launcher", "-f", "x.json"], env)
    assert (
        not kernelfork.forkable(["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "x.json"], env)
        or os.path.abspath(sys.executable) == "/usr/bin/python3"
    )
    assert not kernelfork.forkable([sys.executable, "-m", "other_kernel", "-f", "x.json"], env)
    assert not kernelfork.forkable(
        [sys.executable, "-m", "ipykernel_launcher", "-f", "x.json"], {**env, "PYTHONHASHSEED": "12345"}
    )


def test_stopping_the_runner_leaves_no_kernel_or_template(tmp_path: Path) -> None:
    notebooks = {
        f"slow{i}.ipynb": _nb("import os\nprint(os.getpid(), os.getppid(), flush=True)", "import time\ntime.sleep(60)")
        for i in range(2)
    }
    source = tmp_path / "repo"
    for rel, nb in notebooks.items():
        source.mkdir(exist_ok=True)
        nbformat.write(nb, source / rel)
    spec = {
        "source": str(source),
        "workdir": str(tmp_path / "work"),
        "jobs": 2,
        "links": [],
        "notebooks": [{"key": rel[:-6], "path": rel, "timeout": 90} for rel in notebooks],
    }
    proc, key = start_runner(spec, env={**os.environ, SWITCH: "1"})
    assert proc.stdout is not None
    cells = 0
    seen = b""
    for line in proc.stdout:
        seen += line
        if line.startswith(EVENT_PREFIX.encode()) and json.loads(line[len(EVENT_PREFIX) :]).get("cell") == 1:
            cells += 1
            if cells == 2:
                break
    time.sleep(0.5)
    family = _descendants(proc.pid)
    assert len(family) >= 3, family  # the template and two kernels
    os.killpg(proc.pid, signal.SIGINT)
    rest, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in family):
        time.sleep(0.1)
    assert not [pid for pid in family if alive(pid)], "processes left behind"
    sent = RunnerOutput(proc.returncode, stderr).read(seen + rest, {rel[:-6] for rel in notebooks}, key)
    results = [delivery.result or {} for delivery in sent.deliveries.values()]
    assert len(results) == 2 and all(r["status"] == "interrupted" and r["kernel_forked"] for r in results)


def _descendants(pid: int) -> list[int]:
    """Processes whose parent chain leads to ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("value", ["0", "off"])
def test_switch_turns_the_template_off(tmp_path: Path, value: str) -> None:
    run = _run(tmp_path, {"a.ipynb": _nb("print(1)")}, template=False, env={SWITCH: value})
    assert run["results"]["a.ipynb"]["kernel_forked"] is False


@pytest.mark.parametrize("switch, forked", [(None, True), ("0", False)])
def test_switch_reaches_the_runner_through_the_local_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, switch: str | None, forked: bool
) -> None:
    from paperpack.repository.repo import Repo
    from paperpack.run import run_notebooks

    if switch is None:
        monkeypatch.delenv(SWITCH, raising=False)
    else:
        monkeypatch.setenv(SWITCH, switch)
    repo = tmp_path / "repo"
    repo.mkdir()
    nbformat.write(
        _nb("import os\nprint('kernelfork.py' in open(f'/proc/{os.getppid()}/cmdline').read())"), repo / "a.ipynb"
    )
    result = run_notebooks(Repo.open(repo), engine="local", out_dir=tmp_path / "out", jobs=1)
    assert [nb.status for nb in result.notebooks] == ["ok"]
    executed = nbformat.read(tmp_path / "out" / "executed" / "a.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == str(forked)


def _connection_file(folder: Path) -> str:
    from jupyter_client.connect import write_connection_file

    path, _ = write_connection_file(str(folder / "kernel.json"))
    return path


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_a_forked_kernel_goes_when_its_template_is_killed(tmp_path: Path) -> None:
    template = kernelfork.Template()
    try:
        kernel = template.fork(["-f", _connection_file(tmp_path)], str(tmp_path), dict(os.environ))
        assert alive(kernel.pid)
        template.process.kill()  # as the OOM killer or a SIGKILL to the runner's group would
        assert _gone_within(kernel.pid, 15), "the kernel outlived its template (no parent poller)"
    finally:
        template.close()


def test_a_failed_request_fails_only_that_kernel(tmp_path: Path) -> None:
    """A request the template cannot serve (here unreadable; a fork refused by the process limit takes the
    same path) is answered with an error: the running kernels and the template stay."""
    template = kernelfork.Template()
    try:
        (tmp_path / "a").mkdir()
        first = template.fork(["-f", _connection_file(tmp_path / "a")], str(tmp_path), dict(os.environ))
        with template._lock:
            os.write(template._req_w, b"{not json\n")
            with template._changed:
                assert template._changed.wait_for(lambda: template._answers, timeout=30)
                answer = template._answers.pop(None)  # an unreadable request has no number
        assert isinstance(answer, OSError)
        assert first.poll() is None and template.alive, "one bad request took the other kernels down"
        second = template.fork(["-f", _connection_file(tmp_path)], str(tmp_path), dict(os.environ))
        assert second.poll() is None and second.pid != first.pid
        for kernel in (first, second):
            kernel.kill()
            assert kernel.wait(timeout=15) == -signal.SIGKILL
    finally:
        template.close()
