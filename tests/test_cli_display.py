"""How builds and runs read on a console that is not a terminal (a CI log): issue 15.

BuildKit's plain progress (its real shape, from a recorded build log) is shown one line per
step, in step order, with durations; a long step says it is alive; the failure box keeps
its key line at any width; a multi-line message takes one line of the verdict table.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from paperpack.cli import _buildview
from paperpack.cli._buildview import BuildView, show_build_failure
from paperpack.cli.run import render_verdicts
from paperpack.errors import BuildError
from paperpack.run.results import NotebookRun, RunResult

# BuildKit runs steps 2 and 3 at once and prints 3 first; step 4 is long (pip)
OUT_OF_ORDER = """\
#0 building with "default" instance using docker driver
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#4 [1/4] FROM docker.io/paperpack/base:bookworm
#4 DONE 0.0s
#6 [stage-0 3/4] RUN echo three
#6 0.512 three
#5 [stage-0 2/4] RUN --mount=type=secret,id=cacert,mode=0444 echo two
#6 DONE 0.7s
#5 0.301 two
#5 DONE 1.4s
#7 [stage-0 4/4] RUN /srv/venv/bin/pip install numpy
#7 2.1 Collecting numpy
#7 24.9 Successfully installed numpy-2.3.0
#7 DONE 25.3s
"""


def _plain() -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    return Console(file=stream, width=80, force_terminal=False, highlight=False), stream


def test_steps_in_order_with_durations() -> None:
    console, stream = _plain()
    with BuildView(console, title="building paper") as view:
        for line in OUT_OF_ORDER.splitlines():
            view(line)
    lines = [line.strip() for line in stream.getvalue().splitlines()]
    assert lines == [
        "[1/4] FROM docker.io/paperpack/base:bookworm  0.0 s",
        "[2/4] RUN echo two  1.4 s",  # the mount flags are not shown
        "[3/4] RUN echo three  0.7 s",
        "[4/4] RUN /srv/venv/bin/pip install numpy  25.3 s",
    ], lines


def test_a_long_step_says_it_is_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each output line of a running step older than ALIVE_EVERY since the last such note gives one."""
    monkeypatch.setattr(_buildview, "ALIVE_EVERY", 0.0)
    console, stream = _plain()
    with BuildView(console, title="building paper") as view:
        view("#7 [4/4] RUN /srv/venv/bin/pip install numpy")
        view("#7 2.1 Collecting numpy")
    text = stream.getvalue()
    assert "[4/4] RUN /srv/venv/bin/pip install numpy — still running, 0 s: Collecting numpy" in text, text


def test_quiet_prints_nothing() -> None:
    console, stream = _plain()
    with BuildView(console, title="building paper", quiet=True) as view:
        for line in OUT_OF_ORDER.splitlines():
            view(line)
    assert stream.getvalue() == ""


def test_debootstrap_phases_once_each() -> None:
    console, stream = _plain()
    with BuildView(console, title="base image") as view:
        for line in (
            "I: Retrieving InRelease",
            "I: Retrieving Packages",
            "I: Validating Packages",
            "I: Retrieving libc6 2.36",
            "I: Validating libc6 2.36",
            "I: Extracting base-files...",
            "I: Base system installed successfully.",
        ):
            view(line)
    lines = [line.split(": ", 1)[1] for line in stream.getvalue().splitlines()]
    assert lines == [
        "Retrieving InRelease",
        "Validating Packages",
        "Extracting base-files...",
        "Base system installed successfully.",
    ], lines


def test_failure_box_keeps_its_key_line_on_a_narrow_log(tmp_path: Path) -> None:
    key = (
        "ERROR: Could not find a version that satisfies the requirement numpy==1.0.99 (from versions: "
        "1.3.0, 1.4.1, 1.5.0, 1.5.1, 1.6.0)"
    )
    console, stream = _plain()
    show_build_failure(
        BuildError(
            "failed",
            step="[13/16] RUN pip install -r requirements.txt",
            log_tail=f"#18 1.8 {key}",
            path=tmp_path / "build.log",
        ),
        console,
    )
    text = stream.getvalue()
    assert key in text, text  # one line, not folded at 80 columns


def test_a_multiline_message_is_one_line_of_the_verdict_table(tmp_path: Path) -> None:
    message = "cell 3 failed: ValueError: bad\n" + "\n".join(f"  traceback line {i}" for i in range(20))
    result = RunResult(
        engine="local",
        isolation="",
        image=None,
        out_dir=tmp_path,
        jobs=1,
        limits={},
        notebooks=[NotebookRun("a.ipynb", status="error", verdict="failed", message=message)],
    )
    console, stream = _plain()
    render_verdicts(result, console)
    text = stream.getvalue()
    assert "cell 3 failed: ValueError: bad …" in " ".join(text.split()), text
    assert "traceback line" not in text


@pytest.mark.slow
def test_json_output_keeps_progress_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--format json`: stdout is the JSON alone; the progress of the run still reaches stderr."""
    import json
    import shutil

    from paperpack.cli.main import main
    from tests.conftest import CASES

    root = tmp_path / "paper"
    shutil.copytree(CASES / "run-image-found", root)
    code = main(["run", str(root), "--engine", "local", "--out-dir", str(tmp_path / "out"), "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0 and json.loads(captured.out)["engine"] == "local"
    assert "answer.ipynb: same" in captured.err, captured.err


def test_a_running_notebook_says_which_cell_in_a_log(monkeypatch: pytest.MonkeyPatch) -> None:
    from paperpack.cli.run import Progress
    from paperpack.run.results import RunEvent

    monkeypatch.setattr(_buildview, "ALIVE_EVERY", 0.0)
    console, stream = _plain()
    with Progress(console, quiet=False) as progress:
        progress.update(RunEvent("queued", "a.ipynb"))
        progress.update(RunEvent("start", "a.ipynb"))
        for cell in (0, 1):  # events count cells from 0, people from 1
            progress.update(RunEvent("cell", "a.ipynb", cell=cell, cells=3))
        progress.update(RunEvent("done", "a.ipynb", verdict="same"))
    lines = [re.sub(r", \d+ s$", ", N s", line) for line in stream.getvalue().splitlines()]
    assert lines == ["a.ipynb: cell 1 of 3, N s", "a.ipynb: cell 2 of 3, N s", "a.ipynb: same"], lines
