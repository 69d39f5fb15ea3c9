"""Console display of a build: a live view on a terminal, steps in order with their durations elsewhere.

What it reads: BuildKit's plain progress (``#12 [ 8/17] RUN …`` starts step 8 of 17 as
vertex 12, ``#12 3.5 Collecting numpy`` is its output, ``#12 DONE 25.3s`` /
``#12 CACHED`` / ``#12 ERROR: …`` ends it) and debootstrap's ``I: …`` lines (a base
image being made). BuildKit runs independent steps at once and prints them as they
come (``[9/15]`` before ``[8/15]``): the plain display prints each step once it is done,
in step order, with its duration; a step that runs long (pip) gets a line every
:data:`ALIVE_EVERY` seconds with its elapsed time and its last output line, so a log
shows it is alive. Plain (line-based, no colours or live redraws) whenever the console
is not a terminal or ``CI=true``.
"""

from __future__ import annotations

import os
import re
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from ..errors import BuildError
from ..image.diagnose import _short, step_of
from ..report.text import safe
from ..util.terminal import printable

__all__ = ["ALIVE_EVERY", "BuildView", "plain_console", "show_build_failure"]

#: seconds between the "still running" lines of a long step in the plain display
ALIVE_EVERY = 20.0
_VERTEX = re.compile(r"^#(\d+) (.*)$")
_STEP_NUMBER = re.compile(r"\[(?:[^\]]*?\s)?(\d+)/(\d+)\]")
_DONE = re.compile(r"^DONE ([0-9.]+)s$")


def plain_console(console: Console) -> bool:
    """Whether ``console`` gets plain lines: not a terminal, or ``CI=true`` (a CI log)."""
    return not console.is_terminal or os.environ.get("CI", "").lower() == "true"


@dataclass
class _Step:
    number: int  # k of [k/n]
    text: str  # "[ 8/17] RUN …" shortened
    started: float
    duration: float | None = None  # from BuildKit's DONE
    cached: bool = False
    failed: bool = False
    last: str = ""  # its last output line
    alive_at: float = 0.0  # when its last "still running" line was printed

    @property
    def done(self) -> bool:
        return self.duration is not None or self.cached or self.failed


class BuildView:
    """Callable progress sink: on a terminal a live view, elsewhere one line per build step, in order."""

    def __init__(self, console: Console, *, title: str, lines: int = 8, verbose: bool = False, quiet: bool = False):
        self.console = console
        self.title = title
        self.status = "starting"
        self.recent: deque[str] = deque(maxlen=lines)
        self.verbose = verbose
        self.quiet = quiet
        self.live: Live | None = None
        self.plain = plain_console(console)
        self.started = time.monotonic()
        self.steps: dict[str, _Step] = {}  # by BuildKit vertex
        self.printed = 0  # steps 1..printed are out
        self.phases: set[str] = set()  # debootstrap's phases seen (the first word of its lines)

    def __rich__(self) -> Group:
        """The live view, drawn again at each refresh (so elapsed times move)."""
        now = time.monotonic()
        running = [s for s in self.steps.values() if not s.done]
        head = [Text.assemble((f"{self.title}  ", "bold"), (f"{now - self.started:.0f} s", "dim"))]
        for step in sorted(running, key=lambda s: s.number)[:3]:
            head.append(
                Text.assemble(
                    ("  ", ""), (step.text[: self.console.width - 12], "cyan"), (f"  {now - step.started:.0f} s", "dim")
                )
            )
        if not running:
            head.append(Text(f"  {self.status}", style="cyan"))
        body = Text("\n".join(line[-self.console.width + 4 :] for line in self.recent), style="dim")
        return Group(*head, body)

    def __enter__(self) -> BuildView:
        if not self.plain and not self.quiet:
            self.live = Live(self, console=self.console, refresh_per_second=4, transient=True)
            self.live.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.live is not None:
            self.live.__exit__(exc_type, exc, tb)
        self._flush(everything=True)

    def _out(self, text: str) -> None:
        if not self.quiet and not self.verbose:
            self.console.print(safe(text), highlight=False, soft_wrap=True)

    def __call__(self, line: str) -> None:
        line = printable(line, newlines=False)  # build output runs the repository's code (postBuild, setup.py)
        self.recent.append(line)
        if self.verbose and not self.quiet:
            self.console.print(safe(line), highlight=False, soft_wrap=True)
        if line.startswith("I: "):
            self._debootstrap(line[3:])
            return
        vertex = _VERTEX.match(line)
        if vertex:
            self._buildkit(vertex.group(1), vertex.group(2), line)

    def _debootstrap(self, what: str) -> None:
        """debootstrap's phases (Retrieving, Validating, Extracting, Installing, …): one line each, timed."""
        self.status = what[:160]
        phase = what.split(" ", 1)[0]  # "Retrieving" and "Validating" alternate, once per package
        if phase in self.phases:
            return
        self.phases.add(phase)
        if self.live is None:
            self._out(f"  base image, {time.monotonic() - self.started:.0f} s: {what[:160]}")

    def _buildkit(self, vertex: str, rest: str, line: str) -> None:
        now = time.monotonic()
        step = self.steps.get(vertex)
        if step is None:
            started = step_of(line)
            number = _STEP_NUMBER.search(rest)
            if started and number:
                self.steps[vertex] = _Step(int(number.group(1)), _short(started), now, alive_at=now)
                self.status = started[:160]
            return
        done = _DONE.match(rest)
        if done:
            step.duration = float(done.group(1))
        elif rest == "CACHED":
            step.cached = True
        elif rest.startswith("ERROR"):
            step.failed = True
        else:
            step.last = rest.split(" ", 1)[-1] if re.match(r"^[0-9.]+ ", rest) else rest
            if self.live is None and now - step.alive_at >= ALIVE_EVERY:
                step.alive_at = now
                self._out(f"  {step.text[:100]} — still running, {now - step.started:.0f} s: {step.last[:100]}")
            return
        self._flush()

    def _flush(self, *, everything: bool = False) -> None:
        """Print the finished steps in order (``everything``: also those after a gap, at the end)."""
        if self.live is not None:
            return
        by_number = {s.number: s for s in self.steps.values()}
        for number in sorted(n for n in by_number if n > self.printed):
            step = by_number[number]
            if not everything and (number != self.printed + 1 or not step.done):
                break
            if step.done:
                how = "cached" if step.cached else "failed" if step.failed else f"{step.duration:.1f} s"
                self._out(f"  {step.text[:140]}  {how}")
                self.printed = number


def show_build_failure(exc: BuildError, console: Console) -> None:
    """The failing step and its last lines (the message and hint are printed by main).

    The box is as wide as its longest line, not the console's 80 columns, when the
    output is not a terminal (a CI log): its key line is never cut.
    """
    body = Text(printable(exc.log_tail or "(no output)"))
    title = f"failed step: {safe(exc.step or '?')}"
    if exc.step or exc.log_tail:
        panel = Panel(body, title=title, border_style="red", expand=False)
        if plain_console(console):
            widest = max([len(line) for line in body.plain.splitlines()] + [len(title) + 6]) + 4
            width = console.width
            console.width = max(width, widest)
            try:
                console.print(panel, crop=False)
            finally:
                console.width = width
        else:
            console.print(panel)
    if exc.path:
        console.print(f"full build log: {exc.path}")
