#!/usr/bin/env python3
"""paperpack's notebook runner: executes a batch of notebooks and reports structured results.

This file runs *inside the image* under the image's own Python (mounted read-only), or
under the local engine's virtual environment. It must stay self-contained: the standard
library, nbformat and nbclient only; never import paperpack here.

Usage::

    python3 runner.py --spec -          # the spec on stdin (how paperpack passes it)
    python3 runner.py --spec SPEC.json

The spec (JSON) says::

    {"source": "/paperpack/repo",      # the repository, read-only
     "workdir": "/paperpack/work",     # writable working copy (filled from source once)
     "channel_key": "<64 hex>",        # the batch's secret: signs every message (below)
     "jobs": 2,                        # notebooks executed at once
     "links": [{"target": "data/x.csv", "source": "/paperpack/data/0"}],
     "notebooks": [{"key": "nb000", "path": "a.ipynb", "timeout": 600, "cell_timeout": 120,
                    "parameters": {"n": 10}, "kernel": null, "allow_errors": false}]}

**Results come back on the runner's own stdout, never through files.** Notebook code runs
as the runner's user, so anything it can reach (an output folder, a spec file, a pipe it
inherited) it can forge. So, before any kernel exists, the runner:

* reads the spec (with the channel key) from stdin, then points stdin at ``/dev/null``;
* keeps its stdout on a private close-on-exec descriptor (the *channel*) and points
  descriptors 1 and 2 at ``/dev/null``: the kernel template, every kernel and any process
  they start inherit ``/dev/null``, never the channel;
* makes itself non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``): a process of the same user
  can then neither open ``/proc/<runner>/fd/…`` nor read its memory (the key) nor ptrace it.

For each notebook it sends two framed messages on the channel: the executed notebook
(also when it failed part-way) and the result (JSON). A frame is one header line
``@@paperpack-frame KIND KEY SIZE MAC`` followed by exactly SIZE bytes and a newline;
MAC is HMAC-SHA256 of ``"KIND KEY SIZE\n"`` + the bytes under the channel key, so a
message written by anything but this process is refused by paperpack (which also caps
SIZE and checks the result's shape: ``paperpack/run/channel.py``). Progress goes on the
channel as lines starting with ``@@paperpack-event `` followed by JSON; any other line
(an image's entrypoint may print) is only kept as output for error messages.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import fcntl
import hashlib
import hmac
import inspect
import json
import math
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbclient import NotebookClient
# nbformat and nbclient are imported where they are used: paperpack imports this module for
# skip_entries, and a command that never runs a notebook should not pay for jupyter_client.

EVENT_PREFIX = "@@paperpack-event "
FRAME_PREFIX = "@@paperpack-frame "
RESULT_VERSION = 1
COPY_MARKER = ".paperpack-copied"
SKIP_NAMES = {
    ".git",
    ".hg",
    ".svn",
    "paperpack-out",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".ipynb_checkpoints",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
}
#: paperpack marks each output folder with this file (``paperpack.repository.repo.OUTPUT_MARKER``; this script cannot
#: import paperpack): such a folder inside the repository is not copied, it is not the paper's
OUTPUT_MARKER = ".paperpack-output"
MAX_TRACEBACK_LINES = 60
MAX_STDERR_CHARS = 4000  # the end of the failing cell's stderr (warnings printed before an ImportError)


class Channel:
    """The runner's only way out: its original stdout, on a private close-on-exec descriptor.

    Every write takes one lock, so a frame is never interleaved with another line.
    """

    def __init__(self, fd: int, key: bytes) -> None:
        self.fd = fd
        self.key = key
        self.lock = threading.RLock()  # re-entrant: a warning printed while writing must not deadlock

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        with self.lock:
            while view:
                view = view[os.write(self.fd, view) :]

    def line(self, text: str) -> None:
        """A line of text (progress events, the runner's own messages)."""
        self._write(text.encode("utf-8", "replace") + b"\n")

    def send(self, kind: str, key: str, payload: bytes) -> None:
        """One framed, signed message (see the module docstring)."""
        head = f"{kind} {key} {len(payload)}"
        mac = hmac.new(self.key, (head + "\n").encode() + payload, hashlib.sha256).hexdigest()
        self._write(f"{FRAME_PREFIX}{head} {mac}\n".encode() + payload + b"\n")


class _ChannelText:
    """``sys.stdout``/``sys.stderr`` of the runner: whole lines onto the channel, never a frame header."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.channel.line(" " + line if line.startswith(FRAME_PREFIX) else line)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.write("\n")

    def isatty(self) -> bool:
        return False


CHANNEL: Channel | None = None


def emit(kind: str, **fields: Any) -> None:
    """One progress line on the channel."""
    fields["event"] = kind
    text = EVENT_PREFIX + json.dumps(fields, default=str)
    if CHANNEL is not None:
        CHANNEL.line(text)
    else:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def open_channel(key: bytes) -> Channel:
    """Keep stdout as the channel; give descriptors 0, 1 and 2 to ``/dev/null`` (inherited by every child)."""
    global CHANNEL
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.dup(1)  # os.dup makes it non-inheritable: no child process gets it
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)
    os.close(null)
    CHANNEL = Channel(fd, key)
    sys.stdout = sys.stderr = _ChannelText(CHANNEL)
    return CHANNEL


def no_dumps() -> bool:
    """``prctl(PR_SET_DUMPABLE, 0)`` (Linux): same-user processes cannot open /proc/<runner>/fd nor ptrace it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        return False


def read_spec(where: str) -> dict[str, Any]:
    """The spec, from a file or (``-``) from stdin, read whole before any kernel exists."""
    if where == "-":
        data = b""
        while True:
            chunk = os.read(0, 1 << 16)
            if not chunk:
                break
            data += chunk
        return json.loads(data.decode("utf-8"))
    with open(where, encoding="utf-8") as fh:
        return json.load(fh)


# --- the working copy -------------------------------------------------------------------


def prepare_workdir(source: str, workdir: str, links: list[dict[str, str]]) -> None:
    """Copy the repository into the working copy once (under a lock), then link the data."""
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, ".paperpack-lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(workdir, COPY_MARKER)):
            _copy_tree(source, workdir)
            for link in links:
                target = os.path.join(workdir, link["target"])
                os.makedirs(os.path.dirname(target), exist_ok=True)
                if os.path.lexists(target):
                    if os.path.isdir(target) and not os.path.islink(target):
                        shutil.rmtree(target)
                    else:
                        os.unlink(target)
                os.symlink(link["source"], target)
            with open(os.path.join(workdir, COPY_MARKER), "w") as fh:
                fh.write("copied by paperpack's runner\n")


def skip_entries(folder: str, names: list[str]) -> set[str]:
    """``shutil.copytree``'s ``ignore``: VCS folders, caches and paperpack's own output folders."""
    return {name for name in names if name in SKIP_NAMES or os.path.isfile(os.path.join(folder, name, OUTPUT_MARKER))}


def _copy_tree(source: str, workdir: str) -> None:
    """Copy the entries of ``source`` into ``workdir`` (which may belong to another user)."""
    skipped = skip_entries(source, os.listdir(source))
    for entry in os.scandir(source):
        if entry.name in skipped:
            continue
        target = os.path.join(workdir, entry.name)
        if entry.is_dir(follow_symlinks=False):
            shutil.copytree(entry.path, target, symlinks=True, dirs_exist_ok=True, ignore=skip_entries)
        else:
            shutil.copy2(entry.path, target, follow_symlinks=False)


# --- parameters -------------------------------------------------------------------------


def inject_parameters(nb: Any, parameters: dict[str, Any]) -> int | None:
    """papermill-style: a cell tagged ``injected-parameters`` after the ``parameters`` cell.

    Returns the index of the injected cell, or ``None`` when there is nothing to inject.
    """
    if not parameters:
        return None
    import nbformat

    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    lines = ["# Parameters injected by paperpack"] + [f"{name} = {value!r}" for name, value in parameters.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        cell.pop("id", None)
    at = 0
    for index, existing in enumerate(nb.cells):
        if "parameters" in existing.get("metadata", {}).get("tags", []):
            at = index + 1
            break
    nb.cells.insert(at, cell)
    return at


# --- cgroup counters (inside a container) ----------------------------------------------------


def cgroup_counter(name: str, key: str) -> int | None:
    """A counter from the container's cgroup (v2 first, then v1), or ``None`` outside one."""
    for path in (f"/sys/fs/cgroup/{name}", f"/sys/fs/cgroup/memory/{name}", f"/sys/fs/cgroup/pids/{name}"):
        try:
            with open(path) as fh:
                for line in fh:
                    parts = line.split()
                    if len(parts) == 2 and parts[0] == key:
                        return int(parts[1])
        except (OSError, ValueError):
            continue
    return None


def oom_kills() -> int | None:
    return cgroup_counter("memory.events", "oom_kill")


def pids_max_hits() -> int | None:
    return cgroup_counter("pids.events", "max")


# --- one notebook -------------------------------------------------------------------------


def _short_traceback(lines: list[str]) -> list[str]:
    return [str(x) for x in lines[-MAX_TRACEBACK_LINES:]]


def _failing_cell(nb: Any, index: int | None) -> dict[str, Any] | None:
    """The first error output of cell ``index`` (ename, evalue, traceback) and the cell's stderr."""
    if index is None or index >= len(nb.cells):
        return None
    outputs = nb.cells[index].get("outputs", [])
    stderr = "".join(
        str(o.get("text", "")) for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"
    )
    for output in outputs:
        if output.get("output_type") == "error":
            return {
                "ename": output.get("ename", ""),
                "evalue": output.get("evalue", ""),
                "traceback": _short_traceback(output.get("traceback", [])),
                "stderr": stderr[-MAX_STDERR_CHARS:],
            }
    return None


#: TCP states in /proc/net/tcp (hex) of a connection under way
_TCP_STATES = {"01": "connected, waiting for an answer", "02": "connecting, no answer", "03": "connecting, no answer"}
MAX_WAITS = 8


def _hex_address(text: str) -> tuple[str, int]:
    """``0100007F:1F90`` (or an IPv6 one) from /proc/net/tcp as ("127.0.0.1", 8080)."""
    import ipaddress
    import struct

    host, port = text.split(":")
    raw = bytes.fromhex(host)
    words = struct.unpack(f"<{len(raw) // 4}I", raw)  # the kernel prints each 32-bit word in host order
    packed = b"".join(struct.pack(">I", w) for w in words)
    address = ipaddress.ip_address(packed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address), int(port, 16)


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo and len(found) < 64:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    todo += [int(c) for c in handle.read().split()]
        except (OSError, ValueError):
            continue
    return found


def network_waits(pid: int | None, own_ports: set[int]) -> list[dict[str, Any]]:
    """What the kernel (and the processes it started) waits on over the network, read from /proc at a
    timeout (a hung kernel answers no request): TCP connections being made or waiting for an answer,
    and DNS queries (UDP to port 53), except the kernel's own Jupyter ports. Empty when none or unknown."""
    if not pid:
        return []
    waits: list[dict[str, Any]] = []
    for proc in _descendants(pid):
        inodes: set[str] = set()
        try:
            for fd in os.listdir(f"/proc/{proc}/fd"):
                target = os.readlink(f"/proc/{proc}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
        for table in ("tcp", "tcp6", "udp", "udp6"):
            try:
                with open(f"/proc/{proc}/net/{table}") as handle:
                    rows = handle.read().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                fields = row.split()
                if len(fields) < 10 or fields[9] not in inodes:
                    continue
                try:
                    (_, local_port), (host, port) = _hex_address(fields[1]), _hex_address(fields[2])
                except ValueError:
                    continue
                if local_port in own_ports or port in own_ports:
                    continue
                if table.startswith("udp"):
                    state = "asking DNS, no answer" if port == 53 else ""
                else:
                    state = _TCP_STATES.get(fields[3], "")
                if state and len(waits) < MAX_WAITS:
                    waits.append({"host": host, "port": port, "state": state, "pid": proc})
    return waits


def _kernel_ports(client: Any) -> set[int]:
    try:
        info = client.km.get_connection_info()
    except Exception:
        return set()
    return {int(v) for k, v in info.items() if k.endswith("_port") and str(v).isdigit()}


def _cell_streams(nb: Any, index: int | None) -> str:
    """The end of what cell ``index`` printed so far (stdout and stderr): retries, warnings."""
    if index is None or index >= len(nb.cells):
        return ""
    text = "".join(
        str(o.get("text", "")) for o in nb.cells[index].get("outputs", []) if o.get("output_type") == "stream"
    )
    return text[-MAX_STDERR_CHARS:]


def _timed_out(nb: Any, tracker: Tracker) -> dict[str, Any]:
    """What is known of a timed-out cell: its printed text and what its kernel waited on (the watch's
    last look, taken while the kernel was still alive: nbclient shuts it down at a cell timeout)."""
    waits = tracker.waits if tracker.waits_cell == tracker.current else []
    return {"stderr": _cell_streams(nb, tracker.current), "waiting_on": waits}


#: how often the watch looks, and how long before a cell's timeout it starts looking (at the latest half-way)
WATCH_EVERY = 0.25
WATCH_LEAD = 1.0


async def _watch_network(client: Any, tracker: Tracker, cell_timeout: float | None) -> None:
    """Shortly before the current cell's timeout, keep what its kernel waits on over the network."""
    if not cell_timeout:
        return
    start = min(cell_timeout - WATCH_LEAD, cell_timeout * 0.5)
    while True:
        await asyncio.sleep(WATCH_EVERY)
        tracker.look(client, start)


class NotebookTimeout(Exception):
    """The whole notebook ran longer than its timeout."""


async def _execute_within(
    client: NotebookClient, timeout: float | None, tracker: Tracker, cell_timeout: float | None
) -> None:
    """Execute the notebook; past ``timeout`` seconds stop it and raise :class:`NotebookTimeout`.

    (Not ``asyncio.wait_for``: when the cancelled execution fails while cleaning up, for
    instance with a dead kernel, wait_for reports that failure instead of the timeout.)
    Meanwhile :func:`_watch_network` looks at what the kernel waits on before a cell timeout.
    """
    task = asyncio.ensure_future(client.async_execute())
    watch = asyncio.ensure_future(_watch_network(client, tracker, cell_timeout))
    try:
        done, _pending = await asyncio.wait({task}, timeout=timeout)
        if not done:
            tracker.look(client, 0.0)  # the kernel is still alive: what it waits on at the notebook timeout
            await _cancel(task)
            raise NotebookTimeout
    except asyncio.CancelledError:  # the runner is being stopped
        await _cancel(task)
        raise
    finally:
        await _cancel(watch)
    task.result()


async def _cancel(task: asyncio.Future[Any]) -> None:
    task.cancel()
    try:
        await task
    except (Exception, asyncio.CancelledError):
        pass


class Tracker:
    """nbclient hooks: per-cell timings and the cell being executed."""

    def __init__(self, key: str, n_cells: int):
        self.key = key
        self.n_cells = n_cells
        self.current: int | None = None
        self.started: dict[int, float] = {}
        self.cells: dict[int, dict[str, Any]] = {}
        self.process: Any = None
        self.waits: list[dict[str, Any]] = []  # what the kernel waited on over the network at the last look
        self.waits_cell: int | None = None

    def look(self, client: Any, after: float) -> None:
        """Keep what the kernel waits on over the network, once the current cell has run ``after`` seconds."""
        cell = self.current
        if cell is None or cell in self.cells or time.monotonic() - self.started.get(cell, 0.0) < after:
            return
        waits = network_waits(getattr(self.process, "pid", None), _kernel_ports(client))
        if waits or self.waits_cell != cell:  # a look that finds nothing keeps what an earlier one saw
            self.waits, self.waits_cell = waits, cell

    def remember_kernel(self, client: Any) -> None:
        """Keep the kernel's process, to read its exit status after nbclient cleaned up."""
        provisioner = getattr(getattr(client, "km", None), "provisioner", None)
        self.process = getattr(provisioner, "process", None)

    def on_start(self, cell: Any, cell_index: int) -> None:
        self.current = cell_index
        self.started[cell_index] = time.monotonic()
        emit("cell", key=self.key, cell=cell_index, cells=self.n_cells)

    def on_executed(self, cell: Any, cell_index: int, execute_reply: Any) -> None:
        began = self.started.get(cell_index, time.monotonic())
        status = (execute_reply or {}).get("content", {}).get("status", "ok")
        self.cells[cell_index] = {"index": cell_index, "duration": round(time.monotonic() - began, 4), "status": status}

    def timings(self) -> list[dict[str, Any]]:
        out = [self.cells[i] for i in sorted(self.cells)]
        if self.current is not None and self.current not in self.cells:
            began = self.started.get(self.current, time.monotonic())
            out.append({"index": self.current, "duration": round(time.monotonic() - began, 4), "status": "unfinished"})
        return out


class Gates:
    """``run``: notebooks executing at once (``jobs``); ``alive``: kernels alive at once (2 × jobs).

    The next notebooks' kernels start while the current ones execute, so a kernel's
    start-up (about a second) overlaps another notebook's work instead of adding to it.
    """

    def __init__(self, jobs: int):
        self.run = asyncio.Semaphore(jobs)
        self.alive = asyncio.Semaphore(2 * jobs)


async def _start_kernel(client: NotebookClient, tracker: Tracker) -> None:
    client.km = client.create_kernel_manager()
    if TEMPLATE is not None:
        KERNELFORK.use_template(client.km, TEMPLATE)
    await client.async_start_new_kernel()
    await client.async_start_new_kernel_client()
    tracker.remember_kernel(client)


async def run_one(spec: dict[str, Any], job: dict[str, Any], gates: Gates) -> dict[str, Any]:
    key, rel = job["key"], job["path"]
    src = os.path.join(spec["workdir"], rel)
    result: dict[str, Any] = {
        "result_version": RESULT_VERSION,
        "key": key,
        "path": rel,
        "parameters": job.get("parameters") or {},
        "status": "ok",
        "error": None,
        "cells": [],
        "kernel": None,
        "kernel_exit": None,
        "timeout": job.get("timeout"),
        "cell_timeout": job.get("cell_timeout"),
    }
    began = time.monotonic()
    oom_before, pids_before = oom_kills(), pids_max_hits()
    emit("start", key=key, path=rel)
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    try:
        nb = nbformat.read(src, as_version=4)
    except Exception as exc:  # unreadable notebook: a result, not a crash
        result.update(
            status="error",
            error={
                "kind": "unreadable",
                "cell": None,
                "ename": type(exc).__name__,
                "evalue": str(exc),
                "traceback": [],
            },
        )
        return _finish(result, None, began, oom_before, pids_before)
    injected = inject_parameters(nb, job.get("parameters") or {})
    result["injected_cell"] = injected
    kernel = job.get("kernel") or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    result["kernel"] = kernel
    tracker = Tracker(key, len(nb.cells))
    client = NotebookClient(
        nb,
        timeout=_whole_seconds(job.get("cell_timeout")),
        kernel_name=kernel,
        allow_errors=bool(job.get("allow_errors")),
        shutdown_kernel="immediate",
        record_timing=True,
        startup_timeout=job.get("startup_timeout", 60),
        resources={"metadata": {"path": os.path.dirname(src) or spec["workdir"]}},
        on_cell_start=tracker.on_start,
        on_cell_executed=tracker.on_executed,
    )
    try:
        waiting = time.monotonic()
        async with gates.alive:
            result["waited"] = time.monotonic() - waiting
            kernel_started = time.monotonic()
            await _start_kernel(client, tracker)
            result["kernel_startup"] = round(time.monotonic() - kernel_started, 4)
            result["kernel_forked"] = type(tracker.process).__name__ == "ForkedKernel"
            waiting = time.monotonic()
            async with gates.run:
                result["waited"] += time.monotonic() - waiting
                await _execute_within(client, job.get("timeout"), tracker, job.get("cell_timeout"))
    except CellTimeoutError as exc:
        result.update(
            status="timeout",
            error={
                "kind": "cell-timeout",
                "cell": tracker.current,
                "ename": "CellTimeoutError",
                "evalue": f"cell {tracker.current} ran longer than {job.get('cell_timeout')} s",
                "traceback": _short_traceback(str(exc).splitlines()),
                **_timed_out(nb, tracker),
            },
        )
    except NotebookTimeout:
        result.update(
            status="timeout",
            error={
                "kind": "notebook-timeout",
                "cell": tracker.current,
                "ename": "TimeoutError",
                "evalue": f"the notebook ran longer than {job.get('timeout')} s (stopped in cell {tracker.current})",
                "traceback": [],
                **_timed_out(nb, tracker),
            },
        )
    except DeadKernelError as exc:
        result.update(
            status="dead-kernel",
            error={
                "kind": "dead-kernel",
                "cell": tracker.current,
                "ename": "DeadKernelError",
                "evalue": str(exc) or "the kernel died",
                "traceback": [],
            },
        )
    except CellExecutionError as exc:
        found = _failing_cell(nb, tracker.current) or {
            "ename": getattr(exc, "ename", "") or "CellExecutionError",
            "evalue": getattr(exc, "evalue", "") or (str(exc).splitlines() or [""])[-1],
            "traceback": _short_traceback(str(exc).splitlines()),
        }
        result.update(status="error", error={"kind": "cell-error", "cell": tracker.current, **found})
    except asyncio.CancelledError:
        result.update(
            status="interrupted",
            error={
                "kind": "interrupted",
                "cell": tracker.current,
                "ename": "Interrupted",
                "evalue": "the run was stopped",
                "traceback": [],
            },
        )
    except Exception as exc:  # kernel missing, kernel failed to start, …
        name = type(exc).__name__
        kind = "no-kernel" if name == "NoSuchKernel" else "kernel-start" if tracker.current is None else "runner"
        if kind == "no-kernel":
            result["available_kernels"] = _available_kernels()
        result.update(
            status="no-kernel" if kind == "no-kernel" else "error",
            error={
                "kind": kind,
                "cell": tracker.current,
                "ename": name,
                "evalue": str(exc),
                "traceback": _short_traceback(traceback.format_exc().splitlines()),
            },
        )
    finally:
        result["cells"] = tracker.timings()
        await _stop_kernel(client)
        result["kernel_exit"] = _kernel_exit(tracker.process)
    if result["status"] == "ok" and job.get("allow_errors"):
        result["cell_errors"] = [
            i for i, c in enumerate(nb.cells) if any(o.get("output_type") == "error" for o in c.get("outputs", []))
        ]
    return _finish(result, nb, began, oom_before, pids_before)


def _whole_seconds(value: Any) -> int | None:
    """nbclient takes whole seconds; round a fractional timeout up."""
    return int(math.ceil(float(value))) if value else None


def _available_kernels() -> list[str]:
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        return sorted(KernelSpecManager().find_kernel_specs())
    except Exception:
        return []


def _kernel_exit(process: Any) -> int | None:
    """The kernel's exit status (negative: killed by that signal), ``None`` if unknown."""
    if process is None:
        return None
    try:
        return process.poll()
    except Exception:
        return None


async def _stop_kernel(client: NotebookClient) -> None:
    """Shut the kernel down if nbclient has not (public ``KernelManager`` API: sync or async manager)."""
    km = getattr(client, "km", None)
    if km is None:
        return
    try:
        if client.kc is not None:
            client.kc.stop_channels()
    except Exception:
        pass
    try:
        if await _maybe_await(km.is_alive()):
            await _maybe_await(km.shutdown_kernel(now=True))
    except Exception:
        pass


def _utc(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(timespec="milliseconds")


async def _maybe_await(value: Any) -> Any:
    """``value``, awaited when it is awaitable (``AsyncKernelManager`` methods are coroutines)."""
    return await value if inspect.isawaitable(value) else value


def _finish(
    result: dict[str, Any], nb: Any, began: float, oom_before: int | None, pids_before: int | None
) -> dict[str, Any]:
    result["waited"] = round(result.get("waited", 0.0), 4)  # for a free slot: not the notebook's time
    result["duration"] = round(time.monotonic() - began - result["waited"], 4)
    now = time.time()  # wall-clock start and end (ISO UTC) for the provenance crate and the certificate
    result["started"], result["ended"] = _utc(now - result["duration"]), _utc(now)
    after_oom, after_pids = oom_kills(), pids_max_hits()
    result["oom_kills"] = (after_oom - oom_before) if after_oom is not None and oom_before is not None else None
    result["pids_limit_hits"] = (
        (after_pids - pids_before) if after_pids is not None and pids_before is not None else None
    )
    if nb is not None:
        import nbformat

        result["executed"] = True
        send("notebook", result["key"], nbformat.writes(nb).encode("utf-8"))
    send("result", result["key"], json.dumps(result, default=str).encode("utf-8"))
    emit("done", key=result["key"], status=result["status"], duration=result["duration"])
    return result


def send(kind: str, key: str, payload: bytes) -> None:
    if CHANNEL is None:
        raise RuntimeError("the runner's channel is not open")
    CHANNEL.send(kind, key, payload)


# --- kernels forked from a template (kernelfork.py, beside this file) -------------------------

KERNELFORK: Any = None  # the kernelfork module, loaded from beside this file
TEMPLATE: Any = None  # kernelfork.Template of the running batch; None: kernels launched the normal way


def _start_template() -> None:
    """Start the batch's kernel template, unless turned off or kernelfork.py is not beside this file."""
    global KERNELFORK, TEMPLATE
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernelfork.py")
    if not os.path.isfile(path):
        return
    import importlib.util

    try:
        spec = importlib.util.spec_from_file_location("paperpack_kernelfork", path)
        assert spec is not None and spec.loader is not None
        KERNELFORK = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(KERNELFORK)
        if KERNELFORK.enabled():  # PAPERPACK_KERNEL_TEMPLATE=0 turns it off
            TEMPLATE = KERNELFORK.Template()
    except Exception as exc:  # the normal launch still works
        sys.stderr.write(f"paperpack runner: no kernel template ({type(exc).__name__}: {exc})\n")


def _stop_template() -> None:
    global TEMPLATE
    if TEMPLATE is not None:
        TEMPLATE.close()
        TEMPLATE = None


# --- the batch ----------------------------------------------------------------------------


class Stopper:
    """SIGTERM and SIGINT stop the whole batch: every notebook is reported as interrupted, each kernel shut down.

    The handlers are the process's own (``signal.signal``, in the main thread), and the batch's
    event loop runs in another thread. So nbclient, which adds its own handlers to the event
    loop for each notebook and removes them — with ours — after it, cannot add any (asyncio
    refuses signal handlers outside the main thread with RuntimeError, which nbclient expects)
    nor remove ours: a SIGTERM after the first notebook (``docker stop``, a cluster evicting a
    worker) stops the batch like one before it. A handler only sets a flag and, through
    ``call_soon_threadsafe``, cancels the notebooks in the loop's thread.
    """

    def __init__(self) -> None:
        self.stopped = False
        self._lock = threading.RLock()  # re-entrant: a second signal may arrive inside the handler
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: Callable[[], None] | None = None

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.on_signal)

    def on_signal(self, signum: int, frame: Any) -> None:
        with self._lock:
            self.stopped = True
            loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            try:
                loop.call_soon_threadsafe(stop)
            except RuntimeError:  # the loop has closed: the batch is over
                pass

    def attach(self, loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> None:
        """Called in the loop's thread: ``stop()`` runs there on a signal, at once if one came already."""
        with self._lock:
            self._loop, self._stop = loop, stop
            stopped = self.stopped
        if stopped:
            stop()


async def run_batch(spec: dict[str, Any], stopper: Stopper) -> list[dict[str, Any]]:
    """Run the batch's notebooks; ``stopper`` cancels them all."""
    gates = Gates(max(1, int(spec.get("jobs") or 1)))
    tasks = [asyncio.ensure_future(run_one(spec, job, gates)) for job in spec["notebooks"]]

    def stop() -> None:
        for task in tasks:
            task.cancel()

    stopper.attach(asyncio.get_running_loop(), stop)
    done = await asyncio.gather(*tasks, return_exceptions=True)
    return [r for r in done if isinstance(r, dict)]


def run_batch_in_thread(spec: dict[str, Any], stopper: Stopper) -> list[dict[str, Any]]:
    """Run the batch's event loop in its own thread while this (main) thread keeps the signal handlers."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["results"] = asyncio.run(run_batch(spec, stopper))
        except BaseException as exc:  # re-raised in the main thread
            outcome["error"] = exc

    stopper.install()
    thread = threading.Thread(target=work, name="paperpack-batch")
    thread.start()
    thread.join()  # a signal interrupts the wait, runs its handler, and the wait goes on
    if "error" in outcome:
        raise outcome["error"]
    return list(outcome["results"])


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="paperpack's notebook runner (runs inside the image)")
    parser.add_argument("--spec", required=True, help="path of the batch spec (JSON), or - for stdin")
    args = parser.parse_args(argv)
    no_dumps()  # first: nothing of ours is readable by same-user processes from here on
    spec = read_spec(args.spec)
    open_channel(bytes.fromhex(str(spec.get("channel_key") or "")))
    if spec.get("shared_umask"):
        os.umask(0)  # files in the shared working copy stay removable by the host user
    for name, value in (spec.get("env") or {}).items():
        os.environ[name] = str(value)
    signal.signal(signal.SIGTERM, _raise_interrupt)  # until the batch's Stopper takes over
    try:
        prepare_workdir(spec["source"], spec["workdir"], spec.get("links") or [])
        _start_template()
        stopper = Stopper()
        results = run_batch_in_thread(spec, stopper)
    except KeyboardInterrupt:
        emit("interrupted")
        return 130
    finally:
        _stop_template()
    if stopper.stopped:
        emit("interrupted")
        return 130
    emit("batch-done", notebooks=len(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
