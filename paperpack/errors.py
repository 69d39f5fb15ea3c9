"""The one exception tree of paperpack.

Every error paperpack raises on purpose derives from :class:`PaperpackError`. The
command line maps that root to ``error: …`` plus the hint and the documented exit
code; anything else is a bug and keeps its traceback.

Messages name the file, the value, what was expected, and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "PaperpackError",
    "UsageError",
    "ConfigError",
    "ManifestError",
    "EnvironmentFileError",
    "NotebookError",
    "DoiError",
    "DataError",
    "ChecksumError",
    "UnsafeArchiveError",
    "UnsafeUrlError",
    "EngineError",
    "BuildError",
    "RunError",
    "DatedResolutionError",
    "BinderError",
    "QueueError",
    "FetchError",
    "EXIT_OK",
    "EXIT_FINDINGS",
    "EXIT_USAGE",
]

#: Exit codes, documented in ``paperpack --help`` and docs/cli.md.
EXIT_OK = 0  # clean, or warnings only
EXIT_FINDINGS = 1  # errors found (or warnings with --strict), a build or run failed
EXIT_USAGE = 2  # bad command line or configuration


class PaperpackError(Exception):
    """Root of every error paperpack raises on purpose.

    ``hint`` says how to fix it; ``path`` names the file it is about, if any.
    """

    exit_code = EXIT_FINDINGS

    def __init__(self, message: str, *, hint: str = "", path: Path | str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = Path(path) if path is not None else None

    def __str__(self) -> str:
        return self.message


class UsageError(PaperpackError):
    """The command line asked for something that cannot be done."""

    exit_code = EXIT_USAGE


class ConfigError(PaperpackError):
    """Configuration (manifest, options, environment variables) is invalid."""

    exit_code = EXIT_USAGE


class ManifestError(ConfigError):
    """``paperpack.yml`` cannot be read or does not follow its schema.

    ``line`` and ``where`` (the place in the document) point at the first problem;
    ``problems`` lists every one (:class:`paperpack.repository.manifest.ManifestProblem`), empty
    when the file could not be read at all.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        path: Path | str | None = None,
        line: int | None = None,
        where: str = "",
        problems: list[Any] | None = None,
    ):
        super().__init__(message, hint=hint, path=path)
        self.line = line
        self.where = where
        self.problems: list[Any] = list(problems or [])


class EnvironmentFileError(ConfigError):
    """An environment file cannot be read safely: a link out of the repository, not a regular file, too large.

    The message names the file (and a link's target path), never the content of anything it points at;
    ``link`` is that target when a symbolic link is the cause.
    """

    def __init__(self, message: str, *, hint: str = "", path: Path | str | None = None, link: str | None = None):
        super().__init__(message, hint=hint, path=path)
        self.link = link


class NotebookError(PaperpackError):
    """A notebook cannot be read as a notebook."""


class DoiError(PaperpackError):
    """A DOI is malformed or cannot be resolved."""


class DataError(PaperpackError):
    """Declared data cannot be fetched or checked."""


class ChecksumError(DataError):
    """A downloaded file does not have the hash the manifest declares."""


class UnsafeArchiveError(DataError):
    """An archive member would land outside its target, or is too large."""


class UnsafeUrlError(DataError):
    """A data URL (or a redirect) leads to plain http, loopback, a private network or a metadata endpoint."""


class EngineError(PaperpackError):
    """The container engine (Docker, buildx, a base image) is missing or broken."""

    exit_code = EXIT_USAGE  # "missing engine" is a set-up problem (see the CLI's exit codes)


class BuildError(PaperpackError):
    """Building the image failed."""

    def __init__(
        self, message: str, *, hint: str = "", path: Path | str | None = None, log_tail: str = "", step: str = ""
    ):
        super().__init__(message, hint=hint, path=path)
        self.log_tail = log_tail
        self.step = step


class RunError(PaperpackError):
    """Running notebooks could not be carried out (not: a notebook failed)."""


class DatedResolutionError(PaperpackError):
    """The requirements could not be resolved as of a date (no date, no wheels then, index not reached)."""


class BinderError(PaperpackError):
    """A BinderHub could not be asked to build, or did not say how the build ended (unreachable, cut, too slow)."""


class QueueError(ConfigError):
    """A batch queue file cannot be read, or one of its submissions is malformed (an unsafe id, a bad source)."""


class FetchError(PaperpackError):
    """A batch submission cannot be fetched (an unreachable git URL, an unknown ref, a damaged archive)."""
