"""The local engine: the same runner, in a virtual environment built from the repo's requirements.

Less isolated than a container — notebook code runs as you, on your files. What this
machine allows is applied to the runner and every kernel it starts
(:mod:`paperpack.run.sandbox`): the run's memory, CPU and process limits (the same
resolved :class:`~paperpack.run.plan.Limits` the container engine takes), an open-files
limit, and no network where a network namespace can be made. :attr:`LocalEngine.isolation`
says exactly what was applied and what was not, and ends with a warning when the Python
version differs from the one runtime.txt asks for.
The kernels get a minimal environment (:func:`~paperpack.run.venv.minimal_env`): no
tokens or passwords of the caller.

The virtual environment is built and cached by :mod:`paperpack.run.venv`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

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

    def available(self) -> tuple[bool, str]:
        return True, sys.executable

    def prepare(self, session: Session) -> None:
        self.python = choose_python(session.repo.root)
        self.isolation = self._confinement(session, session.limits.timeout or 0).label()
        if self.python.mismatch:
            self.isolation += f"; {self.python.mismatch}"
        log.warning(self.isolation)
        self.venv = ensure_venv(session.repo.root, self.python)

    def _confinement(self, session: Session, longest: float, slot: int = 0) -> Confinement:
        return Confinement(session.limits, longest, probe(), slot=slot)

    def run_batch(self, session: Session, batch: Batch) -> dict[str, Any]:
        if self.venv is None or not (self.venv / READY_MARKER).is_file():  # e.g. on another machine
            self.venv = ensure_venv(session.repo.root, self.python)
        home = session.work_dir.parent
        env_overrides = {
            "IPYTHONDIR": str(home / "ipython"),  # no personal IPython start-up files
            "JUPYTER_DATA_DIR": str(self.venv / "share" / "jupyter"),  # no personal kernelspecs
            "JUPYTER_CONFIG_DIR": str(self.venv / "etc" / "jupyter"),
        }
        spec = self.write_spec(batch, session, source=str(session.repo.root), workdir=str(session.work_dir),
                               outdir=str(batch.out_dir), links=data_links(session.data), env=env_overrides)
        env = minimal_env()  # notebook code sees no tokens or passwords from the caller's environment
        env.update(env_overrides)
        env["VIRTUAL_ENV"] = str(self.venv)
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        python = str(self.venv / "bin" / "python")
        longest = max((nb.timeout for nb in batch.notebooks), default=session.limits.timeout or 0)
        with self._confinement(session, longest, batch.number) as confined:
            code, tail = self.stream(confined.command(python, [python, str(RUNNER), "--spec", str(spec)]),
                                     session, env=env)
            hits = confined.pids_hits()
        if hits:
            _note_pids_hits(batch, hits)
        return {"exit_code": code, "oom_killed": False, "output": tail, "pids_limit_hits": hits}


def _note_pids_hits(batch: Batch, hits: int) -> None:
    """Tell the notebooks that failed that the batch's process limit refused forks (the runner sees no cgroup).

    The cgroup counts for the whole batch, so every notebook of it that did not succeed gets it.
    """
    for nb in batch.notebooks:
        path = batch.out_dir / f"{batch.keys[nb.path]}.result.json"
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if result.get("status") != "ok" and not result.get("pids_limit_hits"):
            result["pids_limit_hits"] = hits
            path.write_text(json.dumps(result), encoding="utf-8")
