"""Hostile repositories against the local engine: what a run gives back never reaches the host through a link.

Issue 8 items 1, 2 and 11: a notebook plants links, forged results and a huge sparse file
and kills the runner; a repository ships an output folder whose ``executed/`` (or which
itself) links outside. Each attack is reproduced for real (tests/hostile.py) through
``python -m paperpack run`` (so ``/proc/self/environ`` is paperpack's own environment).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from paperpack.cli.main import main
from paperpack.errors import UsageError
from paperpack.repository.repo import OUTPUT_MARKER, Repo, default_output
from paperpack.run import channel, run_notebooks
from paperpack.run.api import prepare_out_dir
from paperpack.util.atomic import write_atomic
from tests.hostile import assert_nothing_came_back, make_hostile
from tests.runhelp import ROOT, RunnerOutput, start_runner, tree_hashes

pytestmark = pytest.mark.slow


def _paperpack(*args: str, secret: str = "") -> tuple[int, str]:
    env = {**os.environ, "PAPERPACK_PROBE": secret}
    proc = subprocess.run(
        [sys.executable, "-m", "paperpack", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("kind", ["secret", "environ", "forge-same", "sparse"])
def test_a_notebook_cannot_plant_results(tmp_path: Path, kind: str) -> None:
    hostile = make_hostile(tmp_path, kind)
    out = tmp_path / "out"
    code, printed = _paperpack("run", str(hostile.repo), "--engine", "local", "-o", str(out), secret=hostile.secret)
    assert_nothing_came_back(hostile, out, printed, code)
    if kind == "secret":
        assert (tmp_path / "outside" / "secret.txt").stat().st_mode & 0o777 == 0o600


def _trivial_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [nbformat.v4.new_code_cell("print('hello')")]
    nbformat.write(nb, root / "a.ipynb")
    return root


def test_a_shipped_executed_link_is_refused_and_the_host_file_untouched(tmp_path: Path) -> None:
    repo = _trivial_repo(tmp_path / "repo")
    host = tmp_path / "host"
    host.mkdir()
    script = host / "a.ipynb"
    script.write_text("#!/bin/sh\necho host script\n")
    script.chmod(0o755)
    (repo / "paperpack-out").mkdir()
    (repo / "paperpack-out" / OUTPUT_MARKER).write_text("shipped by the repository\n")
    (repo / "paperpack-out" / "executed").symlink_to(host)
    before = tree_hashes(repo)
    with pytest.raises(UsageError, match="executed is a symbolic link") as exc:
        run_notebooks(Repo.open(repo), engine="local")
    assert str(repo / "paperpack-out" / "executed") in str(exc.value) and "remove" in (exc.value.hint or "")
    assert script.read_text() == "#!/bin/sh\necho host script\n" and script.stat().st_mode & 0o777 == 0o755
    assert tree_hashes(repo) == before


def test_a_shipped_output_folder_link_is_refused(tmp_path: Path) -> None:
    repo = _trivial_repo(tmp_path / "repo")
    host = tmp_path / "host"
    host.mkdir()
    (repo / "paperpack-out").symlink_to(host)
    code, printed = _paperpack("run", str(repo), "--engine", "local")
    assert code == 2, printed
    assert f"goes through the symbolic link {repo / 'paperpack-out'}" in printed
    assert list(host.iterdir()) == [], "nothing may be written where the link points"
    # a link deeper in the repository, reached through --out-dir, is refused the same way
    (repo / "sub").symlink_to(host)
    with pytest.raises(UsageError, match="inside the repository"):
        prepare_out_dir(repo / "sub" / "out", repo)
    outer = tmp_path / "outer-link"
    outer.symlink_to(repo / "sub")
    with pytest.raises(UsageError, match=f"symbolic link {repo / 'sub'}"):
        prepare_out_dir(outer / "out", repo)
    assert list(host.iterdir()) == []


def test_a_shipped_marker_link_is_not_written_through(tmp_path: Path) -> None:
    repo = _trivial_repo(tmp_path / "repo")
    (repo / "results").mkdir()
    host = tmp_path / "host-file"
    host.write_text("keep")
    (repo / "results" / OUTPUT_MARKER).symlink_to(host)
    with pytest.raises(UsageError, match="not a regular file"):
        prepare_out_dir(repo / "results", repo)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / OUTPUT_MARKER).symlink_to(tmp_path / "created-through-the-link")
    with pytest.raises(UsageError, match="not a regular file"):
        prepare_out_dir(tmp_path / "out")
    assert not (tmp_path / "created-through-the-link").exists() and host.read_text() == "keep"


def test_untrusted_output_goes_outside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _trivial_repo(tmp_path / "paper")
    (repo / "paperpack-out").symlink_to(tmp_path)  # would be refused as the default
    monkeypatch.setenv("PAPERPACK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PAPERPACK_UNTRUSTED", "1")
    result = run_notebooks(Repo.open(repo), engine="local")
    assert result.out_dir == default_output(repo.resolve(), untrusted=True)
    assert result.out_dir.parent == tmp_path / "state" / "runs" and result.out_dir.name.startswith("paper-")
    assert (result.out_dir / "executed" / "a.ipynb").is_file()
    assert (result.out_dir / "executed" / "a.ipynb").stat().st_mode & 0o777 == 0o644
    monkeypatch.delenv("PAPERPACK_UNTRUSTED")
    assert main(["run", str(repo), "--engine", "local", "--untrusted"]) == 0
    assert f"report: {result.out_dir / 'report.json'}" in capsys.readouterr().out.replace("\n", "")


def test_an_executed_copy_over_the_cap_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [nbformat.v4.new_code_cell("print('x' * (3 << 20))")]
    nbformat.write(nb, repo / "big.ipynb")
    monkeypatch.setattr(channel, "MAX_NOTEBOOK_BYTES", 1 << 20, raising=False)
    result = run_notebooks(Repo.open(repo), engine="local", out_dir=tmp_path / "out")
    (run,) = result.notebooks
    assert run.verdict == "failed" and run.executed is None
    assert "over paperpack's limit of 1,048,576 bytes" in run.message, run.message
    assert not (tmp_path / "out" / "executed" / "big.ipynb").exists()


def test_stale_temporary_files_are_swept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "executed" / "sub").mkdir(parents=True)
    stale = out / "executed" / "sub" / ".a.ipynb.0123456789ab.tmp"
    stale.write_text("half")
    stale_report = out / ".report.json.a1b2c3d4e5f6.tmp"
    stale_report.write_text("half")
    (out / "mine").mkdir()
    theirs = [
        out / "executed" / ".keep.tmp",
        out / "notes.tmp",
        out / "executed" / ".a.ipynb.0123.tmp",
        out / "mine" / ".x.0123456789ab.tmp",
    ]  # not where paperpack writes: not swept
    for path in theirs:
        path.write_text("not paperpack's")
    prepare_out_dir(out)
    assert not stale.exists() and not stale_report.exists()
    assert all(path.read_text() == "not paperpack's" for path in theirs)


def test_write_atomic_never_writes_through_a_link(tmp_path: Path) -> None:
    target = tmp_path / "host-script"
    target.write_text("keep")
    target.chmod(0o755)
    link = tmp_path / "report.json"
    link.symlink_to(target)
    with pytest.raises(UsageError, match="is a symbolic link"):
        write_atomic(link, "x")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "executed").symlink_to(tmp_path)
    with pytest.raises(UsageError, match="executed is a symbolic link"):
        write_atomic(tmp_path / "out" / "executed" / "host-script", "x", within=tmp_path / "out", mode=0o644)
    assert target.read_text() == "keep" and target.stat().st_mode & 0o777 == 0o755
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_result_of_the_wrong_shape_or_signature_is_refused() -> None:
    key = channel.new_key()
    good = {"key": "nb000", "status": "ok", "cells": [{"index": 0, "duration": 0.1, "status": "ok"}]}

    def frame(kind: str, payload: bytes, with_key: bytes = key) -> bytes:
        import hashlib
        import hmac

        head = f"{kind} nb000 {len(payload)}"
        mac = hmac.new(with_key, (head + "\n").encode() + payload, hashlib.sha256).hexdigest()
        return f"@@paperpack-frame {head} {mac}\n".encode() + payload + b"\n"

    def read(data: bytes) -> channel.Delivery:
        return channel.read_channel(io.BytesIO(data), {"nb000"}, key, lambda e: None, lambda line: None)["nb000"]

    assert read(frame("result", json.dumps(good).encode())).result == good
    forged = read(frame("result", json.dumps(good).encode(), with_key=b"guess"))
    assert forged.result is None and "signature is wrong" in forged.problems[0]
    for bad, words in [
        ({**good, "status": "same"}, "unknown status"),
        ({**good, "key": "nb001"}, "not 'nb000'"),
        ({**good, "cells": "all"}, "'cells'"),
        ({**good, "duration": "1"}, "'duration' is str"),
        ({**good, "error": {"traceback": "x"}}, "traceback"),
        ([], "expected an object"),
    ]:
        delivery = read(frame("result", json.dumps(bad).encode()))
        assert delivery.result is None and words in delivery.problems[0], (bad, delivery.problems)
    cut = read(frame("notebook", b"{}" * 10)[:-5])
    assert cut.notebook is None and "cut short" in cut.problems[0]


@pytest.mark.parametrize("template", ["1", "0"])
def test_no_kernel_holds_the_runners_stdout(tmp_path: Path, template: str) -> None:
    """Kernels (forked from the template or launched) and the template inherit /dev/null, never the channel."""
    source = tmp_path / "repo"
    source.mkdir()
    listing = (
        "import os\n"
        "pids = ['self'] + ([str(os.getppid())] if 'kernelfork' in open(f'/proc/{os.getppid()}/cmdline').read()"
        " else [])\n"
        "for pid in pids:\n"
        "    for n in os.listdir(f'/proc/{pid}/fd'):\n"
        "        try:\n"
        "            print(pid, n, os.readlink(f'/proc/{pid}/fd/{n}'))\n"
        "        except OSError:\n"
        "            pass\n"
    )
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [nbformat.v4.new_code_cell(listing)]
    nbformat.write(nb, source / "fds.ipynb")
    spec = {
        "source": str(source),
        "workdir": str(tmp_path / "work"),
        "jobs": 1,
        "links": [],
        "notebooks": [{"key": "fds", "path": "fds.ipynb", "timeout": 60}],
    }
    proc, key = start_runner(spec, env={**os.environ, "PAPERPACK_KERNEL_TEMPLATE": template})
    assert proc.stdout is not None
    channel_pipe = f"pipe:[{os.fstat(proc.stdout.fileno()).st_ino}]"
    stdout, stderr = proc.communicate(timeout=120)
    sent = RunnerOutput(proc.returncode, stderr).read(stdout, {"fds"}, key)
    text = nbformat.reads(sent.deliveries["fds"].notebook.decode(), as_version=4)  # type: ignore[union-attr]
    lines = "".join(output.get("text", "") for output in text.cells[0].outputs)
    assert "self 0 " in lines, lines
    if template == "1":
        assert " 1 /dev/null" in lines and " 2 /dev/null" in lines, lines  # the template's stdout and stderr
    assert channel_pipe not in lines, f"a kernel or the template holds the runner's stdout ({channel_pipe}):\n{lines}"


def test_the_runners_copies_of_the_frame_prefixes_match() -> None:
    from paperpack.run import runner

    assert runner.FRAME_PREFIX.encode() == channel.FRAME_PREFIX
    assert runner.EVENT_PREFIX.encode() == channel.EVENT_PREFIX
