"""Ask a BinderHub to build a commit, through its ``/build/PROVIDER/SPEC`` event stream.

BinderHub answers that request with an EventSource stream (``text/event-stream``): one JSON object
per event, ``{"phase": …, "message": …}``, through the phases *waiting*, *fetching*, *building*
(``message`` is a line of repo2docker's log), *pushing*, then *built* (the image is in the hub's
registry) or *failed*; after *built* the hub goes on to *launching* and *ready*. Lines starting with
``:`` are comments: the hub sends ``:heartbeat`` every 30 s so that proxies keep the connection.

:func:`request_build` stops reading at *built* (pre-warming needs the image, not a server: closing
the stream leaves the hub's servers for readers) and returns a :class:`BuildOutcome`; *failed* is an
outcome too. What keeps it from knowing — the hub unreachable, an answer other than 200, the stream
ending before *built* or *failed*, no byte for ``silence`` seconds, the build not done by
``timeout`` — raises :class:`~paperpack.errors.BinderError` naming the hub and what to do.

The stream is read with ``requests`` and parsed here (the EventSource format is a few rules):
events end at an empty line, ``data:`` lines are joined with newlines, comments are heartbeats.
The hub is not trusted with memory: an event of more than :data:`MAX_EVENT_BYTES` is an error.
"""

from __future__ import annotations

import codecs
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from ..errors import BinderError
from ..util.httpclient import user_agent
from ..util.terminal import printable
from ..util.words import Word
from .launch import LaunchTarget

__all__ = ["Phase", "BuildEvent", "BuildOutcome", "request_build", "events", "MAX_EVENT_BYTES", "SILENCE"]

log = logging.getLogger(__name__)

MAX_EVENT_BYTES = 4 << 20
#: seconds without a byte (not even a heartbeat, sent every 30 s) after which the stream counts as dead
SILENCE = 120.0
_CONNECT_TIMEOUT = 10.0


class Phase(Word):
    """BinderHub's build phases (docs/reports.md#binder)."""

    WAITING = "waiting"
    FETCHING = "fetching"
    BUILDING = "building"
    PUSHING = "pushing"
    BUILT = "built"
    LAUNCHING = "launching"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class BuildEvent:
    """One event of the stream: its phase as sent (a hub may send phases this list lacks) and message."""

    phase: str
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def known(self) -> Phase | None:
        try:
            return Phase(self.phase)
        except ValueError:
            return None


@dataclass(frozen=True)
class BuildOutcome:
    """How the build ended: *built* (``built`` true) or *failed*, with the hub's last message."""

    built: bool
    hub: str
    build_url: str
    message: str = ""
    image: str | None = None  # the hub's image name (informative only: BinderHub calls it internal)
    seconds: float = 0.0
    events: int = 0


#: called for every event, and with ``None`` for every heartbeat (so a display can show it is alive)
Listener = Callable[[BuildEvent | None], None]


def request_build(
    target: LaunchTarget,
    *,
    timeout: float,
    on_event: Listener | None = None,
    silence: float = SILENCE,
    session: requests.Session | None = None,
) -> BuildOutcome:
    """Ask ``target.hub`` to build ``target``; follow the stream until *built* or *failed* (see the module)."""
    if timeout <= 0:
        raise BinderError(
            f"--timeout {timeout:g} is not a positive number of seconds",
            hint="give the build's time limit in seconds, e.g. --timeout 1800",
        )
    url = target.build_url
    hub = target.hub
    if target.hub_from_repository:
        _check_public(hub)
    started = time.monotonic()
    deadline = started + timeout
    limits = _Limits(hub, url, deadline, timeout, silence)
    own = session is None
    http = session or requests.Session()
    try:
        try:
            # a redirect would lead past the public-address check of a hub the repository named
            response = http.get(
                url,
                stream=True,
                timeout=(min(_CONNECT_TIMEOUT, timeout), min(silence, timeout)),
                headers={"Accept": "text/event-stream", "Cache-Control": "no-cache", "User-Agent": user_agent()},
                allow_redirects=not target.hub_from_repository,
            )
        except requests.Timeout:
            raise _silent(limits) from None
        except requests.ConnectionError as exc:
            raise BinderError(
                f"cannot reach the BinderHub at {hub}: {_reason(exc)}",
                hint="check the hub's address (--hub or binder.url in paperpack.yml) and the network, then try again",
            ) from None
        with response:
            _check_answer(response, hub, url)
            count = 0
            for event in events(_chunks(response, limits)):
                if event is None:
                    if on_event is not None:
                        on_event(None)
                    continue
                count += 1
                if on_event is not None:
                    on_event(event)
                if event.phase in (Phase.BUILT, Phase.READY):
                    return BuildOutcome(True, hub, url, event.message, _image(event), time.monotonic() - started, count)
                if event.phase == Phase.FAILED:
                    return BuildOutcome(False, hub, url, event.message, None, time.monotonic() - started, count)
            raise BinderError(
                f"the BinderHub at {hub} closed the build stream before the build was built or "
                f"failed ({count} events received from {url})",
                hint="the hub may have restarted or a proxy cut the connection: run paperpack "
                "binder again (a build already under way is joined, not started over)",
            )
    finally:
        if own:
            http.close()


def _check_public(hub: str) -> None:
    """A hub named by the repository (binder.url) must be public: a repository cannot make paperpack binder
    send requests into this machine or its network, nor print what answers there. Checked before connecting
    (every address the name resolves to); the user's own --hub is not checked."""
    from ..util.urlpolicy import AddressKind, classify

    parts = urlsplit(hub)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise BinderError(
            f"cannot reach the BinderHub at {hub} (binder.url in paperpack.yml): {exc}",
            hint="correct binder.url in paperpack.yml, or pass --hub URL",
        ) from None
    for info in infos:
        kind = classify(str(info[4][0]))
        if kind is not AddressKind.PUBLIC:
            raise BinderError(
                f"binder.url in paperpack.yml, {hub}, leads to {info[4][0]}, a {kind.value} address: "
                "a repository's manifest cannot send paperpack binder into this machine or its network",
                hint=f"if {hub} is a hub you trust, pass it yourself: --hub {hub}",
            )


def _check_answer(response: requests.Response, hub: str, url: str) -> None:
    if response.status_code != 200:
        body = _short_body(response)
        what = {
            404: "does not know this repository or provider (or is no BinderHub)",
            429: "is limiting requests (too many builds at once)",
            403: "refused the request (a hub that needs a login, or a banned repository)",
        }.get(response.status_code, "could not start the build")
        raise BinderError(
            f"the BinderHub at {hub} answered {response.status_code} {response.reason or ''}".rstrip()
            + f" to {url}: it {what}"
            + (f"; it said: {body}" if body else ""),
            hint="check --hub, --remote and --ref (the repository must be public and the commit "
            "pushed), or try again later if the hub is busy",
        )
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind != "text/event-stream":
        raise BinderError(
            f"{url} answered with {kind or 'no content type'}, not an event stream: {hub} does not "
            "look like a BinderHub",
            hint="give the hub's base URL with --hub, e.g. https://mybinder.org",
        )


@dataclass(frozen=True)
class _Limits:
    hub: str
    url: str
    deadline: float
    timeout: float
    silence: float


def _chunks(response: requests.Response, limits: _Limits) -> Iterator[bytes]:
    """Bytes as they arrive (``read1``: no waiting for a full buffer, chunked or not), checking the deadline
    after every read."""
    from urllib3.exceptions import ProtocolError, ReadTimeoutError

    while True:
        try:
            data = response.raw.read1(65536)
        except ReadTimeoutError:
            raise _silent(limits) from None
        except (ProtocolError, OSError) as exc:
            raise BinderError(
                f"the connection to the BinderHub at {limits.hub} broke during the build "
                f"({_reason(exc)}) on {limits.url}",
                hint="run paperpack binder again: a build already under way is joined, not started over",
            ) from None
        if time.monotonic() > limits.deadline:
            raise BinderError(
                f"the build at {limits.hub} was not done after {limits.timeout:g} s (--timeout); the "
                "hub may still be building it",
                hint="run paperpack binder again later (it joins the running build), or raise --timeout",
            )
        if not data:
            return
        yield data


def events(chunks: Iterator[bytes]) -> Iterator[BuildEvent | None]:
    """Parse an EventSource byte stream: a :class:`BuildEvent` per event with JSON data, ``None`` per comment.

    Lines end at CRLF, LF or CR (a CR at the end of one chunk and LF at the start of the next are
    one line end); a BOM at the start is dropped; data that is not a JSON object is logged and skipped.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    data: list[str] = []
    size = 0
    first = True
    skip_lf = False
    for chunk in chunks:
        text = decoder.decode(chunk)
        if first and text:
            text = text.removeprefix("\ufeff")
            first = False
        if skip_lf and text.startswith("\n"):
            text = text[1:]
        skip_lf = text.endswith("\r")
        pending += text
        *lines, pending = pending.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if len(pending) > MAX_EVENT_BYTES:
            raise BinderError(
                f"a line of the build stream is longer than {MAX_EVENT_BYTES} bytes: not a BinderHub",
                hint="check --hub",
            )
        for line in lines:
            if line == "":
                if data:
                    yield from _event("\n".join(data))
                data, size = [], 0
            elif line.startswith(":"):
                yield None
            else:
                name, _, value = line.partition(":")
                if name == "data":
                    value = value[1:] if value.startswith(" ") else value
                    size += len(value)
                    if size > MAX_EVENT_BYTES:
                        raise BinderError(
                            f"an event of the build stream is larger than {MAX_EVENT_BYTES} bytes: not a BinderHub",
                            hint="check --hub",
                        )
                    data.append(value)
    # a stream that ends without the empty line after its last event: that event is incomplete (EventSource drops it)


def _event(text: str) -> Iterator[BuildEvent]:
    try:
        doc = json.loads(text)
    except ValueError:
        log.debug("build stream: data that is not JSON: %.200r", text)
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("phase"), str):
        log.debug("build stream: an event without a phase: %.200r", text)
        return
    message = doc.get("message")
    yield BuildEvent(doc["phase"].strip().lower(), message if isinstance(message, str) else "", doc)


def _image(event: BuildEvent) -> str | None:
    value = event.data.get("imageName")
    return value if isinstance(value, str) else None


def _silent(limits: _Limits) -> BinderError:
    silence = min(limits.silence, limits.timeout)
    limit = "--timeout" if limits.silence >= limits.timeout else "the heartbeat limit"
    return BinderError(
        f"the BinderHub at {limits.hub} sent nothing for {silence:g} s ({limit}) on {limits.url}: "
        "the build may still be running there",
        hint="run paperpack binder again (it joins the running build), or raise --timeout",
    )


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "Temporary failure in name resolution",
        "Connection reset by peer",
        "Connection broken",
        "IncompleteRead",
        "timed out",
    ):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _short_body(response: requests.Response) -> str:
    try:
        raw = response.raw.read(2048, decode_content=True) or b""
    except Exception:  # noqa: BLE001 - the body is only a courtesy in the message
        return ""
    return printable(raw.decode("utf-8", "replace").strip(), newlines=False)[:300]
