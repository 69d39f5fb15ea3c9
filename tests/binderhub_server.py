"""A BinderHub build endpoint on loopback: a real HTTP server that speaks EventSource, from a script.

Each request to ``/build/…`` plays the script set for the server: events (JSON ``data:`` lines),
comments (``:heartbeat``), raw bytes, a stall until the test ends, or a cut connection. Bodies are
sent with chunked transfer encoding, as BinderHub (tornado) sends them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "Step",
    "event",
    "comment",
    "raw",
    "STALL",
    "CUT",
    "heartbeats_until_gone",
    "HubServer",
    "serve_hub",
    "BUILD_PHASES",
]


@dataclass(frozen=True)
class Step:
    kind: str  # event, bytes, stall, cut, heartbeats
    payload: bytes = b""


def event(phase: str, message: str = "", **extra: Any) -> Step:
    return Step("bytes", f"data: {json.dumps({'phase': phase, 'message': message, **extra})}\n\n".encode())


def comment(text: str = "heartbeat") -> Step:
    return Step("bytes", f":{text}\n\n".encode())


def raw(data: bytes) -> Step:
    return Step("bytes", data)


STALL = Step("stall")  # send nothing more until the test ends
CUT = Step("cut")  # close the connection without ending the chunked body


def heartbeats_until_gone() -> Step:
    """Heartbeats, paced, until the client hangs up (bounded: at most 3000, then the body ends)."""
    return Step("heartbeats")


#: a build as BinderHub streams it: every phase, log lines, heartbeats, then built and the launch
BUILD_PHASES = [
    event("waiting", "Waiting for build to start...\n"),
    comment(),
    event("fetching", "Fetching repository...\n"),
    event("building", "Step 1/12 : FROM buildpack-deps:jammy\n"),
    event("building", "Step 2/12 : RUN pip install numpy\n"),
    comment(),
    event("building", "Successfully built 0123abcd\n"),
    event("pushing", "Pushing image\n", progress={"layer1": {"current": 1, "total": 2}}),
    event("pushing", "Pushing image\n", progress={"layer1": "Pushed"}),
    event("built", "Built image, launching...\n", imageName="registry.example.org/r2d-lorenz:0123"),
    event("launching", "Launching server...\n"),
    event("ready", "server running", url="http://127.0.0.1:1/user/x/", token="t"),
]


@dataclass
class HubServer:
    url: str
    server: ThreadingHTTPServer
    release: threading.Event
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[Step] = field(default_factory=list)
    status: int = 200
    content_type: str = "text/event-stream"
    body: bytes = b""  # for answers other than 200


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: HubServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        hub = self.hub
        hub.requests.append({"path": self.path, "headers": dict(self.headers)})
        if hub.status != 200:
            self.send_response(hub.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(hub.body)))
            self.end_headers()
            self.wfile.write(hub.body)
            return
        self.send_response(200)
        self.send_header("Content-Type", hub.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        try:
            for step in hub.script:
                if step.kind == "bytes":
                    self._chunk(step.payload)
                elif step.kind == "stall":
                    hub.release.wait(60)
                    return self._close()
                elif step.kind == "cut":
                    return self._close()
                elif step.kind == "heartbeats":
                    for _ in range(3000):
                        self._chunk(b":heartbeat\n\n")
                        if hub.release.wait(0.01):
                            return self._close()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _close(self) -> None:
        self.close_connection = True


def serve_hub() -> Iterator[HubServer]:
    """Start a hub on 127.0.0.1 (a free port); stop it, and release stalled answers, at the end."""
    release = threading.Event()
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    hub = HubServer(f"http://127.0.0.1:{server.server_address[1]}", server, release)
    handler.hub = hub  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)
