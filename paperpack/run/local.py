"""The local engine: the same runner, in a virtual environment built from the repo's requirements.

Less isolated than a container — notebook code runs as you, on your files. What this
machine allows is applied to the runner and every kernel it starts
(:mod:`paperpack.run.sandbox`): the run's memory, CPU and process limits (the same
resolved :class:`~paperpack.run.plan.Limits` the container engine takes), an open-files
limit, no network where a network namespace can be made, and — where a user namespace
can be made — paperpack's caches that other papers reuse (the cached environments, the
data cache) read-only and the Docker daemon's socket out of reach (:func:`protected_paths`).
:attr:`LocalEngine.isolation`
says exactly what was applied and what was not, and ends with a warning when the Python
version differs from the one runtime.txt asks for.
The kernels get a minimal environment (:func:`~paperpack.run.venv.minimal_env`): no
tokens or passwords of the caller.

The virtual environment is built and cached by :mod:`paperpack.run.venv`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..util.cache import cache_dir
from .channel import Delivery
from .engines import RUNNER, Batch, Engine, Session
from .mounts import data_links
from .sandbox import Confinement, probe
from .venv import READY_MARKER, Interpreter, choose_python, ensure_venv, minimal_env, requirements_file, venv_dir

__all__ = ["LocalEngine", "LOCAL_LABEL", "requirements_file", "venv_dir", "ensure_venv"]

log = logging.getLogger(__name__)

#: the label before a run knows its limits (the engine's ``isolation`` once prepared says what was applied)
LOCAL_LABEL = "local engine: less isolated than a container — notebook code runs as you, on your files"


class LocalEngine(Engine):
    name = "local"

    def __init__(self) -> None:
        super().__init__()
        self.venv: Path | None = None
        self.python: Interpreter | None = None
        self.isolation = LOCAL_LABEL
        #: used in place of the repository's requirements.txt (the time machine's dated pins)
        self.requirements: str | None = None

    def available(self) -> tuple[bool, str]:
        return True, sys.executable

    def prepare(self, session: Session) -> None:
        self.python = choose_python(session.repo.root, session.repo.environment)
        self.isolation = self._confinement(session, session.limits.timeout or 0).label()
        if self.python.mismatch:
            self.isolation += f"; {self.python.mismatch}"
        log.warning(self.isolation)
        self.venv = ensure_venv(
            session.repo.root, self.python, session.repo.environment, self.requirements, cache=session.cache_dir
        )

    def _confinement(
        self, session: Session, longest: float, slot: int = 0, writable: Sequence[Path] = ()
    ) -> Confinement:
        readonly = (
            protected_paths(
                self.venv,
                [source for source, _ in session.data],
                [session.work_dir.parent, *writable],
                cache=session.cache_dir,
            )
            if self.venv
            else []
        )
        return Confinement(session.limits, longest, probe(), slot=slot, readonly=readonly)

    def run_batch(self, session: Session, batch: Batch) -> dict[str, Any]:
        if self.venv is None or not (self.venv / READY_MARKER).is_file():  # e.g. on another machine
            self.venv = ensure_venv(
                session.repo.root, self.python, session.repo.environment, self.requirements, cache=session.cache_dir
            )
        home = session.work_dir.parent
        env_overrides = {
            "IPYTHONDIR": str(home / "ipython"),  # no personal IPython start-up files
            "JUPYTER_DATA_DIR": str(self.venv / "share" / "jupyter"),  # no personal kernelspecs
            "JUPYTER_CONFIG_DIR": str(self.venv / "etc" / "jupyter"),
            "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),  # connection files: not in the read-only venv
        }
        spec = self.write_spec(
            batch,
            session,
            source=str(session.repo.root),
            workdir=str(session.work_dir),
            links=data_links(session.data),
            env=env_overrides,
        )
        env = minimal_env()  # notebook code sees no tokens or passwords from the caller's environment
        env.update(env_overrides)
        env["VIRTUAL_ENV"] = str(self.venv)
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        python = str(self.venv / "bin" / "python")
        longest = max((nb.timeout for nb in batch.notebooks), default=session.limits.timeout or 0)
        with self._confinement(session, longest, batch.number) as confined:
            streamed = self.stream(
                confined.command(python, [python, str(RUNNER), "--spec", "-"]), session, batch, spec=spec, env=env
            )
            hits = confined.pids_hits()
        if hits:
            _note_pids_hits(streamed.deliveries, hits)
        return {
            "exit_code": streamed.code,
            "oom_killed": False,
            "output": streamed.output,
            "pids_limit_hits": hits,
            "deliveries": streamed.deliveries,
        }


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def protected_paths(
    venv: Path, data: Sequence[Path], writable: Sequence[Path], *, cache: Path | None = None
) -> list[Path]:
    """What notebook code must not change: paperpack's cache ``cache`` (default
    :func:`~paperpack.util.cache.cache_dir`: every cached environment, the data cache), ``venv``,
    and the data cache(s) ``data`` (fetched files) come from.

    A data file's cache is its store's root (``<root>/sha256/<hex>``, ``<root>/extracted/<hex>``),
    so the blobs of other papers are covered too. A folder holding one of ``writable`` (the
    run's own scratch and output folders) is left out — the files under it that matter (the
    environment, each data file) are then protected one by one.
    """
    real = [Path(os.path.realpath(p)) for p in writable]

    def allowed(path: Path) -> bool:
        return not any(_inside(w, path) for w in real)

    wanted: list[Path] = []
    for path in (cache_dir(cache), venv):
        wanted.append(Path(os.path.realpath(path)))
    for source in data:
        source = Path(os.path.realpath(source))
        store = source.parent.parent if source.parent.name in ("sha256", "extracted") else source
        wanted.append(store if allowed(store) else source)
    chosen: list[Path] = []
    for path in wanted:
        if allowed(path) and not any(_inside(path, c) for c in chosen):
            chosen = [c for c in chosen if not _inside(c, path)] + [path]
    return chosen


def _note_pids_hits(deliveries: dict[str, Delivery], hits: int) -> None:
    """Tell the notebooks that failed that the batch's process limit refused forks (the runner sees no cgroup).

    The cgroup counts for the whole batch, so every notebook of it that did not succeed gets it.
    """
    for delivery in deliveries.values():
        result = delivery.result
        if result is not None and result.get("status") != "ok" and not result.get("pids_limit_hits"):
            result["pids_limit_hits"] = hits
