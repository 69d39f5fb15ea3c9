"""The closed vocabulary of a notebook's verdict, shared by the comparison and the run (bottom layer).

:mod:`paperpack.compare` gives ``same``, ``same-with-warnings``, ``differs`` and ``no-outputs``;
the run adds ``failed``, ``reproduces-error`` and ``skipped``. The members are strings, so they
equal, print and serialise (JSON) as their value.
"""

from __future__ import annotations

from ..util.words import Word

__all__ = ["Verdict"]


class Verdict(Word):
    """A notebook's verdict."""

    SAME = "same"
    SAME_WITH_WARNINGS = "same-with-warnings"  # the same results, and the run printed new Python warnings
    DIFFERS = "differs"
    FAILED = "failed"
    REPRODUCES_ERROR = "reproduces-error"  # the failing cell fails as the committed notebook shows
    NO_OUTPUTS = "no-outputs"
    SKIPPED = "skipped"
