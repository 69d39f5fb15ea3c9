"""`paperpack binder` against a real HTTP server on loopback speaking BinderHub's event stream."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from binderhub_server import BUILD_PHASES, CUT, STALL, HubServer, comment, event, heartbeats_until_gone, raw, serve_hub
from paperpack.binder import LaunchOptions, launch_target
from paperpack.binder.hub import BuildEvent, events, request_build
from paperpack.cli.main import main
from paperpack.errors import BinderError

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub() -> Iterator[HubServer]:
    yield from serve_hub()


@pytest.fixture
def paper(tmp_path: Path) -> Path:
    (tmp_path / "a.ipynb").write_text("{}")
    return tmp_path


def target(hub: HubServer, paper: Path, remote: str = "carberry/lorenz"):  # type: ignore[no-untyped-def]
    return launch_target(paper, [], options=LaunchOptions(hub=hub.url, remote=remote, ref=SHA))


def cli(hub: HubServer, paper: Path, *extra: str) -> int:
    return main(["binder", str(paper), "--hub", hub.url, "--remote", "carberry/lorenz", "--ref", SHA, *extra])


def test_a_build_shows_every_phase_and_the_log_and_exits_0_at_built(
    hub: HubServer, paper: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.script = list(BUILD_PHASES)
    assert cli(hub, paper) == 0
    out = capsys.readouterr().out
    assert hub.requests[0]["path"] == f"/build/gh/carberry/lorenz/{SHA}"
    assert hub.requests[0]["headers"]["Accept"] == "text/event-stream"
    for line in (
        "[waiting] Waiting for build to start...",
        "[fetching] Fetching repository...",
        "[building] Step 1/12 : FROM buildpack-deps:jammy",
        "  Step 2/12 : RUN pip install numpy",
        "  Successfully built 0123abcd",
        "[pushing] Pushing image",
        "[built] Built image, launching...",
    ):
        assert line in out.splitlines()
    assert out.count("Pushing image") == 1  # a repeated progress message is shown once
    assert "[launching]" not in out and "built on" in out.splitlines()[-1]


def test_the_library_stops_at_built_and_reports_heartbeats(hub: HubServer, paper: Path) -> None:
    hub.script = list(BUILD_PHASES)
    seen: list[BuildEvent | None] = []
    outcome = request_build(target(hub, paper), timeout=30, on_event=seen.append)
    assert outcome.built and outcome.image == "registry.example.org/r2d-lorenz:0123"
    phases = [e.phase if e else None for e in seen]
    assert phases == [
        "waiting",
        None,
        "fetching",
        "building",
        "building",
        None,
        "building",
        "pushing",
        "pushing",
        "built",
    ]
    assert outcome.events == 8


def test_failed_exits_1_with_the_hubs_reason(hub: HubServer, paper: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hub.script = [
        event("waiting", "Waiting\n"),
        event("building", "ERROR: No matching distribution for nump\n"),
        event("failed", "Build failed with exit code 1\x1b[2J"),
        event("built", "never read"),
    ]
    assert cli(hub, paper) == 1
    captured = capsys.readouterr()
    assert "ERROR: No matching distribution for nump" in captured.out
    assert f"could not build gh/carberry/lorenz/{SHA}: Build failed with exit code 1" in captured.err
    assert "\x1b" not in captured.err  # the hub's text cannot drive the terminal


def test_a_cut_stream_is_an_error_naming_the_hub(
    hub: HubServer, paper: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.script = [event("waiting", "Waiting\n"), event("building", "Step 1/3\n"), CUT]
    with pytest.raises(BinderError) as err:
        request_build(target(hub, paper), timeout=30)
    assert f"the connection to the BinderHub at {hub.url} broke" in str(err.value)
    assert "run paperpack binder again" in err.value.hint
    assert cli(hub, paper) == 1
    assert "error: the connection to the BinderHub" in capsys.readouterr().err


def test_a_stream_that_ends_before_built_is_an_error(hub: HubServer, paper: Path) -> None:
    hub.script = [event("waiting", "Waiting\n"), comment(), event("building", "Step 1/3\n")]
    with pytest.raises(BinderError, match="closed the build stream before the build was built or failed"):
        request_build(target(hub, paper), timeout=30)


def test_a_silent_server_runs_into_the_timeout(hub: HubServer, paper: Path) -> None:
    hub.script = [event("waiting", "Waiting\n"), STALL]
    with pytest.raises(BinderError) as err:
        request_build(target(hub, paper), timeout=0.5)
    assert f"the BinderHub at {hub.url} sent nothing for 0.5 s (--timeout)" in str(err.value)
    assert "raise --timeout" in err.value.hint


def test_heartbeats_alone_do_not_outlast_the_timeout(
    hub: HubServer, paper: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.script = [event("building", "Step 1/3\n"), heartbeats_until_gone()]
    assert cli(hub, paper, "--timeout", "0.5") == 1
    assert f"the build at {hub.url} was not done after 0.5 s (--timeout)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "status, words",
    [(404, "does not know this repository"), (429, "is limiting requests"), (500, "could not start the build")],
)
def test_an_answer_other_than_200_is_an_error_with_what_the_hub_said(
    hub: HubServer, paper: Path, status: int, words: str
) -> None:
    hub.status, hub.body = status, b"No provider found for prefix xx\x1b]0;title\x07"
    with pytest.raises(BinderError) as err:
        request_build(target(hub, paper), timeout=30)
    message = str(err.value)
    assert f"the BinderHub at {hub.url} answered {status}" in message and words in message
    assert "No provider found for prefix xx" in message and "\x1b" not in message and "\x07" not in message


def test_a_page_that_is_not_an_event_stream_is_no_binderhub(hub: HubServer, paper: Path) -> None:
    hub.content_type = "text/html; charset=utf-8"
    hub.script = [raw(b"<html>hello</html>")]
    with pytest.raises(BinderError, match="not an event stream"):
        request_build(target(hub, paper), timeout=30)


def test_a_hub_nobody_listens_on_is_an_error_naming_it(paper: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    assert main(["binder", str(paper), "--hub", url, "--remote", "carberry/lorenz", "--ref", SHA]) == 1
    err = capsys.readouterr().err
    assert f"error: cannot reach the BinderHub at {url}: connection refused" in err and "--hub" in err


def test_an_oversized_event_is_refused(hub: HubServer, paper: Path) -> None:
    hub.script = [raw(b"data: " + b"x" * (5 << 20) + b"\n\n")]
    with pytest.raises(BinderError, match="larger than|longer than"):
        request_build(target(hub, paper), timeout=30)


def test_usage_errors_exit_2(paper: Path, hub: HubServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(hub, paper, "--timeout", "0") == 2
    assert main(["binder", str(paper), "--hub", "not a url", "--remote", "a/b", "--ref", SHA]) == 2
    assert main(["binder", str(paper), "--hub", hub.url]) == 2  # no git, no --remote
    assert "--remote" in capsys.readouterr().err
    assert hub.requests == []


def test_the_event_parser_follows_the_eventsource_rules() -> None:
    chunks = [
        b'\xef\xbb\xbfdata: {"phase": "wait',
        b'ing", "message": "caf\xc3',
        b'\xa9"}\r',
        b'\n\r\n: comment\r\rdata:{"phase":"building",\r\ndata: "message": "two\\nlines"}\n\n',
        b"event: x\nid: 3\ndata: not json\n\ndata: [1]\n\n",
        b'data: {"phase": "built"}',
    ]
    parsed = list(events(iter(chunks)))
    assert parsed == [
        BuildEvent("waiting", "caf\u00e9", {"phase": "waiting", "message": "caf\u00e9"}),
        None,
        BuildEvent("building", "two\nlines", {"phase": "building", "message": "two\nlines"}),
    ]


def test_a_hub_named_by_the_repository_must_be_public(
    hub: HubServer, paper: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (paper / "paperpack.yml").write_text(
        f"version: 1\nbinder:\n  url: {hub.url}\n  repository: carberry/lorenz\n  ref: {SHA}\n"
    )
    hub.script = list(BUILD_PHASES)
    assert main(["binder", str(paper)]) == 1
    err = capsys.readouterr().err
    assert f"binder.url in paperpack.yml, {hub.url}, leads to 127.0.0.1, a loopback" in err
    assert f"--hub {hub.url}" in err and hub.requests == []
    assert main(["binder", str(paper), "--hub", hub.url]) == 0  # the user's own choice is not checked
    assert hub.requests[0]["path"] == f"/build/gh/carberry/lorenz/{SHA}"
