"""The action's Binder pre-warm (input binder-hub): `paperpack binder` against a real BinderHub event stream on
loopback (tests/binderhub_server.py), only after a good verdict; a failed pre-warm warns, the verdict stands."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from actionharness import ActionRun, run_action
from binderhub_server import BUILD_PHASES, HubServer, event, serve_hub
from conftest import ROOT
from test_action import change_output, runner_env, workspace  # noqa: F401 (workspace: the fixture)

pytestmark = pytest.mark.slow


@pytest.fixture
def hub() -> Iterator[HubServer]:
    yield from serve_hub()


def commit(paper: Path) -> str:
    """Make ``paper`` a git repository whose origin is on GitHub; its commit."""
    env = {
        "GIT_AUTHOR_NAME": "J. Carberry",
        "GIT_AUTHOR_EMAIL": "j@example.org",
        "GIT_COMMITTER_NAME": "J. Carberry",
        "GIT_COMMITTER_EMAIL": "j@example.org",
        "PATH": "/usr/bin:/bin",
        "HOME": str(paper.parent),
    }
    for args in (
        ["init", "-q"],
        ["remote", "add", "origin", "https://github.com/carberry/lorenz.git"],
        ["add", "-A"],
        ["commit", "-q", "-m", "paper"],
    ):
        subprocess.run(["git", *args], cwd=paper, env=env, check=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=paper, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def act(workspace: Path, hub: HubServer, **inputs: str) -> ActionRun:  # noqa: F811 (workspace is the fixture)
    given = {"path": "paper", "engine": "local", "paperpack-version": "installed", "binder-hub": hub.url, **inputs}
    return run_action(
        ROOT, inputs=given, workspace=workspace, runner_temp=workspace.parent / "runner", env=runner_env()
    )


def test_a_good_verdict_pre_warms_the_hub_for_this_commit(workspace: Path, hub: HubServer) -> None:  # noqa: F811
    sha = commit(workspace / "paper")
    hub.script = list(BUILD_PHASES)
    run = act(workspace, hub)
    assert run.exit_code == 0, run.log
    assert run.step("binder").outcome == "success" and run.outputs["binder"] == "built"
    assert [r["path"] for r in hub.requests] == [f"/build/gh/carberry/lorenz/{sha}"]


def test_a_failed_pre_warm_warns_and_the_verdict_stands(workspace: Path, hub: HubServer) -> None:  # noqa: F811
    commit(workspace / "paper")
    hub.script = [event("waiting", "Waiting\n"), event("failed", "Build failed with exit code 1\n")]
    run = act(workspace, hub)
    assert run.exit_code == 0 and run.outputs["verdict"] == "reproduced", run.log
    assert run.outputs["binder"] == "failed" and len(hub.requests) == 1
    (warning,) = [a for a in run.annotations if a.level == "warning"]
    assert "Binder pre-warm" in warning.message and hub.url in warning.message


def test_no_pre_warm_after_a_verdict_that_is_not_good(workspace: Path, hub: HubServer) -> None:  # noqa: F811
    change_output(workspace / "paper" / "01-data.ipynb", "wing switches: 17", "wing switches: 18")
    commit(workspace / "paper")
    hub.script = list(BUILD_PHASES)
    run = act(workspace, hub, **{"fail-on": "never"})
    assert run.exit_code == 0 and run.outputs["verdict"] == "partially-reproduced"
    assert run.step("binder").outcome == "skipped" and run.outputs["binder"] == ""
    assert hub.requests == []
