"""A fork server per worker process: paperpack's stages imported once, each pipeline forked from it.

A submission's pipeline is a process of its own (isolation; a time limit stops all of it), and a
fresh Python process pays ~1 s of CPU importing paperpack's stages, nbformat, jsonschema, jinja2 …
before its first line of work. The worker starts one *fork server* (:func:`server`, a plain child process: a Dask nanny's worker is daemonic and may not
use multiprocessing's children, but may start processes), which imports those modules and then
only forks: each pipeline is ``os.fork()`` of a process that never ran a submission, has no thread
and holds nothing of any submission, so one submission never sees another's state.

Lifetimes, so that nothing keeps running when a worker dies:

- the server dies with its worker: it exits when its control socket reaches end-of-file, which the
  kernel gives it when the worker process ends, however it ends (the worker holds the only other end:
  the socket is not inherited by anything the worker starts, and each pipeline closes its copy);
- each pipeline dies with the server: its own ``PR_SET_PDEATHSIG`` (SIGTERM: it stops its runs and
  records ``interrupted``, as when the worker started it directly), checked against a race by
  :func:`paperpack.batch.pipeline.serve`; it is a session leader, so stopping it kills its process group.

The worker talks to the server over a ``SOCK_SEQPACKET`` socket pair: one message per pipeline,
the request (JSON) with three descriptors (the output log, the pipe told when verification starts,
the reply socket). On the reply socket the server sends the pipeline's pid, then its exit status.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import select
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ForkServer", "Forked", "PRELOAD", "Zygote", "ZYGOTE_ENV", "server", "zygote", "enabled", "spawn", "warm"]

log = logging.getLogger(__name__)

#: what a pipeline imports, done once in the server (the stages verify() imports when it reaches them)
PRELOAD = (
    "paperpack.batch.pipeline",
    "paperpack.batch.fetch",
    "paperpack.verify",
    "paperpack.validate",
    "paperpack.checks",
    "paperpack.image",
    "paperpack.image.builder",
    "paperpack.image.readiness",
    "paperpack.run.api",
    "paperpack.run.engines",
    "paperpack.run.results",
    "paperpack.run.plan",
    "paperpack.report.publish",
    "paperpack.data",
    "paperpack.image._r2d",
    "paperpack.run.local",
    "paperpack.run.runner",
    "paperpack.run.venv",
    "paperpack.notebook.pysource",
    "nbformat",
    "nbclient",
    "jupyter_client",
    "jsonschema",
    "jinja2",
    "requests",
)
#: set to 0 to start every pipeline as a fresh process (``python -m paperpack.batch``) instead
ENV_SWITCH = "PAPERPACK_BATCH_FORK"
#: bytes of one request message (a submission and the batch's settings, as JSON)
MAX_REQUEST = 1 << 20
#: the server's command (``-c``, not ``-m``: paperpack.batch imports this module before runpy would run it)
SERVE = "import sys; from paperpack.batch.forkserver import server; sys.exit(server())"
#: the zygote's command (:func:`zygote`)
ZYGOTE = "import sys; from paperpack.batch.forkserver import zygote; sys.exit(zygote())"
#: set in a local cluster's workers: the batch's zygote socket, from which a worker's server is forked
ZYGOTE_ENV = "PAPERPACK_BATCH_ZYGOTE"
#: seconds a worker waits for the zygote to fork its server (it may still be importing) before starting its own
ZYGOTE_TIMEOUT = 120.0
#: seconds a batch waits, as it ends, for its zygote to finish starting (its imports and the machine's probe)
CLOSE_TIMEOUT = 60.0


def enabled() -> bool:
    """Whether pipelines are forked from a server here: Linux (``PR_SET_PDEATHSIG``, pidfds), not switched off,
    and this worker's server could fork (else its tasks start fresh processes, saying so once)."""
    return (
        sys.platform.startswith("linux")
        and hasattr(os, "pidfd_open")
        and hasattr(socket, "send_fds")
        and os.environ.get(ENV_SWITCH, "1") != "0"
        and not _SERVER.broken
    )


def _threads() -> int:
    """Threads of this process (the kernel's count: also those started by C libraries)."""
    return len(os.listdir("/proc/self/task"))


# --- the server -------------------------------------------------------------------------------------------------


@dataclass
class _Child:
    pid: int
    pidfd: int
    reply: socket.socket


@dataclass
class _Server:
    control: socket.socket
    selector: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)
    children: dict[int, _Child] = field(default_factory=dict)  # by pidfd

    def run(self) -> int:
        self.selector.register(self.control, selectors.EVENT_READ)
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.control:
                    if not self._accept():
                        return 0  # the worker is gone (end of file): the pipelines get SIGTERM as this exits
                else:
                    self._reap(self.children.pop(int(key.fd)))

    def _accept(self) -> bool:
        try:
            message, fds, _, _ = socket.recv_fds(self.control, MAX_REQUEST, 3)
        except ConnectionError:
            return False
        if not message:
            return False
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            return True
        sink, announce, reply_fd = fds
        reply = socket.socket(fileno=reply_fd)
        try:
            self._fork(json.loads(message), sink, announce, reply)
        finally:
            os.close(sink)
            os.close(announce)
        return True

    def _fork(self, request: dict[str, Any], sink: int, announce: int, reply: socket.socket) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        server = os.getpid()
        pid = os.fork()
        if pid == 0:
            self._child(request, sink, announce, server, reply)  # never returns
        pidfd = os.pidfd_open(pid)
        self.children[pidfd] = _Child(pid, pidfd, reply)
        self.selector.register(pidfd, selectors.EVENT_READ)
        try:
            reply.send(json.dumps({"pid": pid}).encode())
        except OSError:
            pass  # the task is gone: its pipeline dies with the worker, or finishes and is reaped

    def _child(self, request: dict[str, Any], sink: int, announce: int, server: int, reply: socket.socket) -> None:
        code: Any = 1
        try:
            # nothing of the server's or of another pipeline's: the control socket, the other replies and pidfds
            self.selector.close()
            self.control.close()
            for child in self.children.values():
                child.reply.close()
                os.close(child.pidfd)
            reply.close()  # the worker sees end-of-file on it when the server dies, not when this does
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(sink, 1)
            os.dup2(sink, 2)
            os.close(devnull)
            os.close(sink)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            from .pipeline import serve

            # serve() asks for SIGTERM when the server dies, and stops at once if it already has
            code = serve({**request, "started_fd": announce, "die_with": server})
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 -- the worker records a crash with this output's tail
            traceback.print_exc()
            code = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)

    def _reap(self, child: _Child) -> None:
        self.selector.unregister(child.pidfd)
        os.close(child.pidfd)
        _, status = os.waitpid(child.pid, 0)
        try:
            child.reply.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
        except OSError:
            pass
        child.reply.close()


def _warm_caches() -> None:
    """Work out once, before any fork, what every pipeline would otherwise work out again after its own: answers
    about this machine, never about a submission.

    - the local engine's confinement probe (:func:`paperpack.run.sandbox.probe`: two short processes tried,
      ~0.13 s of a pipeline's wall time while it holds its verification slot, measured at load ~7 on 2 cores).
    """
    try:
        from ..run.sandbox import probe

        probe()  # a subprocess each, waited for without a thread: the server stays single-threaded
    except Exception as exc:  # noqa: BLE001 -- each pipeline then probes for itself, as without the server
        sys.stderr.write(f"paperpack fork server: the local engine's probe failed here ({exc}); each pipeline probes\n")


def _preloaded() -> bool:
    """Import :data:`PRELOAD` and warm the caches; whether this process may fork (one thread), saying why not."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the batch's to handle
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    _warm_caches()
    if _threads() != 1:  # a fork copies one thread: a lock another held would stay locked in every pipeline
        sys.stderr.write(
            f"paperpack fork server: {_threads()} threads after importing {', '.join(PRELOAD)} (a module started "
            "one); forking from it is unsafe, so this worker starts each pipeline as a fresh process (~1 s more "
            f"each). Set {ENV_SWITCH}=0 to do so without trying, and report it to paperpack's developers\n"
        )
        return False
    return True


def server(argv: list[str] | None = None) -> int:
    """The server's process (:data:`SERVE` ``FD``): serve forks on the socket ``FD``."""
    fd = int((sys.argv[1:] if argv is None else argv)[0])
    if not _preloaded():
        return 3
    return _Server(socket.socket(fileno=fd)).run()


# --- the zygote: one pre-loaded process per batch, from which each local worker's server is forked ------------


def zygote(argv: list[str] | None = None) -> int:
    """The zygote's process (:data:`ZYGOTE` ``LISTEN_FD CONTROL_FD FOLDER``): import :data:`PRELOAD` once, then
    fork one server per worker that asks on the listening socket; at end-of-file on ``CONTROL_FD`` (the batch has
    ended, however it ended) remove ``FOLDER`` (the socket's) and exit."""
    args = sys.argv[1:] if argv is None else argv
    listener, control_fd, folder = socket.socket(fileno=int(args[0])), int(args[1]), args[2]
    try:
        return _zygote(listener, control_fd)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _zygote(listener: socket.socket, control_fd: int) -> int:
    if not _preloaded():
        return 3  # the workers' requests are refused with the listening socket closed: each starts its own server
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(control_fd, selectors.EVENT_READ)
    children: dict[int, int] = {}  # pid by pidfd, to reap each server when it ends
    while True:
        for key, _ in selector.select():
            if key.fd == control_fd:
                if not os.read(control_fd, 1):
                    return 0  # the batch has ended: the servers forked already live on with their workers
            elif key.fileobj is listener:
                _fork_server(listener, selector, control_fd, children)
            else:
                selector.unregister(key.fd)
                os.waitpid(children.pop(key.fd), 0)
                os.close(key.fd)


def _fork_server(
    listener: socket.socket, selector: selectors.BaseSelector, control_fd: int, children: dict[int, int]
) -> None:
    """Accept one worker's request (its end of a fresh socket pair, as a descriptor) and fork its server."""
    try:
        conn, _ = listener.accept()
    except OSError:
        return
    with conn:
        conn.settimeout(10)  # a worker sends its request at once: one that does not never holds up the others
        uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[1]
        try:
            _, fds, _, _ = socket.recv_fds(conn, 64, 1)
        except OSError:
            return
        if uid != os.getuid() or len(fds) != 1:  # only this user's processes (the folder is private too)
            for fd in fds:
                os.close(fd)
            return
        (fd,) = fds
        pid = os.fork()
        if pid == 0:  # the worker's server: nothing of the zygote's, nor of another worker's
            code = 1
            try:
                for pidfd in children:
                    os.close(pidfd)
                selector.close()
                listener.close()
                conn.close()
                os.close(control_fd)
                os.setsid()
                code = _Server(socket.socket(fileno=fd)).run()
            finally:
                os._exit(code)
        os.close(fd)  # the worker holds the only other end: the server sees end-of-file when the worker ends
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:  # ended already (reaped below by a blocking wait)
            os.waitpid(pid, 0)
        else:
            children[pidfd] = pid
            selector.register(pidfd, selectors.EVENT_READ)
        try:
            conn.sendall(json.dumps({"pid": pid, "zygote": os.getpid()}).encode())
        except OSError:
            pass


class Zygote:
    """The batch's zygote (the local cluster's): started before the cluster, so that the imports its workers'
    servers need are done once, while the cluster starts, and each worker's server is a fork of it, ready at once.

    :meth:`env` is what the workers need to find it (:data:`ZYGOTE_ENV`: a socket in a private folder).
    """

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="paperpack-batch-")  # 0700: only this user reaches the socket
        self.address = os.path.join(self.folder, "zygote")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        control_r, self._control = os.pipe()
        try:
            listener.bind(self.address)
            listener.listen(64)
            self.process = subprocess.Popen(
                [sys.executable, "-c", ZYGOTE, str(listener.fileno()), str(control_r), self.folder],
                stdin=subprocess.DEVNULL,
                pass_fds=(listener.fileno(), control_r),
                start_new_session=True,
            )
        except BaseException:
            os.close(self._control)
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        finally:
            listener.close()
            os.close(control_r)

    def env(self) -> dict[str, str]:
        return {ZYGOTE_ENV: self.address}

    def close(self) -> None:
        """Stop it (end-of-file on its control pipe); the servers it forked end with their workers."""
        try:
            os.close(self._control)
        except OSError:
            pass
        try:
            # at once when idle; still starting (the batch had nothing to run) it ends when its imports and probe are
            # done: a kill then would leave the probe's folder and cgroup behind (a few seconds, bounded)
            self.process.wait(timeout=CLOSE_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_zygote() -> Zygote | None:
    """The batch's zygote, if pipelines are forked here (see :func:`enabled`); None if it cannot start."""
    if not enabled():
        return None
    try:
        return Zygote()
    except OSError as exc:
        log.info("no fork-server zygote (%s): each worker starts its own server", exc)
        return None


# --- the worker's side ------------------------------------------------------------------------------------------


def _pidfd_pid(pidfd: int) -> int | None:
    """The pid a pidfd refers to (``Pid:`` in its fdinfo), None once it has ended."""
    for line in open(f"/proc/self/fdinfo/{pidfd}", encoding="ascii"):
        if line.startswith("Pid:"):
            pid = int(line.split()[1])
            return pid if pid > 0 else None
    return None


def _ended(pidfd: int) -> bool:
    """Whether the process of ``pidfd`` has ended (a pidfd is readable then)."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))


class Forked:
    """A pipeline forked by the server: what :mod:`paperpack.batch.task` needs of a ``subprocess.Popen``.

    Thread-safe (the task waits for it while its watcher may stop it): one thread of its own reads the
    exit status from the reply socket; the pipeline is signalled through a pidfd, never a recycled pid.
    """

    def __init__(self, reply: socket.socket) -> None:
        self._reply = reply
        self.returncode: int | None = None
        self._ended = threading.Event()
        self._lock = threading.Lock()
        message = reply.recv(4096)
        if not message:
            raise OSError("the fork server stopped before it started the pipeline")
        self.pid: int = int(json.loads(message)["pid"])
        try:
            self._pidfd: int | None = os.pidfd_open(self.pid)
        except ProcessLookupError:  # it ended already: its exit status follows
            self._pidfd = None
        threading.Thread(target=self._read_exit, daemon=True, name=f"paperpack-batch-pipeline-{self.pid}").start()

    def _read_exit(self) -> None:
        try:
            message = self._reply.recv(4096)
        except OSError:
            message = b""
        if message:
            code = int(json.loads(message)["exit"])
        else:  # the server died: the pipeline got SIGTERM (PR_SET_PDEATHSIG); wait until it is gone
            if self._pidfd is not None:
                with selectors.DefaultSelector() as gone:
                    gone.register(self._pidfd, selectors.EVENT_READ)
                    gone.select()
            code = -signal.SIGKILL
        self._reply.close()
        with self._lock:
            self.returncode = code
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
        self._ended.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired("paperpack pipeline", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        with self._lock:
            if self._pidfd is None:  # ended (or ended before we could hold it)
                return
            try:
                signal.pidfd_send_signal(self._pidfd, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """SIGKILL to the pipeline's process group (it leads its own session), then to it."""
        with self._lock:
            if self._pidfd is not None and not _ended(self._pidfd):  # alive: the group is still this pipeline's
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """This worker process's fork server, started as the worker starts (:meth:`warm`, from the worker preload
    :mod:`paperpack.batch.preload`) or on first use, and again if it died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._control: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None  # a server of this worker's own
        self._pidfd: int | None = None  # a server forked by the batch's zygote
        self._pending: socket.socket | None = None  # the zygote's answer, not yet read
        self.zygote: int | None = None  # the pid of the zygote that forked the running server
        self.broken = False  # a server that could not fork (threads after its imports): fresh processes instead

    def _start(self) -> socket.socket:
        """A new server: forked from the batch's zygote when there is one (a local cluster's worker), else a fresh
        process of its own. Returns the control socket (the zygote's answer is awaited on first use)."""
        self._proc, self.zygote = None, None
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        address = os.environ.get(ZYGOTE_ENV)
        if address:
            try:
                return self._from_zygote(address)
            except OSError as exc:
                log.info("the batch's fork-server zygote did not answer (%s): starting a server of this worker's", exc)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", SERVE, str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return ours

    def _from_zygote(self, address: str) -> socket.socket:
        """Ask the zygote at ``address`` to fork this worker's server, holding the other end of its control socket.

        Does not wait for the fork (the zygote may still be importing): :meth:`_settle` does, on first use."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.settimeout(ZYGOTE_TIMEOUT)
            conn.connect(address)
            socket.send_fds(conn, [b"server"], [theirs.fileno()])
        except BaseException:
            conn.close()
            ours.close()
            raise
        finally:
            theirs.close()
        self._pending = conn
        return ours

    def _settle(self) -> None:
        """Wait for the zygote's answer: the server's pid, watched through a pidfd. Under the lock."""
        conn, self._pending = self._pending, None
        if conn is None:
            return
        with conn:
            reply = conn.recv(4096)
        if not reply:
            raise OSError("the batch's fork-server zygote stopped before it forked this worker's server")
        answer = json.loads(reply)
        self._pidfd = os.pidfd_open(int(answer["pid"]))
        self.zygote = int(answer["zygote"])

    def _alive(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return self._pidfd is not None and not _ended(self._pidfd)

    def _running(self) -> socket.socket:
        """The control socket of a running server: started now if there is none (or it died). Under the lock."""
        if self._control is not None and self._pending is not None:
            try:
                self._settle()
            except OSError as exc:
                log.info("no fork server from the batch's zygote (%s): starting a server of this worker's", exc)
                os.environ.pop(ZYGOTE_ENV, None)  # not asked again: this worker starts its own from now on
        if self._control is None or not self._alive():
            if self._control is not None:  # it died: the next one starts afresh
                self._control.close()
            self._control = self._start()
        return self._control

    @property
    def pid(self) -> int | None:
        """The running server's pid (None: none runs)."""
        with self._lock:
            if self._control is None:
                return None
            try:
                self._settle()
            except OSError:
                return None
            if self._proc is not None:
                return self._proc.pid if self._proc.poll() is None else None
            return _pidfd_pid(self._pidfd) if self._pidfd is not None else None

    def warm(self) -> bool:
        """Start the server now, before any task (its imports overlap the worker's start-up); whether it runs.

        Never raises: a server that cannot start is started again, or replaced by fresh processes, by the
        first task (:meth:`spawn`), which says why."""
        if not enabled():
            return False
        with self._lock:
            try:
                self._running()
            except OSError as exc:
                log.info("the fork server did not start with the worker (%s): the first task tries again", exc)
                return False
        return True

    def spawn(self, request: dict[str, Any], sink: int, announce: int) -> Forked:
        """Fork a pipeline for ``request``; its output to ``sink``, ``announce`` the pipe it writes when verifying.

        Raises OSError when the server cannot start it: the task then starts this one as a fresh process."""
        with self._lock:
            control = self._running()
            if self.zygote is not None:
                request = {**request, "zygote": self.zygote}
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            socket.send_fds(control, [json.dumps(request).encode()], [sink, announce, theirs.fileno()])
        except OSError:  # it died since it was looked at: the next task starts a new one
            ours.close()
            with self._lock:
                if self._control is control:
                    control.close()
                    self._control = None
            raise
        finally:
            theirs.close()
        try:
            return Forked(ours)
        except OSError:
            ours.close()
            self.broken = True
            raise


_SERVER = ForkServer()


def spawn(request: dict[str, Any], sink: int, announce: int) -> Forked:
    """Fork a pipeline from this worker process's fork server (see :class:`ForkServer`)."""
    return _SERVER.spawn(request, sink, announce)


def warm() -> bool:
    """Start this worker process's fork server now, if pipelines are forked here (see :meth:`ForkServer.warm`)."""
    return _SERVER.warm()
