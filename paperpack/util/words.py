"""The base of paperpack's closed vocabularies (verdicts, paper classes, build modes, engine names, …)."""

from __future__ import annotations

from enum import Enum

__all__ = ["Word"]


class Word(str, Enum):
    """A closed vocabulary whose members are strings: equal to, printed and written (JSON) as their value."""

    def __str__(self) -> str:
        return str(self.value)
