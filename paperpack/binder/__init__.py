"""Binder: the launch target of a repository (:mod:`.launch`) and pre-warming a BinderHub (:mod:`.hub`)."""

from __future__ import annotations

from .hub import BuildEvent, BuildOutcome, Phase, request_build
from .launch import DEFAULT_HUB, LaunchOptions, LaunchTarget, Provider, Source, launch_target, parse_hub, parse_remote

__all__ = ["BuildEvent", "BuildOutcome", "Phase", "request_build", "DEFAULT_HUB", "LaunchOptions", "LaunchTarget",
           "Provider", "Source", "launch_target", "parse_hub", "parse_remote"]
