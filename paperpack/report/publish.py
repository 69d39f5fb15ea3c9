"""Publishing a verification: every report file, written from one typed :class:`Publication`.

:func:`paperpack.verify.verify` writes ``report.json`` and then calls :func:`publish`, which
runs each writer of :data:`WRITERS` in turn. A writer takes the :class:`Publication` (the typed
result, the paper-level verdict, the repository) and writes its own file(s) atomically into
``publication.out_dir``; it never reads another writer's file. A writer that fails does not stop
the others: its error is recorded in :attr:`Published.failed` and said by the CLI.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import PaperpackError
from .certificate import write_certificate
from .crate import write_crate
from .html import write_html
from .badge import write_status_badges
from .paper import PaperVerdict

if TYPE_CHECKING:
    from ..repo import Repo
    from ..verify import Result

__all__ = ["Publication", "Published", "Writer", "WRITERS", "publish"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Publication:
    """What every report is written from."""

    repo: Repo
    result: Result
    verdict: PaperVerdict
    out_dir: Path
    commit: str | None  # the commit actually verified (HEAD), which may differ from a reused image's label
    report: dict[str, Any]  # report.json as written (the merged dict): for writers that render it whole


#: a writer writes its file(s) and returns their paths
Writer = Callable[[Publication], "list[Path]"]


@dataclass
class Published:
    """What :func:`publish` wrote, and what it could not write (file name → the error, in words)."""

    written: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


#: (name for messages, writer), in the order they run; report.json is written before them
WRITERS: list[tuple[str, Writer]] = [
    ("report.html", write_html),
    ("certificate.md", write_certificate),
    ("ro-crate-metadata.json", write_crate),
    ("badge.json and badge.svg", write_status_badges),
]


def publish(publication: Publication, writers: list[tuple[str, Writer]] | None = None) -> Published:
    """Run every writer; one that fails (bad output, a bug) is recorded and the others still run."""
    done = Published()
    for name, writer in (WRITERS if writers is None else writers):
        try:
            done.written.extend(writer(publication))
        except (PaperpackError, OSError, ValueError) as exc:
            log.warning("could not write %s: %s", name, exc)
            done.failed[name] = str(exc)
    return done
