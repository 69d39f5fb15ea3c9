#!/usr/bin/env python3
"""Kernels forked from a pre-loaded template: each ipykernel start skips its ~0.5 s of imports.

Used by runner.py and mounted beside it (standard library only at import time; never import
paperpack here). Two halves:

* **The template** (``python kernelfork.py REQ_FD REPLY_FD``, a child of the runner, so it shares
  the runner's confinement): imports ipykernel's modules, starts no thread, zmq context or event
  loop, then serves one JSON line per request on ``REQ_FD``: ``{"argv": [...], "cwd": ..., "env":
  {...}}``. For each it forks a kernel (own session, the requested cwd and environment, then
  ``IPKernelApp.launch_instance``) and answers ``{"pid": N}`` on ``REPLY_FD``; it reaps its kernels
  and reports ``{"exit": N, "status": S}`` (``S`` as ``Popen.returncode``: negative for a signal).
  When the runner goes (``REQ_FD`` closes) it kills the kernels left and exits.
* **The runner's side**: :class:`Template` starts it and forks kernels; :class:`ForkedKernel` is the
  ``Popen``-like handle jupyter_client's ``LocalProvisioner`` drives (poll/wait/signals), and
  :func:`provisioner_class` gives the provisioner that uses the template for the runner's own
  Python ipykernel and launches every other kernel the normal way.

``PAPERPACK_KERNEL_TEMPLATE=0`` turns the template off.
"""

from __future__ import annotations

import importlib
import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
from typing import Any

ENV_SWITCH = "PAPERPACK_KERNEL_TEMPLATE"
#: how long a fork waits for the template's answer (seconds): past it, the kernel starts the normal way
FORK_TIMEOUT = 60.0
KERNEL_MODULE = "ipykernel_launcher"
#: interpreter settings read once at start-up: a kernel asking for other values is launched normally
STARTUP_VARIABLES = (
    "PYTHONHASHSEED",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONSAFEPATH",
    "PYTHONNOUSERSITE",
    "PYTHONUSERBASE",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONOPTIMIZE",
    "PYTHONWARNINGS",
    "PYTHONDEVMODE",
    "PYTHONUTF8",
    "PYTHONIOENCODING",
    "PYTHONEXECUTABLE",
    "PYTHONPLATLIBDIR",
    "PYTHONFAULTHANDLER",
    "PYTHONMALLOC",
    "PYTHONINSPECT",
    "PYTHONVERBOSE",
    "PYTHONUNBUFFERED",
    "PYTHONNODEBUGRANGES",
    "PYTHONINTMAXSTRDIGITS",
    "PYTHONPYCACHEPREFIX",
    "PYTHONBREAKPOINT",
    "PYTHONCOERCECLOCALE",
    "PYTHONLEGACYWINDOWSSTDIO",
    # read by the C library or the dynamic loader when the process starts
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
)

#: what a kernel imports while it initializes, beyond the modules above (none starts a thread)
LATER_IMPORTS = (
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "IPython.utils.wildcard",
    "sqlite3",
    "pdb",
    "faulthandler",
    "resource",
    "psutil",
    "tornado.platform.asyncio",
)


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "no", "false", "off")


# --- the template process -----------------------------------------------------------------


def _serve(req_fd: int, reply_fd: int) -> tuple[dict[str, Any], Any, int] | None:
    """The template's loop: fork kernels on request, report their exits, stop when the runner goes.

    Returns ``None`` in the template, and in each forked child the request it must become the kernel of
    (with the reply file, to close, and the template's pid), having left the loop: the child then ends as a Python process does.
    """
    template = os.getpid()
    children: set[int] = set()
    reply = os.fdopen(reply_fd, "w", buffering=1)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so SIGCHLD writes to the wake-up pipe
    buffered = b""
    try:
        while True:
            ready, _, _ = select.select([req_fd, wake_r], [], [], 1.0)
            if wake_r in ready:
                os.read(wake_r, 512)
            _reap(children, reply)
            if req_fd not in ready:
                continue
            chunk = os.read(req_fd, 65536)
            if not chunk:  # the runner has gone
                return None
            buffered += chunk
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                request: dict[str, Any] = {}
                try:
                    request = json.loads(line)
                    pid = os.fork()
                except (OSError, ValueError) as exc:  # e.g. the process limit: only this kernel fails
                    reply.write(json.dumps({"error": str(exc), "id": request.get("id")}) + "\n")
                    continue
                if pid == 0:
                    signal.set_wakeup_fd(-1)
                    for fd in (req_fd, wake_r, wake_w):
                        os.close(fd)
                    return request, reply, template
                children.add(pid)
                reply.write(json.dumps({"pid": pid, "id": request.get("id")}) + "\n")
    finally:
        for pid in children if os.getpid() == template else ():  # a forked child leaves its siblings alone
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                try:  # not yet its own process group (killed between fork and setsid)
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass


def _reap(children: set[int], reply: Any) -> None:
    for pid in list(children):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            children.discard(pid)
            continue
        if done:
            children.discard(pid)
            reply.write(json.dumps({"exit": pid, "status": os.waitstatus_to_exitcode(status)}) + "\n")


def _die_with(parent: int) -> None:
    """Have the kernel killed when ``parent`` (the template) dies, even if it already has.

    ipykernel's parent poller alone is not enough: it watches ``os.getppid()`` as read when its thread
    starts, so a template killed before that leaves a kernel adopted by init, watching init, forever.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def _become_kernel(request: dict[str, Any], reply: Any, template: int) -> int:
    """In the forked child: undo the template's state, run the kernel; its exit status.

    The child then returns to the interpreter, which ends it as any Python process (non-daemon threads
    joined, ``atexit`` handlers, streams flushed): the template's loop is not on its way.
    """
    code = 1
    try:
        _die_with(template)
        os.setsid()  # its own process group, as jupyter_client's launcher gives a kernel
        for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):  # SIGPIPE stays ignored, as Python sets it
            signal.signal(signum, signal.SIG_DFL if signum != signal.SIGINT else signal.default_int_handler)
        reply.close()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        # the kernel's parent poller watches the template: the kernel goes when the template does
        os.environ["JPY_PARENT_PID"] = str(template)
        import random

        random.seed()  # the template's generator state is shared by every fork: reseed from the OS
        import ipykernel_launcher
        from ipykernel.kernelapp import IPKernelApp

        sys.argv = [ipykernel_launcher.__file__, *request["argv"]]
        # parent_handle: the default was read from JPY_PARENT_PID when the template imported kernelapp
        IPKernelApp.launch_instance(argv=request["argv"], parent_handle=template)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    return code


def template_main(argv: list[str]) -> int:
    req_fd, reply_fd = int(argv[0]), int(argv[1])
    # the runner's Ctrl-C / SIGTERM reach the template too: it outlives the runner's clean-up
    # and goes when the runner does (its request pipe closes)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stderr = os.dup(2)
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 2)  # debugpy warns about frozen modules on import; a kernel started normally does not
    try:
        import ipykernel.debugger  # noqa: F401  (debugpy: a fifth of a kernel's imports)
        import ipykernel.ipkernel  # noqa: F401
        import ipykernel.kernelapp  # noqa: F401
        import ipykernel.zmqshell  # noqa: F401
        import ipykernel_launcher  # noqa: F401

        for name in LATER_IMPORTS:
            try:
                importlib.import_module(name)
            except ImportError:
                pass
    finally:
        os.dup2(stderr, 2)
        os.close(stderr)
        os.close(quiet)
    forked = _serve(req_fd, reply_fd)
    return 0 if forked is None else _become_kernel(*forked)


# --- the runner's side --------------------------------------------------------------------


class ForkedKernel:
    """A kernel forked by the template, with the part of ``subprocess.Popen`` that jupyter_client uses."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, template: Template):
        self.pid = pid
        self.template = template
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.template.status(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.poll() is None:
            if not self.template.wait_for(self.pid, timeout):
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
        status = self.poll()
        assert status is not None
        return status

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Template:
    """The runner's handle on the template process."""

    def __init__(self) -> None:
        req_r, self._req_w = os.pipe()
        reply_r, reply_w = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), str(req_r), str(reply_w)],
            stdin=subprocess.DEVNULL,
            pass_fds=(req_r, reply_w),
        )
        os.close(req_r)
        os.close(reply_w)
        self.forked = 0
        self._lock = threading.Lock()  # one request at a time
        self._changed = threading.Condition()
        self._numbers = itertools.count(1)  # each request carries its number as "id", and its answer the same
        self._answers: dict[int, int | OSError] = {}  # by request number
        self._abandoned: set[int] = set()  # requests no longer waited for (timed out): their kernels are killed
        self._exits: dict[int, int] = {}
        self._gone = False
        self._reader = threading.Thread(
            target=self._read, args=(reply_r,), daemon=True, name="paperpack-kernel-template"
        )
        self._reader.start()

    def _read(self, fd: int) -> None:
        try:
            with os.fdopen(fd, "rb") as fh:
                for line in fh:
                    message = json.loads(line)
                    with self._changed:
                        if "exit" in message:
                            self._exits[message["exit"]] = message["status"]
                        elif message.get("id") in self._abandoned:  # no longer waited for: never another's
                            self._abandoned.discard(message["id"])
                            _kill(message.get("pid"))
                        elif "pid" in message:
                            self._exits.pop(message["pid"], None)  # a reused pid: the old kernel's exit is history
                            self._answers[message.get("id")] = message["pid"]
                        else:
                            self._answers[message.get("id")] = OSError(message.get("error") or "the fork failed")
                        self._changed.notify_all()
        finally:
            with self._changed:
                self._gone = True
                self._changed.notify_all()

    def fork(self, argv: list[str], cwd: str, env: dict[str, str]) -> ForkedKernel:
        """Fork a kernel running ``ipykernel_launcher ARGV`` (blocks a few milliseconds)."""
        with self._lock:
            number = next(self._numbers)
            request = memoryview((json.dumps({"id": number, "argv": argv, "cwd": cwd, "env": env}) + "\n").encode())
            while request:
                request = request[os.write(self._req_w, request) :]
            with self._changed:
                self._changed.wait_for(lambda: number in self._answers or self._gone, timeout=FORK_TIMEOUT)
                answer = self._answers.pop(number, None)
                if answer is None:
                    # a late answer must not go to a later request (another notebook's kernel, polled and killed
                    # in its place): the kernel it names is killed when it comes
                    self._abandoned.add(number)
                    raise OSError(
                        f"the kernel template stopped (exit status {self.process.poll()})"
                        if self._gone
                        else f"the kernel template did not answer within {FORK_TIMEOUT:g} s"
                    )
        if isinstance(answer, OSError):
            raise answer
        self.forked += 1
        return ForkedKernel(answer, self)

    def status(self, pid: int) -> int | None:
        with self._changed:
            return self._exits.get(pid, -signal.SIGKILL if self._gone else None)

    def wait_for(self, pid: int, timeout: float | None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: pid in self._exits or self._gone, timeout)

    @property
    def alive(self) -> bool:
        return not self._gone and self.process.poll() is None

    def close(self) -> None:
        """Stop the template: it kills any kernel still alive, reaps it, and exits."""
        try:
            os.close(self._req_w)
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)


def _kill(pid: Any) -> None:
    if isinstance(pid, int) and pid > 0:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:  # already gone
            pass


def forkable(cmd: list[str], env: dict[str, str]) -> bool:
    """Whether ``cmd`` starts the ipykernel of this very Python with the template's start-up settings."""
    if len(cmd) < 3 or cmd[1:3] != ["-m", KERNEL_MODULE]:
        return False
    if not _same_python(shutil.which(cmd[0], path=env.get("PATH")) if os.sep not in cmd[0] else cmd[0]):
        return False
    return all(env.get(name) == os.environ.get(name) for name in STARTUP_VARIABLES)


def use_template(km: Any, template: Template) -> None:
    """Give the kernel manager ``km`` the provisioner that forks its kernel from ``template`` if it can.

    Kernelspecs naming their own provisioner keep it; the provisioner launches any kernel that is not
    this Python's ipykernel the normal way.
    """
    try:
        kernel_spec = km.kernel_spec
    except Exception:  # no such kernel: starting it reports that
        return
    if kernel_spec is None or "kernel_provisioner" in (kernel_spec.metadata or {}):
        return
    import uuid

    km.kernel_id = km.kernel_id or str(uuid.uuid4())
    km.provisioner = provisioner_class()(kernel_id=km.kernel_id, kernel_spec=kernel_spec, parent=km)
    km.provisioner.template = template


_PROVISIONER: type | None = None


def _same_python(found: str | None) -> bool:
    """The same interpreter: the same file in the same folder (``python`` beside ``python3`` is; a
    virtual environment's ``python``, a link to the base Python elsewhere, is not)."""
    if not found:
        return False
    try:
        return os.path.dirname(os.path.abspath(found)) == os.path.dirname(
            os.path.abspath(sys.executable)
        ) and os.path.samefile(found, sys.executable)
    except OSError:
        return False


def _kill_forked(forking: Any) -> None:
    if not forking.cancelled() and forking.exception() is None:
        forking.result().kill()


def provisioner_class() -> type:
    """jupyter_client's ``LocalProvisioner``, launching forkable kernels from a :class:`Template`."""
    global _PROVISIONER
    if _PROVISIONER is not None:
        return _PROVISIONER
    from jupyter_client.provisioning import LocalProvisioner

    class TemplateProvisioner(LocalProvisioner):
        template: Template | None = None  # set on the instance by the runner

        async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
            env = dict(kwargs.get("env") or os.environ)
            template = self.template
            if template is None or not template.alive or not forkable(cmd, env):
                return await super().launch_kernel(cmd, **kwargs)
            cwd = str(kwargs.get("cwd") or os.getcwd())
            import asyncio

            forking = asyncio.ensure_future(asyncio.to_thread(template.fork, cmd[3:], cwd, env))
            try:
                process = await asyncio.shield(forking)
            except asyncio.CancelledError:  # the fork goes on in its thread: kill what it gives
                forking.add_done_callback(_kill_forked)
                raise
            except OSError:  # the template could not fork (a process limit) or is gone: the normal launch
                return await super().launch_kernel(cmd, **kwargs)
            self.process = process  # type: ignore[assignment]  # a Popen for everything the provisioner does
            self.pid = self.pgid = process.pid
            self.cwd = cwd
            return self.connection_info

    _PROVISIONER = TemplateProvisioner
    return TemplateProvisioner


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        del sys.path[0]  # not this script's folder: the kernels must not see it
    sys.exit(template_main(sys.argv[1:]))
