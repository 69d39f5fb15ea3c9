"""Reports: one :class:`Report` model, several renderings (human, JSON, GitHub).

JSON reports follow ``schemas/paperpack.report.v1.json`` and are written atomically.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import UsageError
from ..findings import Findings, Severity

__all__ = ["Report", "REPORT_VERSION", "write_atomic", "write_json_atomic"]

REPORT_VERSION = 1


@dataclass
class Report:
    root: Path
    findings: Findings = field(default_factory=Findings)
    manifest: str | None = None
    commit: str | None = None
    environment: dict[str, Any] | None = None
    checked: dict[str, Any] | None = None  #: what validate looked at (notebooks, files, DOIs), see validate.py
    build: dict[str, Any] | None = None
    run: dict[str, Any] | None = None
    complete: bool = True
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    def failed(self, strict: bool = False) -> bool:
        if self.findings.errors:
            return True
        if strict and self.findings.warnings:
            return True
        if self.run and self.run.get("failed"):
            return True
        return False

    def verdict(self, strict: bool = False) -> str:
        e, w = self.findings.errors, self.findings.warnings
        if e:
            return f"{e} error{'s' * (e != 1)}, {w} warning{'s' * (w != 1)}"
        if w:
            return f"no errors, {w} warning{'s' * (w != 1)}" + (" (--strict: failing)" if strict else "")
        return "clean"

    def to_dict(self, strict: bool = False) -> dict[str, Any]:
        return {
            "report_version": REPORT_VERSION,
            "paperpack_version": __version__,
            "created": self.created,
            "complete": self.complete,
            "repository": {"root": str(self.root), "commit": self.commit, "manifest": self.manifest},
            "summary": {
                "errors": self.findings.errors,
                "warnings": self.findings.warnings,
                "infos": self.findings.count(Severity.INFO),
                "verdict": self.verdict(strict),
            },
            "environment": self.environment,
            **({"checked": self.checked} if self.checked is not None else {}),
            "findings": [f.to_dict() for f in self.findings.sorted()],
            "build": self.build,
            "run": self.run,
        }


def _temp_beside(path: Path) -> tuple[int, str]:
    """A new empty file beside ``path``, opened for writing with mode ``0o666 & ~umask``.

    Created like ``open(..., "w")`` would (the kernel applies the umask), so the umask is
    never read: ``os.umask`` can only be read by setting it, which races with other threads.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp"
        try:
            return os.open(tmp, flags, 0o666), str(tmp)
        except FileExistsError:
            continue


def write_atomic(path: Path, data: str | bytes, *, overwrite: bool = True, hint: str | None = None) -> None:
    """Write to a temporary file beside ``path`` and move it into place.

    A file that is replaced keeps its permissions; a new one gets the usual ``0o666 & ~umask``.
    With ``overwrite=False`` an existing ``path`` is never replaced, even one that appears
    while writing (the file is linked into place, which fails where a rename would not).
    Problems with the target (a folder, a file where a folder should be, no permission) raise
    :class:`~paperpack.errors.UsageError` naming the path, with ``hint`` if given; nothing
    half-written is left.
    """
    mode: int | None
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = None  # a new file: the temporary file's own mode (0o666 & ~umask) is right
    except OSError as exc:
        raise _unwritable(path, exc, hint) from None
    if path.is_dir():
        raise UsageError(f"cannot write {path}: it is a folder", hint=hint or "give a file name, e.g. report.json",
                         path=path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _temp_beside(path)
    except OSError as exc:
        raise _unwritable(path, exc, hint) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
            os.unlink(tmp)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, FileExistsError) and not overwrite:
            raise UsageError(f"{path} exists; not overwritten", hint=hint or "remove it first, or write elsewhere",
                             path=path) from None
        if isinstance(exc, OSError):
            raise _unwritable(path, exc, hint) from None
        raise


def _unwritable(path: Path, exc: OSError, hint: str | None = None) -> UsageError:
    return UsageError(f"cannot write {path}: {exc.strerror or exc}",
                      hint=hint or "choose a writable location (its parent must be a folder you can write to)",
                      path=path)


def write_json_atomic(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=False) + "\n")
