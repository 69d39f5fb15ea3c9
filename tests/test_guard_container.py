"""The docker engine's command, what issue 16's mutation testing found unpinned (no Docker needed).

The runner and its kernel template are paperpack's own files, mounted read-only; every folder that
Jupyter, IPython and matplotlib write to is under /tmp (the only writable, size-limited place of a
read-only container); the batch's spec travels on stdin; a named user keeps its named group.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import paperpack.run.runner as runner_module
from paperpack.errors import EngineError
from paperpack.repository.repo import Repo
from paperpack.run.container import IN_RUNNER, DockerEngine, container_user
from paperpack.run.engines import Batch, Session
from paperpack.run.plan import Limits
from tests.test_container_command import _mounts, _parse, command  # noqa: F401 - `command` is a fixture

#: the variables telling Jupyter, IPython, matplotlib and XDG caches where to write
WRITERS = ("IPYTHONDIR", "MPLCONFIGDIR", "JUPYTER_RUNTIME_DIR", "XDG_CACHE_HOME")


def test_runner_and_kernel_template_are_paperpacks_own_files(command: tuple[list[str], DockerEngine]) -> None:
    mounts = _mounts(_parse(command[0])[0])
    here = Path(runner_module.__file__).resolve().parent
    for name in ("runner.py", "kernelfork.py"):
        mount = mounts[f"/paperpack/{name}"]
        assert (mount["type"], mount["src"]) == ("bind", str(here / name)), mount
        assert Path(mount["src"]).is_file()


def test_every_tool_writes_under_the_size_limited_tmp(command: tuple[list[str], DockerEngine]) -> None:
    pairs, _ = _parse(command[0])
    env = dict((value or "").split("=", 1) for flag, value in pairs if flag == "-e")
    assert set(WRITERS) <= set(env), env
    for name in WRITERS:
        assert env[name].startswith("/tmp/paperpack-"), f"{name}={env[name]} is not under the /tmp tmpfs"
    assert len({env[name] for name in WRITERS}) == len(WRITERS), "each tool has its own folder"


def test_the_spec_travels_on_stdin(command: tuple[list[str], DockerEngine]) -> None:
    """Never a file the kernels could read: the runner reads ``--spec -`` from its stdin (``-i``)."""
    pairs, rest = _parse(command[0])
    assert ("-i", None) in pairs
    assert rest[1:] == ["python3", IN_RUNNER, "--spec", "-"]
    assert "--spec" in Path(runner_module.__file__).read_text(encoding="utf-8")


def test_a_batch_before_prepare_is_refused_with_a_hint(command: tuple[list[str], DockerEngine], tmp_path: Path) -> None:
    engine = DockerEngine()  # prepare() not called: no working-copy volume
    engine.user = "1000:100"
    limits = Limits(timeout=60, cell_timeout=30, memory="256m", pids=64, cpus=1.5, disk="64m")
    session = Session(
        repo=Repo.open(tmp_path / "repo"), work_dir=tmp_path / "work", limits=limits, jobs=1, image="some/image:tag"
    )
    with pytest.raises(EngineError, match=r"before prepare\(\) made its working copy") as exc:
        engine.command(session, Batch(number=0, notebooks=[], keys={}), "paperpack-run-test")
    assert exc.value.hint and "prepare(session)" in exc.value.hint


@pytest.mark.parametrize(
    "configured, expected",
    [
        ("jovyan:100", "1000:100"),  # a named user with a numbered group keeps that group
        ("jovyan:7", "1000:7"),
        ("1001:50", "1001:50"),
    ],
)
def test_a_named_user_keeps_the_group_it_names(configured: str, expected: str) -> None:
    users = {"jovyan": (1000, 1000)}
    assert container_user(configured, users.get) == expected
