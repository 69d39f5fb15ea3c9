"""What comes back from a run, read as hostile: signed frames on the runner's stdout, capped and checked.

Notebook code runs as the runner's user, so any file or folder it shares with the runner
can hold anything: a link to a host file, a forged result, a 3 GiB sparse file. So results
never come back through files. The runner (``runner.py``, see its docstring) sends each
notebook's executed copy and result as *frames* on its own stdout, the pipe paperpack
already reads for progress; it keeps that pipe on a private descriptor, gives every kernel
``/dev/null`` instead, and makes itself non-dumpable, so a kernel can neither write to the
pipe nor read the batch's key from the runner's memory. Each frame carries an HMAC-SHA256
under a key made here for the batch and handed to the runner on its stdin (never in a
file or an environment variable), so a frame that does not come from the runner itself —
for instance written to the pipe through an image's entrypoint, which relays the runner's
output — is refused.

Here, every frame is read with a size cap decided before reading (a frame over it is
skipped in chunks, never held whole), its MAC checked, and the result's JSON checked
against the shape the runner writes (:func:`check_result`). Whatever is missing,
oversized, unsigned or malformed becomes a problem of that notebook: a failed run with a
message saying what was wrong, never a verdict.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

__all__ = [
    "FRAME_PREFIX",
    "MAX_NOTEBOOK_BYTES",
    "MAX_RESULT_BYTES",
    "Delivery",
    "new_key",
    "read_channel",
    "check_result",
]

FRAME_PREFIX = b"@@paperpack-frame "
EVENT_PREFIX = b"@@paperpack-event "
#: the largest executed notebook taken back (bytes); docs/run-and-compare.md gives this figure
MAX_NOTEBOOK_BYTES = 256 << 20
#: the largest result (JSON) taken back: a result holds tracebacks and timings, never outputs
MAX_RESULT_BYTES = 4 << 20
MAX_LINE = 64 << 10  # a line of progress or output longer than this is cut
CHUNK = 1 << 20
KINDS = ("notebook", "result")
STATUSES = frozenset({"ok", "error", "timeout", "dead-kernel", "no-kernel", "interrupted"})


def new_key() -> bytes:
    """A batch's channel key (32 random bytes)."""
    return secrets.token_bytes(32)


@dataclass
class Delivery:
    """What came back for one notebook: its result, its executed copy, and what was wrong."""

    result: dict[str, Any] | None = None
    notebook: bytes | None = None
    problems: list[str] = field(default_factory=list)


def _cap(kind: str) -> int:
    return MAX_NOTEBOOK_BYTES if kind == "notebook" else MAX_RESULT_BYTES


def _header(line: bytes, keys: set[str]) -> tuple[str, str, int, str] | None:
    """(kind, key, size, mac) of a frame header for one of ``keys``, else ``None`` (then it is output)."""
    parts = line[len(FRAME_PREFIX) :].rstrip(b"\n").split(b" ")
    if len(parts) != 4 or not parts[2].isdigit() or len(parts[2]) > 15 or len(parts[3]) != 64:
        return None
    kind, key, mac = (p.decode("ascii", "replace") for p in (parts[0], parts[1], parts[3]))
    if kind not in KINDS or key not in keys:
        return None
    return kind, key, int(parts[2]), mac


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(min(left, CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _skip(stream: IO[bytes], size: int) -> None:
    while size:
        chunk = stream.read(min(size, CHUNK))
        if not chunk:
            return
        size -= len(chunk)


def read_channel(
    stream: IO[bytes],
    keys: set[str],
    key: bytes,
    on_event: Callable[[dict[str, Any]], None],
    on_output: Callable[[str], None],
) -> dict[str, Delivery]:
    """Read the runner's stdout to its end: events to ``on_event``, other lines to ``on_output``, frames checked."""
    deliveries: dict[str, Delivery] = {}
    while True:
        line = stream.readline(MAX_LINE)
        if not line:
            return deliveries
        header = _header(line, keys) if line.startswith(FRAME_PREFIX) else None
        if header is None:
            if line.startswith(EVENT_PREFIX):
                try:
                    event = json.loads(line[len(EVENT_PREFIX) :])
                except ValueError:
                    continue
                if isinstance(event, dict):
                    on_event(event)
                continue
            on_output(line.decode("utf-8", "replace").rstrip("\n"))
            continue
        kind, nb_key, size, mac = header
        delivery = deliveries.setdefault(nb_key, Delivery())
        what = "executed notebook" if kind == "notebook" else "result"
        if size > _cap(kind):
            _skip(stream, size + 1)
            delivery.problems.append(
                f"the {what} is {size:,} bytes, over paperpack's limit of {_cap(kind):,} bytes (it was not read)"
            )
            continue
        payload = _read_exact(stream, size)
        end = stream.read(1)
        expected = hmac.new(key, f"{kind} {nb_key} {size}\n".encode() + payload, hashlib.sha256).hexdigest()
        if len(payload) != size or end != b"\n":
            delivery.problems.append(f"the {what} was cut short (the runner stopped while sending it)")
        elif not hmac.compare_digest(expected, mac):
            delivery.problems.append(
                f"a {what} that the runner did not send was refused (its signature is wrong: "
                "something else wrote to the runner's output)"
            )
        elif (delivery.notebook if kind == "notebook" else delivery.result) is not None:
            delivery.problems.append(f"the runner sent a second {what}")
        elif kind == "notebook":
            delivery.notebook = payload
        else:
            _take_result(delivery, nb_key, payload)


def _take_result(delivery: Delivery, key: str, payload: bytes) -> None:
    try:
        result = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        delivery.problems.append(f"the result is not JSON ({exc})")
        return
    problem = check_result(result, key)
    if problem:
        delivery.problems.append(f"the result is malformed: {problem}")
    else:
        delivery.result = result


_OPTIONAL_TYPES: dict[str, tuple[type, ...]] = {
    "duration": (int, float),
    "waited": (int, float),
    "kernel_startup": (int, float),
    "kernel": (str,),
    "kernel_exit": (int,),
    "oom_kills": (int,),
    "pids_limit_hits": (int,),
    "injected_cell": (int,),
    "timeout": (int, float),
    "cell_timeout": (int, float),
    "kernel_forked": (bool,),
    "executed": (bool,),
    "parameters": (dict,),
    "available_kernels": (list,),
    "cell_errors": (list,),
    "result_version": (int,),
}
_ERROR_FIELDS: dict[str, tuple[type, ...]] = {"kind": (str,), "ename": (str,), "evalue": (str,)}


def check_result(result: Any, key: str) -> str | None:
    """What is wrong with a result's shape (as ``runner.py`` writes it), or ``None``."""
    if not isinstance(result, dict):
        return f"expected an object, got {type(result).__name__}"
    if result.get("key") != key:
        return f"it is for {result.get('key')!r}, not {key!r}"
    if result.get("status") not in STATUSES:
        return f"unknown status {result.get('status')!r}"
    for name, types in _OPTIONAL_TYPES.items():
        value = result.get(name)
        if value is not None and (not isinstance(value, types) or (bool not in types and isinstance(value, bool))):
            return f"{name!r} is {type(value).__name__}, expected {' or '.join(t.__name__ for t in types)}"
    cells = result.get("cells", [])
    if not isinstance(cells, list) or not all(
        isinstance(c, dict)
        and isinstance(c.get("index"), int)
        and isinstance(c.get("duration"), (int, float))
        and isinstance(c.get("status"), str)
        for c in cells
    ):
        return "'cells' is not a list of {index, duration, status}"
    if not all(isinstance(k, str) for k in result.get("available_kernels") or []):
        return "'available_kernels' is not a list of names"
    if not all(isinstance(i, int) for i in result.get("cell_errors") or []):
        return "'cell_errors' is not a list of cell numbers"
    error = result.get("error")
    if error is None:
        return None
    if not isinstance(error, dict):
        return "'error' is not an object"
    for name, types in _ERROR_FIELDS.items():
        if not isinstance(error.get(name, ""), types):
            return f"'error.{name}' is not text"
    if error.get("cell") is not None and not isinstance(error.get("cell"), int):
        return "'error.cell' is not a cell number"
    if not isinstance(error.get("traceback", []), list) or not all(
        isinstance(x, str) for x in error.get("traceback", [])
    ):
        return "'error.traceback' is not a list of lines"
    return None
