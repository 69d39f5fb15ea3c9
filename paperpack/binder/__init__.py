"""Binder: the launch target of a repository (:mod:`.launch`) and pre-warming a BinderHub (:mod:`.hub`).

Only the launch target is re-exported here: :mod:`.hub` loads ``requests``, which ``import paperpack``
does not (the status badge writer imports this package).
"""

from __future__ import annotations

from .launch import DEFAULT_HUB, LaunchOptions, LaunchTarget, Provider, Source, launch_target, parse_hub, parse_remote

__all__ = [
    "DEFAULT_HUB",
    "LaunchOptions",
    "LaunchTarget",
    "Provider",
    "Source",
    "launch_target",
    "parse_hub",
    "parse_remote",
]
