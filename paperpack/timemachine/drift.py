"""Whether a failed notebook failed the way dependency drift makes notebooks fail.

Drift is a package that changed since the paper was written: an unpinned NumPy 2 under a
pandas built for NumPy 1, ``np.float`` (removed in NumPy 1.24), h5py 3's missing
``Dataset.value``, a keyword argument a package dropped. The rules (:data:`RULES`, in
order, first match wins) look only at the error; they are deliberately generous, because
the dated rerun decides: a failure that is not drift fails again with the dated
dependencies and is never reported as reproduced. What is never drift: a module that is not
installed at all (an undeclared dependency), a missing file, no network, a timeout, a dead
kernel, and errors raised by the notebook's own code (NameError, ZeroDivisionError, …).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..run.causes import NUMPY_ABI, Failure, abi_package, clean_traceback
from ..run.results import Status
from ..util.terminal import strip_ansi
from ..util.words import Word

__all__ = ["DriftKind", "Drift", "classify", "failure_of", "RULES"]


class DriftKind(Word):
    NUMPY_ABI = "numpy-abi"  #: a binary package built for NumPy 1 loaded under NumPy 2
    REMOVED_ALIAS = "removed-numpy-alias"  #: np.float, np.int, np.object, np.float_ …
    PACKAGE_API = "package-api"  #: AttributeError / ImportError / TypeError raised inside an installed package
    MISSING_SUBMODULE = "missing-submodule"  #: ``sklearn.externals.joblib``: the package is there, its module not
    CHANGED_CALL = "changed-call"  #: a keyword argument or attribute a package no longer has
    DEPRECATION = "deprecation-error"  #: a DeprecationWarning / FutureWarning raised as an error


@dataclass(frozen=True)
class Drift:
    kind: DriftKind
    package: str | None  #: the package the evidence points at, when known
    evidence: str  #: the line of the error that shows it

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "package": self.package, "evidence": self.evidence}


#: frames of installed packages: a venv's or Debian's site, by the top-level module
_INSTALLED = re.compile(r"(?:site|dist)-packages/([A-Za-z_][A-Za-z0-9_]*)")
#: a frame's header: IPython's ``File /path:12, in f`` / ``Cell In[3], line 2``, or Python's ``File "/path", line``
_FRAME = re.compile(r'^\s*(?:File\s+"?([^",\n]+?)"?(?:[:,]\s*(?:line\s+)?\d+)|(Cell In\[|Input In \[))', re.MULTILINE)
#: packages whose frames are the kernel's, not the paper's dependencies
_KERNEL = frozenset({"IPython", "ipykernel", "traitlets", "tornado", "zmq", "jupyter_client", "asyncio"})
_ALIAS = re.compile(r"module 'numpy' has no attribute '(\w+)'|`np\.(\w+)` was (?:a deprecated alias|removed)")
_DOTTED_MISSING = re.compile(r"No module named '([A-Za-z_]\w*)\.[\w.]+'")
_OBJECT_ATTRIBUTE = re.compile(r"'(\w+)' object has no attribute '(\w+)'")
_MODULE_ATTRIBUTE = re.compile(r"module '([A-Za-z_][\w.]*)' has no attribute '(\w+)'")
_BAD_CALL = re.compile(
    r"got an unexpected keyword argument '(\w+)'|takes \d+ positional arguments? but \d+ "
    r"(?:were|was) given|missing \d+ required (?:positional|keyword-only) argument"
)
#: types of Python itself: an AttributeError on them is the notebook's own bug (``None.x``), not drift
_BUILTIN_TYPES = frozenset(
    {
        "NoneType",
        "int",
        "float",
        "str",
        "bytes",
        "list",
        "dict",
        "tuple",
        "set",
        "bool",
        "function",
        "method",
        "module",
        "type",
        "complex",
        "frozenset",
        "range",
        "generator",
    }
)
_WARNINGS = frozenset(
    {
        "DeprecationWarning",
        "FutureWarning",
        "PendingDeprecationWarning",
        "VisibleDeprecationWarning",
        "MatplotlibDeprecationWarning",
    }
)


def failure_of(error: dict[str, Any] | None, notebook: str = "", status: Status = Status.ERROR) -> Failure:
    """A :class:`~paperpack.run.causes.Failure` from a run's ``error`` (report.json's ``notebooks[].error``)."""
    error = error or {}
    return Failure(
        notebook=notebook,
        status=status,
        ename=str(error.get("ename") or ""),
        evalue=strip_ansi(str(error.get("evalue") or "")),
        traceback=clean_traceback(list(error.get("traceback") or [])),
        stderr=strip_ansi(str(error.get("stderr") or "")),
    )


def _last_frame_package(f: Failure) -> str | None:
    """The installed package whose code raised the error (the innermost frame), or ``None``."""
    frames = _FRAME.findall("\n".join(f.traceback))
    if not frames:
        return None
    path, cell = frames[-1]
    if cell:
        return None
    m = _INSTALLED.search(path)
    if m is None or m.group(1) in _KERNEL:
        return None
    return m.group(1)


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:200]


def _numpy_abi(f: Failure) -> Drift | None:
    m = NUMPY_ABI.search(f.text)
    return Drift(DriftKind.NUMPY_ABI, abi_package(f), m.group(0)) if m else None


def _alias(f: Failure) -> Drift | None:
    m = _ALIAS.search(f"{f.evalue}\n{f.stderr}")
    if f.ename != "AttributeError" or m is None:
        return None
    return Drift(DriftKind.REMOVED_ALIAS, "numpy", f"np.{m.group(1) or m.group(2)}: {_first_line(f.evalue)}")


def _inside_package(f: Failure) -> Drift | None:
    if f.ename not in ("AttributeError", "ImportError", "TypeError"):
        return None
    package = _last_frame_package(f)
    if package is None and f.ename == "ImportError":
        m = _INSTALLED.search(f.evalue)  # cannot import name 'x' from 'pkg' (/…/site-packages/pkg/__init__.py)
        package = m.group(1) if m else None
    return Drift(DriftKind.PACKAGE_API, package, f"{f.ename}: {_first_line(f.evalue)}") if package else None


def _submodule(f: Failure) -> Drift | None:
    m = _DOTTED_MISSING.search(f.evalue)
    if f.ename not in ("ModuleNotFoundError", "ImportError") or m is None:
        return None
    return Drift(DriftKind.MISSING_SUBMODULE, m.group(1), f"{f.ename}: {_first_line(f.evalue)}")


def _changed_call(f: Failure) -> Drift | None:
    evidence = f"{f.ename}: {_first_line(f.evalue)}"
    if f.ename == "AttributeError":
        m = _MODULE_ATTRIBUTE.search(f.evalue)
        if m:
            return Drift(DriftKind.CHANGED_CALL, m.group(1).split(".")[0], evidence)
        m = _OBJECT_ATTRIBUTE.search(f.evalue)
        if m and m.group(1) not in _BUILTIN_TYPES:
            return Drift(DriftKind.CHANGED_CALL, None, evidence)
    if f.ename == "TypeError" and _BAD_CALL.search(f.evalue):
        return Drift(DriftKind.CHANGED_CALL, None, evidence)
    return None


def _deprecation(f: Failure) -> Drift | None:
    if f.ename.split(".")[-1] not in _WARNINGS:
        return None
    return Drift(DriftKind.DEPRECATION, _last_frame_package(f), f"{f.ename}: {_first_line(f.evalue)}")


#: The rules, in the order they are tried.
RULES: tuple[Callable[[Failure], Drift | None], ...] = (
    _numpy_abi,
    _alias,
    _inside_package,
    _submodule,
    _deprecation,
    _changed_call,
)


def classify(failure: Failure) -> Drift | None:
    """The drift ``failure`` looks like, or ``None`` when it does not look like drift."""
    if failure.status != Status.ERROR:
        return None
    for rule in RULES:
        found = rule(failure)
        if found is not None:
            return found
    return None
