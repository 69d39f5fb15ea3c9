"""The local engine's virtual environment: built from the repo's requirements.txt, cached.

The environment lives under ``<paperpack cache>/venvs/<hash>``, the cache folder being ``--cache-dir``
(``Session.cache_dir``), else ``PAPERPACK_CACHE_DIR``, else the user's (:func:`paperpack.util.cache.cache_dir`). The hash covers the
requirements file, the interpreter (its path and full version) and the runner's own packages — and, when the
requirements read files of the repository (``.``, ``-e .``, ``./pkg``, ``file:``,
``-r other.txt``), the content of the repository too, so two repositories never share
an environment holding the other's package.

pip never runs in (or writes into) the repository: it runs in a scratch folder, and
requirements that name local paths are installed, non-editable, from a scratch copy of
the repository (an editable install would write ``<pkg>.egg-info/`` into it).

The interpreter is the one the repository asks for (``runtime.txt``, or whatever else
repo2docker reads the Python version from) when a working ``pythonX.Y`` with ``venv`` is
on PATH; otherwise the current one, and :attr:`Interpreter.mismatch` says so.

Which requirements file and which Python: the environment model's answer
(:mod:`paperpack.environment`), the one validate and the image build read too.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..environment import Environment, detect
from ..environment.files import is_local_requirement, logical_lines
from ..errors import EngineError
from ..repository.files import read_repo_text
from .runner import skip_entries

__all__ = [
    "requirements_file",
    "reads_repo",
    "venv_dir",
    "ensure_venv",
    "minimal_env",
    "pip_env",
    "Interpreter",
    "choose_python",
    "RUNNER_PACKAGES",
    "READY_MARKER",
]

log = logging.getLogger(__name__)

RUNNER_PACKAGES = ("ipykernel", "nbclient", "nbformat")
READY_MARKER = ".paperpack-ready"
#: seconds between the "still building" lines while the environment's packages install
ALIVE_EVERY = 20.0
_EDITABLE = re.compile(r"^\s*(-e|--editable)(\s+|=)")
#: variables the notebook kernels (and pip) keep; everything else (tokens, passwords…) is dropped
KEEP = {
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "TERM",
    "PYTHONHASHSEED",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "VECLIB_MAXIMUM_THREADS",
}
KEEP_PREFIXES = ("LC_", "OMP_", "OPENBLAS_", "MKL_", "NUMEXPR_")
PROXIES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")


def minimal_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The allow-listed part of ``environ`` (default ``os.environ``) that notebook code may see.

    Locale, time zone, temporary folder, PATH/HOME, thread settings and CA bundles; proxy
    variables only when they carry no credentials (``user:password@``).
    """
    source = os.environ if environ is None else environ
    env = {}
    for name, value in source.items():
        if name in KEEP or name.startswith(KEEP_PREFIXES):
            env[name] = value
        elif name.lower() in PROXIES and "@" not in value:
            env[name] = value
    return env


def requirements_file(root: Path, env: Environment | None = None) -> Path | None:
    """The requirements.txt repo2docker installs, as the environment model says (none next to an
    environment.yml, a Pipfile or a Dockerfile). Both ``binder/`` and ``.binder/`` is an error, as
    in repo2docker and the image build.

    Present even when it is a link out of the repository: :func:`requirements_text` then refuses it.
    """
    env = env or detect(root)
    env.check_buildable()
    if env.linked_out("requirements.txt"):  # not "used", but refused, never skipped
        return root / env.path("requirements.txt")
    rel = env.requirements_txt
    return root / rel if rel else None


def requirements_text(root: Path, req: Path) -> str:
    """The text of ``req`` through the repository's no-follow reader (an EnvironmentFileError for a link out)."""
    return read_repo_text(root, req.relative_to(root).as_posix())


def reads_repo(text: str) -> bool:
    """Whether requirements ``text`` installs from (or includes) files of the repository."""
    return any(is_local_requirement(line) for _, line in logical_lines(text))


def _non_editable(text: str) -> str:
    """``text`` with ``-e``/``--editable`` dropped from local paths (VCS editables keep it)."""
    out = []
    for raw in text.splitlines():
        rest = _EDITABLE.sub("", raw)
        out.append(rest if rest != raw and is_local_requirement(rest) else raw)
    return "\n".join(out) + "\n"


def _content_hash(root: Path) -> str:
    """sha256 over every file's path and bytes (symbolic links: their target); VCS, caches and outputs skipped."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(set(dirs) - skip_entries(folder, dirs))
        for name in sorted(files):
            path = Path(folder) / name
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            if path.is_symlink():
                digest.update(b"link " + os.readlink(path).encode())
            else:
                with open(path, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
            digest.update(b"\0")
        for name in sorted(d for d in dirs if (Path(folder) / d).is_symlink()):
            digest.update(
                f"{(Path(folder) / name).relative_to(root).as_posix()} link "
                f"{os.readlink(Path(folder) / name)}\0".encode()
            )
    return digest.hexdigest()


@dataclass(frozen=True)
class Interpreter:
    """The Python the local environment is built with, and what the repository asked for."""

    executable: str
    version: str  # "3.11"
    full: str  # sys.version of that interpreter
    prefix: str  # its sys.base_prefix
    asked: str | None = None  # "3.10", from `source`
    source: str | None = None  # e.g. "runtime.txt"

    @property
    def mismatch(self) -> str | None:
        """A warning when the repository asks for another Python than the one used, else ``None``."""
        if self.asked is None or _satisfies(self.version, self.asked):
            return None
        return (
            f"{self.source or 'the repository'} asks for Python {self.asked}; the local engine used "
            f"{self.version} (no working python{self.asked} with venv on PATH) — build the image for the "
            f"exact version (`paperpack build`), or install python{self.asked}"
        )


_FACTS = (
    "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2]); print(sys.executable); "
    "print(sys.base_prefix); print(sys.version.replace(chr(10), ' '))"
)


def _interpreter(command: str) -> Interpreter | None:
    """Facts of the interpreter ``command`` names, or ``None`` when it does not run or lacks venv/ensurepip.

    (A pyenv shim for a version that is installed but not selected is on PATH and fails.)
    """
    found = shutil.which(command)
    if found is None:
        return None
    try:
        out = subprocess.run(
            [found, "-c", _FACTS], capture_output=True, text=True, timeout=30, check=False, env=minimal_env()
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = out.stdout.splitlines()
    if out.returncode != 0 or len(lines) != 4:
        log.info("%s does not work as a Python with venv: %s", found, (out.stderr or out.stdout).strip()[-200:])
        return None
    return Interpreter(executable=lines[1], version=lines[0], prefix=lines[2], full=lines[3])


def _satisfies(version: str, asked: str) -> bool:
    """``3.11`` satisfies ``3.11`` and ``3`` (runtime.txt's ``python-3``: any Python 3)."""
    return version == asked or ("." not in asked and version.split(".")[0] == asked)


def _current() -> Interpreter:
    return Interpreter(
        executable=sys.executable,
        version="%d.%d" % sys.version_info[:2],
        full=sys.version.replace("\n", " "),
        prefix=sys.base_prefix,
    )


def choose_python(root: Path, env: Environment | None = None) -> Interpreter:
    """``pythonX.Y`` when the repository asks for X.Y and it works here, else the current Python.

    ``env``: the repository's environment model (``repo.environment``), detected here when not given.
    """
    env = env or detect(root)
    asked = ".".join((env.python_version or "").split(".")[:2]) or None
    current = _current()
    if asked is None:
        return current
    source = env.python_source or "runtime.txt"
    found = current if _satisfies(current.version, asked) else _interpreter(f"python{asked}")
    chosen = found or current
    return Interpreter(chosen.executable, chosen.version, chosen.full, chosen.prefix, asked=asked, source=source)


def _cache_root(cache: Path | None) -> Path:
    from ..util.cache import cache_dir

    return cache_dir(cache)


def venv_dir(
    root: Path,
    python: Interpreter | None = None,
    env: Environment | None = None,
    requirements: str | None = None,
    *,
    cache: Path | None = None,
) -> Path:
    """Where the environment for ``root`` built with ``python`` (default: :func:`choose_python`) is cached.

    ``requirements``: a text used in place of the repository's requirements.txt (the time machine's
    dated pins); part of the hash, so each date has its own environment. ``cache``: paperpack's
    cache folder (``--cache-dir``; default :func:`paperpack.util.cache.cache_dir`).
    """
    env = env or detect(root)
    python = python or choose_python(root, env)
    req = requirements_file(root, env)
    text = requirements.encode() if requirements is not None else requirements_text(root, req).encode() if req else b""
    digest = hashlib.sha256()
    digest.update(f"python {python.executable} {python.full} {python.prefix}\n".encode())
    digest.update((" ".join(RUNNER_PACKAGES) + "\n").encode())
    digest.update(text)
    if reads_repo(text.decode("utf-8", "replace")):
        digest.update(b"\0repo " + _content_hash(root).encode())
    return _cache_root(cache) / "venvs" / digest.hexdigest()[:20]


def pip_env() -> dict[str, str]:
    """The environment pip runs with: the kernels' minimal one, plus pip's own settings and proxies."""
    env = minimal_env()
    env.update(
        {
            k: v
            for k, v in os.environ.items()
            if k.startswith("PIP_") or k.lower() in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
        }
    )
    return env


def ensure_venv(
    root: Path,
    python: Interpreter | None = None,
    env: Environment | None = None,
    requirements: str | None = None,
    *,
    cache: Path | None = None,
) -> Path:
    """The cached virtual environment for this repository, built with ``python`` on first use
    (from ``requirements`` instead of the repository's requirements.txt when given), under the
    cache folder ``cache`` (``--cache-dir``; default :func:`paperpack.util.cache.cache_dir`)."""
    env = env or detect(root)
    python = python or choose_python(root, env)
    target = venv_dir(root, python, env, requirements, cache=cache)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / READY_MARKER).is_file():
            log.info("reusing the local environment %s", target)
            return target
        if target.exists():
            shutil.rmtree(target)  # a build that was interrupted
        log.warning(
            "building the local environment in %s with Python %s (once per requirements.txt)", target, python.version
        )
        with tempfile.TemporaryDirectory(prefix="paperpack-venv-") as scratch:
            _build(root, target, Path(scratch), python, requirements_file(root, env), requirements)
        (target / READY_MARKER).write_text("ok\n")
    return target


def _step(cmd: list[str], cwd: Path) -> tuple[int, str]:
    """Run one step of the build (its output kept); pip's installs take a minute: every
    :data:`ALIVE_EVERY` seconds a log line says it is still going, with pip's last line."""
    started = last = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", cwd=cwd, env=pip_env()
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            del lines[:-200]
            now = time.monotonic()
            if now - last >= ALIVE_EVERY:
                last = now
                log.warning("still building the local environment, %.0f s: %s", now - started, lines[-1][:120])
    return proc.returncode, "\n".join(lines)


def _build(
    root: Path, target: Path, scratch: Path, python: Interpreter, req: Path | None, requirements: str | None = None
) -> None:
    install = [*RUNNER_PACKAGES]
    cwd = scratch
    if req is not None:
        text = requirements if requirements is not None else requirements_text(root, req)
        if reads_repo(text):
            cwd = scratch / "repo"  # pip builds local packages in a copy, never in the repository
            shutil.copytree(root, cwd, symlinks=True, ignore=skip_entries)
            copied = cwd / req.relative_to(root)
            copied.unlink(missing_ok=True)  # a link in the copy: never write through it
            copied.write_text(_non_editable(text), encoding="utf-8")
            install += ["-r", str(copied)]
        else:
            copied = scratch / "requirements.txt"  # pip reads the text read here, not what a link points at
            copied.write_text(text, encoding="utf-8")
            install += ["-r", str(copied)]
    steps = [
        [python.executable, "-m", "venv", str(target)],
        [
            str(target / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--progress-bar",
            "off",
            "--disable-pip-version-check",
            "--no-input",
            *install,
        ],
    ]
    for step in steps:
        code, output = _step(step, cwd)
        if code != 0:
            shutil.rmtree(target, ignore_errors=True)
            tail = "\n".join(output.strip().splitlines()[-15:])
            raise EngineError(
                f"could not build the local environment from {req or 'the runner packages'}: "
                f"`{' '.join(step[:4])} …` exited {code}:\n{tail}",
                hint="check that every requirement exists on PyPI for this Python "
                f"({python.version}) and that local packages build, or use --engine docker "
                "with the built image",
                path=req,
            )
