"""The local engine: the same runner, in a virtual environment built from the repo's requirements.

Less isolated than a container — notebook code runs as you, with your network and no
memory or process limits; only the timeouts apply. Every result says so.

The environment is cached under ``<paperpack cache>/venvs/<hash>``, the hash covering
the requirements file, the Python version and the runner's own packages, so an
unchanged repository reuses it.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..errors import EngineError
from .engines import RUNNER, Batch, Engine, Session
from .mounts import data_links

__all__ = ["LocalEngine", "LOCAL_LABEL", "requirements_file", "venv_dir"]

log = logging.getLogger(__name__)

LOCAL_LABEL = "local engine: less isolated — notebook code runs as you, with your network"
RUNNER_PACKAGES = ("ipykernel", "nbclient", "nbformat")
READY_MARKER = ".paperpack-ready"


def requirements_file(root: Path) -> Path | None:
    """The requirements.txt repo2docker would use (binder/ or .binder/ wins over the root)."""
    for folder in ("binder", ".binder"):
        if (root / folder).is_dir():
            candidate = root / folder / "requirements.txt"
            return candidate if candidate.is_file() else None
    candidate = root / "requirements.txt"
    return candidate if candidate.is_file() else None


def _cache_root() -> Path:
    try:
        from ..cache import cache_dir
    except ImportError:  # pragma: no cover - cache.py is part of the package
        import platformdirs

        return Path(platformdirs.user_cache_dir("paperpack"))
    return cache_dir()


def venv_dir(root: Path) -> Path:
    req = requirements_file(root)
    digest = hashlib.sha256()
    digest.update(f"python {sys.version} {sys.base_prefix}\n".encode())
    digest.update((" ".join(RUNNER_PACKAGES) + "\n").encode())
    digest.update(req.read_bytes() if req else b"")
    return _cache_root() / "venvs" / digest.hexdigest()[:20]


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
                               outdir=str(batch.out_dir), links=data_links(session.repo), env=env_overrides)
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        env.update(env_overrides)
        env["VIRTUAL_ENV"] = str(self.venv)
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        code, tail = self.stream([str(self.venv / "bin" / "python"), str(RUNNER), "--spec", str(spec)],
                                 session, env=env)
        return {"exit_code": code, "oom_killed": False, "output": tail}


def ensure_venv(root: Path) -> Path:
    """The cached virtual environment for this repository, built on first use."""
    target = venv_dir(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / READY_MARKER).is_file():
            log.info("reusing the local environment %s", target)
            return target
        if target.exists():
            shutil.rmtree(target)  # a build that was interrupted
        log.warning("building the local environment in %s (once per requirements.txt)", target)
        req = requirements_file(root)
        steps = [[sys.executable, "-m", "venv", str(target)],
                 [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                  *RUNNER_PACKAGES, *(["-r", str(req)] if req else [])]]
        for step in steps:
            out = subprocess.run(step, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                shutil.rmtree(target, ignore_errors=True)
                tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-15:])
                raise EngineError(
                    f"could not build the local environment from {req or 'the runner packages'}: "
                    f"`{' '.join(step[:4])} …` exited {out.returncode}:\n{tail}",
                    hint="check that every requirement exists on PyPI for this Python "
                         f"({sys.version.split()[0]}), or use --engine docker with the built image",
                    path=req)
        (target / READY_MARKER).write_text("ok\n")
    return target
