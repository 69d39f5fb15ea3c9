"""Console display of a build: a live status line with the last log lines, and failure panels."""

from __future__ import annotations

from collections import deque
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from ..build.diagnose import step_of
from ..errors import BuildError
from ..report.text import safe
from ..terminal import printable

__all__ = ["BuildView", "show_build_failure"]


class BuildView:
    """Callable progress sink: on a terminal a live view, elsewhere one line per build step."""

    def __init__(self, console: Console, *, title: str, lines: int = 8, verbose: bool = False, quiet: bool = False):
        self.console = console
        self.title = title
        self.status = "starting"
        self.recent: deque[str] = deque(maxlen=lines)
        self.verbose = verbose
        self.quiet = quiet
        self.live: Live | None = None
        self.seen: set[str] = set()

    def _render(self) -> Group:
        status = Text.assemble((f"{self.title}  ", "bold"), (self.status, "cyan"))
        body = Text("\n".join(line[-self.console.width + 4:] for line in self.recent), style="dim")
        return Group(status, body)

    def __enter__(self) -> "BuildView":
        if self.console.is_terminal and not self.quiet:
            self.live = Live(self._render(), console=self.console, refresh_per_second=8, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.live is not None:
            self.live.__exit__(exc_type, exc, tb)

    def __call__(self, line: str) -> None:
        line = printable(line, newlines=False)  # build output runs the repository's code (postBuild, setup.py)
        step = step_of(line)
        if step:
            self.status = step[:160]
        self.recent.append(line)
        if self.live is not None:
            self.live.update(self._render())
        elif self.verbose:
            self.console.print(safe(line), highlight=False)
        elif step and step not in self.seen and not self.quiet:
            self.seen.add(step)
            self.console.print(f"  {safe(step[:160])}", highlight=False)


def show_build_failure(exc: BuildError, console: Console) -> None:
    """The failing step and its last lines (the message and hint are printed by main)."""
    if exc.step or exc.log_tail:
        console.print(Panel(Text(printable(exc.log_tail or "(no output)")),
                            title=f"failed step: {safe(exc.step or '?')}",
                            border_style="red", expand=False))
    if exc.path:
        console.print(f"full build log: {exc.path}")
