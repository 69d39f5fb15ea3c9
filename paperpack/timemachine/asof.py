"""The date a repository's dependencies are resolved as of, and where that date came from.

In order: a date given on the command line (``--as-of 2023-06-15``); the manifest's
``environment.as_of``; the paper's publication date in its DOI metadata, when the manifest
declares the paper's DOI (``paper.doi``) and the metadata gives the day (DataCite's *Issued*
date, Crossref's *published*, CSL's *issued*); the commit date of the last commit that changed a notebook or an
environment file (git, run with hooks and fsmonitor off: the repository is untrusted).
A shallow clone (CI's default ``fetch-depth: 1``) knows only its last commit, so the date
may be later than the paper's: the source then says so.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..util.words import Word

if TYPE_CHECKING:
    from ..doi.resolve import DoiResolver

__all__ = [
    "AsOfMode",
    "AsOfChoice",
    "DateSource",
    "AsOf",
    "parse_as_of",
    "repository_date",
    "ENV_FILES",
    "python_release",
    "python_note",
    "python_of_date",
]

log = logging.getLogger(__name__)

#: files whose change changes the environment (repo2docker's, in the root or a binder folder)
ENV_FILES = (
    "requirements.txt",
    "environment.yml",
    "environment.yaml",
    "runtime.txt",
    "setup.py",
    "setup.cfg",
    "pyproject.toml",
    "Pipfile",
    "Pipfile.lock",
    "apt.txt",
    "postBuild",
    "install.R",
    "DESCRIPTION",
)

#: first release of each Python (python.org): a date before it had no wheels for that Python
PYTHON_RELEASES = {
    "3.6": dt.date(2016, 12, 23),
    "3.7": dt.date(2018, 6, 27),
    "3.8": dt.date(2019, 10, 14),
    "3.9": dt.date(2020, 10, 5),
    "3.10": dt.date(2021, 10, 4),
    "3.11": dt.date(2022, 10, 24),
    "3.12": dt.date(2023, 10, 2),
    "3.13": dt.date(2024, 10, 7),
    "3.14": dt.date(2025, 10, 7),
}

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class AsOfMode(Word):
    AUTO = "auto"  #: the declared environment first; a dated one only after failures that look like drift
    DATE = "date"  #: a dated environment from the start, as of the given date
    OFF = "off"  #: never a dated environment


@dataclass(frozen=True)
class AsOfChoice:
    """What ``--as-of`` asked for."""

    mode: AsOfMode
    date: dt.date | None = None


class DateSource(Word):
    GIVEN = "given"  #: --as-of DATE
    MANIFEST = "manifest"  #: environment.as_of in paperpack.yml
    PAPER_DOI = "paper-doi"  #: the publication date in the metadata of the paper's DOI (paper.doi)
    GIT = "git"  #: last commit changing a notebook or an environment file
    GIT_SHALLOW = "git-shallow"  #: the same, in a shallow clone: possibly later than the paper


@dataclass(frozen=True)
class AsOf:
    date: dt.date
    source: DateSource
    detail: str  #: in words: which commit, which file

    @property
    def before(self) -> str:
        """The moment pip's ``--uploaded-prior-to`` takes: the end of that day, UTC."""
        return f"{self.date + dt.timedelta(days=1)}T00:00:00Z"

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "source": self.source.value, "detail": self.detail}


def parse_as_of(text: str) -> AsOfChoice:
    """``auto``, ``off`` or a date ``YYYY-MM-DD`` (not in the future)."""
    value = text.strip().lower()
    if value in (AsOfMode.AUTO, AsOfMode.OFF):
        return AsOfChoice(AsOfMode(value))
    date = _date(value)
    if date is None:
        raise UsageError(
            f"--as-of {text!r} is not auto, off or a date like 2023-06-15",
            hint="give the date the paper's dependencies should be resolved as of, as YYYY-MM-DD",
        )
    if date > dt.date.today():
        raise UsageError(f"--as-of {text} is in the future", hint="give a past date, or --as-of auto")
    return AsOfChoice(AsOfMode.DATE, date)


def _date(text: str) -> dt.date | None:
    if not _DATE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def repository_date(
    root: Path,
    *,
    notebooks: list[str],
    manifest: dict[str, Any] | None = None,
    given: dt.date | None = None,
    resolver: DoiResolver | None = None,
) -> AsOf | None:
    """The date for ``root`` (see the module's docstring), or ``None`` when nothing gives one.

    ``resolver`` looks the paper's DOI up (a default :class:`~paperpack.doi.resolve.DoiResolver`, with its
    cache, when ``None``)."""
    if given is not None:
        return AsOf(given, DateSource.GIVEN, "given with --as-of")
    declared = ((manifest or {}).get("environment") or {}).get("as_of")
    if isinstance(declared, str) and _date(declared) is not None:
        return AsOf(dt.date.fromisoformat(declared), DateSource.MANIFEST, "environment.as_of in paperpack.yml")
    return _paper_date(manifest, resolver) or _git_date(root, notebooks)


def _paper_date(manifest: dict[str, Any] | None, resolver: DoiResolver | None) -> AsOf | None:
    """The publication date of the paper whose DOI the manifest declares, from the DOI's metadata."""
    from ..doi.syntax import normalize_doi

    paper = (manifest or {}).get("paper")
    declared = paper.get("doi") if isinstance(paper, dict) else None
    doi = normalize_doi(declared) if isinstance(declared, str) else None
    if doi is None:
        return None
    if resolver is None:
        from ..doi.resolve import DoiResolver

        resolver = DoiResolver()
    record = resolver.resolve(doi)
    date = _date(record.published or "")
    if date is None:
        log.info(
            "the paper's DOI %s gives no publication day (%s): dating by git",
            doi,
            record.reason or f"status {record.status}",
        )
        return None
    date = min(date, dt.date.today())
    where = f" ({record.source})" if record.source else ""
    return AsOf(
        date,
        DateSource.PAPER_DOI,
        f"publication date of the paper {doi} in its DOI metadata{where}, declared as paper.doi in paperpack.yml",
    )


def _git(root: Path, *args: str) -> str | None:
    # the repository is untrusted: its .git/config may name an fsmonitor program or hooks; neither runs here
    cmd = ["git", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-C", str(root), *args]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("git did not run in %s: %s", root, exc)
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _git_date(root: Path, notebooks: list[str]) -> AsOf | None:
    # notebook names are the repository's: literal, so a name like ":(exclude)…" is no pathspec magic
    paths = [f":(literal){nb}" for nb in sorted(set(notebooks))] + [f":(glob)**/{name}" for name in ENV_FILES]
    line = _git(root, "log", "-1", "--format=%cs %h", "--", *paths)
    if not line:
        return None
    day, _, commit = line.partition(" ")
    date = _date(day)
    if date is None:
        return None
    date = min(date, dt.date.today())  # a commit dated in the future: today
    shallow = _git(root, "rev-parse", "--is-shallow-repository") == "true"
    if shallow:
        return AsOf(
            date,
            DateSource.GIT_SHALLOW,
            f"commit {commit} of a shallow clone (its history is cut: the "
            "last change to the notebooks may be older; state it with environment.as_of in paperpack.yml)",
        )
    return AsOf(date, DateSource.GIT, f"commit {commit}, the last to change a notebook or an environment file")


def python_release(version: str) -> dt.date | None:
    return PYTHON_RELEASES.get(".".join(version.split(".")[:2]))


def python_note(version: str, date: dt.date) -> str | None:
    """Words for a date before the Python used was released (older wheels do not exist for it), else ``None``."""
    released = python_release(version)
    if released is None or date >= released:
        return None
    return (
        f"Python {version} was released on {released}, after {date}: packages with compiled code had no "
        f"wheels for it on that date, so they cannot be resolved as of it (pure-Python packages can)"
    )


def python_of_date(date: dt.date) -> str | None:
    """The newest Python released on or before ``date`` ("3.9" on 2021-06-15), ``None`` before 3.6."""
    released = [(day, version) for version, day in PYTHON_RELEASES.items() if day <= date]
    return max(released)[1] if released else None
