"""The local engine: the same runner, in a virtual environment built from the repo's requirements.

Less isolated than a container — notebook code runs as you, with your network and no
memory or process limits; only the timeouts apply. Every result says so. The kernels get
a minimal environment (:func:`~paperpack.run.venv.minimal_env`): no tokens or passwords
of the caller.

The virtual environment is built and cached by :mod:`paperpack.run.venv`.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from .engines import RUNNER, Batch, Engine, Session
from .mounts import data_links
from .venv import READY_MARKER, ensure_venv, minimal_env, requirements_file, venv_dir

__all__ = ["LocalEngine", "LOCAL_LABEL", "requirements_file", "venv_dir", "ensure_venv"]

log = logging.getLogger(__name__)

LOCAL_LABEL = "local engine: less isolated — notebook code runs as you, with your network"


class LocalEngine(Engine):
    name = "local"
    isolation = LOCAL_LABEL

    def __init__(self) -> None:
        super().__init__()
        self.venv: Path | None = None

    def available(self) -> tuple[bool, str]:
        return True, sys.executable

    def prepare(self, session: Session) -> None:
        log.warning(LOCAL_LABEL)
        self.venv = ensure_venv(session.repo.root)

    def run_batch(self, session: Session, batch: Batch) -> dict[str, Any]:
        if self.venv is None or not (self.venv / READY_MARKER).is_file():  # e.g. on another machine
            self.venv = ensure_venv(session.repo.root)
        home = session.work_dir.parent
        env_overrides = {
            "IPYTHONDIR": str(home / "ipython"),  # no personal IPython start-up files
            "JUPYTER_DATA_DIR": str(self.venv / "share" / "jupyter"),  # no personal kernelspecs
            "JUPYTER_CONFIG_DIR": str(self.venv / "etc" / "jupyter"),
            "MPLBACKEND": "agg",
        }
        spec = self.write_spec(batch, session, source=str(session.repo.root), workdir=str(session.work_dir),
                               outdir=str(batch.out_dir), links=data_links(session.data), env=env_overrides)
        env = minimal_env()  # notebook code sees no tokens or passwords from the caller's environment
        env.update(env_overrides)
        env["VIRTUAL_ENV"] = str(self.venv)
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        code, tail = self.stream([str(self.venv / "bin" / "python"), str(RUNNER), "--spec", str(spec)],
                                 session, env=env)
        return {"exit_code": code, "oom_killed": False, "output": tail}
