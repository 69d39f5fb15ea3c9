"""The time machine: a paper whose dependencies moved on, reproduced with the dependencies of its date."""

from __future__ import annotations

from .asof import AsOf, AsOfChoice, AsOfMode, DateSource, parse_as_of, repository_date
from .drift import Drift, DriftKind, classify
from .pins import PinChange
from .resolve import DatedResolution, ResolutionStatus, resolve_as_of

__all__ = [
    "AsOf",
    "AsOfChoice",
    "AsOfMode",
    "DateSource",
    "parse_as_of",
    "repository_date",
    "Drift",
    "DriftKind",
    "classify",
    "PinChange",
    "DatedResolution",
    "ResolutionStatus",
    "resolve_as_of",
]
