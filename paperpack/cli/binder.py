"""``paperpack binder``: ask a BinderHub to build this commit (pre-warm), showing the phases live."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from ..binder import LaunchTarget, launch_target
from ..binder.hub import BuildEvent, Phase, request_build
from ..errors import EXIT_FINDINGS, EXIT_OK
from ..repository.manifest import BinderSettings
from ..repository.repo import Repo
from ..util.terminal import printable
from .badge import add_launch_options, launch_options
from .run import positive_float

HELP = "ask a BinderHub to build this commit, so readers' launches start at once"
DESCRIPTION = """\
Ask a BinderHub to build the commit checked out (or --ref) through its build stream,
showing the phases as they come: waiting, fetching, building (with the build log),
pushing, then built or failed. Stops at built: the image is in the hub's registry and
the launch badge opens it at once. Run it in CI after a good verdict.

The repository, commit and hub are found as for `paperpack badge` (--remote, --ref, --hub,
else paperpack.yml's binder section, else git and https://mybinder.org).
Exit codes: 0 built; 1 failed, or no answer (unreachable, cut, --timeout); 2 usage.
Details: docs/reports.md#binder.

examples:
  paperpack binder .
  paperpack binder . --hub https://binder.example.org --timeout 3600"""

DEFAULT_TIMEOUT = 1800.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "binder", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_launch_options(p)
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"give up when the build is not done after S seconds (default {DEFAULT_TIMEOUT:g})",
    )
    p.set_defaults(func=run)


class _Plain:
    """One line per phase change and per log line: for CI logs and pipes."""

    def __init__(self, out: TextIO):
        self.out = out
        self.phase = ""
        self.last: list[str] = []

    def shown(self, event: BuildEvent) -> list[str]:
        """The lines ``event`` adds: ``[phase] first line`` on a phase change, then the log lines, indented."""
        lines = [printable(line, newlines=False) for line in event.message.splitlines() if line.strip()]
        if event.phase == self.phase and event.phase != Phase.BUILDING and lines == self.last:
            return []  # pushing repeats its message with each progress update
        self.last = lines
        out = []
        if event.phase != self.phase:
            self.phase = event.phase
            out.append(f"[{event.phase}] {lines[0] if lines else ''}".rstrip())
            lines = lines[1:]
        return out + [f"  {line}" for line in lines]

    def __call__(self, event: BuildEvent | None) -> None:
        if event is None:
            return  # heartbeats keep the connection; nothing to show
        for line in self.shown(event):
            self.out.write(line + "\n")
        self.out.flush()


class _Live(_Plain):
    """On a terminal: the same lines, under a spinner that shows the phase and the time (heartbeats tick it)."""

    def __init__(self, out: TextIO):
        from rich.console import Console

        super().__init__(out)
        self.console = Console(file=out, highlight=False)
        self.status = self.console.status("waiting for the hub")
        self.started = time.monotonic()

    def __enter__(self) -> _Live:
        self.status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.status.stop()

    def __call__(self, event: BuildEvent | None) -> None:
        for line in self.shown(event) if event is not None else []:
            self.console.print(line, markup=False)
        self.status.update(f"{self.phase or 'waiting for the hub'} — {time.monotonic() - self.started:.0f} s")


def run(args: argparse.Namespace) -> int:
    repo = Repo.open(args.path)
    settings = repo.manifest.binder if repo.manifest is not None else BinderSettings()
    target: LaunchTarget = launch_target(repo.root, [], options=launch_options(args), settings=settings)
    for note in target.notes:
        print(f"note: {note}", file=sys.stderr)
    out = sys.stdout
    out.write(f"asking {target.hub} to build {target.source.provider}/{target.spec}\n")
    out.flush()
    if out.isatty():
        with _Live(out) as live:
            outcome = request_build(target, timeout=args.timeout, on_event=live)
    else:
        outcome = request_build(target, timeout=args.timeout, on_event=_Plain(out))
    if outcome.built:
        out.write(
            f"built on {outcome.hub} in {outcome.seconds:.0f} s: launches of {target.launch_url} start "
            "without a build\n"
        )
        return EXIT_OK
    message = printable(outcome.message.strip(), newlines=False) or "(the hub gave no reason)"
    print(
        f"error: the BinderHub at {outcome.hub} could not build {target.source.provider}/{target.spec}: {message}",
        file=sys.stderr,
    )
    print(
        "hint: read the build log above; `paperpack build` builds the same image locally with repo2docker",
        file=sys.stderr,
    )
    return EXIT_FINDINGS
