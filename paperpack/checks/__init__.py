"""Validation checks: an ordered list of small check functions, one family a module.

A check is a callable ``check(repo: Repo, ctx: CheckContext) -> Iterable[Finding]``.
:class:`CheckRegistry` keeps them in order; :func:`default_registry` builds the list
paperpack runs, fresh each time (tests build their own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..repository.repo import Repo
from .findings import Finding, Rule

__all__ = ["Check", "CheckContext", "CheckRegistry", "default_registry", "all_rules"]


@dataclass
class CheckContext:
    """Options and shared, lazily computed state for one validation run.

    ``cache`` lets families share expensive results (parsed notebooks, the detected
    environment) without re-reading files.
    """

    offline: bool = False
    resolve_dois: bool = True
    options: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)


Check = Callable[[Repo, CheckContext], Iterable[Finding]]


class CheckRegistry:
    def __init__(self) -> None:
        self._checks: list[tuple[str, Check]] = []

    def register(self, family: str, check: Check) -> None:
        self._checks.append((family, check))

    def __iter__(self):
        return iter(self._checks)

    def families(self) -> list[str]:
        return [f for f, _ in self._checks]


_FAMILY_MODULES = ("manifest", "environment", "notebooks", "dependencies", "dois", "metadata")


def _modules() -> list[Any]:
    import importlib

    return [importlib.import_module(f"{__name__}.{name}") for name in _FAMILY_MODULES]


def default_registry() -> CheckRegistry:
    """The checks ``paperpack validate`` runs, in order. Each family module exposes ``check``."""
    registry = CheckRegistry()
    for mod in _modules():
        registry.register(mod.__name__.rsplit(".", 1)[-1], mod.check)
    return registry


def all_rules() -> list[Rule]:
    """Every rule of every family (module constants that are :class:`Rule`)."""
    rules: dict[str, Rule] = {}
    for mod in _modules():
        for value in vars(mod).values():
            if isinstance(value, Rule):
                rules[value.id] = value
    return sorted(rules.values(), key=lambda r: r.id)
