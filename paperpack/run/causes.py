"""Root causes of failed notebooks: what went wrong, in words an editor can act on, and the fix.

A failed cell's ``ename``/``evalue`` is often far from its cause: a DNS error is "runs
have no network", a ``KeyError`` deep in pandas is "the folder held no input files", an
``ImportError`` after a NumPy warning is "a package was built for NumPy 1". Each
:class:`Cause` is a small rule: an id (in report.json, ``error.cause.id``), a matcher over
the :class:`Failure` facts (the error, the cell's stderr, the notebook's code, what other
notebooks write, the repository), and a message with its fix. :data:`CAUSES` is the
ordered table; :func:`diagnose` returns the first :class:`Diagnosis` that matches.
docs/run-and-compare.md lists each cause (a test keeps the two in step).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..environment.conda import METAPACKAGE_EXTRAS
from ..util.terminal import strip_ansi

__all__ = [
    "Failure",
    "Diagnosis",
    "Cause",
    "CAUSES",
    "diagnose",
    "clean_traceback",
    "PLACEHOLDERS",
    "METAPACKAGE_EXTRAS",
    "REPRODUCES_COMMITTED_ERROR",
    "UPSTREAM_OUTPUT",
    "NUMPY_ABI",
    "abi_package",
]

#: Files that keep an otherwise empty folder in git.
PLACEHOLDERS = frozenset(
    {
        ".gitkeep",
        ".keep",
        ".gitignore",
        ".placeholder",
        "README",
        "README.md",
        "README.txt",
        "readme.md",
        ".empty",
        "PLACEHOLDER",
    }
)

#: import name → the name people install it by, where they differ
_IMPORT_TO_DIST = {
    "PyQt5": "pyqt5",
    "netCDF4": "netcdf4",
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "cv2": "opencv-python",
    "PIL": "pillow",
}

#: The verdict's own cause id: the cell fails with the error the committed notebook shows.
REPRODUCES_COMMITTED_ERROR = "reproduces-committed-error"
#: The cause id of a notebook that failed for want of a file another notebook writes.
UPSTREAM_OUTPUT = "missing-upstream-output"

#: Frames of paperpack's own code (the kernel template, the runner) never shown to users.
_OWN_FRAMES = re.compile(r"kernelfork\.py|paperpack_kernelfork|paperpack/runner\.py|/paperpack/run/runner\.py")


@dataclass
class Failure:
    """What is known about one failed notebook (everything a cause's matcher may look at)."""

    notebook: str  # repository-relative path
    status: str  # the runner's status: error, timeout, no-kernel …
    ename: str = ""
    evalue: str = ""
    traceback: list[str] = field(default_factory=list)  # ANSI codes stripped
    stderr: str = ""  # what the failing cell wrote to stderr
    output: str = ""  # the runner's own output, when it stopped without a result
    cell: int | None = None  # 0-based index in the committed notebook
    source: str = ""  # the failing cell's code
    code: list[str] = field(default_factory=list)  # every code cell's source, in order, up to the failing one
    root: Path | None = None  # the repository on the host
    writers: dict[str, list[str]] = field(default_factory=dict)  # file this notebook reads -> notebooks writing it
    kernel: str | None = None
    available_kernels: list[str] = field(default_factory=list)
    #: environment.yml's packages (name -> PEP 440 specifier) when the environment was translated from it to PyPI
    environment_yml: dict[str, str] | None = None
    #: at a timeout, what the kernel waited on over the network (the runner reads /proc): host, port, state
    waiting_on: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Everything the error said: name, value, traceback and stderr, as one text to search."""
        return "\n".join([self.ename, self.evalue, *self.traceback, self.stderr])

    @property
    def folder(self) -> str:
        return posixpath.dirname(self.notebook)


@dataclass(frozen=True)
class Diagnosis:
    """The cause of one failure: its id, what happened (in words) and what to change."""

    cause: str
    message: str
    fix: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.cause,
            "message": self.message,
            "fix": self.fix,
            **({"detail": self.detail} if self.detail else {}),
        }


@dataclass(frozen=True)
class Cause:
    """One rule of the table: ``match`` returns a :class:`Diagnosis` or ``None``."""

    id: str
    title: str  # one line for the docs
    match: Callable[[Failure], Diagnosis | None]


def clean_traceback(lines: list[str]) -> list[str]:
    """A traceback as people should see it: no ANSI codes, no frames of paperpack's own code.

    ``lines`` is IPython's (one entry a frame, several lines each) or Python's, one line an
    entry (a ``File …`` line, then its indented source lines, which go with it).
    """
    out: list[str] = []
    dropping = False
    for entry in lines:
        text = strip_ansi(str(entry))
        if text.startswith("  File ") or "\n" in text:
            dropping = bool(_OWN_FRAMES.search(text))
        elif not text.startswith("    "):
            dropping = False
        if not dropping:
            out.append(text)
    return out


# --- the rules ------------------------------------------------------------------------------

#: PermissionError's text (shutil.copytree gathers it into a shutil.Error for files in folders)
_PERMISSION = re.compile(r"\[Errno 13\] Permission denied: '([^'\n]+)'")


def _unreadable(f: Failure) -> Diagnosis | None:
    if f.status != "no-result":
        return None
    m = _PERMISSION.search(f.output)
    if not m:
        return None
    path = m.group(1)
    rel = path
    for prefix in ("/paperpack/repo/", f"{f.root}/" if f.root else None):
        if prefix and path.startswith(prefix):
            rel = path[len(prefix) :]
            break
    return Diagnosis(
        "unreadable-file",
        f"the repository file {rel!r} cannot be read by the user the notebooks run as (in a container: not "
        "you, not root), so paperpack could not copy the repository and no notebook ran",
        f"make it readable for everyone: `chmod a+r {rel}` (folders also need a+x), or delete it if it is not "
        "part of the paper",
        {"path": rel},
    )


NUMPY_ABI = re.compile(
    r"compiled using NumPy 1\.x cannot be run in\s+NumPy 2|numpy\.dtype size changed"
    r"|_ARRAY_API not found|numpy\.core\.multiarray failed to import"
    r"|module compiled against (?:ABI|API) version"
)
_SITE_PACKAGE = re.compile(r"site-packages/([A-Za-z_][A-Za-z0-9_]*)")


def abi_package(f: Failure) -> str | None:
    """The package built for NumPy 1: the first non-NumPy package in the traceback, else the import."""
    for name in _SITE_PACKAGE.findall(f.text):
        if name not in ("numpy", "IPython", "ipykernel") and not name.startswith("_"):
            return name
    m = re.search(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", f.source, re.MULTILINE)
    while m and m.group(1) == "numpy":
        m = re.search(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", f.source[m.end() :], re.MULTILINE)
    return m.group(1) if m else None


def _numpy_pinned(env: dict[str, str]) -> bool:
    """Whether environment.yml keeps NumPy below 2 (``numpy<2``, ``numpy=1.26``, ``numpy==1.26.4``)."""
    return bool(re.search(r"<\s*2(?:\.0)*$|<\s*2\b|==?\s*1\.|~=\s*1\.", env.get("numpy", "")))


def _translation(f: Failure) -> Diagnosis | None:
    env = f.environment_yml
    if env is None:
        return None
    if NUMPY_ABI.search(f.text) and not _numpy_pinned(env):
        package = abi_package(f) or "a compiled package"
        return Diagnosis(
            "environment-translation",
            f"{package} was built for NumPy 1, and the image has NumPy 2: paperpack translated environment.yml "
            "to PyPI packages, and pip took the newest NumPy where conda's solver would have kept numpy<2 for "
            f"{package} — a difference of the translation, not of the paper",
            "pin `numpy<2` in environment.yml (or build with --mode binder, where conda solves it)",
            {"package": package},
        )
    missing = _missing_module(f)
    if missing:
        for conda_name, extras in METAPACKAGE_EXTRAS.items():
            if conda_name in env and missing in extras:
                dist = _IMPORT_TO_DIST.get(missing, missing)
                return Diagnosis(
                    "environment-translation",
                    f"module {missing!r} is missing: environment.yml asks for {conda_name!r}, which on conda-forge "
                    f"pulls in {dist}, but this environment was made from PyPI packages (paperpack translates "
                    f"environment.yml), and PyPI's {conda_name!r} does not",
                    f"add `{dist}` to environment.yml (or build with --mode binder, where conda installs it)",
                    {"package": conda_name, "module": missing},
                )
    return None


def _numpy_abi(f: Failure) -> Diagnosis | None:
    if not NUMPY_ABI.search(f.text):
        return None
    package = abi_package(f)
    name = package or "PACKAGE"
    return Diagnosis(
        "numpy-abi",
        f"{package or 'a package'} was built for NumPy 1 and cannot run with the NumPy 2 in the environment "
        "(binary incompatibility)",
        f"pin `numpy<2` in the requirements (or upgrade {name} to a release built for NumPy 2)",
        {"package": package} if package else {},
    )


_NETWORK_NAMES = frozenset(
    {
        "gaierror",
        "NameResolutionError",
        "ConnectionError",
        "URLError",
        "MaxRetryError",
        "ConnectError",
        "ConnectTimeout",
        "ConnectionRefusedError",
        "NewConnectionError",
        "ClientConnectorError",
        "RemoteDisconnected",
        "OSError",
        "HTTPError",
    }
)
_NETWORK_TEXT = re.compile(
    r"Name or service not known|Temporary failure in name resolution|nodename nor servname"
    r"|No address associated with hostname|Failed to resolve|Network is unreachable"
    r"|\[Errno -[235]\]|getaddrinfo failed|Could not resolve host|Failed to establish a new "
    r"connection|Cannot connect to host"
)
_HOST = re.compile(
    r"host='([^'\s]+)'|Failed to resolve '([^'\s]+)'|Cannot connect to host ([^\s:]+)"
    r"|Could not resolve host: ([^\s]+)|https?://([^/\s'\"<>:)]+)"
)


def _host(f: Failure) -> str | None:
    for text in (f.evalue, "\n".join(f.traceback), f.stderr, f.source, "\n".join(f.code)):
        m = _HOST.search(text)
        if m:
            return next(g for g in m.groups() if g)
    return None


def _no_network(f: Failure) -> Diagnosis | None:
    if f.ename.split(".")[-1] not in _NETWORK_NAMES and not _NETWORK_TEXT.search(f.evalue):
        return None
    if not _NETWORK_TEXT.search(f.text):
        return None
    host = _host(f)
    where = f"downloads from {host}" if host else "downloads a file"
    return Diagnosis(
        "no-network",
        f"this notebook {where}, and runs have no network",
        "declare the file as data in paperpack.yml (a DOI, or a URL with its sha256) and read it from its "
        "local path, so it is fetched once before the run",
        {"host": host} if host else {},
    )


#: what a download that retries prints while it waits (urllib3, requests, pip-like clients)
_RETRYING = re.compile(
    r"Retrying \(Retry\(|Connection refused|timed out|Read timed out|Connection reset"
    r"|ConnectTimeoutError|Max retries exceeded|retrying in|Retry(?:ing)? \d+/\d+",
    re.IGNORECASE,
)


def _waits(f: Failure) -> list[str]:
    """The network waits the runner saw, as "127.0.0.1:8080 (connecting, no answer)" (well-formed ones only)."""
    shown = []
    for wait in f.waiting_on[:8]:
        if not isinstance(wait, dict):
            continue
        host, port, state = wait.get("host"), wait.get("port"), wait.get("state")
        if isinstance(host, str) and isinstance(port, int) and isinstance(state, str) and len(host) < 64:
            shown.append(f"{host}:{port} ({state[:40]})")
    return shown


def _network_wait(f: Failure) -> Diagnosis | None:
    if f.status != "timeout":
        return None
    waits = _waits(f)
    printed = bool(_NETWORK_TEXT.search(f.stderr) or _RETRYING.search(f.stderr))
    if not waits and not printed:
        return None
    host = _host(f)
    seen = (
        "; the kernel was waiting on " + ", ".join(dict.fromkeys(waits))
        if waits
        else "; the cell printed connection errors and retried"
    )
    where = f"on the network ({host})" if host else "on the network"
    return Diagnosis(
        "network-wait",
        f"this notebook was waiting {where} when the timeout stopped it{seen}: runs have no network, and a "
        "download that waits or retries hangs until the timeout",
        "declare the file as data in paperpack.yml (a DOI, or a URL with its sha256) and read it from its "
        "local path, so it is fetched once before the run",
        {"host": host, "waiting_on": waits} if host else {"waiting_on": waits},
    )


_MISSING_FILE = re.compile(r"(?:No such file or directory|does not exist|not found)[:\s]*['\"]?([^'\"\n]+)['\"]?")


def _missing_file(f: Failure) -> str | None:
    if f.ename not in ("FileNotFoundError", "OSError", "IOError") and "No such file" not in f.evalue:
        return None
    m = re.search(r"'([^'\n]+)'", f.evalue) or _MISSING_FILE.search(f.evalue)
    return m.group(1).strip() if m else None


def _upstream(f: Failure) -> Diagnosis | None:
    missing = _missing_file(f)
    if not missing or not f.writers:
        return None
    for cand in (posixpath.normpath(posixpath.join(f.folder, missing)), posixpath.normpath(missing)):
        writers = f.writers.get(cand)
        if writers:
            names = ", ".join(writers)
            return Diagnosis(
                UPSTREAM_OUTPUT,
                f"{cand!r} is missing: {names} writes it, and had not written it when this notebook ran",
                f"fix {names} first (this failure is a consequence of it)",
                {"path": cand, "writers": list(writers)},
            )
    return None


_GLOB = re.compile(r"""\b(?:i?glob|rglob)\s*\(\s*(?:[^,()]*?,\s*)?[rf]?(['"])([^'"\n]*[*?[][^'"\n]*)\1""")
_EMPTY_GLOB_ERRORS = frozenset(
    {"IndexError", "KeyError", "ValueError", "StopIteration", "ZeroDivisionError", "AttributeError", "TypeError"}
)


def _globs(f: Failure) -> list[str]:
    patterns = []
    for source in f.code:
        for m in _GLOB.finditer(source):
            prefix = source[max(0, m.start() - 200) : m.start()]
            folder = re.search(r"""(?:Path|join)\s*\(\s*['"]([^'"\n]+)['"]\s*\)?\s*\.?\s*$""", prefix)
            pattern = m.group(2)
            if folder and not pattern.startswith("/"):
                pattern = f"{folder.group(1).rstrip('/')}/{pattern}"
            patterns.append(pattern)
    return patterns


def _empty_glob(f: Failure) -> Diagnosis | None:
    if f.ename not in _EMPTY_GLOB_ERRORS or f.root is None:
        return None
    root = f.root.resolve()
    for pattern in _globs(f):
        if pattern.startswith(("/", "~")):
            continue
        rel = posixpath.normpath(posixpath.join(f.folder, pattern))
        if rel.startswith("../"):
            continue
        if "**" in rel:
            folder = rel.split("**")[0].rstrip("/") or "."
        else:
            folder = posixpath.dirname(rel) or "."
        if any(ch in folder for ch in "*?["):
            continue
        where = (root / folder).resolve()
        if not where.is_relative_to(root) or not where.is_dir():
            continue
        if any(True for _ in root.glob(rel)):
            continue
        names = sorted(p.name for p in where.iterdir())
        if names and not all(n in PLACEHOLDERS for n in names):
            continue
        holds = f"holds only {', '.join(names)}" if names else "is empty"
        return Diagnosis(
            "empty-input-glob",
            f"no input files matched {pattern!r}; the folder {folder}/ {holds}; are results of a script missing?",
            f"commit the files that belong in {folder}/, declare them as data in paperpack.yml, or add the "
            "notebook or script that makes them to the run (before this notebook)",
            {"pattern": pattern, "folder": folder, "contents": names},
        )
    return None


_NO_MODULE = re.compile(r"No module named '([^'.]+)")


def _missing_module(f: Failure) -> str | None:
    if f.ename not in ("ModuleNotFoundError", "ImportError"):
        return None
    m = _NO_MODULE.search(f.evalue)
    return m.group(1) if m else None


_CHDIR = re.compile(r"\bos\.chdir\s*\(|^\s*%cd\b|\bchdir\s*\(", re.MULTILINE)


def _chdir_import(f: Failure) -> Diagnosis | None:
    module = _missing_module(f)
    if not module or f.root is None or not any(_CHDIR.search(code) for code in f.code):
        return None
    for folder in dict.fromkeys([f.folder, ""]):
        base = f.root / folder if folder else f.root
        if (base / f"{module}.py").is_file() or (base / module / "__init__.py").is_file():
            shown = f"{folder}/" if folder else "the repository root"
            return Diagnosis(
                "chdir-local-import",
                f"the notebook leaves its folder with os.chdir before importing {module!r}, which lives in "
                f"{shown}: after the chdir Python looks for it in the new folder",
                f"import {module} before the os.chdir (or drop the chdir and use paths relative to the notebook)",
                {"module": module, "folder": folder},
            )
    return None


def _missing_kernel(f: Failure) -> Diagnosis | None:
    if f.status != "no-kernel":
        return None
    has = ", ".join(f.available_kernels) or "no kernel at all"
    first = f.available_kernels[0] if f.available_kernels else "python3"
    return Diagnosis(
        "missing-kernel",
        f"the notebook asks for the kernel {f.kernel!r}, which the image lacks (it has: {has})",
        f"set `kernel: {first}` for {f.notebook} in paperpack.yml (or change the notebook's kernelspec), or "
        "install that kernel in the environment",
        {"kernel": f.kernel, "available": list(f.available_kernels)},
    )


#: The table, in the order rules are tried: the first match names the cause.
CAUSES: tuple[Cause, ...] = (
    Cause("unreadable-file", "a repository file the container's user cannot read", _unreadable),
    Cause(
        "environment-translation",
        "environment.yml translated to PyPI lost what conda would have installed",
        _translation,
    ),
    Cause("numpy-abi", "a package built for NumPy 1 imported with NumPy 2", _numpy_abi),
    Cause("no-network", "the notebook downloads a file, and runs have no network", _no_network),
    Cause("network-wait", "the notebook waited on the network until the timeout", _network_wait),
    Cause(UPSTREAM_OUTPUT, "a file another notebook writes is missing", _upstream),
    Cause("empty-input-glob", "a glob() over a folder that holds only a placeholder", _empty_glob),
    Cause("chdir-local-import", "os.chdir out of the notebook's folder, then a local import", _chdir_import),
    Cause("missing-kernel", "the notebook's kernel is not in the image", _missing_kernel),
)


def diagnose(failure: Failure) -> Diagnosis | None:
    """The first cause in :data:`CAUSES` that explains ``failure``, or ``None``."""
    for cause in CAUSES:
        found = cause.match(failure)
        if found is not None:
            return found
    return None
