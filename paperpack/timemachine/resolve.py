"""Resolving a repository's requirements as of a date, through pip's own resolver.

:func:`paperpack.environment.closure.resolve_closure` does the work (``pip install --dry-run --report
--only-binary :all: --uploaded-prior-to``: nothing is built, no code of the paper runs) and
caches the answer by the requirement set, the Python and the date, so a second run costs
nothing. The same set is also resolved *today* (cached the same way), which gives the
versions that differ ("numpy 2.4.6 → 1.25.0").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..environment.closure import ClosureStatus, resolve_closure
from ..util.words import Word
from .asof import AsOf, python_note
from .pins import PinChange, named_requirements, own_lines, pin_changes, pin_text

__all__ = ["ResolutionStatus", "DatedResolution", "resolve_as_of"]

log = logging.getLogger(__name__)


class ResolutionStatus(Word):
    RESOLVED = "resolved"
    FAILED = "failed"  #: no set of wheels as of the date fits (``reason`` says which requirement)
    UNAVAILABLE = "unavailable"  #: the index was not reached, or pip lacks --uploaded-prior-to
    NOTHING = "nothing"  #: no named requirement to resolve


@dataclass
class DatedResolution:
    as_of: AsOf
    python: str
    status: ResolutionStatus
    versions: dict[str, str] = field(default_factory=dict)  #: as of the date: canonical name → version
    today: dict[str, str] = field(default_factory=dict)  #: the same set resolved today
    changes: list[PinChange] = field(default_factory=list)
    text: str = ""  #: the requirements with the dated pins (see :func:`paperpack.timemachine.pins.pin_text`)
    reason: str = ""
    python_note: str | None = None
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.to_dict(),
            "python": self.python,
            "status": self.status.value,
            "versions": self.versions,
            "changes": [c.to_dict() for c in self.changes],
            "reason": self.reason or None,
            "python_note": self.python_note,
        }


_NO_MATCH = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the "
    r"requirement)\s+(\S+)"
)


def _in_words(reason: str, as_of: AsOf, python: str) -> str:
    m = _NO_MATCH.search(reason)
    if m:
        return (
            f"no release of {m.group(1)} with a wheel for Python {python} had been uploaded to the package "
            f"index by {as_of.date}"
        )
    if "conflicting dependencies" in reason or "ResolutionImpossible" in reason:
        return (
            f"the requirements conflict with each other as of {as_of.date} for Python {python} "
            f"(pip said: {reason[:300]})"
        )
    return reason


def resolve_as_of(
    text: str,
    as_of: AsOf,
    python: str,
    *,
    offline: bool = False,
    cache_folder: Path | None = None,
    extra: Sequence[str] = (),
) -> DatedResolution:
    """Resolve requirements ``text`` (requirements.txt) as of ``as_of`` for Python ``python`` ("3.11").

    ``extra``: requirements resolved together with ``text`` that are not lines of it (a package's
    ``install_requires``): their dated versions join the block of pulled-in distributions."""
    note = python_note(python, as_of.date)
    own = own_lines(text)
    declared = own + ("\n" if own and not own.endswith(("\n", "\r")) else "") + "".join(f"{r}\n" for r in extra)
    reqs = named_requirements(declared)
    if not reqs:
        return DatedResolution(
            as_of,
            python,
            ResolutionStatus.NOTHING,
            text=text,
            python_note=note,
            reason="the requirements name no package of the index to resolve",
        )
    dated = resolve_closure(reqs, python=python, offline=offline, cache_folder=cache_folder, before=as_of.before)
    if dated.status is ClosureStatus.FAILED:
        return DatedResolution(
            as_of, python, ResolutionStatus.FAILED, python_note=note, reason=_in_words(dated.reason, as_of, python)
        )
    if dated.status is not ClosureStatus.RESOLVED:
        return DatedResolution(as_of, python, ResolutionStatus.UNAVAILABLE, python_note=note, reason=dated.reason)
    today = resolve_closure(reqs, python=python, offline=offline, cache_folder=cache_folder)
    today_versions = today.distributions if today.status is ClosureStatus.RESOLVED else {}
    log.info("resolved %d requirements as of %s for Python %s", len(reqs), as_of.date, python)
    return DatedResolution(
        as_of,
        python,
        ResolutionStatus.RESOLVED,
        dict(dated.distributions),
        today_versions,
        pin_changes(declared, dated.distributions, today_versions),
        pin_text(text, dated.distributions, date=as_of.date.isoformat()),
        python_note=note,
        cached=dated.cached,
    )
